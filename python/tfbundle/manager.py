"""``CheckpointManager``: numbered checkpoints with retention, as TensorFlow's.

Semantics follow ``tf.train.CheckpointManager`` (and, with
``checkpoint_name="model.ckpt"``, TF1 ``Saver`` naming), with one stricter
rule: every save keeps the directory consistent at every instant. The new
bundle is complete (its index renamed into place) before the state file
names it, and old checkpoints are deleted only after the state file stops
naming them.
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import time
from collections.abc import Mapping
from typing import Any

from . import paths, state
from ._fsutil import remove_stale_temporaries
from .writer import save as save_bundle


class CheckpointManager:
    """Saves ``{name: array}`` checkpoints as ``directory/<checkpoint_name>-<n>``.

    Keeps at most ``max_to_keep`` (None keeps all), except those preserved by
    ``keep_checkpoint_every_n_hours``. A directory written by TensorFlow's
    CheckpointManager or a TF1 Saver is adopted: its checkpoints count
    toward retention and numbering continues after the highest number in
    its state file.

    Example:
        >>> mgr = CheckpointManager("runs/exp1", max_to_keep=3)     # doctest: +SKIP
        >>> mgr.save({"w": np.zeros(3)})                            # doctest: +SKIP
        'runs/exp1/ckpt-1'
    """

    def __init__(
        self,
        directory: paths.PathLike,
        max_to_keep: int | None = 5,
        keep_checkpoint_every_n_hours: float | None = None,
        checkpoint_name: str = "ckpt",
    ) -> None:
        if max_to_keep is not None and max_to_keep < 1:
            raise ValueError("max_to_keep must be None (keep all) or at least 1")
        self.directory = os.fspath(directory)
        self.max_to_keep = max_to_keep
        self.keep_checkpoint_every_n_hours = keep_checkpoint_every_n_hours
        self.checkpoint_name = checkpoint_name
        self._prefix = os.path.join(self.directory, checkpoint_name)
        self._maybe_delete: collections.OrderedDict[str, float] = collections.OrderedDict()
        now = time.time()
        recovered = state.get_checkpoint_state(self.directory) if os.path.isdir(self.directory) else None
        if recovered is None:
            self._latest: str | None = None
            self._last_preserved = now
            return
        self._latest = recovered.model_checkpoint_path
        # A TF1 Saver writes no last_preserved_timestamp: count from now.
        self._last_preserved = min(recovered.last_preserved_timestamp or now, now)
        timestamps = list(recovered.all_model_checkpoint_timestamps) or (
            [self._last_preserved] * len(recovered.all_model_checkpoint_paths)
        )
        for path, stamp in zip(recovered.all_model_checkpoint_paths, timestamps):
            stamp = min(stamp, now)
            if stamp >= self._last_preserved or not recovered.all_model_checkpoint_timestamps:
                self._maybe_delete[path] = stamp

    @property
    def latest_checkpoint(self) -> str | None:
        """The newest checkpoint's prefix, or None."""
        return self._latest

    @property
    def checkpoints(self) -> list[str]:
        """Prefixes of the checkpoints under retention, oldest first."""
        return list(self._maybe_delete)

    def _next_number(self) -> int:
        pattern = re.compile(re.escape(self.checkpoint_name) + r"-(\d+)$")
        numbers = [
            int(m.group(1))
            for p in list(self._maybe_delete) + ([self._latest] if self._latest else [])
            if (m := pattern.search(os.path.basename(p)))
        ]
        return max(numbers, default=0) + 1

    def save(self, tensors: Mapping[str, Any], checkpoint_number: int | None = None, *, sync: bool = False) -> str:
        """Writes a checkpoint, records it in the state file, then applies
        retention. Returns the new prefix.

        Example:
            >>> mgr.save({"w": w}, checkpoint_number=global_step)     # doctest: +SKIP
        """
        os.makedirs(self.directory, exist_ok=True)
        remove_stale_temporaries(self.directory)
        number = self._next_number() if checkpoint_number is None else int(checkpoint_number)
        prefix = f"{self._prefix}-{number}"
        save_bundle(tensors, prefix, sync=sync)
        now = time.time()
        self._maybe_delete.pop(prefix, None)
        self._maybe_delete[prefix] = now
        self._latest = prefix
        doomed = self._retention()
        state.update_checkpoint_state(
            self.directory,
            prefix,
            list(self._maybe_delete),
            list(self._maybe_delete.values()),
            last_preserved_timestamp=self._last_preserved,
            sync=sync,
        )
        for old in doomed:
            delete_checkpoint_files(old)
        return prefix

    def _retention(self) -> list[str]:
        """Drops the oldest checkpoints beyond max_to_keep from the list;
        returns those to delete (the rest were preserved by the hours rule)."""
        doomed: list[str] = []
        if self.max_to_keep is None:
            return doomed
        hours = self.keep_checkpoint_every_n_hours
        while len(self._maybe_delete) > self.max_to_keep:
            path, stamp = self._maybe_delete.popitem(last=False)
            if hours and stamp - hours * 3600.0 >= self._last_preserved:
                self._last_preserved = stamp
                continue
            doomed.append(path)
        return doomed


def delete_checkpoint_files(prefix: str) -> None:
    """Removes a checkpoint's ``.index``, data shards and TF1 ``.meta``.

    Example:
        >>> delete_checkpoint_files("runs/exp1/ckpt-1")           # doctest: +SKIP
    """
    meta = re.sub(r"-\d{5}-of-\d{5}$", "", prefix) + ".meta"
    for path in [prefix + ".index", meta, *paths.existing_data_paths(prefix)]:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


__all__ = ["CheckpointManager", "delete_checkpoint_files"]
