"""Checkpoint file naming and resolution of user-given paths to a prefix.

A checkpoint with prefix ``P`` is ``P.index`` plus ``P.data-SSSSS-of-NNNNN``.
Users may name it by the prefix, either file, a ``pathlib.Path``, a directory
holding a ``checkpoint`` state file, a SavedModel directory or its
``variables/`` directory.
"""

from __future__ import annotations

import glob
import os
import re
from typing import List, Union

PathLike = Union[str, "os.PathLike[str]"]

_DATA_SUFFIX = re.compile(r"\.data-\d{5}-of-\d{5}$")
_TEMP_SUFFIX = re.compile(r"\.tempstate\d+$")


def index_path(prefix: str) -> str:
    """``prefix.index``."""
    return prefix + ".index"


def data_path(prefix: str, shard: int, num_shards: int) -> str:
    """``prefix.data-SSSSS-of-NNNNN``.

    Example:
        >>> data_path("ckpt-1", 0, 2)
        'ckpt-1.data-00000-of-00002'
    """
    return f"{prefix}.data-{shard:05d}-of-{num_shards:05d}"


def existing_data_paths(prefix: str) -> List[str]:
    """Every ``prefix.data-*-of-*`` file on disk, sorted."""
    pattern = glob.escape(prefix) + ".data-[0-9][0-9][0-9][0-9][0-9]-of-[0-9][0-9][0-9][0-9][0-9]"
    return sorted(glob.glob(pattern))


def strip_file_suffix(path: str) -> str:
    """Turns ``P.index`` or ``P.data-00000-of-00001`` into ``P``; else unchanged.

    Example:
        >>> strip_file_suffix("run/model.ckpt-20.data-00000-of-00001")
        'run/model.ckpt-20'
    """
    if path.endswith(".index"):
        return path[: -len(".index")]
    return _DATA_SUFFIX.sub("", path)


def resolve_prefix(path: PathLike) -> str:
    """Resolves anything a user may call a checkpoint to its prefix.

    Directories are tried, in order, as: a directory with a ``checkpoint``
    state file (its latest checkpoint), a SavedModel (``variables/variables``),
    a SavedModel's ``variables/`` directory, and a directory holding exactly
    one ``.index`` file. Raises FileNotFoundError when none applies.

    Example:
        >>> resolve_prefix("run/model.ckpt-20.index")
        'run/model.ckpt-20'
    """
    p = os.fspath(path)
    if not os.path.isdir(p):
        return strip_file_suffix(p)
    from .state import latest_checkpoint

    latest = latest_checkpoint(p)
    if latest is not None:
        return latest
    for candidate in (os.path.join(p, "variables", "variables"), os.path.join(p, "variables")):
        if os.path.isfile(candidate + ".index"):
            return candidate
    indexes = glob.glob(os.path.join(glob.escape(p), "*.index"))
    if len(indexes) == 1:
        return indexes[0][: -len(".index")]
    if indexes:
        raise FileNotFoundError(
            f"{p}: holds {len(indexes)} checkpoints and no 'checkpoint' state file naming one; pass a prefix"
        )
    raise FileNotFoundError(f"{p}: no checkpoint found (no 'checkpoint' state file, SavedModel or .index file)")


def is_temporary(path: str) -> bool:
    """True for the temporary names writers use before renaming into place."""
    return bool(_TEMP_SUFFIX.search(path)) or ".tmp" in os.path.basename(path)


__all__ = ["index_path", "data_path", "existing_data_paths", "strip_file_suffix", "resolve_prefix"]
