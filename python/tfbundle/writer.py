"""Writing V2 checkpoints: :class:`Writer` (streaming) and :func:`save`.

Each tensor goes to disk as soon as it is added; the C++ core checksums it
on the way and keeps only its small index entry. Nothing appears under a
final name until :meth:`Writer.close` renames the data shards and then the
index into place.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import paths
from ._arrays import c_contiguous
from ._core import BundleWriter, encode_slice_key
from ._fsutil import remove_stale_temporaries
from ._lazy import numpy as np
from .dtypes import STRING, DType, _numpy_table, as_dtype, from_enum
from .remote import Upload, is_url, local_path

# Writer.add_all hands numeric tensors to the core in windows of this many bytes.
_BATCH_BYTES = 512 * 2**20

if TYPE_CHECKING:
    import numpy


def parse_slice_spec(spec: str, full_shape: Sequence[int]) -> list[tuple[int, int]]:
    """Parses TensorFlow's slice syntax into ``[(start, length)]``, length -1
    for a whole dimension: one ``start,length`` or ``-`` per dimension,
    joined by ``:``.

    Example:
        >>> parse_slice_spec("0,4:-", (10, 3))
        [(0, 4), (0, -1)]
    """
    parts = spec.split(":") if spec else []
    if len(parts) != len(full_shape):
        raise ValueError(f"slice spec {spec!r} has {len(parts)} dimensions, the variable has {len(full_shape)}")
    extents = []
    for part, dim in zip(parts, full_shape):
        if part == "-":
            extents.append((0, -1))
            continue
        try:
            start_text, length_text = part.split(",")
            start, length = int(start_text), int(length_text)
        except ValueError:
            raise ValueError(f"slice spec {spec!r}: expected 'start,length' or '-', got {part!r}") from None
        if start < 0 or length < 0 or start + length > dim:
            raise ValueError(f"slice spec {spec!r}: {part!r} lies outside a dimension of size {dim}")
        extents.append((start, length))
    return extents


def _to_bytes(name: str, item: Any) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return item.encode("utf-8")
    if isinstance(item, (bytearray, memoryview, np.bytes_)):
        return bytes(item)
    raise TypeError(f"tensor {name!r}: string tensors hold bytes or str, not {type(item).__name__}")


def _is_string_sequence(value: Any) -> bool:
    if not isinstance(value, (list, tuple)):
        return False
    stack = list(value)
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        else:
            return isinstance(item, (bytes, str))
    return False


def as_tensor(name: str, value: Any, dtype: Any = None) -> tuple[numpy.ndarray, DType]:
    """Converts what :meth:`Writer.add` accepts to (C-ordered array, DType).

    Accepts numpy arrays (ml_dtypes types included), numpy and Python
    scalars, anything with ``__array__`` or the buffer protocol, and bytes or
    str (or nested sequences or object arrays of them) for strings. ``dtype``
    forces a TensorFlow dtype (e.g. "qint8"). Raises TypeError naming ``name``.

    Example:
        >>> arr, dt = as_tensor("x", [1.5, 2.0], dtype="bfloat16")
        >>> dt.name, arr.shape
        ('bfloat16', (2,))
    """
    if dtype is None and type(value) is np.ndarray and value.flags.c_contiguous:
        # The common case, first: a numeric array to store as it is.
        known = _numpy_table().get(value.dtype)
        if known is not None and not known.is_variable_length:
            return value, known
    if isinstance(value, (bytes, str)) or _is_string_sequence(value):
        arr = np.empty((), dtype=object) if isinstance(value, (bytes, str)) else None
        if arr is not None:
            arr[()] = value
        else:
            arr = np.array(value, dtype=object)
    else:
        try:
            arr = np.asarray(value)
        except Exception as e:  # torch bfloat16 and other exotic inputs
            raise TypeError(f"tensor {name!r}: cannot convert {type(value).__name__} to an array: {e}") from None
    if arr.dtype.kind in "OSU":
        target = STRING if dtype is None else as_dtype(dtype)
        if target != STRING:
            raise TypeError(f"tensor {name!r}: cannot store text as {target.name}")
        flat = [_to_bytes(name, x) for x in arr.reshape(-1).tolist()] if arr.dtype.kind == "O" else None
        if flat is None:
            flat = [_to_bytes(name, x) for x in arr.reshape(-1).tolist()]
        out = np.empty(len(flat), dtype=object)
        out[:] = flat
        return out.reshape(arr.shape), STRING
    try:
        target = as_dtype(arr.dtype) if dtype is None else as_dtype(dtype)
    except TypeError as e:
        raise TypeError(f"tensor {name!r}: {e}") from None
    if target.is_variable_length or target.name == "resource":
        raise TypeError(f"tensor {name!r}: cannot store a {arr.dtype} array as {target.name}")
    if arr.dtype != target.numpy_dtype:
        arr = arr.astype(target.numpy_dtype)
    return c_contiguous(arr), target


class Writer:
    """Streams tensors into a new V2 checkpoint at ``prefix``.

    Tensors are written as they are added; only their index entries are
    kept. ``close()`` commits (data shards, then the index, are renamed into
    place); leaving a ``with`` block by an exception, or ``abort()``, removes
    every file the writer made and leaves an existing checkpoint at
    ``prefix`` untouched. ``num_shards`` spreads tensors over that many data
    files, each tensor going to the one with the fewest bytes so far.
    ``sync=True`` fsyncs the files and their directory before ``close``
    returns. Missing parent directories are created, as TensorFlow does.
    ``prefix`` may be a URL (``s3://...``, with fsspec ``storage_options``):
    the bundle is staged in a local temporary directory and uploaded on
    ``close``, data objects first and the index last (see
    :class:`tfbundle.remote.Upload`).

    Example:
        >>> with Writer("out/model.ckpt-1") as w:                  # doctest: +SKIP
        ...     w.add("dense/kernel", np.zeros((4, 3), np.float32))
        ...     w.add_slice("emb", (10, 4), "0,5:-", np.ones((5, 4), np.float32))
        ...     w.add_slice("emb", (10, 4), "5,5:-", np.ones((5, 4), np.float32))
    """

    def __init__(
        self,
        prefix: paths.PathLike,
        num_shards: int = 1,
        sync: bool = False,
        *,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        prefix = local_path(prefix)
        self.prefix = os.fspath(prefix)
        self.sync = sync
        self._upload: Upload | None = None
        if is_url(self.prefix):  # staged locally, uploaded on close (see tfbundle.remote.Upload)
            self._upload = Upload(self.prefix, storage_options)
            local = self._upload.local_prefix
        else:
            local = self.prefix
            parent = os.path.dirname(local) or "."
            os.makedirs(parent, exist_ok=True)
            remove_stale_temporaries(parent)  # leftovers of killed writers
        self._core = BundleWriter(local, int(num_shards))

    def add(self, name: str, value: Any, *, dtype: Any = None, shard: int | None = None) -> None:
        """Writes one tensor under ``name`` (any str or bytes except ``""``),
        to data file ``shard`` if given, else to the one with fewest bytes.

        Example:
            >>> w.add("global_step", np.int64(20))                 # doctest: +SKIP
        """
        arr, dt = as_tensor(name, value, dtype)
        self._add_array(name, arr, dt, -1 if shard is None else shard)

    def _add_array(self, key: str, arr: numpy.ndarray, dt: DType, shard: int = -1) -> None:
        if dt == STRING:
            self._core.add_strings(key, arr.shape, arr.reshape(-1).tolist(), shard)
        else:
            self._core.add(key, dt.enum, arr.shape, arr.reshape(-1).view(np.uint8), shard)

    def add_all(self, tensors: Mapping[str, Any]) -> None:
        """Adds every ``{name: array}`` of a mapping, in its order, exactly as
        ``add`` one at a time would (same shards, same bytes); with several
        shards, different shards are written concurrently, one thread per
        core. Numeric tensors are gathered in windows of about 512 MiB, so
        inputs that need converting are held at most a window at a time.

        Example:
            >>> with Writer("out/ckpt-1", num_shards=2) as w:           # doctest: +SKIP
            ...     w.add_all({"a": np.zeros(4, np.float32), "b": np.ones(4, np.float32)})
        """
        batch: list = []
        held = 0
        for name, value in tensors.items():
            arr, dt = as_tensor(name, value, None)
            if dt is STRING:  # encoded in C++ one by one, after what came before
                self._core.add_batch(batch)
                batch, held = [], 0
                self._add_array(name, arr, dt)
                continue
            batch.append((name, dt.enum, arr.shape, arr, -1))
            held += arr.nbytes
            if held >= _BATCH_BYTES:
                self._core.add_batch(batch)
                batch, held = [], 0
        self._core.add_batch(batch)

    def add_slice(
        self, name: str, full_shape: Sequence[int], slice_spec: str, value: Any, *, dtype: Any = None
    ) -> None:
        """Writes one slice of the partitioned variable ``name``, as TF1's
        ``partitioner=`` saves them. ``slice_spec`` is TensorFlow's syntax,
        e.g. ``"0,4:-"``; the slices must tile ``full_shape`` without
        overlap (checked by ``close``).

        Example:
            >>> w.add_slice("emb", (10, 4), "0,5:-", np.ones((5, 4), np.float32))  # doctest: +SKIP
        """
        full_shape = tuple(int(d) for d in full_shape)
        extents = parse_slice_spec(slice_spec, full_shape)
        arr, dt = as_tensor(name, value, dtype)
        expected = tuple(dim if length < 0 else length for (_s, length), dim in zip(extents, full_shape))
        if arr.shape != expected:
            raise ValueError(f"slice {slice_spec!r} of {name!r} has shape {expected}, the value {arr.shape}")
        self._add_array(encode_slice_key(name, extents), arr, dt)
        self._core.add_slice_of(name, dt.enum, full_shape, extents)

    def copy_from(self, reader: Any, key: str, new_key: str | None = None, *, shard: int | None = None) -> None:
        """Copies a tensor from an open :class:`CheckpointReader` without
        decoding it: its checksum is verified, then its stored bytes are
        written unchanged (a partitioned variable brings all its slices).

        Example:
            >>> with tfbundle.open("old") as r, Writer("new") as w:    # doctest: +SKIP
            ...     w.copy_from(r, "dense/kernel", "encoder/kernel")
        """
        target = key if new_key is None else new_key
        core = reader._core
        enum, shape, partitioned = core.info(key)
        if not partitioned:
            if core.verbatim:
                core.copy_entry_to(key, self._core, target, -1 if shard is None else shard)
            else:  # big-endian or V1 values: decoded, then encoded as TF 2.x would
                self.add(target, reader._read_array(key, True, True), dtype=enum, shard=shard)
            return
        for extents, slice_key in core.slices(key):
            new_slice_key = encode_slice_key(target, extents)
            if core.verbatim:
                core.copy_entry_to(slice_key, self._core, new_slice_key, -1)
            else:
                self._add_array(new_slice_key, reader._read_array(slice_key, True, True), from_enum(enum))
            self._core.add_slice_of(target, enum, shape, extents)

    def close(self) -> str:
        """Commits the checkpoint and returns its prefix. Idempotent."""
        if not self._core.finished:
            self._core.finish(self.sync)
            if self._upload is not None:
                upload, self._upload = self._upload, None
                upload.commit(self._core.data_paths(), paths.index_path(upload.local_prefix))
                return self.prefix
            keep = set(self._core.data_paths())
            # Shards of an older checkpoint at this prefix with another count.
            for stale in paths.existing_data_paths(self.prefix):
                if stale not in keep:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(stale)
        return self.prefix

    def abort(self) -> None:
        """Discards everything written so far."""
        self._core.abort()
        if self._upload is not None:
            self._upload.discard()
            self._upload = None

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def save(
    tensors: Mapping[str, Any],
    prefix: paths.PathLike,
    *,
    num_shards: int = 1,
    sync: bool = False,
    storage_options: Mapping[str, Any] | None = None,
) -> str:
    """Writes ``{name: array}`` as a V2 checkpoint and returns the prefix.

    Data is written in the mapping's order (as ``SaveV2`` writes its
    arguments); the index is sorted. See :class:`Writer`.

    Example:
        >>> tfbundle.save({"w": np.ones((2, 2), np.float32)}, "out/ckpt-1")  # doctest: +SKIP
        'out/ckpt-1'
    """
    with Writer(prefix, num_shards=num_shards, sync=sync, storage_options=storage_options) as w:
        w.add_all(tensors)
    return w.prefix


__all__ = ["Writer", "as_tensor", "parse_slice_spec", "save"]
