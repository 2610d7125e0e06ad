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
from typing import List, Optional, Tuple, Union

PathLike = Union[str, "os.PathLike[str]"]

_DATA_SUFFIX = re.compile(r"\.data-\d{5}-of-\d{5}$")
# Temporary names: ours carry host and pid so a later writer can tell a dead
# writer's leftovers; TensorFlow's are `.tempstate<n>` and `checkpoint.tmp<hex>`.
# After the first marker: host (may hold dots), pid, random number, then the end
# or the suffix of a file inside a temporary bundle (".index", ".data-...").
_OUR_TEMP = re.compile(r"\.tfbundle-tmp\.(?P<host>.+?)\.(?P<pid>\d+)\.\d+(?:\..*)?$")
_FOREIGN_TEMP = re.compile(r"(\.tempstate\d+|^checkpoint\.tmp[0-9a-f]{32})$")


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


def temp_name(final_path: str) -> str:
    """A temporary name next to ``final_path``, in the format the C++ writer
    uses: ``<final>.tfbundle-tmp.<host>.<pid>.<random>``.

    Example:
        >>> temp_name("ckpt/checkpoint").startswith("ckpt/checkpoint.tfbundle-tmp.")
        True
    """
    import random
    import socket

    return f"{final_path}.tfbundle-tmp.{socket.gethostname()}.{os.getpid()}.{random.getrandbits(48)}"


def temporary_owner(path: str) -> Optional[Tuple[str, int]]:
    """(host, pid) of one of our temporary files; None for anything else."""
    m = _OUR_TEMP.search(os.path.basename(path))  # search: the first marker wins
    return (m.group("host"), int(m.group("pid"))) if m else None


def is_foreign_temporary(path: str) -> bool:
    """True for TensorFlow's temporary names (``.tempstate<n>``, ``checkpoint.tmp<hex>``)."""
    return bool(_FOREIGN_TEMP.search(os.path.basename(path)))


__all__ = ["index_path", "data_path", "existing_data_paths", "strip_file_suffix", "resolve_prefix"]
