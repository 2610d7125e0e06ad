"""A checkpoint directory, local or at a URL, as ``CheckpointManager`` uses it:
list its files with their modification times, remove files, and remove
dead writers' leftovers. Local directories use ``os``; URLs go through
:class:`tfbundle.remote.Store`.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import re
import socket
import time
from collections.abc import Mapping
from typing import Any

from . import paths, remote
from ._fsutil import process_alive, remove_stale_temporaries, temporary_owner

# Leftovers written on another host are removed after this long.
FOREIGN_GRACE_SECONDS = 24 * 3600.0


class CheckpointDir:
    """One directory: ``path(name)``, ``listing()``, ``remove(name)``.

    Example:
        >>> d = CheckpointDir.at("runs/exp1")                     # doctest: +SKIP
        >>> sorted(d.listing())                                   # doctest: +SKIP
        ['checkpoint', 'ckpt-1.data-00000-of-00001', 'ckpt-1.index']
    """

    def __init__(self, directory: str, store: remote.Store | None) -> None:
        self.directory = directory
        self._store = store

    @classmethod
    def at(cls, directory: paths.PathLike, storage_options: Mapping[str, Any] | None = None) -> CheckpointDir:
        path = os.fspath(remote.local_path(directory))
        if remote.is_url(path):
            return cls(path.rstrip("/"), remote.Store.for_url(path, storage_options))
        return cls(path, None)

    @property
    def is_remote(self) -> bool:
        return self._store is not None

    def path(self, name: str) -> str:
        """The path or URL of ``name`` in this directory."""
        return remote.join(self.directory, name) if self._store else os.path.join(self.directory, name)

    def exists(self) -> bool:
        if self._store is None:
            return os.path.isdir(self.directory)
        return True  # object stores have no directories to create

    def makedirs(self) -> None:
        if self._store is None:
            os.makedirs(self.directory, exist_ok=True)

    def listing(self) -> dict[str, float | None]:
        """Every file's name and modification time (None where the store
        does not say)."""
        if self._store is None:
            out: dict[str, float | None] = {}
            for name in os.listdir(self.directory):
                with contextlib.suppress(FileNotFoundError):
                    out[name] = os.path.getmtime(os.path.join(self.directory, name))
            return out
        try:
            entries = self._store.fs.ls(self.directory, detail=True)
        except FileNotFoundError:
            return {}
        return {
            os.path.basename(e["name"].rstrip("/")): _entry_mtime(e) for e in entries if e.get("type") != "directory"
        }

    def remove(self, name: str) -> None:
        """Removes a file; a missing one is not an error."""
        if self._store is None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.directory, name))
        else:
            self._store.remove(self.path(name))

    def remove_stale_temporaries(self) -> None:
        """Removes leftovers of writers that are gone: temporaries (local) or
        upload markers (remote) whose process on this host has exited, or
        that another host wrote over a day ago."""
        if self._store is None:
            remove_stale_temporaries(self.directory)
            return
        host, now = socket.gethostname(), time.time()
        for name, mtime in self.listing().items():
            owner = temporary_owner(name)
            if owner is None:
                continue
            if owner[0] == host:
                stale = not process_alive(owner[1])
            else:
                stale = mtime is not None and now - mtime >= FOREIGN_GRACE_SECONDS
            if stale:
                self.remove(name)

    def delete_checkpoint(self, prefix: str) -> None:
        """Removes a checkpoint's index (first: readers stop seeing it), its
        TF1 ``.meta`` and its data files."""
        base = os.path.basename(prefix)
        meta = re.sub(r"-\d{5}-of-\d{5}$", "", base) + ".meta"
        self.remove(base + ".index")
        self.remove(meta)
        data = re.compile(re.escape(base) + r"\.data-\d{5}-of-\d{5}$")
        for name in self.listing():
            if data.match(name):
                self.remove(name)


def _entry_mtime(entry: Mapping[str, Any]) -> float | None:
    """A listing entry's modification time as a Unix timestamp; filesystems
    name and type it differently."""
    for key in ("mtime", "LastModified", "last_modified", "updated", "created"):
        value = entry.get(key)
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, datetime.datetime):
            return value.timestamp()
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return None


__all__ = ["CheckpointDir"]
