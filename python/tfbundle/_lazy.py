"""Modules imported on first use, so that ``import tfbundle`` stays fast.

numpy alone takes ~100 ms to import; tfbundle's import budget is 150 ms in
all, and many uses (the CLI's ``--help``, path resolution, the state file)
never touch an array. ``numpy`` and ``ml_dtypes`` below behave like the
modules once an attribute is read.
"""

from __future__ import annotations

import importlib
import types
from typing import TYPE_CHECKING, Any


class LazyModule(types.ModuleType):
    """A stand-in that imports the named module when an attribute is first read.

    Example:
        >>> np = LazyModule("numpy")
        >>> np.zeros(2).tolist()
        [0.0, 0.0]
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._real: types.ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if self._real is None:
            self._real = importlib.import_module(self.__name__)
        value = getattr(self._real, attr)
        setattr(self, attr, value)  # later reads skip __getattr__
        return value


if TYPE_CHECKING:  # type checkers see the real modules
    import ml_dtypes
    import numpy
else:
    numpy = LazyModule("numpy")
    ml_dtypes = LazyModule("ml_dtypes")
