"""Checkpoint file naming and resolution of user-given paths to a checkpoint.

A V2 checkpoint with prefix ``P`` is ``P.index`` plus
``P.data-SSSSS-of-NNNNN``. A V1 checkpoint (TF before 1.0, or
``Saver(write_version=V1)``) has no ``.index``: it is the file ``P`` itself,
or the shards ``P-SSSSS-of-NNNNN``, which TensorFlow's state file names by
the pattern ``P-?????-of-NNNNN``. Users may name a checkpoint by its prefix
(or pattern), any of its files, a ``pathlib.Path``, a directory holding a
``checkpoint`` state file, a SavedModel directory or its ``variables/``
directory.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from typing import List, Optional, Tuple, Union

PathLike = Union[str, "os.PathLike[str]"]

_DATA_SUFFIX = re.compile(r"\.data-\d{5}-of-\d{5}$")
_V1_SHARD_SUFFIX = re.compile(r"-\d{5}-of-(?P<count>\d{5})$")
_FIVE_DIGITS = "[0-9]" * 5
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


@dataclass(frozen=True)
class Location:
    """Where a checkpoint's files are: ``version`` 2 (``prefix.index`` and its
    data files) or 1 (``files``, the V1 table files, in shard order).

    Example:
        >>> resolve("run/model.ckpt-20")                          # doctest: +SKIP
        Location(version=2, prefix='run/model.ckpt-20', files=[])
    """

    version: int
    prefix: str
    files: List[str] = field(default_factory=list)


def v1_files(path: str) -> List[str]:
    """The files of a V1 checkpoint named ``path``, sorted; [] when none.

    ``path`` is the file itself, one shard ``P-SSSSS-of-NNNNN`` (all shards
    of its set are returned), a glob pattern as TensorFlow's state file
    writes for sharded V1 saves (``P-?????-of-00002``), or the prefix ``P``
    of shards ``P-SSSSS-of-NNNNN``.

    Example:
        >>> v1_files("zoo/inception_v3.ckpt")                     # doctest: +SKIP
        ['zoo/inception_v3.ckpt']
    """
    if "\0" in path:  # no file has such a name (and glob would raise on it)
        return []
    shard = _V1_SHARD_SUFFIX.search(path)
    if shard and os.path.isfile(path):
        base = path[: shard.start()]
        return sorted(glob.glob(f"{glob.escape(base)}-{_FIVE_DIGITS}-of-{shard.group('count')}"))
    if os.path.isfile(path):
        return [path]
    if glob.has_magic(path):
        return sorted(p for p in glob.glob(path) if os.path.isfile(p))
    return sorted(glob.glob(f"{glob.escape(path)}-{_FIVE_DIGITS}-of-{_FIVE_DIGITS}"))


def resolve(path: PathLike) -> Location:
    """Finds the checkpoint a user-given path names.

    A file path or prefix is a V2 checkpoint when ``prefix.index`` exists,
    else a V1 checkpoint (see :func:`v1_files`). Directories are tried, in
    order, as: a directory with a ``checkpoint`` state file (its latest
    checkpoint, V1 or V2), a SavedModel (``variables/variables``), a
    SavedModel's ``variables/`` directory, and a directory holding exactly
    one ``.index`` file. Raises FileNotFoundError saying what was looked for.

    Example:
        >>> resolve("run/model.ckpt-20.index").prefix              # doctest: +SKIP
        'run/model.ckpt-20'
    """
    p = os.fspath(path)
    if os.path.isdir(p):
        return _resolve_directory(p)
    prefix = strip_file_suffix(p)
    if os.path.isfile(index_path(prefix)):
        return Location(2, prefix)
    if prefix != p:
        raise FileNotFoundError(f"{index_path(prefix)}: no such file (the index of the checkpoint {p} belongs to)")
    files = v1_files(p)
    if files:
        return Location(1, p, files)
    raise FileNotFoundError(
        f"{p}: no checkpoint found: looked for a V2 checkpoint ({index_path(p)}), a V1 checkpoint "
        f"({p}, or shards {p}-NNNNN-of-NNNNN), and a directory (with a 'checkpoint' state file, "
        "a SavedModel, or one .index file)"
    )


def _resolve_directory(p: str) -> Location:
    from .state import get_checkpoint_state, latest_checkpoint

    latest = latest_checkpoint(p)
    if latest is not None:
        return resolve(latest)
    for candidate in (os.path.join(p, "variables", "variables"), os.path.join(p, "variables")):
        if os.path.isfile(index_path(candidate)):
            return Location(2, candidate)
        files = v1_files(candidate) if not os.path.isdir(candidate) else []
        if files:  # a SavedModel from before V2 bundles
            return Location(1, candidate, files)
    indexes = glob.glob(os.path.join(glob.escape(p), "*.index"))
    if len(indexes) == 1:
        return Location(2, indexes[0][: -len(".index")])
    if indexes:
        raise FileNotFoundError(
            f"{p}: holds {len(indexes)} checkpoints and no 'checkpoint' state file naming one; pass a prefix"
        )
    try:
        state = get_checkpoint_state(p)
    except ValueError:
        state = None
    named = f"; its 'checkpoint' state file names {state.model_checkpoint_path}, which does not exist" if state else ""
    raise FileNotFoundError(
        f"{p}: no checkpoint found in this directory: looked for a 'checkpoint' state file, a SavedModel "
        f"(variables/variables.index), variables.index and a single .index file{named}"
    )


def resolve_prefix(path: PathLike) -> str:
    """The prefix of the checkpoint ``path`` names (see :func:`resolve`);
    for a V1 checkpoint, the path or pattern as TensorFlow names it.

    Example:
        >>> resolve_prefix("run/model.ckpt-20.index")              # doctest: +SKIP
        'run/model.ckpt-20'
    """
    return resolve(path).prefix


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


__all__ = ["index_path", "data_path", "existing_data_paths", "strip_file_suffix", "resolve", "resolve_prefix",
           "v1_files", "Location"]
