"""Finding the checkpoint a user-given path names.

Users may name a checkpoint by its prefix (or V1 pattern), any of its files,
a ``pathlib.Path``, a directory holding a ``checkpoint`` state file, a
SavedModel directory, its ``saved_model.pb`` or its ``variables/``
directory. Resolution sits above the state file (a directory's latest
checkpoint comes from it) and below the reader.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field

from . import paths
from .state import get_checkpoint_state, latest_checkpoint


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
    files: list[str] = field(default_factory=list)


def resolve(path: paths.PathLike) -> Location:
    """Finds the checkpoint a user-given path names.

    A TF1 Saver's ``P.meta`` names the checkpoint ``P``, and a SavedModel's
    ``saved_model.pb`` (or ``.pbtxt``) names its variables. A file path or
    prefix is a V2 checkpoint when ``prefix.index`` exists,
    else a V1 checkpoint (see :func:`tfbundle.paths.v1_files`). Directories are tried, in
    order, as: a directory with a ``checkpoint`` state file (its latest
    checkpoint, V1 or V2), a SavedModel (``variables/variables``), a
    SavedModel's ``variables/`` directory, a directory holding exactly one
    ``.index`` file, and one holding exactly one V1 checkpoint (a file or a
    set of shards). Raises FileNotFoundError saying what was looked for.

    Example:
        >>> resolve("run/model.ckpt-20.index").prefix              # doctest: +SKIP
        'run/model.ckpt-20'
    """
    p = os.fspath(path)
    if os.path.isdir(p):
        return _resolve_directory(p)
    if (export_dir := paths.saved_model_dir_of(p)) is not None:  # its saved_model.pb: the SavedModel's variables
        return _resolve_directory(export_dir)
    if p.endswith(".meta") and os.path.isfile(p):  # a TF1 Saver's graph: its checkpoint shares the prefix
        base = p[: -len(".meta")]
        if os.path.isfile(paths.index_path(base)):
            return Location(2, base)
        if files := paths.v1_files(base):
            return Location(1, base, files)
        raise FileNotFoundError(
            f"{p}: a MetaGraph; its checkpoint is not beside it (looked for {paths.index_path(base)} and V1 {base})"
        )
    prefix = paths.strip_file_suffix(p)
    if os.path.isfile(paths.index_path(prefix)):
        return Location(2, prefix)
    if prefix != p:
        raise FileNotFoundError(
            f"{paths.index_path(prefix)}: no such file (the index of the checkpoint {p} belongs to)"
        )
    files = paths.v1_files(p)
    if files:
        return Location(1, p, files)
    raise FileNotFoundError(
        f"{p}: no checkpoint found: looked for a V2 checkpoint ({paths.index_path(p)}), a V1 checkpoint "
        f"({p}, or shards {p}-NNNNN-of-NNNNN), and a directory (with a 'checkpoint' state file, "
        "a SavedModel, or one .index file)"
    )


def _resolve_directory(p: str) -> Location:
    latest = latest_checkpoint(p)
    if latest is not None:
        return resolve(latest)
    for candidate in (os.path.join(p, "variables", "variables"), os.path.join(p, "variables")):
        if os.path.isfile(paths.index_path(candidate)):
            return Location(2, candidate)
        files = paths.v1_files(candidate) if not os.path.isdir(candidate) else []
        if files:  # a SavedModel from before V2 bundles
            return Location(1, candidate, files)
    indexes = glob.glob(os.path.join(glob.escape(p), "*.index"))
    if len(indexes) == 1:
        return Location(2, indexes[0][: -len(".index")])
    if indexes:
        raise FileNotFoundError(
            f"{p}: holds {len(indexes)} checkpoints and no 'checkpoint' state file naming one; pass a prefix"
        )
    # V1 checkpoints, told by their table footer: a TF-slim download holds
    # just inception_v3.ckpt, a TF1 session bundle export.meta and its shards.
    v1 = sorted({c for name in os.listdir(p) if (c := paths.checkpoint_of_file(os.path.join(p, name))) is not None})
    if len(v1) == 1:
        return resolve(v1[0])
    if v1:
        raise FileNotFoundError(
            f"{p}: holds {len(v1)} V1 checkpoints ({', '.join(map(os.path.basename, v1))}) and no 'checkpoint' "
            "state file naming one; pass one"
        )
    if paths.is_saved_model_dir(p):
        raise FileNotFoundError(
            f"{p}: a SavedModel without variables (no variables/variables.index): its weights, if any, are "
            "constants in its graph; read them with tfbundle.graph.load_consts(path)"
        )
    try:
        state = get_checkpoint_state(p)
    except ValueError:
        state = None
    named = f"; its 'checkpoint' state file names {state.model_checkpoint_path}, which does not exist" if state else ""
    raise FileNotFoundError(
        f"{p}: no checkpoint found in this directory: looked for a 'checkpoint' state file, a SavedModel "
        f"(variables/variables.index), variables.index, a single .index file and a single V1 checkpoint{named}"
    )


def resolve_prefix(path: paths.PathLike) -> str:
    """The prefix of the checkpoint ``path`` names (see :func:`resolve`);
    for a V1 checkpoint, the path or pattern as TensorFlow names it.

    Example:
        >>> resolve_prefix("run/model.ckpt-20.index")              # doctest: +SKIP
        'run/model.ckpt-20'
    """
    return resolve(path).prefix


__all__ = ["Location", "resolve", "resolve_prefix"]
