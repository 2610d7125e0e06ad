"""Where a bulk extraction's output is built, so that an interrupted run can
resume and a finished one appears whole.

``Run(out, manifest, resume)`` works in the directory ``<out>.partial``:
``manifest.json`` (what is extracted, from which sources, in which batches:
a resumed run keeps the batches it started with, whatever its workers),
the data under construction (``data.npy``, ``data.zarr`` or one Parquet part
per batch) and one ``done-<start>-<stop>.json`` marker per finished batch,
holding that batch's errors and written (atomically) only after its data is
on disk. ``finish`` renames the data to ``out`` and removes the directory. A
rerun with ``resume=True`` and the same manifest skips the batches with
markers; any other rerun starts again.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

from ._fsutil import temp_name

PARTIAL_SUFFIX = ".partial"


def batch_ranges(n: int, size: int) -> list[range]:
    """[0, n) cut into consecutive ranges of ``size`` rows (the last may be shorter).

    Example:
        >>> batch_ranges(5, 2)
        [range(0, 2), range(2, 4), range(4, 5)]
    """
    return [range(start, min(n, start + size)) for start in range(0, n, max(1, size))]


def write_json_atomically(path: str, value: Any) -> None:
    """Writes ``value`` as JSON to a temporary name, then renames it to ``path``."""
    tmp = temp_name(path)
    with open(tmp, "w") as f:
        json.dump(value, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _same_work(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Manifests that describe the same extraction: equal but for the batch
    size, which follows the number of workers."""
    return {k: v for k, v in a.items() if k != "batch"} == {k: v for k, v in b.items() if k != "batch"}


class Run:
    """One extraction's output under construction (see the module docstring).

    Example:
        >>> run = Run("zoo.npy", {"sources": ["a", "b"], "batch": 1}, resume=True)  # doctest: +SKIP
        >>> [r for r in run.batches if r not in run.finished]                      # doctest: +SKIP
    """

    def __init__(self, out: str, manifest: dict[str, Any], resume: bool) -> None:
        self.out = out
        self.directory = out + PARTIAL_SUFFIX
        self.manifest = manifest
        manifest_path = os.path.join(self.directory, "manifest.json")
        self.resumed = False
        if os.path.isdir(self.directory):
            stored = self._read_manifest(manifest_path)
            if resume and isinstance(stored, dict) and _same_work(stored, manifest):
                self.manifest = stored  # its batches, whatever the workers now
                self.resumed = True
            elif resume:
                raise ValueError(
                    f"{self.directory}: an interrupted extraction of other sources, keys or options; "
                    "rerun it as it was, or without resume to start again"
                )
            else:
                shutil.rmtree(self.directory)
        if not self.resumed:
            os.makedirs(self.directory)
            write_json_atomically(manifest_path, manifest)
        self.batches = batch_ranges(int(self.manifest["rows"]), int(self.manifest["batch"]))

    @staticmethod
    def _read_manifest(path: str) -> Any:
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def path(self, name: str) -> str:
        """A file of the run's directory (``data.npy``, a part...)."""
        return os.path.join(self.directory, name)

    def _marker(self, rows: range) -> str:
        return self.path(f"done-{rows.start}-{rows.stop}.json")

    @property
    def finished(self) -> dict[range, dict[str, str]]:
        """{batch: its errors} of the batches with markers."""
        out: dict[range, dict[str, str]] = {}
        for rows in self.batches:
            errors = self._read_manifest(self._marker(rows))
            if isinstance(errors, dict):
                out[rows] = errors
        return out

    def mark_done(self, rows: range, errors: dict[str, str]) -> None:
        """Records that batch ``rows`` is on disk, with its errors."""
        write_json_atomically(self._marker(rows), errors)

    def finish(self, name: str) -> None:
        """Moves the data ``name`` (a file or a directory) to ``out`` and
        removes the run's directory."""
        if os.path.isdir(self.out) and not os.path.islink(self.out):
            shutil.rmtree(self.out)
        os.replace(self.path(name), self.out)
        shutil.rmtree(self.directory)


__all__ = ["PARTIAL_SUFFIX", "Run", "batch_ranges", "write_json_atomically"]
