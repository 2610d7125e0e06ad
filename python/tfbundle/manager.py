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
import os
import posixpath
import re
import time
from collections.abc import Mapping
from typing import Any

from . import paths, state
from ._fsutil import remove_stale_temporaries
from .checkpoint_dir import CheckpointDir
from .remote import is_url
from .writer import save as save_bundle


class CheckpointManager:
    """Saves ``{name: array}`` checkpoints as ``directory/<checkpoint_name>-<n>``.

    Keeps at most ``max_to_keep`` (None keeps all), except those preserved by
    ``keep_checkpoint_every_n_hours``. A directory written by TensorFlow's
    CheckpointManager or a TF1 Saver is adopted: its checkpoints count
    toward retention and numbering continues after the highest number in
    its state file. Opening a directory also cleans up after writers killed
    mid-save (see ``_recover``), so a preemptible job's restarts never
    accumulate untracked checkpoints or orphan files.

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
        *,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        if max_to_keep is not None and max_to_keep < 1:
            raise ValueError("max_to_keep must be None (keep all) or at least 1")
        self._dir = CheckpointDir.at(directory, storage_options)
        self._storage_options = storage_options
        self.directory = self._dir.directory
        self.max_to_keep = max_to_keep
        self.keep_checkpoint_every_n_hours = keep_checkpoint_every_n_hours
        self.checkpoint_name = checkpoint_name
        self._prefix = self._dir.path(checkpoint_name)
        self._maybe_delete: collections.OrderedDict[str, float] = collections.OrderedDict()
        now = time.time()
        exists = self._dir.exists()
        recovered = state.get_checkpoint_state(self.directory, storage_options=storage_options) if exists else None
        self._latest: str | None = None
        self._last_preserved = now
        if recovered is not None:
            self._adopt_state(recovered, now)
        if exists:
            self._recover()

    def _adopt_state(self, recovered: Any, now: float) -> None:
        """Takes over the checkpoints a state file lists."""

        def resolved(path: str) -> str:
            return state.resolve_checkpoint_path(self.directory, path, storage_options=self._storage_options)

        self._latest = resolved(recovered.model_checkpoint_path)
        # A TF1 Saver writes no last_preserved_timestamp: count from now.
        self._last_preserved = min(recovered.last_preserved_timestamp or now, now)
        timestamps = list(recovered.all_model_checkpoint_timestamps) or (
            [self._last_preserved] * len(recovered.all_model_checkpoint_paths)
        )
        for path, stamp in zip(recovered.all_model_checkpoint_paths, timestamps):
            stamp = min(stamp, now)
            if stamp >= self._last_preserved or not recovered.all_model_checkpoint_timestamps:
                self._maybe_delete[resolved(path)] = stamp

    def _recover(self) -> None:
        """Cleans up after writers killed mid-save (a preempted job): removes
        dead writers' temporaries and this manager's orphan data files (no
        index, no live writer), and adopts complete checkpoints of its own
        name pattern that the state file does not list into the retention
        list: a save killed between its index rename and the state update,
        or retention killed before deleting what the state file dropped.
        Untracked checkpoints written before the last preserved one are
        kept: ``keep_checkpoint_every_n_hours`` preserved them. Files of any
        other name are never touched."""
        self._dir.remove_stale_temporaries()
        own = re.compile(re.escape(self.checkpoint_name) + r"-(\d+)(\.index|\.data-\d{5}-of-\d{5})$")
        listing = self._dir.listing()
        names = list(listing)
        # A live writer's index is still under its temporary name while it
        # renames its data files into place: those data files are not orphans.
        writing = {name.split(".index.tfbundle-tmp.", 1)[0] for name in names if ".index.tfbundle-tmp." in name}
        complete: dict[str, int] = {}
        for name in names:
            m = own.match(name)
            if m and m.group(2) == ".index":
                complete[name[: m.end(1)]] = int(m.group(1))
        for name in names:
            m = own.match(name)
            if m and m.group(2) != ".index":
                base = name[: m.end(1)]
                if base not in complete and base not in writing:
                    self._dir.remove(name)
        tracked = {paths.file_name(p) for p in [*self._maybe_delete, self._latest or ""]}
        adopted = False
        for base in sorted(complete, key=complete.__getitem__):
            if base in tracked:
                continue
            prefix = self._dir.path(base)
            stamp = listing.get(base + ".index")
            if stamp is None:
                continue  # a store that gives no times: nothing to tell it by
            # Written before the last preserved checkpoint: kept on purpose by
            # keep_checkpoint_every_n_hours (a preserved index is written
            # before its save's timestamp is taken), so left alone.
            if stamp <= self._last_preserved:
                continue
            self._maybe_delete[prefix] = min(stamp, time.time())
            adopted = True
        if adopted:  # oldest first, as retention expects: by number (times may be coarse), then time
            numbered = re.compile(re.escape(self.checkpoint_name) + r"-(\d+)$")

            def age(item: tuple[str, float]) -> tuple[int, float]:
                m = numbered.match(paths.file_name(item[0]))
                return (int(m.group(1)) if m else -1, item[1])

            self._maybe_delete = collections.OrderedDict(sorted(self._maybe_delete.items(), key=age))

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
            if (m := pattern.search(paths.file_name(p)))
        ]
        return max(numbers, default=0) + 1

    def save(self, tensors: Mapping[str, Any], checkpoint_number: int | None = None, *, sync: bool = False) -> str:
        """Writes a checkpoint, records it in the state file, then applies
        retention. Returns the new prefix.

        Example:
            >>> mgr.save({"w": w}, checkpoint_number=global_step)     # doctest: +SKIP
        """
        self._dir.makedirs()
        if not self._dir.is_remote:
            remove_stale_temporaries(self.directory)
        number = self._next_number() if checkpoint_number is None else int(checkpoint_number)
        prefix = f"{self._prefix}-{number}"
        save_bundle(tensors, prefix, sync=sync, storage_options=self._storage_options)
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
            storage_options=self._storage_options,
        )
        for old in doomed:
            delete_checkpoint_files(old, storage_options=self._storage_options)
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


def delete_checkpoint_files(prefix: str, *, storage_options: Mapping[str, Any] | None = None) -> None:
    """Removes a checkpoint's ``.index`` (first), TF1 ``.meta`` and data
    shards; ``prefix`` may be a URL.

    Example:
        >>> delete_checkpoint_files("runs/exp1/ckpt-1")           # doctest: +SKIP
    """
    directory = posixpath.dirname(prefix) if is_url(prefix) else os.path.dirname(prefix) or "."
    CheckpointDir.at(directory, storage_options).delete_checkpoint(prefix)


__all__ = ["CheckpointManager", "delete_checkpoint_files"]
