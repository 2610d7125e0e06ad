"""The exceptions tfbundle raises.

* :class:`NotFoundError` (a ``KeyError``): a key that is not in a checkpoint.
* :class:`DataLossError` (a ``ValueError``): a damaged or malformed file; the
  message names the file and what is wrong.
* ``FileNotFoundError``: a missing file, named in the message.

The first two are defined by the C++ core, which raises them directly.
"""

from ._core import DataLossError, NotFoundError

DataLossError.__module__ = "tfbundle"
NotFoundError.__module__ = "tfbundle"

__all__ = ["DataLossError", "NotFoundError"]
