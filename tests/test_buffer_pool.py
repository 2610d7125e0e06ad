"""Recycled read buffers never leak one tensor's values into another."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import tfbundle


# Arrays from 64 KiB up come from the pool: small (whole pages), large
# (2 MiB-aligned huge-page regions), and one reused for a smaller tensor.
@pytest.mark.parametrize("nbytes", [96 << 10, 256 << 10, 6 << 20])
def test_recycled_buffers_hold_the_new_values(tmp_path, nbytes):
    prefix = tmp_path / "ckpt"
    n = nbytes // 4
    tfbundle.save(
        {"a": np.full(n, 1.0, np.float32), "b": np.full(n, 2.0, np.float32), "c": np.full(n // 2, 3.0, np.float32)},
        prefix,
    )
    reader = tfbundle.open(prefix)
    for _ in range(3):
        a = reader.get_tensor("a")
        assert a.flags.writeable
        assert (a == 1.0).all()
        a[:] = 9.0  # the caller owns the array
        del a
        b = reader.get_tensor("b")
        assert (b == 2.0).all()
        c = reader.get_tensor("c")
        assert c.shape == (n // 2,)
        assert (c == 3.0).all()
        del b, c
    kept = [reader.get_tensor("a") for _ in range(4)]  # live buffers are never shared
    kept[0][:] = 5.0
    assert all((k == 1.0).all() for k in kept[1:])


def test_reads_into_untouched_memory_keep_the_neighbours(tmp_path):
    # A read into memory nobody has touched populates each 512 KiB chunk's
    # pages before copying it: the destination gets the tensor's bytes, and
    # bytes sharing its first and last pages keep theirs. 3 MiB + 12 bytes,
    # 100 bytes into a fresh mapping (numpy's allocation of this size).
    value = np.random.default_rng(0).normal(size=(3 << 18) + 3).astype(np.float32)
    tfbundle.save({"w": value}, tmp_path / "ckpt")
    memory = np.empty(value.nbytes + 8192, np.uint8)
    memory[:100] = 7
    memory[100 + value.nbytes :] = 9
    out = memory[100 : 100 + value.nbytes].view(np.float32)
    with tfbundle.open(tmp_path / "ckpt") as reader:
        reader.read_into("w", out)
        assert out.tobytes() == value.tobytes()
        fresh = reader.get_tensor("w")  # a buffer from the pool, new or recycled
        assert fresh.tobytes() == value.tobytes()
    assert (memory[:100] == 7).all()
    assert (memory[100 + value.nbytes :] == 9).all()


def test_huge_pages_when_asked(tmp_path):
    # TFBUNDLE_HUGE_PAGES=1 (read once, at the first allocation) gives large
    # buffers 2 MiB-aligned huge-page regions: the recycling test above
    # passes with them too.
    test = f"{__file__}::test_recycled_buffers_hold_the_new_values"
    code = f"import sys, pytest; sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', {test!r}]))"
    env = {**os.environ, "TFBUNDLE_HUGE_PAGES": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout


def _run_script(tmp_path, code: str, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


# Fresh processes, so that no other test's buffers are in the cache.
_RELEASE_FOUR = """
import time, numpy as np, tfbundle
from tfbundle import _core
values = {k: np.full(3 << 18, float(i), np.float32) for i, k in enumerate("abcd")}  # 3 MiB each
tfbundle.save(values, "ckpt")
reader = tfbundle.open("ckpt")
arrays = [reader.get_tensor(k) for k in "abcd"]
assert _core.buffer_cache_bytes() == (0, 0), _core.buffer_cache_bytes()
del arrays
"""


def test_released_buffers_stay_dirty_then_are_advised(tmp_path):
    # A released buffer is cached dirty; the background thread advises it
    # once it has been unused for TFBUNDLE_DIRTY_DECAY_MS, and it is still
    # cached (and reads into it are right) afterwards.
    code = (
        _RELEASE_FOUR
        + """
cached, dirty = _core.buffer_cache_bytes()
assert cached >= 4 * (3 << 20) and dirty == cached, (cached, dirty)
deadline = time.monotonic() + 30  # (buffers being advised are briefly out of the cache)
while _core.buffer_cache_bytes() != (cached, 0) and time.monotonic() < deadline:
    time.sleep(0.05)
assert _core.buffer_cache_bytes() == (cached, 0), _core.buffer_cache_bytes()
again = [reader.get_tensor(k) for k in "dcba"]
assert [float(a[0]) for a in again] == [3.0, 2.0, 1.0, 0.0]
assert all((a == a[0]).all() for a in again)
assert _core.buffer_cache_bytes() == (0, 0)
print("ok")
"""
    )
    assert _run_script(tmp_path, code, TFBUNDLE_DIRTY_DECAY_MS="200") == "ok\n"


# Four 3 MiB buffers released: a 16 MiB cache keeps at most 8 MiB dirty (the
# two released first are advised on release, long before their decay), and
# a zero decay advises every buffer as it is released.
@pytest.mark.parametrize(
    ("env", "dirty_buffers"),
    [
        ({"TFBUNDLE_BUFFER_CACHE_MB": "16", "TFBUNDLE_DIRTY_DECAY_MS": "600000"}, 2),
        ({"TFBUNDLE_DIRTY_DECAY_MS": "0"}, 0),
    ],
)
def test_how_many_released_buffers_stay_dirty(tmp_path, env, dirty_buffers):
    code = (
        _RELEASE_FOUR
        + f"""
cached, dirty = _core.buffer_cache_bytes()
assert cached == 4 * (3 << 20) and dirty == {dirty_buffers} * (3 << 20), (cached, dirty)
print("ok")
"""
    )
    assert _run_script(tmp_path, code, **env) == "ok\n"


def test_a_forked_child_reads_while_the_parent_decays(tmp_path):
    # The decay thread does not survive a fork, and the cache's lock is
    # never inherited held: children forked while buffers decay read, release
    # and start their own decay thread.
    code = (
        _RELEASE_FOUR
        + """
import os
for round in range(20):
    pid = os.fork()
    if pid == 0:
        ok = all((reader.get_tensor(k) == i).all() for i, k in enumerate("abcd"))
        deadline = time.monotonic() + 30  # the child's own decay thread advises them
        while _core.buffer_cache_bytes()[1] and time.monotonic() < deadline:
            time.sleep(0.01)
        os._exit(0 if ok and _core.buffer_cache_bytes()[1] == 0 else 1)
    kept = [reader.get_tensor(k) for k in "ab"]
    del kept
    _, status = os.waitpid(pid, 0)
    assert status == 0, (round, status)
print("ok")
"""
    )
    assert _run_script(tmp_path, code, TFBUNDLE_DIRTY_DECAY_MS="10") == "ok\n"
