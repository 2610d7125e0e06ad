"""The ``checkpoint`` state file: which checkpoints a directory holds.

It is a text-format ``CheckpointState`` protobuf, read and written exactly as
TensorFlow's ``tf.train.get_checkpoint_state`` / ``update_checkpoint_state``
do, and always replaced atomically (temporary file, then rename).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from typing import Any

from . import paths, remote
from ._fsutil import temp_name
from .errors import DataLossError

STATE_FILENAME = "checkpoint"


def _state_path(directory: paths.PathLike, latest_filename: str | None) -> str:
    return os.path.join(os.fspath(directory), latest_filename or STATE_FILENAME)


def get_checkpoint_state(
    checkpoint_dir: paths.PathLike,
    latest_filename: str | None = None,
    *,
    storage_options: Mapping[str, Any] | None = None,
) -> Any | None:
    """Reads ``checkpoint_dir/checkpoint``, like ``tf.train.get_checkpoint_state``.

    Returns a ``CheckpointState`` message (``model_checkpoint_path``,
    ``all_model_checkpoint_paths``, ``all_model_checkpoint_timestamps``,
    ``last_preserved_timestamp``) whose relative paths are joined onto
    ``checkpoint_dir``, or None when there is no state file. A malformed file,
    or one that names no checkpoint, raises DataLossError naming it.
    ``checkpoint_dir`` may be a URL (``s3://...``; see :mod:`tfbundle.remote`),
    with fsspec ``storage_options``.

    Example:
        >>> state = get_checkpoint_state("runs/exp1")          # doctest: +SKIP
        >>> state.model_checkpoint_path                         # doctest: +SKIP
        'runs/exp1/ckpt-3'
    """
    from google.protobuf import text_format

    from .proto import message_class

    directory = os.fspath(remote.local_path(checkpoint_dir))
    url = remote.is_url(directory)
    path = remote.join(directory, latest_filename or STATE_FILENAME) if url else _state_path(directory, latest_filename)
    try:
        if url:
            text = remote.Store.for_url(path, storage_options).cat(path).decode("utf-8")
        else:
            with open(path, encoding="utf-8") as f:
                text = f.read()
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as e:
        raise DataLossError(f"{path}: checkpoint state file is not text: {e}") from None
    state = message_class("CheckpointState")()
    try:
        text_format.Parse(text, state)
    except text_format.ParseError as e:
        raise DataLossError(f"{path}: malformed checkpoint state file: {e}") from None
    if not state.model_checkpoint_path:
        raise DataLossError(f"{path}: checkpoint state file names no model_checkpoint_path")
    state.model_checkpoint_path = _joined(directory, state.model_checkpoint_path)
    for i, p in enumerate(state.all_model_checkpoint_paths):
        state.all_model_checkpoint_paths[i] = _joined(directory, p)
    return state


def _joined(directory: str, path: str) -> str:
    """A state file's path as TensorFlow resolves it: relative ones against
    the directory (for a URL directory, local absolute paths too: the job
    that wrote them ran elsewhere)."""
    if remote.is_url(directory):
        return (
            path
            if remote.is_url(path)
            else remote.join(directory, paths.file_name(path) if os.path.isabs(path) else path)
        )
    return path if os.path.isabs(path) else os.path.join(directory, path)


def checkpoint_exists(prefix: paths.PathLike, *, storage_options: Mapping[str, Any] | None = None) -> bool:
    """True if a V2 checkpoint (``prefix.index``) or a V1 checkpoint (the file
    ``prefix``, or files matching it as a pattern, or its shards) exists; for
    a URL, if its ``.index`` object exists. Like TF1's ``tf.train.checkpoint_exists``.

    Example:
        >>> checkpoint_exists("runs/exp1/model.ckpt-20")          # doctest: +SKIP
        True
    """
    prefix = os.fspath(prefix)
    if remote.is_url(prefix):
        index = paths.index_path(prefix)
        return remote.Store.for_url(index, storage_options).exists(index)
    return os.path.isfile(paths.index_path(prefix)) or bool(paths.v1_files(prefix))


def latest_checkpoint(
    checkpoint_dir: paths.PathLike,
    latest_filename: str | None = None,
    *,
    storage_options: Mapping[str, Any] | None = None,
) -> str | None:
    """The newest checkpoint's prefix, like ``tf.train.latest_checkpoint``.

    Returns None when the directory has no (or an unreadable) state file or
    the checkpoint it names does not exist. When the named path is missing
    but a checkpoint of the same basename sits in ``checkpoint_dir`` (the
    directory was moved, or written on Windows and read here), that one is
    returned. ``checkpoint_dir`` may be a URL.

    Example:
        >>> latest_checkpoint("runs/exp1")                      # doctest: +SKIP
        'runs/exp1/ckpt-3'
    """
    try:
        state = get_checkpoint_state(checkpoint_dir, latest_filename, storage_options=storage_options)
    except DataLossError:
        return None  # TensorFlow logs and returns None here too
    if state is None:
        return None
    return _existing_path(checkpoint_dir, state.model_checkpoint_path, storage_options)


def resolve_checkpoint_path(
    checkpoint_dir: paths.PathLike, path: str, *, storage_options: Mapping[str, Any] | None = None
) -> str:
    """A path a state file names, as it exists: itself, else the checkpoint
    of the same file name in ``checkpoint_dir`` (the directory was moved, or
    written on Windows and read here), else ``path`` unchanged.

    Example:
        >>> resolve_checkpoint_path("runs/exp1", "/old/home/runs/exp1/ckpt-3")  # doctest: +SKIP
        'runs/exp1/ckpt-3'
    """
    return _existing_path(checkpoint_dir, path, storage_options) or path


def _existing_path(checkpoint_dir: paths.PathLike, path: str, storage_options: Mapping[str, Any] | None) -> str | None:
    """``path`` if that checkpoint exists, else the one of its file name in
    ``checkpoint_dir`` if that exists, else None."""
    if checkpoint_exists(path, storage_options=storage_options):
        return path
    directory = os.fspath(remote.local_path(checkpoint_dir))
    join = remote.join if remote.is_url(directory) else os.path.join
    moved = join(directory, paths.file_name(path))
    if moved != path and checkpoint_exists(moved, storage_options=storage_options):
        return moved
    return None


def _atomic_write_text(path: str, text: str, sync: bool = False) -> None:
    temp = temp_name(path)
    try:
        with open(temp, "w", encoding="utf-8") as f:
            f.write(text)
            if sync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def update_checkpoint_state(
    save_dir: paths.PathLike,
    model_checkpoint_path: str,
    all_model_checkpoint_paths: Sequence[str] | None = None,
    all_model_checkpoint_timestamps: Sequence[float] | None = None,
    last_preserved_timestamp: float | None = None,
    save_relative_paths: bool = True,
    latest_filename: str | None = None,
    sync: bool = False,
    *,
    storage_options: Mapping[str, Any] | None = None,
) -> None:
    """Writes ``save_dir/checkpoint`` atomically, like TensorFlow's
    ``update_checkpoint_state`` (but relative paths by default, as TF2 does).

    ``all_model_checkpoint_paths`` lists checkpoints oldest first; the model
    path is appended when it is not last. Timestamps, when given, must match
    the paths one to one. ``save_dir`` may be a URL (the object is replaced
    whole, as object stores do).

    Example:
        >>> update_checkpoint_state("runs/exp1", "runs/exp1/ckpt-3",
        ...                         ["runs/exp1/ckpt-2", "runs/exp1/ckpt-3"])  # doctest: +SKIP
    """
    from google.protobuf import text_format

    from .proto import message_class

    directory = os.fspath(remote.local_path(save_dir))
    all_paths: list[str] = list(all_model_checkpoint_paths or [])
    if not all_paths or all_paths[-1] != model_checkpoint_path:
        all_paths.append(model_checkpoint_path)
    if all_model_checkpoint_timestamps is not None and len(all_model_checkpoint_timestamps) != len(all_paths):
        raise ValueError(f"{len(all_model_checkpoint_timestamps)} timestamps for {len(all_paths)} checkpoint paths")

    url = remote.is_url(directory)

    def stored(p: str) -> str:
        if url:  # names inside the directory are stored relative to it
            inside = directory.rstrip("/") + "/"
            return p[len(inside) :] if save_relative_paths and p.startswith(inside) else p
        if save_relative_paths and os.path.isabs(p):
            return os.path.relpath(p, directory)
        if not os.path.isabs(directory) and not os.path.isabs(p):
            return os.path.relpath(p, directory)  # TF's rule for relative save dirs
        return p

    state = message_class("CheckpointState")(
        model_checkpoint_path=stored(model_checkpoint_path),
        all_model_checkpoint_paths=[stored(p) for p in all_paths],
        all_model_checkpoint_timestamps=list(all_model_checkpoint_timestamps or []),
    )
    if last_preserved_timestamp is not None:
        state.last_preserved_timestamp = last_preserved_timestamp
    if url:  # an object store writes a whole object at once: no temporary needed
        path = remote.join(directory, latest_filename or STATE_FILENAME)
        if remote.join(directory, state.model_checkpoint_path) == path:
            raise ValueError(f"save path {model_checkpoint_path!r} conflicts with the checkpoint state file {path!r}")
        store = remote.Store.for_url(path, storage_options)
        store.put_bytes(path, text_format.MessageToString(state).encode("utf-8"))
        return
    path = _state_path(directory, latest_filename)
    if os.path.abspath(path) == os.path.abspath(os.path.join(directory, state.model_checkpoint_path)):
        raise ValueError(f"save path {model_checkpoint_path!r} conflicts with the checkpoint state file {path!r}")
    _atomic_write_text(path, text_format.MessageToString(state), sync=sync)


__all__ = ["checkpoint_exists", "get_checkpoint_state", "latest_checkpoint", "update_checkpoint_state"]
