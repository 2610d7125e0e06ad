"""Conversion between checkpoints, safetensors, ``.npz``, Keras HDF5 weights
and frozen-graph constants, one tensor at a time.

Every source offers ``keys()``, ``dtype(name)``, ``shape(name)`` and
``get_tensor(name)``; every destination takes tensors in turn, so memory
stays near one tensor whatever the file size.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from collections.abc import Mapping
from typing import Any, Callable

from . import paths, safetensors_io, saved_model, tflite
from ._fsutil import temp_name
from ._lazy import numpy as np
from .dtypes import DType, as_dtype
from .reader import CheckpointReader, as_array
from .writer import Writer

FORMATS = ("checkpoint", "safetensors", "npz", "h5", "graph", "tflite")


def detect_format(path: paths.PathLike, *, for_output: bool = False) -> str:
    """Guesses a file's format from its name: ``.safetensors``, ``.npz``,
    ``.h5``/``.hdf5``, ``.pb``/``.pbtxt`` (frozen graph), ``.tflite``; a
    SavedModel (its directory or its ``saved_model.pb``) is a checkpoint, its
    variables, or when it has none (a TF1 export of a frozen graph) a graph,
    its constants the weights; else a checkpoint.

    Example:
        >>> detect_format("model.safetensors")
        'safetensors'
    """
    p = os.fspath(path).lower()
    if p.endswith(".safetensors"):
        return "safetensors"
    if p.endswith(".npz"):
        return "npz"
    if p.endswith((".h5", ".hdf5")):
        return "h5"
    if not for_output and (export_dir := paths.saved_model_dir_of(path)) is not None:
        return "checkpoint" if saved_model.has_variables(export_dir) else "graph"
    if p.endswith((".pb", ".pbtxt")) and not for_output:
        return "graph"
    if p.endswith(".tflite") and not for_output:
        return "tflite"
    return "checkpoint"


class _NpzSource:
    def __init__(self, path: str) -> None:
        self._npz = np.load(path, allow_pickle=False)

    def keys(self) -> list[str]:
        return sorted(self._npz.files)

    def get_tensor(self, name: str) -> np.ndarray:
        return self._npz[name]

    def dtype(self, name: str) -> DType:
        return as_dtype(self.get_tensor(name).dtype)

    def shape(self, name: str) -> tuple[int, ...]:
        return self.get_tensor(name).shape

    def close(self) -> None:
        self._npz.close()


class _H5Source:
    """Keras HDF5 weights (``model.save("m.h5")`` or ``save_weights``): each
    layer group lists its weights in the ``weight_names`` attribute, e.g.
    ``dense/kernel:0``; names become TF1-style keys without ``:0``."""

    def __init__(self, path: str) -> None:
        try:
            import h5py
        except ImportError:
            raise ImportError("reading .h5 files needs h5py: pip install h5py") from None
        self._file = h5py.File(path, "r")
        root = self._file.get("model_weights", self._file)
        self._datasets = {}
        layer_names = root.attrs.get("layer_names")
        groups = [root[_text(n)] for n in layer_names] if layer_names is not None else [root]
        for group in groups:
            names = group.attrs.get("weight_names")
            if names is None:
                group.visititems(lambda n, obj, g=group: self._add_plain(g.name, n, obj))
                continue
            for weight in names:
                weight = _text(weight)
                self._datasets[weight[:-2] if weight.endswith(":0") else weight] = group[weight]

    def _add_plain(self, group_name: str, name: str, obj: Any) -> None:
        import h5py

        if isinstance(obj, h5py.Dataset):
            full = f"{group_name.strip('/')}/{name}".strip("/")
            self._datasets[full[:-2] if full.endswith(":0") else full] = obj

    def keys(self) -> list[str]:
        return sorted(self._datasets)

    def get_tensor(self, name: str) -> Any:
        return self._datasets[name][()]

    def dtype(self, name: str) -> DType:
        return as_dtype(self._datasets[name].dtype)

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self._datasets[name].shape)

    def close(self) -> None:
        self._file.close()


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def open_source(
    path: paths.PathLike, fmt: str | None = None, *, storage_options: Mapping[str, Any] | None = None
) -> Any:
    """Opens anything :func:`convert` reads, as a tensor source (checkpoints
    also at URLs).

    Example:
        >>> src = open_source("model.safetensors")                 # doctest: +SKIP
    """
    fmt = fmt or detect_format(path)
    p = os.fspath(path)
    if fmt == "safetensors":
        return safetensors_io.Reader(p)
    if fmt == "npz":
        return _NpzSource(p)
    if fmt == "h5":
        return _H5Source(p)
    if fmt == "graph":
        from .graph import ConstSource

        return ConstSource(p)
    if fmt == "tflite":
        return tflite.open(p)  # constants as stored (quantized ones as integers)
    return CheckpointReader(p, storage_options=storage_options)


def convert(
    src: paths.PathLike,
    dst: paths.PathLike,
    *,
    dtype: Any = None,
    src_format: str | None = None,
    dst_format: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> str:
    """Converts ``src`` to ``dst``; formats come from the file names unless
    given (``checkpoint``, ``safetensors``, ``npz``; sources also ``h5`` and
    ``graph``; V1 and V2 checkpoints, Snappy tables included, become V2).
    ``dtype`` casts every floating-point tensor (e.g. ``"bfloat16"``).
    Tensors the destination cannot store are skipped with a warning that
    names them: strings in safetensors or npz, and in npz every dtype that
    ``np.load`` cannot read back as itself (bfloat16, the float8 types,
    int4/int2, float4; pass ``dtype="float32"`` to keep the floating ones).
    A checkpoint source, and a checkpoint destination, may be URLs (fsspec
    ``storage_options``). Returns the destination path.

    Example:
        >>> convert("bert/model.ckpt-100000", "bert.safetensors", dtype="bfloat16")  # doctest: +SKIP
        'bert.safetensors'
    """
    target = as_dtype(dtype) if dtype is not None else None
    out_format = dst_format or detect_format(dst, for_output=True)
    source = open_source(src, src_format, storage_options=storage_options)
    try:
        names = source.keys()
        plan: list[tuple[str, DType, tuple[int, ...], bool]] = []
        for name in names:
            d = source.dtype(name)
            cast = target is not None and _is_float(d) and d != target
            plan.append((name, target if cast and target is not None else d, tuple(source.shape(name)), cast))

        def fetch(name: str, dt: DType, cast: bool) -> np.ndarray:
            value = as_array(source.get_tensor(name))
            return value.astype(dt.numpy_dtype) if cast else value

        def tick(i: int) -> None:
            if progress is not None:
                progress(i, len(plan))

        dst_path = os.fspath(dst)
        if out_format == "checkpoint":
            with Writer(paths.strip_file_suffix(dst_path), storage_options=storage_options) as writer:
                for i, (name, dt, _shape, cast) in enumerate(plan, 1):
                    if isinstance(source, CheckpointReader) and not cast:
                        writer.copy_from(source, name)
                    else:
                        writer.add(name, fetch(name, dt, cast), dtype=dt)
                    tick(i)
            return paths.strip_file_suffix(dst_path)
        storable = [p for p in plan if _storable(out_format, p[1])]
        skipped = [p[0] for p in plan if not _storable(out_format, p[1])]
        if skipped:
            kinds = sorted({dt.name for name, dt, _s, _c in plan if name in skipped})
            warnings.warn(
                f"{out_format} cannot store {len(skipped)} tensor(s) of type {', '.join(kinds)}, skipped: {skipped}",
                stacklevel=2,
            )
        if out_format == "safetensors":
            lookup = {name: (dt, cast) for name, dt, _s, cast in storable}
            counter = [0]

            def fetch_counted(name: str) -> np.ndarray:
                counter[0] += 1
                tick(counter[0])
                return fetch(name, *lookup[name])

            safetensors_io.write(dst_path, [(n, dt, s) for n, dt, s, _c in storable], fetch_counted)
        elif out_format == "npz":
            _write_npz(dst_path, storable, fetch, tick)
        else:
            raise ValueError(f"cannot write format {out_format!r}")
        return dst_path
    finally:
        source.close()


def _is_float(dtype: DType) -> bool:
    return dtype.name.startswith("float") or dtype.name == "bfloat16"


def _storable(fmt: str, dtype: DType) -> bool:
    if fmt == "safetensors":
        return safetensors_io.supports(dtype)
    return not dtype.is_variable_length and _npy_round_trips(dtype.numpy_dtype)


def _npy_round_trips(numpy_dtype: Any) -> bool:
    """True when a .npy header can name the dtype so that ``np.load`` reads
    it back as itself. ml_dtypes types cannot: bfloat16 and most float8 types
    come back as raw void bytes, float8_e5m2's '<f1' is refused outright."""
    from numpy.lib import format as npy

    try:
        return bool(npy.descr_to_dtype(npy.dtype_to_descr(numpy_dtype)) == numpy_dtype)
    except (TypeError, ValueError):
        return False


def _write_npz(path: str, plan: list[Any], fetch: Callable[..., np.ndarray], tick: Callable[[int], None]) -> None:
    temp = temp_name(path)
    try:
        with zipfile.ZipFile(temp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
            for i, (name, dt, _shape, cast) in enumerate(plan, 1):
                with archive.open(name + ".npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asarray(fetch(name, dt, cast)), allow_pickle=False)
                tick(i)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


__all__ = ["FORMATS", "convert", "detect_format", "open_source"]
