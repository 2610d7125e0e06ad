"""TensorFlow's DataType numbers, their names, and their numpy dtypes.

Names follow ``tf.DType.name`` ("float32", "bfloat16", "string", ...). The
quantized types have no numpy counterpart and read as their storage integer
type (qint8 as int8, quint16 as uint16, ...). bfloat16, float8, int4, int2
and float4 use ``ml_dtypes``.
"""

from __future__ import annotations

from typing import Any

from ._lazy import ml_dtypes
from ._lazy import numpy as np

# enum: (TensorFlow name, numpy type name, where to find it, element bytes;
#        0 = variable length)
_TABLE = {
    1: ("float32", "float32", "numpy", 4),
    2: ("float64", "float64", "numpy", 8),
    3: ("int32", "int32", "numpy", 4),
    4: ("uint8", "uint8", "numpy", 1),
    5: ("int16", "int16", "numpy", 2),
    6: ("int8", "int8", "numpy", 1),
    7: ("string", "object", "numpy", 0),
    8: ("complex64", "complex64", "numpy", 8),
    9: ("int64", "int64", "numpy", 8),
    10: ("bool", "bool", "numpy", 1),
    11: ("qint8", "int8", "numpy", 1),
    12: ("quint8", "uint8", "numpy", 1),
    13: ("qint32", "int32", "numpy", 4),
    14: ("bfloat16", "bfloat16", "ml_dtypes", 2),
    15: ("qint16", "int16", "numpy", 2),
    16: ("quint16", "uint16", "numpy", 2),
    17: ("uint16", "uint16", "numpy", 2),
    18: ("complex128", "complex128", "numpy", 16),
    19: ("float16", "float16", "numpy", 2),
    20: ("resource", None, None, 0),
    21: ("variant", "object", "numpy", 0),
    22: ("uint32", "uint32", "numpy", 4),
    23: ("uint64", "uint64", "numpy", 8),
    24: ("float8_e5m2", "float8_e5m2", "ml_dtypes", 1),
    25: ("float8_e4m3fn", "float8_e4m3fn", "ml_dtypes", 1),
    26: ("float8_e4m3fnuz", "float8_e4m3fnuz", "ml_dtypes", 1),
    27: ("float8_e4m3b11fnuz", "float8_e4m3b11fnuz", "ml_dtypes", 1),
    28: ("float8_e5m2fnuz", "float8_e5m2fnuz", "ml_dtypes", 1),
    29: ("int4", "int4", "ml_dtypes", 1),
    30: ("uint4", "uint4", "ml_dtypes", 1),
    31: ("int2", "int2", "ml_dtypes", 1),
    32: ("uint2", "uint2", "ml_dtypes", 1),
    33: ("float4_e2m1fn", "float4_e2m1fn", "ml_dtypes", 1),
}

# Other spellings accepted by as_dtype (TensorFlow's and numpy's).
_ALIASES = {"float": "float32", "double": "float64", "half": "float16", "bytes": "string", "str": "string"}


class DType:
    """A TensorFlow data type: ``.name``, ``.enum`` and ``.numpy_dtype``
    (and ``as_numpy_dtype`` / ``as_datatype_enum``, as ``tf.DType`` names them).

    Compares equal to another DType of the same enum, to its name (or an
    alias such as "half"), and to its numpy dtype.

    Example:
        >>> d = as_dtype("bfloat16")
        >>> (d.enum, d.name, d.itemsize, d == "bfloat16")
        (14, 'bfloat16', 2, True)
    """

    __slots__ = ("_module", "_np", "_numpy_name", "enum", "itemsize", "name")

    def __init__(self, enum: int) -> None:
        if enum not in _TABLE:
            raise ValueError(f"unknown TensorFlow DataType {enum}")
        self.enum = enum
        self.name, self._numpy_name, self._module, self.itemsize = _TABLE[enum]
        self._np: np.dtype | None = None

    @property
    def proto_name(self) -> str:
        """The DataType enum's name in TensorFlow's protos (``DT_FLOAT``,
        ``DT_HALF``, ``DT_BFLOAT16``...).

        Example:
            >>> as_dtype("float16").proto_name
            'DT_HALF'
        """
        return "DT_" + {"float32": "FLOAT", "float64": "DOUBLE", "float16": "HALF"}.get(self.name, self.name.upper())

    @property
    def numpy_dtype(self) -> np.dtype:
        """The numpy dtype values of this type read as (object for strings)."""
        if self._np is None:
            if self._numpy_name is None:
                raise TypeError(f"TensorFlow {self.name} tensors have no numpy representation")
            if self._module == "ml_dtypes":
                self._np = np.dtype(getattr(ml_dtypes, self._numpy_name))
            else:
                self._np = np.dtype(self._numpy_name)
        return self._np

    @property
    def as_numpy_dtype(self) -> type:
        """The numpy scalar type, as ``tf.DType.as_numpy_dtype`` gives it."""
        return self.numpy_dtype.type

    @property
    def as_datatype_enum(self) -> int:
        """The DataType number, as ``tf.DType.as_datatype_enum`` gives it."""
        return self.enum

    @property
    def is_variable_length(self) -> bool:
        """True for string and variant, whose elements have no fixed size."""
        return self.itemsize == 0

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, DType):
            return other.enum == self.enum
        try:
            return as_dtype(other).enum == self.enum
        except (TypeError, ValueError):
            return False

    def __hash__(self) -> int:
        return hash(self.enum)

    def __repr__(self) -> str:
        return f"tfbundle.{self.name}"

    def __str__(self) -> str:
        return self.name


_BY_ENUM: dict[int, DType] = {e: DType(e) for e in _TABLE}
_BY_NAME: dict[str, DType] = {d.name: d for d in _BY_ENUM.values()}
# numpy dtype -> the non-quantized TensorFlow type, built on first use.
_BY_NUMPY: dict[Any, DType] | None = None

STRING = _BY_NAME["string"]


def _numpy_table() -> dict[Any, DType]:
    global _BY_NUMPY
    if _BY_NUMPY is None:
        table = {}
        for d in _BY_ENUM.values():
            if d.name.startswith(("qint", "quint")) or d.name in ("resource", "variant"):
                continue
            table[d.numpy_dtype] = d
        _BY_NUMPY = table
    return _BY_NUMPY


def numpy_dtypes_by_enum() -> dict[int, np.dtype]:
    """``{enum: numpy dtype}`` for every fixed-size type with a numpy form.

    Example:
        >>> numpy_dtypes_by_enum()[1]
        dtype('float32')
    """
    return {d.enum: d.numpy_dtype for d in _BY_ENUM.values() if d.itemsize and d._numpy_name is not None}


def as_dtype(value: Any) -> DType:
    """Converts a DType, enum number, name or numpy dtype to a :class:`DType`.

    Example:
        >>> as_dtype("half").name, as_dtype(1).name
        ('float16', 'float32')
    """
    if isinstance(value, DType):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        if value in _BY_ENUM:
            return _BY_ENUM[value]
        if value - 100 in _BY_ENUM:  # *_REF types, seen in graph signatures
            return _BY_ENUM[value - 100]
        raise ValueError(f"unknown TensorFlow DataType {value}")
    if isinstance(value, str):
        name = _ALIASES.get(value, value)
        if name in _BY_NAME:
            return _BY_NAME[name]
    try:
        npd = np.dtype(value)
    except TypeError:
        raise TypeError(f"cannot interpret {value!r} as a TensorFlow dtype") from None
    if npd.kind in "SUO":
        return STRING
    found = _numpy_table().get(npd.newbyteorder("=") if npd.byteorder not in "=|" else npd)
    if found is None:
        raise TypeError(f"numpy dtype {npd} has no TensorFlow counterpart")
    return found


def from_enum(enum: int) -> DType:
    """The DType for a TensorFlow DataType number (fast path for readers)."""
    try:
        return _BY_ENUM[enum]
    except KeyError:
        raise ValueError(f"unknown TensorFlow DataType {enum}") from None


__all__ = ["STRING", "DType", "as_dtype", "from_enum"]
