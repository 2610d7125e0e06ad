"""Temporary files and atomic replacement.

Every write goes to a temporary name next to its target and is renamed into
place, so a reader never sees a half-written file. The names carry host and
pid, so a later writer can tell a dead writer's leftovers and remove them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import random
import re
import shutil
import socket
import time
from collections.abc import Callable

# Ours: after the first marker, host (may hold dots), pid, random number, then
# the end or the suffix of a file inside a temporary bundle (".index", ...).
# TensorFlow's are `.tempstate<n>` and `checkpoint.tmp<hex>`.
_OUR_TEMP = re.compile(r"\.tfbundle-tmp\.(?P<host>.+?)\.(?P<pid>\d+)\.\d+(?:\..*)?$")
_FOREIGN_TEMP = re.compile(r"(\.tempstate\d+|^checkpoint\.tmp[0-9a-f]{32})$")

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _renameat2() -> Callable[..., int] | None:
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
    exchanged = (
        exchange is not None
        and os.path.isdir(target)
        and exchange(_AT_FDCWD, os.fsencode(new), _AT_FDCWD, os.fsencode(target), _RENAME_EXCHANGE) == 0
    )
    if exchanged:
        shutil.rmtree(new)  # now holds the old contents
        return
    aside = target + ".old"
    if os.path.isdir(target):
        os.rename(target, aside)
    os.rename(new, target)
    shutil.rmtree(aside, ignore_errors=True)


def temp_name(final_path: str) -> str:
    """A temporary name next to ``final_path``, in the format the C++ writer
    uses: ``<final>.tfbundle-tmp.<host>.<pid>.<random>``.

    Example:
        >>> temp_name("ckpt/checkpoint").startswith("ckpt/checkpoint.tfbundle-tmp.")
        True
    """
    return f"{final_path}.tfbundle-tmp.{socket.gethostname()}.{os.getpid()}.{random.getrandbits(48)}"


def temporary_owner(path: str) -> tuple[str, int] | None:
    """(host, pid) of one of our temporary files; None for anything else."""
    m = _OUR_TEMP.search(os.path.basename(path))  # search: the first marker wins
    return (m.group("host"), int(m.group("pid"))) if m else None


def is_foreign_temporary(path: str) -> bool:
    """True for TensorFlow's temporary names (``.tempstate<n>``, ``checkpoint.tmp<hex>``)."""
    return bool(_FOREIGN_TEMP.search(os.path.basename(path)))


def remove_stale_temporaries(directory: str, foreign_older_than: float = 24 * 3600.0) -> list[str]:
    """Deletes temporary files that interrupted writers left in ``directory``.

    tfbundle's own temporaries (``*.tfbundle-tmp.<host>.<pid>.<n>``) go as soon
    as their writer is gone (same host, process no longer alive), or after
    ``foreign_older_than`` seconds when written on another host.
    TensorFlow's (``*.tempstate<n>``, ``checkpoint.tmp<hex>``) go once older
    than ``foreign_older_than``, so that a writer still running is never
    disturbed. Returns what was removed.

    Example:
        >>> remove_stale_temporaries("runs/exp1")                  # doctest: +SKIP
        []
    """
    removed = []
    now = time.time()
    host = socket.gethostname()
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        owner = temporary_owner(path)
        try:
            age = now - os.path.getmtime(path)
            if owner is not None and owner[0] == host:
                stale = not process_alive(owner[1])
            elif owner is not None or is_foreign_temporary(path):
                stale = age >= foreign_older_than
            else:
                continue
            if stale:
                os.unlink(path)
                removed.append(path)
        except (FileNotFoundError, IsADirectoryError):
            pass
    return removed


def process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True
