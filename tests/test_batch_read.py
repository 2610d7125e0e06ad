"""load(): plain V2 tensors read in one batch over the thread pool."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import tfbundle
from tests.helpers import assert_same_array


def test_load_reads_in_one_batch_what_get_tensor_reads(tmp_path):
    """load() reads plain tensors in one batch over the thread pool, large
    ones cut into parts whose checksums are combined; the values and the
    checks are those of get_tensor."""
    rng = np.random.default_rng(2)
    tensors = {
        "big": rng.normal(size=(3 << 20) // 4 * 3).astype(np.float32),  # 9 MiB: three parts
        "mid": rng.integers(0, 9, (700, 500)).astype(np.int64),
        "tiny": np.float16(1.5),
        "empty": np.zeros((0, 4), np.float32),
        "names": np.array([b"a", b"bc"], dtype=object),
        "bf": np.ones(7, ml_dtypes.bfloat16),
    }
    prefix = tfbundle.save(tensors, tmp_path / "ckpt", num_shards=2)
    loaded = tfbundle.load(prefix)
    assert list(loaded) == sorted(tensors)
    with tfbundle.open(prefix) as reader:
        for name, value in loaded.items():
            assert isinstance(value, np.ndarray), name
            assert value.flags.writeable, name
            assert_same_array(value, np.asarray(reader.get_tensor(name)), name)
            assert_same_array(value, np.asarray(tensors[name]), name)
        big = reader.entry("big")
    data = tfbundle.paths.data_path(str(prefix), big["shard_id"], 2)
    with open(data, "r+b") as f:  # damage the last part of the big tensor
        f.seek(big["offset"] + big["size"] - 10)
        f.write(b"\xff")
    with pytest.raises(tfbundle.DataLossError, match="checksum mismatch for tensor 'big'"):
        tfbundle.load(prefix)
    assert set(tfbundle.load(prefix, verify=False)) == set(tensors)
    assert tfbundle._core.trim_buffer_cache() >= 0
