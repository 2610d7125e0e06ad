"""get_tensor in key order: tensors of 64 KiB to 16 MiB are read ahead on
the thread pool. What a loop gets must be what a lone read gets: the same
values, the same checks, errors only for what was asked for."""

from __future__ import annotations

import os
import signal
import threading
import time

import ml_dtypes
import numpy as np
import pytest

import tfbundle
from tests.helpers import assert_same_array


def _mixed(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Tensors read ahead, of several dtypes and sizes, with small and huge ones between them."""
    return {
        "a/kernel": rng.normal(size=(128, 256)).astype(np.float32),  # 128 KiB
        "a/bias": rng.normal(size=256).astype(np.float32),
        "b/kernel": rng.normal(size=(100, 700)),  # float64, 547 KiB
        "b/table": rng.integers(-9, 9, (300, 300)).astype(np.int32),
        "c/big": rng.normal(size=(1 << 19) + 3).astype(np.float32),  # 2 MiB
        "c/bigger": rng.normal(size=(3 << 20) + 1).astype(np.float32),  # 12 MiB: one ahead at a time
        "c/huge": rng.normal(size=(4 << 20) + 5).astype(np.float32),  # 16 MiB: split by the read itself
        "c/large": rng.normal(size=(5 << 18) + 7).astype(np.float32),  # 5 MiB
        "c/half": rng.normal(size=(512, 256)).astype(ml_dtypes.bfloat16),
        "d/flags": rng.integers(0, 2, 100_000).astype(bool),
        "d/name": np.array(b"mid", dtype=object),
        "e/kernel": rng.normal(size=(64, 1024)).astype(np.float32),  # 256 KiB
    }


def test_loops_over_tensorflow_checkpoint_read_what_tensorflow_reads(tf, tmp_path, rng):
    """TF writes variables of sizes read ahead between small and huge ones (and its
    object graph); get_tensor loops over them, in key order twice and in
    reverse, return TF's values."""
    tensors = _mixed(rng)
    variables = {
        k.replace("/", "_"): tf.Variable(v if v.dtype != object else b"mid")
        for k, v in tensors.items()
        if v.dtype != ml_dtypes.bfloat16
    }
    variables["c_half"] = tf.Variable(tf.constant(tensors["c/half"].astype(np.float32), dtype=tf.bfloat16))
    prefix = tf.train.Checkpoint(**variables).write(str(tmp_path / "tf" / "ckpt"))
    theirs = tf.train.load_checkpoint(prefix)
    keys = sorted(theirs.get_variable_to_shape_map())
    with tfbundle.open(prefix) as reader:
        assert reader.keys() == keys
        for order in (keys, keys, keys[::-1]):
            for key in order:
                assert_same_array(reader.get_tensor(key), theirs.get_tensor(key), key)


# 256 KiB tensors (three read ahead) and 11.4 MiB ones (three would pass
# the 32 MiB kept ahead: two are).
@pytest.mark.parametrize("size", [65_536, 3_000_000])
def test_reads_ahead_report_nothing_until_asked(tmp_path, rng, size):
    """A damaged tensor that was read ahead raises only when the loop reaches
    it, with the checksum error a lone read gives; verify=False returns its
    bytes as stored; the loop goes on."""
    tensors = {f"t{i}": rng.normal(size=size + i).astype(np.float32) for i in range(8)}
    prefix = str(tfbundle.save(tensors, tmp_path / "ckpt"))
    with tfbundle.open(prefix) as reader:
        damaged = reader.entry("t4")
    with open(prefix + ".data-00000-of-00001", "r+b") as f:
        f.seek(damaged["offset"] + 1000)
        f.write(b"\x01\x02\x03\x04")
    expected_damaged = tensors["t4"].copy()
    expected_damaged.view(np.uint8)[1000:1004] = [1, 2, 3, 4]
    for _ in range(3):
        with tfbundle.open(prefix) as reader:
            for i in range(4):  # reads t5 and on ahead, t4 among them
                assert_same_array(reader.get_tensor(f"t{i}"), tensors[f"t{i}"], f"t{i}")
            with pytest.raises(tfbundle.DataLossError, match="checksum mismatch for tensor 't4'"):
                reader.get_tensor("t4")
            for i in range(5, 8):
                assert_same_array(reader.get_tensor(f"t{i}"), tensors[f"t{i}"], f"t{i}")
        with tfbundle.open(prefix) as reader:
            for i in range(4):
                reader.get_tensor(f"t{i}")
            assert_same_array(reader.get_tensor("t4", verify=False), expected_damaged, "t4 unverified")
            assert_same_array(reader.get_tensor("t5"), tensors["t5"], "t5")


def test_skipping_and_closing_with_reads_in_flight(tmp_path):
    """Reads ahead that the caller skips, or that are in flight when the
    reader closes, are dropped: arrays handed out keep their values and the
    buffers the dropped reads took go back to the pool unharmed."""
    tensors = {f"t{i:02d}": np.full(40_000 + 100 * i, i, np.float32) for i in range(24)}
    prefix = tfbundle.save(tensors, tmp_path / "ckpt")
    kept = []
    for start in range(0, 20, 3):
        with tfbundle.open(prefix) as reader:
            kept.append(reader.get_tensor(f"t{start:02d}"))
            kept.append(reader.get_tensor(f"t{start + 1:02d}"))  # in order: reads ahead begin
            kept.append(reader.get_tensor(f"t{start + 3:02d}"))  # skips t+2: it is dropped
            kept.append(reader.get_tensor(f"t{start + 4:02d}"))
        # closed with reads of t+5 and on in flight
    for a in kept:
        assert (a == a[0]).all()
        assert a.size == 40_000 + 100 * int(a[0])
    assert_same_array(tfbundle.load(prefix)["t07"], tensors["t07"], "t07 after the drops")


def test_threads_looping_over_one_reader(tmp_path, rng):
    """Threads that loop over one reader at once each get every value right."""
    tensors = {f"t{i:02d}": rng.normal(size=30_000 + i).astype(np.float32) for i in range(32)}
    prefix = tfbundle.save(tensors, tmp_path / "ckpt")
    failures: list[str] = []
    with tfbundle.open(prefix) as reader:

        def loop(order: list[str]) -> None:
            for _ in range(5):
                failures.extend(k for k in order if not np.array_equal(reader.get_tensor(k), tensors[k]))

        keys = sorted(tensors)
        threads = [threading.Thread(target=loop, args=(keys if i % 2 == 0 else keys[1::2],)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert failures == []


def test_a_child_forked_with_reads_in_flight_reads_on(tmp_path, rng):
    """A child forked while reads ahead are in flight (the worker threads
    doing them are not in the child) reads every value right and closes the
    reader, without waiting for reads that will never end there."""
    tensors = {f"t{i:02d}": rng.normal(size=230_000 + i).astype(np.float32) for i in range(12)}  # 900 KiB
    prefix = tfbundle.save(tensors, tmp_path / "ckpt")
    keys = sorted(tensors)
    for _ in range(3):
        reader = tfbundle.open(prefix)
        reader.get_tensor(keys[0])
        reader.get_tensor(keys[1])  # in order: the next reads start on a worker
        pid = os.fork()
        if pid == 0:  # the child: exit status 0 only if everything read right
            status = 1
            try:
                if all(np.array_equal(reader.get_tensor(k), tensors[k]) for k in keys[2:]):
                    reader.close()
                    status = 0
            finally:
                os._exit(status)
        deadline = time.monotonic() + 60
        while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        if done[0] == 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung")
        assert os.waitstatus_to_exitcode(done[1]) == 0
        reader.close()
