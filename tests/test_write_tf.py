"""tfbundle writes, TensorFlow reads and restores."""

from __future__ import annotations

import numpy as np
import pytest

import tfbundle
from tests import tf_fixtures
from tests.helpers import assert_same_array


def example_tensors(tf):
    tensors = dict(tf_fixtures._dtype_examples(tf))
    tensors["string/matrix"] = np.array(
        [[b"", b"\x00\xff binary"], ["non-ASCII: \u00e9\u4e2d".encode(), b"x" * 300]], dtype=object
    )
    tensors["string/scalar"] = "h\u00e9llo"
    tensors["string/empty"] = np.array([], dtype=object)
    tensors["scalar/float"] = np.float32(3.5)
    tensors["scalar/python_int"] = 42
    tensors["empty/float"] = np.zeros((0, 3), np.float32)
    tensors["empty/int32"] = np.zeros((2, 0, 5), np.int32)
    tensors["noncontiguous"] = np.arange(60, dtype=np.int64).reshape(6, 10)[::2, ::3]
    tensors["fortran"] = np.asfortranarray(np.arange(12, dtype=np.float64).reshape(3, 4))
    return tensors


@pytest.mark.parametrize("num_shards", [1, 3])
def test_tensorflow_reads_every_dtype(tf, tmp_path, num_shards):
    tensors = example_tensors(tf)
    prefix = str(tmp_path / "ckpt")
    tfbundle.save(tensors, prefix, num_shards=num_shards)
    with tfbundle.Writer(prefix + "q") as w:
        for q, storage in (
            ("qint8", np.int8),
            ("quint8", np.uint8),
            ("qint16", np.int16),
            ("quint16", np.uint16),
            ("qint32", np.int32),
        ):
            w.add(q, np.array([1, 2, 3], storage), dtype=q)
    reader = tf.train.load_checkpoint(prefix)
    dtypes = reader.get_variable_to_dtype_map()
    assert set(dtypes) == set(tensors)
    for name, value in tensors.items():
        arr, dt = tfbundle.writer.as_tensor(name, value)
        assert dtypes[name].name == dt.name, name
        assert_same_array(arr, reader.get_tensor(name), name)
    qreader = tf.train.load_checkpoint(prefix + "q")
    assert qreader.get_variable_to_dtype_map()["qint8"].name == "qint8"
    assert qreader.get_tensor("quint16").tolist() == [1, 2, 3]
    if num_shards == 3:
        assert tfbundle.open(prefix).num_shards == 3
        shard_ids = {tfbundle.open(prefix).entry(k)["shard_id"] for k in tensors}
        assert shard_ids == {0, 1, 2}


@pytest.mark.parametrize("num_shards", [1, 2])
def test_tensorflow_reads_large_tensors_written_concurrently(tf, tmp_path, num_shards):
    """Tensors of several MiB take the paths where the checksum runs beside
    the write (one shard: every payload of the batch checksummed on another
    core, gathered small ones and directly written mid-size ones too) and
    shards are written by parallel threads; TF checks both."""
    rng = np.random.default_rng(3)
    tensors = {f"layer{i}/kernel": rng.normal(size=(1024, 1280 + 64 * i)).astype(np.float32) for i in range(4)}
    tensors["layer0/bias"] = np.arange(7, dtype=np.float32)
    tensors.update({f"mid{i}": rng.normal(size=65536 + 1000 * i).astype(np.float32) for i in range(6)})
    tensors.update({f"small{i}": rng.integers(0, 1000, size=i + 1) for i in range(20)})
    prefix = str(tmp_path / "ckpt")
    tfbundle.save(tensors, prefix, num_shards=num_shards)
    reader = tf.train.load_checkpoint(prefix)
    for name, value in tensors.items():
        assert_same_array(reader.get_tensor(name), value, name)


def _same_tensors_both_ways(tf, tmp_path, tensors, specs=None):
    """Saves through SaveV2 and through tfbundle in the same order; returns
    the two prefixes."""
    names = list(tensors)
    specs = specs or {}
    theirs = str(tmp_path / "tf")
    tf.raw_ops.SaveV2(
        prefix=theirs,
        tensor_names=[specs.get(n, (n, ""))[0] for n in names],
        shape_and_slices=[specs.get(n, (n, ""))[1] for n in names],
        tensors=[tf.constant(tensors[n]) for n in names],
    )
    ours = str(tmp_path / "ours")
    with tfbundle.Writer(ours) as w:
        for n in names:
            if n in specs:
                name, spec = specs[n]
                dims = spec.split(" ")
                full_shape = [int(d) for d in dims[:-1]]
                w.add_slice(name, full_shape, dims[-1], tensors[n])
            else:
                w.add(n, tensors[n])
    return theirs, ours


def _read(path):
    return open(path, "rb").read()


def test_index_and_data_are_byte_identical_to_savev2(tf, tmp_path):
    tensors = dict(tf_fixtures._dtype_examples(tf).items())
    tensors["s"] = np.array([b"a", b"", b"\xff" * 40], dtype=object)
    tensors["scalar"] = np.float32(2.5)
    tensors["empty"] = np.zeros((0, 4), np.float32)
    tensors["empty_strings"] = np.array([], dtype=object)
    theirs, ours = _same_tensors_both_ways(tf, tmp_path, tensors)
    assert _read(ours + ".index") == _read(theirs + ".index")
    assert _read(ours + ".data-00000-of-00001") == _read(theirs + ".data-00000-of-00001")


def test_multi_block_index_is_byte_identical(tf, tmp_path):
    # ~8000 long keys make the index span several 256 KiB blocks.
    tensors = {f"model/block_{i:05d}/" + "sublayer/" * 6 + "kernel": np.full((2,), i, np.float32) for i in range(8000)}
    theirs, ours = _same_tensors_both_ways(tf, tmp_path, tensors)
    index = _read(ours + ".index")
    assert len(index) > 2 * 256 * 1024
    assert index == _read(theirs + ".index")


def test_partitioned_variable_is_byte_identical_and_assembles(tf, tmp_path):
    emb = np.arange(40, dtype=np.float32).reshape(10, 4)
    tensors = {"emb0": emb[0:4], "emb1": emb[4:7], "emb2": emb[7:10], "w": np.ones(3, np.float32)}
    specs = {"emb0": ("emb", "10 4 0,4:0,4"), "emb1": ("emb", "10 4 4,3:0,4"), "emb2": ("emb", "10 4 7,3:-")}
    theirs, ours = _same_tensors_both_ways(tf, tmp_path, tensors, specs)
    assert _read(ours + ".index") == _read(theirs + ".index")
    assert_same_array(tf.train.load_checkpoint(ours).get_tensor("emb"), emb)
    assert_same_array(tfbundle.open(ours).get_tensor("emb"), emb)


def test_tf1_saver_restores_our_checkpoint(tf, tmp_path):
    v1 = tf.compat.v1
    rng = np.random.default_rng(3)
    kernel = rng.normal(size=(4, 3)).astype(np.float32)
    emb = rng.normal(size=(10, 4)).astype(np.float32)
    prefix = str(tmp_path / "model.ckpt-11")
    with tfbundle.Writer(prefix) as w:
        w.add("dense/kernel", kernel)
        w.add("dense/bias", np.full(3, 0.5, np.float32))
        w.add("global_step", np.int64(11))
        for start, length in ((0, 4), (4, 3), (7, 3)):
            w.add_slice("emb", (10, 4), f"{start},{length}:0,4", emb[start : start + length])
    g = tf.Graph()
    with g.as_default():
        k = v1.get_variable("dense/kernel", [4, 3])
        b = v1.get_variable("dense/bias", [3])
        step = v1.train.get_or_create_global_step()
        e = v1.get_variable("emb", [10, 4], partitioner=v1.fixed_size_partitioner(3))
        saver = v1.train.Saver()
        with v1.Session(graph=g) as sess:
            saver.restore(sess, prefix)
            got_k, got_b, got_step, got_e = sess.run([k, b, step, tf.convert_to_tensor(e)])
    assert_same_array(got_k, kernel)
    assert got_b.tolist() == [0.5] * 3
    assert got_step == 11
    assert_same_array(got_e, emb)


def test_tf2_checkpoint_restores_rewritten_checkpoint(tf, tmp_path):
    def build():
        module = tf.Module()
        module.dense = tf.Module()
        module.dense.kernel = tf.Variable(tf.zeros([3, 2]))
        module.steps = tf.Variable(0, dtype=tf.int64)
        module.names = [tf.Variable(tf.zeros([2]), name=f"v{i}") for i in range(2)]
        return module

    source = build()
    source.dense.kernel.assign(tf.reshape(tf.range(6, dtype=tf.float32), [3, 2]))
    source.steps.assign(5)
    saved = tf.train.Checkpoint(model=source).save(str(tmp_path / "src" / "ckpt"))

    rewritten = str(tmp_path / "dst" / "ckpt-1")
    with tfbundle.open(saved) as src, tfbundle.Writer(rewritten) as w:
        assert "_CHECKPOINTABLE_OBJECT_GRAPH" in src
        for key in src.keys():
            value = src.get_tensor(key)  # bytes for the object graph, as in TF
            if getattr(value, "dtype", None) == np.float32:
                value = value * 10 + 1
            w.add(key, value)

    target = build()
    status = tf.train.Checkpoint(model=target).restore(rewritten)
    status.assert_consumed()
    assert_same_array(target.dense.kernel.numpy(), np.arange(6, dtype=np.float32).reshape(3, 2) * 10 + 1)
    assert target.steps.numpy() == 5
    assert target.names[1].numpy().tolist() == [1.0, 1.0]
