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
