"""The safetensors file format, streamed.

A safetensors file is an 8-byte little-endian header length, a JSON header
``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
{...}}`` padded with spaces to a multiple of 8 bytes, then the tensors' raw
little-endian bytes. Written here tensor by tensor (the header is computed
from shapes first), so converting a checkpoint larger than memory holds one
tensor at a time; the ``safetensors`` package loads the result.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import struct
from collections.abc import Mapping
from typing import Callable

from ._arrays import c_contiguous
from ._fsutil import temp_name
from ._lazy import numpy as np
from .dtypes import DType, as_dtype

# TensorFlow dtype name -> safetensors dtype code
_CODES = {
    "bool": "BOOL",
    "uint8": "U8",
    "int8": "I8",
    "int16": "I16",
    "uint16": "U16",
    "float16": "F16",
    "bfloat16": "BF16",
    "int32": "I32",
    "uint32": "U32",
    "float32": "F32",
    "float64": "F64",
    "int64": "I64",
    "uint64": "U64",
    "float8_e4m3fn": "F8_E4M3",
    "float8_e5m2": "F8_E5M2",
    "complex64": "C64",
}
_NAMES = {code: name for name, code in _CODES.items()}


def supports(dtype: DType) -> bool:
    """Whether safetensors has a code for this dtype."""
    return dtype.name in _CODES


def write(
    path: str,
    specs: list[tuple[str, DType, tuple[int, ...]]],
    fetch: Callable[[str], np.ndarray],
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Writes ``specs`` ([(name, dtype, shape)]) to ``path``, calling
    ``fetch(name)`` for each tensor's values in turn; temp file + rename.

    Example:
        >>> spec = [("w", as_dtype("float32"), (2,))]
        >>> write("w.safetensors", spec, lambda n: np.ones(2, np.float32))  # doctest: +SKIP
    """
    header: dict[str, object] = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    offset = 0
    for name, dtype, shape in specs:
        if not supports(dtype):
            raise TypeError(f"safetensors cannot store {name!r} of dtype {dtype.name}")
        size = dtype.itemsize
        for d in shape:
            size *= d
        header[name] = {"dtype": _CODES[dtype.name], "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)
    temp = temp_name(path)
    try:
        with open(temp, "wb") as f:
            f.write(struct.pack("<Q", len(encoded)))
            f.write(encoded)
            for name, dtype, shape in specs:
                value = c_contiguous(fetch(name))
                if value.shape != tuple(shape) or value.dtype != dtype.numpy_dtype:
                    raise ValueError(
                        f"{name!r}: got {value.dtype}{list(value.shape)}, expected {dtype.name}{list(shape)}"
                    )
                f.write(value.reshape(-1).view(np.uint8).data)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


class Reader:
    """A memory-mapped safetensors file: ``keys()``, ``dtype``, ``shape``,
    and ``get_tensor`` returning a read-only view.

    Example:
        >>> r = Reader("model.safetensors")                        # doctest: +SKIP
        >>> r.get_tensor(r.keys()[0]).shape                        # doctest: +SKIP
    """

    def __init__(self, path: str) -> None:
        from .errors import DataLossError

        self.path = path
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < 8:
                raise DataLossError(f"{path}: too short for a safetensors file")
            (length,) = struct.unpack("<Q", f.read(8))
            if length > size - 8:
                raise DataLossError(f"{path}: header length {length} exceeds the file")
            try:
                self._header = json.loads(f.read(length))
            except ValueError as e:
                raise DataLossError(f"{path}: malformed safetensors header: {e}") from None
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)  # size >= 8
        self._data_start = 8 + length
        self.metadata = self._header.pop("__metadata__", {}) or {}
        for name, info in self._header.items():
            begin, end = info["data_offsets"]
            if not 0 <= begin <= end <= size - self._data_start:
                raise DataLossError(f"{path}: tensor {name!r} lies outside the file")
            if info["dtype"] not in _NAMES:
                raise DataLossError(f"{path}: tensor {name!r} has unsupported dtype {info['dtype']}")

    def keys(self) -> list[str]:
        return sorted(self._header)

    def dtype(self, name: str) -> DType:
        return as_dtype(_NAMES[self._header[name]["dtype"]])

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self._header[name]["shape"])

    def close(self) -> None:
        with contextlib.suppress(BufferError):  # arrays still view the map; it closes when they go
            self._map.close()

    def get_tensor(self, name: str) -> np.ndarray:
        from .errors import DataLossError

        info = self._header[name]
        begin, end = info["data_offsets"]
        dtype = self.dtype(name)
        count = 1
        for d in info["shape"]:
            count *= d
        if count * dtype.itemsize != end - begin:
            raise DataLossError(f"{self.path}: tensor {name!r} has {end - begin} bytes for shape {info['shape']}")
        raw = (
            np.frombuffer(self._map, dtype=np.uint8, count=end - begin, offset=self._data_start + begin)
            if count
            else np.empty(0, np.uint8)
        )
        return raw.view(dtype.numpy_dtype).reshape(info["shape"])


__all__ = ["Reader", "supports", "write"]
