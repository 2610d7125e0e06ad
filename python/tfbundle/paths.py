"""Checkpoint file naming.

A V2 checkpoint with prefix ``P`` is ``P.index`` plus
``P.data-SSSSS-of-NNNNN``. A V1 checkpoint (TF before 1.0, or
``Saver(write_version=V1)``) has no ``.index``: it is the file ``P`` itself,
or the shards ``P-SSSSS-of-NNNNN``, which TensorFlow's state file names by
the pattern ``P-?????-of-NNNNN``. Finding the checkpoint a user means by a
path (a directory, a SavedModel, ...) is :mod:`tfbundle.locate`'s job.
"""

from __future__ import annotations

import glob
import ntpath
import os
import re
from typing import Union

PathLike = Union[str, "os.PathLike[str]"]

_DATA_SUFFIX = re.compile(r"\.data-\d{5}-of-\d{5}$")
_V1_SHARD_SUFFIX = re.compile(r"-\d{5}-of-(?P<count>\d{5})$")
_FIVE_DIGITS = "[0-9]" * 5


def file_name(path: str) -> str:
    r"""The last component of a path written on any system: a state file
    written on Windows names ``C:\run\model.ckpt-5``.

    Example:
        >>> file_name(r"C:\Users\me\run\model.ckpt-5"), file_name("/runs/a/ckpt-3/")
        ('model.ckpt-5', 'ckpt-3')
    """
    return ntpath.basename(path.rstrip("/\\"))


# The file that makes a directory a SavedModel, binary or text.
SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")


def is_saved_model_dir(path: PathLike) -> bool:
    """True for a local directory holding ``saved_model.pb`` or ``saved_model.pbtxt``.

    Example:
        >>> is_saved_model_dir("export/1")                         # doctest: +SKIP
        True
    """
    p = os.fspath(path)
    return os.path.isdir(p) and any(os.path.isfile(os.path.join(p, f)) for f in SAVED_MODEL_FILES)


def saved_model_dir_of(path: PathLike) -> str | None:
    """The local SavedModel directory ``path`` names: the directory itself, or
    the one holding it when ``path`` is its ``saved_model.pb`` (or
    ``.pbtxt``), the file people point at; None for anything else.

    Example:
        >>> saved_model_dir_of("export/1/saved_model.pb")          # doctest: +SKIP
        'export/1'
    """
    p = os.fspath(path)
    if is_saved_model_dir(p):
        return p
    if os.path.basename(p) in SAVED_MODEL_FILES and os.path.isfile(p):
        return os.path.dirname(p) or "."
    return None


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


def existing_data_paths(prefix: str) -> list[str]:
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


def v1_shard_base(path: str) -> str | None:
    """``P`` for a V1 shard file name ``P-SSSSS-of-NNNNN``; else None.

    Example:
        >>> v1_shard_base("model.ckpt-7-00001-of-00002")
        'model.ckpt-7'
    """
    shard = _V1_SHARD_SUFFIX.search(path)
    return path[: shard.start()] if shard else None


def v1_files(path: str) -> list[str]:
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


_TABLE_MAGIC = bytes.fromhex("57fb808b247547db")  # the last 8 bytes of an SSTable (V1 files, V2 indexes)


def is_table_file(path: str) -> bool:
    """True for a file ending in the table footer's magic number: a V1
    checkpoint file or shard, or a V2 ``.index``.

    Example:
        >>> is_table_file("zoo/inception_v3.ckpt")                # doctest: +SKIP
        True
    """
    try:
        with open(path, "rb") as f:
            f.seek(-8, os.SEEK_END)
            return f.read(8) == _TABLE_MAGIC
    except OSError:  # too short, unreadable, a directory...
        return False


def checkpoint_of_file(path: str) -> str | None:
    """The checkpoint a file belongs to: the V2 prefix of its ``.index`` or
    ``.data-*`` (a data file only beside its index), the shards' prefix for a
    V1 shard, the file itself for a V1 file; None for anything else
    (``.meta``, state files, a writer's temporary files...).

    Example:
        >>> checkpoint_of_file("run/model.ckpt-7-00001-of-00002")  # doctest: +SKIP
        'run/model.ckpt-7'
    """
    stripped = strip_file_suffix(path)
    if stripped != path:
        return stripped if os.path.isfile(index_path(stripped)) else None
    if ".tfbundle-tmp." in path or not is_table_file(path):
        return None
    return v1_shard_base(path) or path


__all__ = [
    "SAVED_MODEL_FILES",
    "PathLike",
    "checkpoint_of_file",
    "data_path",
    "existing_data_paths",
    "file_name",
    "index_path",
    "is_saved_model_dir",
    "is_table_file",
    "saved_model_dir_of",
    "strip_file_suffix",
    "v1_files",
    "v1_shard_base",
]
