"""Recycled read buffers never leak one tensor's values into another."""

from __future__ import annotations

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
