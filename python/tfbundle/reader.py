"""Reading checkpoints: :class:`CheckpointReader` and the ``tf.train``-style
functions built on it.

The C++ core parses the index (V2) or the slice tables (V1), maps the files
and copies, decodes or views bytes; this module turns those bytes into
numpy arrays, assembles partitioned variables from their slices, and returns
the types ``tf.train.load_checkpoint`` returns.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import paths
from ._core import BundleReader, V1Reader, empty_bytes, register_numpy_dtypes
from ._core import array_statistics as core_array_statistics
from ._lazy import numpy as np
from .dtypes import DType, as_dtype, from_enum, numpy_dtypes_by_enum
from .errors import DataLossError
from .locate import resolve
from .remote import is_url, local_path
from .remote_bundle import RemoteBundle

_numpy_dtypes_registered = False


def _register_numpy_dtypes() -> None:
    """Tells the core, once, which numpy dtype each TF type reads as (it
    needs numpy and ml_dtypes, which ``import tfbundle`` does not load)."""
    global _numpy_dtypes_registered
    if not _numpy_dtypes_registered:
        register_numpy_dtypes(numpy_dtypes_by_enum())
        _numpy_dtypes_registered = True


if TYPE_CHECKING:
    import numpy


class CheckpointReader:
    """An open checkpoint, like ``tf.train.load_checkpoint``: a V2 tensor
    bundle, or a V1 checkpoint (one file or ``-SSSSS-of-NNNNN`` shards).

    ``path`` may be a prefix, its ``.index`` or a ``.data-*`` file, a V1
    file or pattern, a ``pathlib.Path``, or a directory (see
    :func:`tfbundle.locate.resolve`). It may also be a URL of any fsspec
    filesystem (``s3://``, ``gs://``, ``https://``, ``memory://``; options
    such as credentials in ``storage_options``): opening fetches the index,
    each tensor exactly its byte range (see :mod:`tfbundle.remote_bundle`).
    Keys of partitioned variables' slices are hidden, as TensorFlow hides
    them; the variable itself reads back whole. Safe to share between threads.

    Example:
        >>> with CheckpointReader("model.ckpt-20") as ckpt:     # doctest: +SKIP
        ...     kernel = ckpt.get_tensor("dense/kernel")
    """

    def __init__(self, path: paths.PathLike, *, storage_options: Mapping[str, Any] | None = None) -> None:
        path = local_path(path)
        self._core: Any
        if is_url(path):
            self._core = RemoteBundle.open(str(path), storage_options)
            self._prefix = self._core.prefix
            self._version = 2
        else:
            location = resolve(path)
            self._prefix = location.prefix
            self._version = location.version
            self._core = V1Reader(location.files) if location.version == 1 else BundleReader(location.prefix)
        self._keys: list[str] | None = None
        self._key_set: frozenset | None = None

    # -- mapping-like surface -------------------------------------------
    @property
    def prefix(self) -> str:
        """The checkpoint prefix (``.index`` and ``.data-*`` files share it);
        for a V1 checkpoint, its file or pattern as given."""
        return self._prefix

    @property
    def version(self) -> int:
        """2 for a tensor bundle (``.index`` + data files), 1 for a V1 checkpoint."""
        return self._version

    @property
    def num_shards(self) -> int:
        """How many ``.data-*`` files the checkpoint has."""
        return self._core.num_shards

    def keys(self) -> list[str]:
        """Every tensor name, sorted bytewise as in the index.

        Example:
            >>> ckpt.keys()                                      # doctest: +SKIP
            ['dense/bias', 'dense/kernel', 'global_step']
        """
        if self._keys is None:
            self._keys = self._core.keys()
        return list(self._keys)

    def __contains__(self, name: object) -> bool:
        return self.has_tensor(name)  # type: ignore[arg-type]

    def __len__(self) -> int:
        if self._keys is None:
            self._keys = self._core.keys()
        return len(self._keys)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __getitem__(self, name: str) -> numpy.ndarray:
        return self.get_tensor(name)

    def has_tensor(self, name: str) -> bool:
        """True if ``name`` is a tensor of this checkpoint (``tf.train`` name)."""
        if self._key_set is None:
            self._key_set = frozenset(self.keys())
        return name in self._key_set

    def dtype(self, name: str) -> DType:
        """The tensor's :class:`tfbundle.DType`.

        Example:
            >>> ckpt.dtype("global_step").name                   # doctest: +SKIP
            'int64'
        """
        return from_enum(self._core.info(name)[0])

    def shape(self, name: str) -> tuple[int, ...]:
        """The tensor's shape as a tuple (``()`` for a scalar)."""
        return self._core.info(name)[1]

    def get_variable_to_shape_map(self) -> dict[str, list[int]]:
        """``{name: shape as a list}``, like TensorFlow's reader."""
        return self._core.shape_map()

    def get_variable_to_dtype_map(self) -> dict[str, DType]:
        """``{name: DType}``, like TensorFlow's reader (with tfbundle DTypes)."""
        return {k: from_enum(v) for k, v in self._core.dtype_map().items()}

    def debug_string(self) -> bytes:
        """One line per tensor, ``name (DT_FLOAT) [3,2]``, as TensorFlow's
        reader prints them: for a V2 checkpoint every index entry in index
        order, a partitioned variable as its slices under their binary keys;
        for V1, one line per tensor, ``, 3 slices`` after a partitioned one
        (sorted by name here; TensorFlow's V1 order is a hash table's).

        Example:
            >>> ckpt.debug_string()                              # doctest: +SKIP
            b'dense/kernel (DT_FLOAT) [7,5]\\nglobal_step (DT_INT64) []\\n'
        """
        lines = []
        if self.version == 2:
            for key in self._core.keys(include_hidden=True):
                entry = self._core.entry(key)
                if not entry["slices"]:  # a partitioned variable's slices have their own entries
                    lines.append(_debug_line(key, entry["dtype"], entry["shape"]))
        else:
            for key in self.keys():
                dtype, shape, _ = self._core.info(key)
                count = len(self._core.slices(key))
                lines.append(_debug_line(key, dtype, shape) + (f", {count} slices".encode() if count > 1 else b""))
        return b"".join(line + b"\n" for line in lines)

    # -- reading ----------------------------------------------------------
    def get_tensor(self, name: str, *, copy: bool = True, verify: bool | None = None) -> Any:
        """Reads a tensor, returning exactly the type ``tf.train.load_checkpoint``
        returns: a numpy array, a numpy scalar (``np.float32``, ``np.int64``,
        ``ml_dtypes.bfloat16``...) for a 0-d numeric tensor, ``bytes`` for a
        0-d string, and an object array of ``bytes`` for other strings.

        With ``copy=True`` (the default) the result is new and writeable and
        its checksum is verified while copying (V1 checkpoints have only block
        checksums, which are always verified). With ``copy=False`` a numeric
        tensor of a V2 checkpoint comes back as a read-only array viewing the
        memory-mapped shard (0-d included), not verified unless
        ``verify=True`` (reading every byte is what a view avoids); it stays
        valid after the reader is closed. V1 values are protobuf-encoded and
        cannot be viewed: ``copy=False`` gives a read-only decoded array.

        Example:
            >>> w = ckpt.get_tensor("dense/kernel")              # doctest: +SKIP
            >>> step = ckpt.get_tensor("global_step")            # np.int64, as TF  # doctest: +SKIP
            >>> view = ckpt.get_tensor("dense/kernel", copy=False)  # doctest: +SKIP
        """
        if not copy:
            return self._read_array(name, False, bool(verify))
        out = self._read_array(name, True, True if verify is None else verify)
        return out[()] if out.ndim == 0 else out  # what TF's 0-d conversion gives

    def _read_array(self, name: str, copy: bool, verify: bool) -> numpy.ndarray:
        """get_tensor's value as an array, 0-d included."""
        if copy:
            _register_numpy_dtypes()
            out = self._core.read_tensor(name, verify)
            if out is not None:  # else: strings, slices or big-endian bytes
                return out
        enum, shape, partitioned = self._core.info(name)
        dtype = from_enum(enum)
        if partitioned:
            return self._assemble(name, dtype, shape, verify)
        return self._read_entry(name, dtype, shape, copy, verify)

    def _read_all(self, verify: bool) -> dict[str, numpy.ndarray]:
        """Every tensor as a new array, in key order; plain V2 tensors in one
        batch that spreads them over the cores."""
        keys = self.keys()
        batch: dict[str, Any] = {}
        if self._core.verbatim and self._version == 2:
            _register_numpy_dtypes()
            batch = self._core.read_many(keys, verify)
        return {k: batch[k] if k in batch else self._read_array(k, True, verify) for k in keys}

    def _read_entry(self, key: str, dtype: DType, shape: tuple[int, ...], copy: bool, verify: bool) -> numpy.ndarray:
        if dtype.is_variable_length:
            items = self._core.read_strings(key, verify)
            out = np.empty(len(items), dtype=object)
            out[:] = items
            return out.reshape(shape)
        if not copy and self._core.verbatim:
            if verify:
                self._core.verify(key)
            return self._core.view(key).view(dtype.numpy_dtype).reshape(shape)
        raw = empty_bytes(self._core.checked_size(key))
        self._core.read_into(key, raw, verify)
        out = raw.view(dtype.numpy_dtype).reshape(shape)
        if not copy:
            out.flags.writeable = False  # as a view would be
        return out

    def read_into(self, name: str, out: numpy.ndarray, *, verify: bool = True) -> numpy.ndarray:
        """Reads a numeric tensor into an existing C-contiguous array of the
        same shape and dtype (like h5py's ``read_direct``), skipping the
        allocation; bulk readers can reuse one buffer for many tensors.

        Example:
            >>> buf = np.empty(ckpt.shape("w"), ckpt.dtype("w").numpy_dtype)  # doctest: +SKIP
            >>> ckpt.read_into("w", buf)                         # doctest: +SKIP
        """
        enum, shape, partitioned = self._core.info(name)
        dtype = from_enum(enum)
        if partitioned or dtype.is_variable_length:
            out[...] = self._read_array(name, True, verify)
            return out
        if out.shape != tuple(shape) or out.dtype != dtype.numpy_dtype or not out.flags.c_contiguous:
            raise ValueError(f"{name!r} needs a C-contiguous {dtype.name} array of shape {tuple(shape)}")
        self._core.read_into(name, out.reshape(-1).view(np.uint8), verify)
        return out

    def _slice_plan(self, name: str, dtype: DType, shape: tuple[int, ...]) -> list[tuple[tuple[slice, ...], str]]:
        """The stored slices of a partitioned variable, checked to tile it."""
        plan = []
        total = 0
        boxes: list[list[tuple[int, int]]] = []
        for extents, key in self._core.slices(name):
            if len(extents) != len(shape):
                raise DataLossError(f"{self.prefix}: slice of {name!r} has the wrong number of dimensions")
            box = []
            for (start, length), dim in zip(extents, shape):
                stop = dim if length < 0 else start + length
                if length >= 0 and (start < 0 or stop > dim):
                    raise DataLossError(f"{self.prefix}: slice of {name!r} lies outside its shape {shape}")
                box.append((0 if length < 0 else start, stop))
            if not self._core.contains(key):
                raise DataLossError(f"{self.prefix}: partitioned variable {name!r} is missing the slice {extents}")
            slice_enum, slice_shape, _ = self._core.info(key)
            expected = tuple(hi - lo for lo, hi in box)
            if slice_enum != dtype.enum or tuple(slice_shape) != expected:
                raise DataLossError(
                    f"{self.prefix}: slice {extents} of {name!r} is stored as {from_enum(slice_enum).name}"
                    f"{list(slice_shape)}, expected {dtype.name}{list(expected)}"
                )
            for other in boxes:
                if all(max(a[0], b[0]) < min(a[1], b[1]) for a, b in zip(box, other)):
                    raise DataLossError(f"{self.prefix}: overlapping slices in partitioned variable {name!r}")
            boxes.append(box)
            volume = 1
            for lo, hi in box:
                volume *= hi - lo
            total += volume
            plan.append((tuple(slice(lo, hi) for lo, hi in box), key))
        full = 1
        for d in shape:
            full *= d
        if total != full:
            raise DataLossError(f"{self.prefix}: partitioned variable {name!r} does not have sufficient slices")
        return plan

    def _assemble(self, name: str, dtype: DType, shape: tuple[int, ...], verify: bool) -> numpy.ndarray:
        # The plan checks that the slices tile the shape, so the allocation
        # below is no larger than the slices' bytes on disk.
        plan = self._slice_plan(name, dtype, shape)
        out = np.empty(shape, dtype=dtype.numpy_dtype)
        for region, key in plan:
            piece_shape = tuple(s.stop - s.start for s in region)
            out[region] = self._read_entry(key, dtype, piece_shape, True, verify)
        return out

    def get_slice(self, name: str) -> TensorSlice:
        """A lazy handle on a tensor; indexing it reads only what it selects.

        Example:
            >>> ckpt.get_slice("embeddings")[1000:1010]          # doctest: +SKIP
        """
        enum, shape, partitioned = self._core.info(name)
        return TensorSlice(self, name, from_enum(enum), shape, partitioned)

    def verify(self) -> None:
        """Checks every checksum in the checkpoint (V1: every block of every
        file, and every tensor's encoding); raises DataLossError on the first
        damage found.

        Example:
            >>> ckpt.verify()                                    # doctest: +SKIP
        """
        self._core.verify_files()
        for key in self._core.keys(True):
            self._core.verify(key)

    def damaged(self) -> dict[str, str]:
        """``{name: problem}`` for every tensor whose data fails its checks
        (a damaged V1 block that no tensor uses is reported under ``""``)."""
        problems = {}
        try:
            self._core.verify_files()
        except (DataLossError, OSError) as e:
            problems[""] = str(e)
        for key in self._core.keys(True):
            try:
                self._core.verify(key)
            except (DataLossError, OSError) as e:
                problems[key] = str(e)
        return problems

    def entry(self, name: str) -> dict[str, Any]:
        """The raw index entry of a key: dtype enum, shape, shard_id, offset,
        size, masked crc32c and slices (V1: dtype, shape, slices and file)."""
        return self._core.entry(name)

    def statistics(self, name: str, *, verify: bool = True) -> dict[str, Any] | None:
        """``min``, ``max``, ``mean``, ``std`` (population), ``l2`` norm and
        the counts of ``nan`` and ``inf`` of a numeric tensor, NaN and inf
        left out of the others (None when no value is finite). A plain V2
        tensor is summarised in the core while its bytes are read (and
        checksummed), chunk by chunk, never held whole; others are read
        first. Complex tensors are summarised by magnitude; strings give None.

        Example:
            >>> ckpt.statistics("dense/kernel")["std"]             # doctest: +SKIP
            0.0501
        """
        summary = None
        if self._version == 2 and hasattr(self._core, "read_statistics"):
            summary = self._core.read_statistics(name, verify)
        if summary is None:
            return array_statistics(as_array(self.get_tensor(name, verify=verify)))
        return _statistics_dict(summary)

    # -- lifetime -----------------------------------------------------------
    def close(self) -> None:
        """Releases the index and shard mappings (views handed out stay valid)."""
        self._core = _ClosedCore(self._prefix)

    def __enter__(self) -> CheckpointReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<tfbundle.CheckpointReader {self.prefix!r}>"


class _ClosedCore:
    """Stands in for the core after close(): every use raises ValueError."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __getattr__(self, attr: str) -> Any:
        raise ValueError(f"checkpoint {self.prefix!r} is closed")


class TensorSlice:
    """A lazy view of one tensor (h5py-dataset style): ``shape``, ``dtype``,
    and numpy indexing that reads only the bytes it needs.

    On a memory-mapped shard a selection touches only the pages it covers,
    and at a URL it fetches only the rows (first dimension) it covers; either
    way it is not checksum-verified (the checksum covers the whole tensor).
    A partitioned variable reads only the slices that intersect the
    selection. ``np.asarray(s)`` reads everything, verified.

    Example:
        >>> rows = ckpt.get_slice("embeddings")[10:20, ::2]      # doctest: +SKIP
    """

    def __init__(self, reader: CheckpointReader, name: str, dtype: DType, shape: tuple[int, ...], partitioned: bool):
        self._reader = reader
        self.name = name
        self.dtype = dtype
        self.shape = tuple(shape)
        self._partitioned = partitioned

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a scalar tensor")
        return self.shape[0]

    def __array__(self, dtype: Any = None, copy: Any = None) -> numpy.ndarray:
        full = self._reader._read_array(self.name, True, True)
        return full if dtype is None else full.astype(dtype)

    def __getitem__(self, index: Any) -> numpy.ndarray:
        if self._partitioned:
            return self._partitioned_getitem(index)
        reader = self._reader
        rows = getattr(reader._core, "read_rows", None)  # a remote bundle: fetch only the rows needed
        if rows is not None and self.ndim and not self.dtype.is_variable_length:
            parts = _normalize_index(index, self.ndim)
            if parts is not None:
                picks = np.arange(self.shape[0])[parts[0]]  # IndexError for an int out of range, as numpy
                lo = int(np.min(picks)) if picks.size else 0
                hi = int(np.max(picks)) + 1 if picks.size else 0
                block = rows(self.name, lo, hi).view(self.dtype.numpy_dtype).reshape((hi - lo, *self.shape[1:]))
                first = picks - lo if isinstance(parts[0], slice) else int(picks) - lo
                return np.array(block[(first, *parts[1:])], copy=True)
        if not self.dtype.is_variable_length and reader._core.verbatim:
            try:
                view = reader.get_tensor(self.name, copy=False)
            except DataLossError:
                view = None  # the shard is not memory-mapped: read it whole
            if view is not None:
                return np.array(view[index], copy=True)
        return np.asarray(reader._read_array(self.name, True, True)[index])

    def _partitioned_getitem(self, index: Any) -> Any:
        parts = _normalize_index(index, self.ndim)
        if parts is None:  # advanced indexing: read everything, then index
            return np.asarray(self._reader._read_array(self.name, True, True)[index])
        # The positions picked along each dimension, their bounding box, and
        # only the stored slices that intersect that box.
        picks = [np.arange(dim)[part] for part, dim in zip(parts, self.shape)]
        box = [(int(p.min()), int(p.max()) + 1) if p.size else (0, 0) for p in picks]
        out = np.empty(tuple(hi - lo for lo, hi in box), dtype=self.dtype.numpy_dtype)
        reader = self._reader
        for region, key in reader._slice_plan(self.name, self.dtype, self.shape):
            inter = [(max(r.start, lo), min(r.stop, hi)) for r, (lo, hi) in zip(region, box)]
            if any(lo >= hi for lo, hi in inter):
                continue
            piece_shape = tuple(r.stop - r.start for r in region)
            piece = reader._read_entry(key, self.dtype, piece_shape, True, True)
            src = tuple(slice(lo - r.start, hi - r.start) for (lo, hi), r in zip(inter, region))
            dst = tuple(slice(lo - b[0], hi - b[0]) for (lo, hi), b in zip(inter, box))
            out[dst] = piece[src]
        relative = [np.atleast_1d(p) - lo for p, (lo, _hi) in zip(picks, box)]
        selected = out[np.ix_(*relative)] if relative else out
        kept = [len(r) for r, part in zip(relative, parts) if isinstance(part, slice)]
        return selected.reshape(kept)


def _normalize_index(index: Any, ndim: int) -> list[Any] | None:
    """Expands Ellipsis and pads a basic index to ndim entries of ints and
    slices; None for anything else (advanced indexing, newaxis)."""
    if not isinstance(index, tuple):
        index = (index,)
    if sum(1 for i in index if i is Ellipsis) > 1:
        return None
    if Ellipsis in index:
        pos = index.index(Ellipsis)
        index = index[:pos] + (slice(None),) * (ndim - len(index) + 1) + index[pos + 1 :]
    index = tuple(index) + (slice(None),) * (ndim - len(index))
    if len(index) != ndim:
        return None
    out: list[Any] = []
    for part in index:
        if isinstance(part, slice):
            out.append(part)
        elif isinstance(part, bool) or not hasattr(part, "__index__") or getattr(part, "ndim", False):
            return None
        else:
            out.append(part.__index__())
    return out


def array_statistics(value: numpy.ndarray) -> dict[str, Any] | None:
    """The statistics :meth:`CheckpointReader.statistics` gives, of an array
    (computed in the core; complex by magnitude); None for non-numeric ones.

    Example:
        >>> array_statistics(np.array([1.0, 3.0, np.nan]))["mean"]
        2.0
    """
    if value.dtype.kind == "c":
        value = np.abs(value)
    if value.dtype.kind in "OSU":
        return None
    try:
        enum = as_dtype(value.dtype).enum
    except (TypeError, ValueError):
        return None
    native = np.ascontiguousarray(value, dtype=value.dtype.newbyteorder("="))
    summary = core_array_statistics(native.reshape(-1).view(np.uint8), enum)
    return None if summary is None else _statistics_dict(summary)


def _statistics_dict(summary: tuple[int, int, int, float, float, float, float, float]) -> dict[str, Any]:
    count, nan, inf, low, high, mean, m2, sumsq = summary
    finite = count > 0
    return {
        "min": low if finite else None,
        "max": high if finite else None,
        "mean": mean if finite else None,
        "std": math.sqrt(m2 / count) if finite else None,
        "l2": math.sqrt(sumsq) if finite else None,
        "nan": nan,
        "inf": inf,
    }


def as_array(value: Any) -> numpy.ndarray:
    """Any ``get_tensor`` result as an array: a numpy scalar or ``bytes``
    (TensorFlow's types for 0-d tensors) becomes a 0-d array.

    Example:
        >>> as_array(b"hi").dtype
        dtype('O')
    """
    if isinstance(value, bytes):
        out = np.empty((), dtype=object)
        out[()] = value
        return out
    return np.asarray(value)


def open(  # noqa: A001 - mirrors h5py.File/safetensors safe_open
    path: paths.PathLike, *, storage_options: Mapping[str, Any] | None = None
) -> CheckpointReader:
    """Opens a checkpoint for reading; use as a context manager or not.

    Example:
        >>> import tfbundle
        >>> with tfbundle.open("model.ckpt-20") as ckpt:          # doctest: +SKIP
        ...     print(ckpt.keys())
        >>> ckpt = tfbundle.open("s3://bucket/run/ckpt-10", storage_options={"anon": True})  # doctest: +SKIP
    """
    return CheckpointReader(path, storage_options=storage_options)


def load_checkpoint(path: paths.PathLike, *, storage_options: Mapping[str, Any] | None = None) -> CheckpointReader:
    """Same as :func:`open`; named like ``tf.train.load_checkpoint``."""
    return CheckpointReader(path, storage_options=storage_options)


NewCheckpointReader = load_checkpoint  # TF1's tf.train.NewCheckpointReader


def load(
    path: paths.PathLike, *, verify: bool = True, storage_options: Mapping[str, Any] | None = None
) -> dict[str, numpy.ndarray]:
    """Reads every tensor into a dict of new numpy arrays (0-d arrays for
    scalars, as safetensors and ``np.savez`` expect; ``get_tensor`` gives
    TensorFlow's scalar types instead).

    Example:
        >>> weights = tfbundle.load("model.ckpt-20")             # doctest: +SKIP
    """
    with CheckpointReader(path, storage_options=storage_options) as ckpt:
        return ckpt._read_all(verify)


def list_variables(
    path: paths.PathLike, *, storage_options: Mapping[str, Any] | None = None
) -> list[tuple[str, list[int]]]:
    """``[(name, shape)]`` sorted by name, like ``tf.train.list_variables``.

    Example:
        >>> tfbundle.list_variables("model.ckpt-20")             # doctest: +SKIP
        [('dense/bias', [10]), ('dense/kernel', [784, 10])]
    """
    with CheckpointReader(path, storage_options=storage_options) as ckpt:
        shapes = ckpt.get_variable_to_shape_map()
    return sorted(shapes.items())


def load_variable(path: paths.PathLike, name: str, *, storage_options: Mapping[str, Any] | None = None) -> Any:
    """One tensor's value, like ``tf.train.load_variable`` (and of the same
    type: see :meth:`CheckpointReader.get_tensor`). A trailing ``:0`` on the
    name is ignored, as TensorFlow ignores it.

    Example:
        >>> tfbundle.load_variable("model.ckpt-20", "global_step")  # doctest: +SKIP
        np.int64(20)
    """
    if name.endswith(":0"):
        name = name[:-2]
    with CheckpointReader(path, storage_options=storage_options) as ckpt:
        return ckpt.get_tensor(name)


__all__ = [
    "CheckpointReader",
    "TensorSlice",
    "array_statistics",
    "list_variables",
    "load",
    "load_checkpoint",
    "load_variable",
    "open",
]


def _debug_line(key: str, dtype: int, shape: Sequence[int]) -> bytes:
    """``key (DT_X) [d0,d1]`` with the key's raw bytes (slice keys are binary)."""
    dims = ",".join(str(d) for d in shape)
    return key.encode("utf-8", "surrogateescape") + f" ({from_enum(dtype).proto_name}) [{dims}]".encode()
