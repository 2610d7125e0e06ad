"""File-system helpers for atomic replacement."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _renameat2():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


def replace_directory(new: str, target: str) -> None:
    """Puts directory ``new`` at ``target``, whose old contents are deleted.

    On Linux the two are swapped with one ``renameat2(RENAME_EXCHANGE)``, so
    every reader sees either the old or the new directory, never neither.
    Elsewhere ``target`` is renamed aside first, leaving a short window in
    which it is absent.

    Example:
        >>> replace_directory("model/variables.tmp1", "model/variables")  # doctest: +SKIP
    """
    exchange = _renameat2()
    if exchange is not None and os.path.isdir(target):
        if exchange(_AT_FDCWD, os.fsencode(new), _AT_FDCWD, os.fsencode(target), _RENAME_EXCHANGE) == 0:
            shutil.rmtree(new)  # now holds the old contents
            return
    aside = target + ".old"
    if os.path.isdir(target):
        os.rename(target, aside)
    os.rename(new, target)
    shutil.rmtree(aside, ignore_errors=True)
