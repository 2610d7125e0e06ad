"""TFLite models (``.tflite``): subgraphs, tensors with their quantization,
operators, signatures and metadata, and constant tensors as zero-copy numpy
views of the mapped file, without TensorFlow or an interpreter.

The core parses the flatbuffer with a bounds-checked reader of its own
(``csrc/flatbuffer.h``, ``csrc/tflite_model.cc``): the flatbuffers
package's runtime follows offsets without checking them unless a generated
verifier runs first, and nothing on the package index ships TFLite's schema
with one. A damaged file raises :class:`tfbundle.DataLossError` naming it.

Example:
    >>> with tfbundle.tflite.open("model.tflite") as m:         # doctest: +SKIP
    ...     kernel = m.get_tensor("sequential/dense/MatMul", dequantize=True)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ._core import TfliteFile
from ._lazy import numpy as np
from .dtypes import DType, as_dtype
from .errors import DataLossError
from .tflite_ops import BUILTIN_OPERATORS

# TFLite's TensorType enum -> the TensorFlow dtype name it stores.
TENSOR_TYPES = {
    0: "float32",
    1: "float16",
    2: "int32",
    3: "uint8",
    4: "int64",
    5: "string",
    6: "bool",
    7: "int16",
    8: "complex64",
    9: "int8",
    10: "float64",
    11: "complex128",
    12: "uint64",
    13: "resource",
    14: "variant",
    15: "uint32",
    16: "uint16",
    17: "int4",
    18: "bfloat16",
    19: "int2",
    20: "uint4",
}
_PACKED_BITS = {"int4": 4, "uint4": 4, "int2": 2}  # elements packed into bytes, low bits first


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Quantization:
    """A tensor's quantization: ``real = scale * (q - zero_point)``, per
    tensor (one scale) or per axis (one per index of ``quantized_dimension``).
    Unquantized tensors have empty arrays."""

    scales: Any
    zero_points: Any
    quantized_dimension: int = 0
    min: Any = None
    max: Any = None

    @property
    def per_axis(self) -> bool:
        """True when each index of ``quantized_dimension`` has its own scale."""
        return len(self.scales) > 1


@dataclass(frozen=True)
class Tensor:
    """One tensor of a subgraph (see :func:`open`)."""

    name: str
    index: int
    dtype: DType
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...]
    buffer: int
    nbytes: int
    is_constant: bool
    is_variable: bool
    is_sparse: bool
    quantization: Quantization


@dataclass(frozen=True)
class Operator:
    """One operator: its builtin name (or custom code), version and tensors."""

    index: int
    name: str
    builtin_code: int
    custom_code: str
    version: int
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


@dataclass(frozen=True)
class Signature:
    """A signature: input and output names mapped to tensor indices of its subgraph."""

    key: str
    subgraph_index: int
    inputs: dict[str, int]
    outputs: dict[str, int]


@dataclass
class Subgraph:
    """A subgraph's tensors, operators and input/output tensor indices."""

    index: int
    name: str
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    _by_name: dict[str, int] = field(default_factory=dict, repr=False)

    def tensor(self, name_or_index: str | int) -> Tensor:
        """A tensor by name or index."""
        if isinstance(name_or_index, int):
            if not 0 <= name_or_index < len(self.tensors):
                raise IndexError(f"subgraph {self.index} has {len(self.tensors)} tensors, not {name_or_index}")
            return self.tensors[name_or_index]
        if not self._by_name:
            for t in reversed(self.tensors):  # the first of equal names wins
                self._by_name[t.name] = t.index
        try:
            return self.tensors[self._by_name[name_or_index]]
        except KeyError:
            raise KeyError(f"no tensor named {name_or_index!r} in subgraph {self.index}") from None


class Model:
    """An open ``.tflite`` model (see :func:`open`)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._file: Any = TfliteFile(path)
        buffers = self._file.buffers
        self.version: int = self._file.version
        self.description = _text(self._file.description)
        codes = self._file.operator_codes
        self.subgraphs = [self._subgraph(i, g, buffers, codes) for i, g in enumerate(self._file.subgraphs)]
        self.signatures = {
            _text(key): Signature(_text(key), sub, {_text(n): i for n, i in ins}, {_text(n): i for n, i in outs})
            for key, sub, ins, outs in self._file.signatures
        }
        self._metadata = [(_text(name), index) for name, index in self._file.metadata]

    @staticmethod
    def _subgraph(index: int, g: dict[str, Any], buffers: list[Any], codes: list[Any]) -> Subgraph:
        tensors = []
        for i, t in enumerate(g["tensors"]):
            q = t["quantization"] or {}
            shape = tuple(t["shape"])
            size = buffers[t["buffer"]][1] if t["buffer"] < len(buffers) else 0
            tensors.append(
                Tensor(
                    name=_text(t["name"]),
                    index=i,
                    dtype=_dtype(t),
                    shape=shape,
                    shape_signature=tuple(t["shape_signature"]) if t["shape_signature"] is not None else shape,
                    buffer=t["buffer"],
                    nbytes=size,
                    is_constant=size > 0,
                    is_variable=t["is_variable"],
                    is_sparse=t["sparse"],
                    quantization=Quantization(
                        scales=np.asarray(q.get("scale", []), np.float32),
                        zero_points=np.asarray(q.get("zero_point", []), np.int64),
                        quantized_dimension=int(q.get("quantized_dimension", 0)),
                        min=np.asarray(q.get("min", []), np.float32),
                        max=np.asarray(q.get("max", []), np.float32),
                    ),
                )
            )
        operators = []
        for i, (opcode, ins, outs) in enumerate(g["operators"]):
            builtin, custom, version = codes[opcode]
            custom_name = _text(custom)
            name = custom_name if custom_name else BUILTIN_OPERATORS.get(builtin, f"BUILTIN_{builtin}")
            operators.append(Operator(i, name, builtin, custom_name, version, tuple(ins), tuple(outs)))
        return Subgraph(index, _text(g["name"]), tensors, operators, tuple(g["inputs"]), tuple(g["outputs"]))

    # -- the surface ----------------------------------------------------------
    @property
    def tensors(self) -> list[Tensor]:
        """Subgraph 0's tensors (``subgraphs[i].tensors`` for others)."""
        return self.subgraphs[0].tensors if self.subgraphs else []

    @property
    def operators(self) -> list[Operator]:
        """Subgraph 0's operators, in execution order."""
        return self.subgraphs[0].operators if self.subgraphs else []

    @property
    def metadata(self) -> dict[str, Any]:
        """``{name: bytes as a read-only uint8 array}`` of the model's metadata entries."""
        return {name: self._file.buffer(index) for name, index in self._metadata}

    def tensor(self, name_or_index: str | int, *, subgraph: int = 0) -> Tensor:
        """A tensor of a subgraph by name or index."""
        return self.subgraphs[subgraph].tensor(name_or_index)

    def get_tensor(
        self, name_or_index: str | int, *, copy: bool = False, dequantize: bool = False, subgraph: int = 0
    ) -> Any:
        """A constant tensor's values: a read-only view of the mapped file
        (copied only where the buffer is not aligned for the dtype, or packed:
        int4, uint4, int2), a new writeable array with ``copy=True``, or
        float32 values with ``dequantize=True``: ``scale * (q - zero_point)``
        per tensor or along ``quantized_dimension`` (computed in float64 and
        rounded once, as TFLite's dequantize kernel does), and float16 or
        bfloat16 widened. Strings come back as an object array of bytes.

        Example:
            >>> m.get_tensor("conv/weights", dequantize=True).dtype  # doctest: +SKIP
            dtype('float32')
        """
        t = self.tensor(name_or_index, subgraph=subgraph)
        if not t.is_constant:
            raise ValueError(f"{self.path}: tensor {t.name!r} has no constant data (the model computes it)")
        if t.is_sparse:
            raise ValueError(
                f"{self.path}: tensor {t.name!r} is sparse (its buffer holds the compressed values); "
                "sparse constants are not decoded"
            )
        raw = self._file.buffer(t.buffer)
        value = self._decode(t, raw)
        if dequantize:
            return self._dequantize(t, value)
        if copy and not value.flags.writeable:
            return np.array(value)
        return value

    def _decode(self, t: Tensor, raw: Any) -> Any:
        count = 1
        for d in t.shape:
            count *= d
        name = t.dtype.name
        if name == "string":
            return self._strings(t, raw, count)
        if name in _PACKED_BITS:
            bits = _PACKED_BITS[name]
            per_byte = 8 // bits
            if raw.size != -(-count // per_byte):
                self._damaged(t, raw.size)
            unpacked = np.stack([(raw >> (bits * k)) & ((1 << bits) - 1) for k in range(per_byte)], axis=-1)
            values = unpacked.reshape(-1)[:count].astype(np.int8)
            if not name.startswith("u"):
                values = np.where(values >= 1 << (bits - 1), values - (1 << bits), values).astype(np.int8)
            return values.astype(t.dtype.numpy_dtype).reshape(t.shape)
        if not t.dtype.itemsize or raw.size != count * t.dtype.itemsize:
            self._damaged(t, raw.size)
        if raw.ctypes.data % t.dtype.itemsize:
            raw = np.array(raw)  # unaligned: views would be slow to read
            raw.flags.writeable = False
        return raw.view(t.dtype.numpy_dtype).reshape(t.shape)

    def _strings(self, t: Tensor, raw: Any, count: int) -> Any:
        # TFLite strings: int32 count, int32 offsets[count + 1], then the bytes.
        data = raw.tobytes()
        if len(data) < 4:
            self._damaged(t, len(data))
        n = int.from_bytes(data[:4], "little", signed=True)
        if n != count or len(data) < 4 * (n + 2):
            self._damaged(t, len(data))
        offsets = np.frombuffer(data, np.int32, n + 1, 4)
        if n and (offsets[0] < 4 * (n + 2) or np.any(np.diff(offsets) < 0) or offsets[-1] > len(data)):
            self._damaged(t, len(data))
        out = np.empty(n, dtype=object)
        out[:] = [data[offsets[i] : offsets[i + 1]] for i in range(n)]
        return out.reshape(t.shape)

    def _damaged(self, t: Tensor, size: int) -> None:
        raise DataLossError(
            f"{self.path}: tensor {t.name!r} ({t.dtype.name}{list(t.shape)}) has a buffer of {size} bytes"
        )

    @staticmethod
    def _dequantize(t: Tensor, value: Any) -> Any:
        q = t.quantization
        integer = value.dtype.kind in "iu" or t.dtype.name in _PACKED_BITS
        if not (len(q.scales) and integer):
            floating = value.dtype.kind == "f" or t.dtype.name == "bfloat16"
            return value.astype(np.float32) if floating else value
        scales = q.scales.astype(np.float64)
        zero_points = q.zero_points.astype(np.float64) if len(q.zero_points) else np.zeros_like(scales)
        if q.per_axis:
            shape = [1] * value.ndim
            shape[q.quantized_dimension] = -1
            scales, zero_points = scales.reshape(shape), zero_points.reshape(shape)
        return ((value.astype(np.float64) - zero_points) * scales).astype(np.float32)

    # -- a tensor source, for ls, show, diff and convert ------------------------
    def keys(self) -> list[str]:
        """The names of subgraph 0's constant tensors."""
        return [t.name for t in self.tensors if t.is_constant]

    def dtype(self, name: str) -> DType:
        return self.tensor(name).dtype

    def shape(self, name: str) -> tuple[int, ...]:
        return self.tensor(name).shape

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def close(self) -> None:
        """Releases the model (views handed out stay valid)."""
        self._file = None

    def __enter__(self) -> Model:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _dtype(t: dict[str, Any]) -> DType:
    if t["type"] not in TENSOR_TYPES:
        raise DataLossError(f"tensor {_text(t['name'])!r} has an unknown TFLite type {t['type']}")
    return as_dtype(TENSOR_TYPES[t["type"]])


class DequantizedSource:
    """A model's constants as float32 where they are quantized or half
    precision (for comparing with the checkpoint a model came from)."""

    def __init__(self, model: Model) -> None:
        self._model = model

    def keys(self) -> list[str]:
        return self._model.keys()

    def get_tensor(self, name: str) -> Any:
        return self._model.get_tensor(name, dequantize=True)

    def dtype(self, name: str) -> DType:
        return as_dtype(self.get_tensor(name).dtype)

    def shape(self, name: str) -> tuple[int, ...]:
        return self._model.shape(name)

    def close(self) -> None:
        self._model.close()


def open(path: str | os.PathLike[str]) -> Model:  # noqa: A001  (tfbundle.tflite.open, like tfbundle.open)
    """Opens a ``.tflite`` model: its description is parsed (bounds-checked)
    and its file mapped; constant tensors are read on demand as views.

    Example:
        >>> with tfbundle.tflite.open("model.tflite") as m:       # doctest: +SKIP
        ...     [(t.name, t.dtype.name, t.quantization.scales) for t in m.tensors if t.is_constant]
    """
    return Model(os.fspath(path))


__all__ = ["DequantizedSource", "Model", "Operator", "Quantization", "Signature", "Subgraph", "Tensor", "open"]
