"""Small numpy helpers shared by the writers."""

from __future__ import annotations

from typing import Any

from ._lazy import numpy as np


def c_contiguous(value: Any) -> np.ndarray:
    """``value`` as a C-contiguous array, copying only when needed. Unlike
    ``np.ascontiguousarray`` it keeps 0-d arrays 0-d.

    Example:
        >>> c_contiguous(np.float32(1.5)).shape
        ()
    """
    arr = np.asarray(value)
    return arr if arr.flags.c_contiguous else arr.copy(order="C")
