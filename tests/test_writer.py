"""Writer behaviour: inputs, errors, atomicity, streaming memory, round trips."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tfbundle
from tests.helpers import assert_same_array


def files_in(directory):
    return sorted(os.listdir(directory))


def test_accepts_scalars_sequences_buffers_and_array_likes(tmp_path):
    class ArrayLike:
        def __array__(self, dtype=None, copy=None):
            return np.arange(3, dtype=np.int16)

    prefix = tmp_path / "ckpt"
    with tfbundle.Writer(prefix) as w:
        w.add("py_float", 1.5)
        w.add("py_bool", True)
        w.add("np_scalar", np.uint32(7))
        w.add("list", [[1, 2], [3, 4]])
        w.add("buffer", memoryview(np.arange(4, dtype=np.float32)))
        w.add("array_like", ArrayLike())
        w.add("text", ["a", "b\u00e9"])
        w.add("bytes_scalar", b"\x00raw\x00")
        w.add("cast", [1.0, 2.0], dtype="bfloat16")
    ckpt = tfbundle.open(prefix)
    assert ckpt.get_tensor("py_float") == 1.5
    assert ckpt.dtype("py_float") == "float64"
    assert ckpt.get_tensor("py_bool") == True  # noqa: E712
    assert ckpt.dtype("np_scalar") == "uint32"
    assert ckpt.get_tensor("list").tolist() == [[1, 2], [3, 4]]
    assert ckpt.get_tensor("buffer").tolist() == [0, 1, 2, 3]
    assert ckpt.dtype("array_like") == "int16"
    assert ckpt.get_tensor("text").tolist() == [b"a", "b\u00e9".encode()]
    assert ckpt.get_tensor("bytes_scalar") == b"\x00raw\x00"
    assert ckpt.get_tensor("cast").dtype == ml_dtypes.bfloat16


def test_rejects_unsupported_input_naming_the_key(tmp_path):
    with tfbundle.Writer(tmp_path / "ckpt") as w:
        with pytest.raises(TypeError, match="'objs'"):
            w.add("objs", np.array([object(), object()], dtype=object))
        with pytest.raises(TypeError, match="'res'"):
            w.add("res", np.zeros(2, np.float32), dtype="resource")
        w.add("x", 1.0)
        with pytest.raises(ValueError, match="duplicate"):
            w.add("x", 2.0)
        with pytest.raises(ValueError, match="reserved"):
            w.add("", 1.0)


def test_arbitrary_byte_keys_sort_bytewise(tmp_path):
    keys = ["b", "a/\u00e9", "\udcff\udc80raw", "a", "A", "a\x00z", "\u4e2d"]
    tfbundle.save({k: np.float32(i) for i, k in enumerate(keys)}, tmp_path / "ckpt")
    ckpt = tfbundle.open(tmp_path / "ckpt")
    encoded = [k.encode("utf-8", "surrogateescape") for k in ckpt.keys()]
    assert encoded == sorted(k.encode("utf-8", "surrogateescape") for k in keys)
    for i, k in enumerate(keys):
        assert ckpt.get_tensor(k) == i


def test_exception_inside_with_leaves_no_files(tmp_path):
    def write_then_fail() -> None:
        with tfbundle.Writer(tmp_path / "ckpt", num_shards=2) as w:
            w.add("a", np.ones(1000))
            assert all(".tfbundle-tmp." in f for f in files_in(tmp_path))  # nothing final yet
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        write_then_fail()
    assert files_in(tmp_path) == []


def test_failure_midway_keeps_existing_checkpoint(tmp_path):
    prefix = tmp_path / "ckpt"
    tfbundle.save({"a": np.arange(5.0)}, prefix)
    before = {f: Path(tmp_path / f).read_bytes() for f in files_in(tmp_path)}
    with pytest.raises(TypeError):
        tfbundle.save({"a": np.zeros(5), "bad": [object()]}, prefix)
    assert {f: Path(tmp_path / f).read_bytes() for f in files_in(tmp_path)} == before
    # Overlapping slices are caught at commit, which then removes everything.
    w = tfbundle.Writer(prefix)
    w.add_slice("e", (4,), "0,3", np.zeros(3))
    w.add_slice("e", (4,), "2,2", np.zeros(2))
    with pytest.raises(ValueError, match="overlapping"):
        w.close()
    assert {f: Path(tmp_path / f).read_bytes() for f in files_in(tmp_path)} == before


def test_slices_must_cover_and_match(tmp_path):
    with pytest.raises(ValueError, match="cover"), tfbundle.Writer(tmp_path / "a") as w:
        w.add_slice("e", (4, 2), "0,3:-", np.zeros((3, 2)))
    with tfbundle.Writer(tmp_path / "b") as w:
        with pytest.raises(ValueError, match="shape"):
            w.add_slice("e", (4, 2), "0,3:-", np.zeros((2, 2)))
        with pytest.raises(ValueError, match="outside"):
            w.add_slice("e", (4, 2), "3,3:-", np.zeros((3, 2)))
        with pytest.raises(ValueError, match="dimensions"):
            w.add_slice("e", (4, 2), "0,4", np.zeros((4,)))
        w.add_slice("e", (4, 2), "0,4:-", np.zeros((4, 2)))


def test_overwrite_with_fewer_shards_removes_stale_ones(tmp_path):
    prefix = tmp_path / "ckpt"
    tfbundle.save({f"t{i}": np.ones(100) for i in range(4)}, prefix, num_shards=3)
    tfbundle.save({"only": np.zeros(3)}, prefix)
    assert files_in(tmp_path) == ["ckpt.data-00000-of-00001", "ckpt.index"]
    assert tfbundle.open(prefix).keys() == ["only"]


def test_sync_and_parent_directories(tmp_path):
    prefix = tmp_path / "new" / "dir" / "ckpt"
    assert tfbundle.save({"x": np.ones(3)}, prefix, sync=True) == str(prefix)
    assert tfbundle.open(prefix).get_tensor("x").tolist() == [1, 1, 1]


def test_shards_balance_by_bytes(tmp_path):
    sizes = [1000, 10, 10, 10, 500, 500, 10]
    tfbundle.save({f"t{i}": np.ones(n, np.uint8) for i, n in enumerate(sizes)}, tmp_path / "c", num_shards=3)
    shard_bytes = [os.path.getsize(tmp_path / f"c.data-0000{i}-of-00003") for i in range(3)]
    assert shard_bytes == [1000, 520, 520]  # each tensor to the emptiest shard


def _mixed_tensors():
    rng = np.random.default_rng(7)
    return {
        "big/a": rng.normal(size=(1024, 1536)).astype(np.float32),  # 6 MiB: checksummed beside the write
        "small": np.arange(10, dtype=np.int16),
        "words": np.array([b"x", b"", "\u00e9".encode()], dtype=object),
        "big/b": rng.integers(0, 255, size=5 << 20, dtype=np.uint8),
        "scalar": np.float64(2.5),
        "empty": np.zeros((0, 4), np.float32),
        "strided": np.arange(400, dtype=np.int64).reshape(20, 20)[::3, ::2],
        "mid": np.ones(300_000, np.float32),
    }


@pytest.mark.parametrize("num_shards", [1, 3])
def test_add_all_writes_what_add_writes(tmp_path, num_shards):
    """save() writes shards concurrently; the files must be byte for byte
    those of add() called once per tensor (same shards, offsets, index)."""
    tensors = _mixed_tensors()
    tfbundle.save(tensors, tmp_path / "batched", num_shards=num_shards)
    with tfbundle.Writer(tmp_path / "one_by_one", num_shards=num_shards) as w:
        for name, value in tensors.items():
            w.add(name, value)
    for suffix in ["index"] + [f"data-{i:05d}-of-{num_shards:05d}" for i in range(num_shards)]:
        assert _bytes(tmp_path / f"batched.{suffix}") == _bytes(tmp_path / f"one_by_one.{suffix}"), suffix
    with tfbundle.open(tmp_path / "batched") as ckpt:
        ckpt.verify()
        for name, value in tensors.items():
            assert_same_array(ckpt.get_tensor(name), value, name)


def test_add_all_rejects_duplicates_before_writing(tmp_path):
    with tfbundle.Writer(tmp_path / "c") as w:
        w.add("a", np.ones(3))
        with pytest.raises(ValueError, match="duplicate key 'a'"):
            w.add_all({"b": np.ones(3), "a": np.zeros(3)})
        w.add_all({"b": np.ones(3)})  # nothing of the rejected batch was kept
    assert tfbundle.open(tmp_path / "c").keys() == ["a", "b"]


_FSIZE_SCRIPT = r"""
import os, resource, signal, sys
import numpy as np
import tfbundle
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (8 << 20, 8 << 20))
try:
    tfbundle.save({f"t{i}": np.ones(1 << 20, np.float32) for i in range(6)}, sys.argv[1], num_shards=2)
except OSError as e:
    print("OSError", e.errno)
"""


def test_failed_concurrent_write_removes_every_file(tmp_path):
    """A write that fails while shards are written in parallel (here: a
    file-size limit, as a full disk would) raises OSError and leaves nothing."""
    out = subprocess.run(
        [sys.executable, "-c", _FSIZE_SCRIPT, str(tmp_path / "ckpt")], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "OSError 27", out.stdout  # EFBIG
    assert files_in(tmp_path) == []


def test_threads_may_share_one_writer(tmp_path):
    """add() releases the GIL; threads adding to one Writer take turns in the
    core instead of interleaving their updates of a shard."""
    from concurrent.futures import ThreadPoolExecutor

    tensors = {f"t{i:03d}": np.full(50_000 + 97 * i, i, np.int32) for i in range(64)}
    with tfbundle.Writer(tmp_path / "c", num_shards=3) as w, ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda item: w.add(*item), tensors.items()))
    with tfbundle.open(tmp_path / "c") as ckpt:
        ckpt.verify()
        for name, value in tensors.items():
            assert_same_array(ckpt.get_tensor(name), value, name)


def _bytes(path):
    with open(path, "rb") as f:
        return f.read()


_DTYPES = [
    "float16",
    "float32",
    "float64",
    "bfloat16",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "bool",
    "complex64",
    "complex128",
    "float8_e4m3fn",
    "int4",
    "string",
]


@st.composite
def tensor_sets(draw):
    names = draw(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=8, unique=True))
    out = {}
    for name in names:
        dtype = draw(st.sampled_from(_DTYPES))
        shape = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
        n = int(np.prod(shape)) if shape else 1
        if dtype == "string":
            items = draw(st.lists(st.binary(max_size=20), min_size=n, max_size=n))
            value = np.empty(n, dtype=object)
            value[:] = items
            out[name] = value.reshape(shape)
        else:
            raw = draw(
                st.binary(
                    min_size=n * tfbundle.as_dtype(dtype).itemsize, max_size=n * tfbundle.as_dtype(dtype).itemsize
                )
            )
            np_dtype = tfbundle.as_dtype(dtype).numpy_dtype
            value = np.frombuffer(raw, dtype=np.uint8).copy()
            if dtype == "bool":
                value %= 2
            out[name] = value.view(np_dtype).reshape(shape)
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tensors=tensor_sets(), num_shards=st.integers(1, 4))
def test_round_trip_property(tmp_path, tensors, num_shards):
    prefix = tmp_path / f"rt{num_shards}"
    tfbundle.save(tensors, prefix, num_shards=num_shards)
    with tfbundle.open(prefix) as ckpt:
        assert sorted(ckpt.keys()) == sorted(tensors)
        for name, value in tensors.items():
            assert_same_array(ckpt.get_tensor(name), value, name)
        ckpt.verify()


def test_streaming_write_holds_one_tensor(tmp_path):
    """Writing 24 tensors of 16 MiB from a generator keeps the peak RSS
    within a few tensors of the baseline, however many are written."""
    script = r"""
import sys, numpy as np, tfbundle
def rss_mib():  # peak RSS; VmHWM is per process, unlike ru_maxrss which a child inherits
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
chunk = 16 * 2**20 // 4
base_tensor = np.ones(chunk, np.float32)
baseline = rss_mib()
with tfbundle.Writer(sys.argv[1]) as w:
    for i in range(24):
        w.add(f"t{i}", base_tensor * i)  # a fresh 16 MiB array each time, freed after add
print(rss_mib() - baseline)
"""
    env = dict(os.environ)
    if env.get("TFBUNDLE_SANITIZED"):  # ASan's quarantine deliberately holds freed memory
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=0"
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "big")], capture_output=True, text=True, check=True, env=env
    )
    growth_mib = float(out.stdout)
    assert growth_mib < 4 * 16, f"peak RSS grew by {growth_mib:.0f} MiB while writing 384 MiB"
    assert os.path.getsize(tmp_path / "big.data-00000-of-00001") == 24 * 16 * 2**20
