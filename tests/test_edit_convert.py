"""Checkpoint surgery and format conversion, judged by TensorFlow and safetensors."""

from __future__ import annotations

import os
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

import tfbundle
from tests.helpers import assert_same_array
from tfbundle.convert import convert
from tfbundle.edit import optimizer_keys, transform


@pytest.fixture
def bert_like(tmp_path):
    rng = np.random.default_rng(0)
    prefix = tmp_path / "bert" / "model.ckpt-100"
    tensors = {}
    for name in ("bert/embeddings/word_embeddings", "bert/encoder/layer_0/attention/self/query/kernel"):
        tensors[name] = rng.normal(size=(8, 4)).astype(np.float32)
        tensors[name + "/adam_m"] = np.zeros((8, 4), np.float32)
        tensors[name + "/adam_v"] = np.ones((8, 4), np.float32)
    tensors["global_step"] = np.int64(100)
    tensors["dense/kernel/Adam"] = np.zeros(2, np.float32)
    tensors["dense/kernel/Adam_1"] = np.zeros(2, np.float32)
    tensors["dense/kernel"] = np.ones(2, np.float32)
    tensors["beta1_power"] = np.float32(0.9)
    tensors["t5/block_000/kernel_slot_vr"] = np.zeros(3, np.float32)
    tensors["vocab"] = ["[CLS]", "[SEP]"]
    tfbundle.save(tensors, prefix)
    return prefix, tensors


def test_drop_optimizer_rename_cast(tf, bert_like, tmp_path):
    prefix, tensors = bert_like
    out = transform(
        prefix,
        tmp_path / "slim" / "model.ckpt",
        drop_optimizer=True,
        rename=[(r"^bert/", "encoder/")],
        cast={"float32": "bfloat16"},
    )
    reader = tf.train.load_checkpoint(out)
    names = set(reader.get_variable_to_shape_map())
    assert names == {
        "encoder/embeddings/word_embeddings",
        "encoder/encoder/layer_0/attention/self/query/kernel",
        "global_step",
        "dense/kernel",
        "vocab",
    }
    assert reader.get_variable_to_dtype_map()["dense/kernel"].name == "bfloat16"
    assert reader.get_variable_to_dtype_map()["global_step"].name == "int64"
    assert_same_array(
        reader.get_tensor("encoder/embeddings/word_embeddings"),
        tensors["bert/embeddings/word_embeddings"].astype(ml_dtypes.bfloat16),
    )
    assert list(reader.get_tensor("vocab")) == [b"[CLS]", b"[SEP]"]


def test_keep_drop_collisions_and_in_place(bert_like, tmp_path):
    prefix, _ = bert_like
    out = transform(prefix, tmp_path / "kept", keep=[r"kernel$"], drop=[r"^dense/"])
    assert tfbundle.open(out).keys() == ["bert/encoder/layer_0/attention/self/query/kernel"]
    with pytest.raises(ValueError, match="both be written"):
        transform(prefix, tmp_path / "clash", rename=[(r"/adam_[mv]$", "")])
    assert not os.path.exists(tmp_path / "clash.index")
    with pytest.raises(ValueError, match="in_place"):
        transform(prefix, prefix, drop=["vocab"])
    transform(prefix, prefix, drop=["vocab"], in_place=True)
    reader = tfbundle.open(prefix)
    assert "vocab" not in reader
    assert "global_step" in reader
    reader.verify()
    # One data file became two, so the swap was a single rename of the index.
    assert sorted(os.listdir(prefix.parent)) == [
        "model.ckpt-100.data-00000-of-00002",
        "model.ckpt-100.data-00001-of-00002",
        "model.ckpt-100.index",
    ]
    transform(prefix, prefix, drop=["global_step"], in_place=True, num_shards=2)  # same names: still correct
    assert "global_step" not in tfbundle.open(prefix)
    assert len(tfbundle.open(prefix).keys()) == 11


def test_untouched_tensors_are_copied_verbatim(bert_like, tmp_path):
    prefix, _ = bert_like
    out = transform(prefix, tmp_path / "copy", num_shards=2)
    src, dst = tfbundle.open(prefix), tfbundle.open(out)
    assert dst.num_shards == 2
    for key in src.keys():
        assert src.entry(key)["crc32c"] == dst.entry(key)["crc32c"]


def test_tf2_checkpoint_with_optimizer_slots_dropped_restores(tf, tmp_path):
    module = tf.Module()
    module.dense = tf.Module()
    module.dense.kernel = tf.Variable(tf.reshape(tf.range(6, dtype=tf.float32), [2, 3]))
    opt = tf.keras.optimizers.Adam(0.1)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(module.dense.kernel**2)
    opt.apply_gradients(zip(tape.gradient(loss, [module.dense.kernel]), [module.dense.kernel]))
    saved = tf.train.Checkpoint(model=module, optimizer=opt).save(str(tmp_path / "src" / "ckpt"))
    reader = tfbundle.open(saved)
    dropped = optimizer_keys(reader)
    assert dropped
    assert all("optimizer" in k or "OPTIMIZER_SLOT" in k for k in dropped)
    out = transform(saved, tmp_path / "dst" / "ckpt-1", drop_optimizer=True)
    assert not any("optimizer" in k for k in tfbundle.open(out).keys() if k != "_CHECKPOINTABLE_OBJECT_GRAPH")
    target = tf.Module()
    target.dense = tf.Module()
    target.dense.kernel = tf.Variable(tf.zeros([2, 3]))
    tf.train.Checkpoint(model=target).restore(out).assert_consumed()
    assert_same_array(target.dense.kernel.numpy(), module.dense.kernel.numpy())


def test_tf2_rename_keeps_object_graph_consistent(tf, tmp_path):
    module = tf.Module()
    module.w = tf.Variable([1.0, 2.0])
    saved = tf.train.Checkpoint(model=module).save(str(tmp_path / "src" / "ckpt"))
    out = transform(saved, tmp_path / "dst" / "ckpt-1", rename=[(r"^model/w/", "renamed_w/")])
    assert "renamed_w/.ATTRIBUTES/VARIABLE_VALUE" in tfbundle.open(out)
    target = tf.Module()
    target.w = tf.Variable([0.0, 0.0])
    tf.train.Checkpoint(model=target).restore(out).assert_consumed()
    assert target.w.numpy().tolist() == [1.0, 2.0]


def test_safetensors_round_trip(bert_like, tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    prefix, tensors = bert_like
    with pytest.warns(UserWarning, match="vocab"):
        path = convert(prefix, tmp_path / "model.safetensors")
    loaded = safetensors_numpy.load_file(path)
    assert set(loaded) == set(tensors) - {"vocab"}
    for name, value in loaded.items():
        assert_same_array(value, np.asarray(tensors[name]), name)
    # bfloat16, through safetensors and back to a checkpoint
    with pytest.warns(UserWarning, match="cannot store 1 tensor"):
        bf16 = convert(prefix, tmp_path / "bf16.safetensors", dtype="bfloat16")
    loaded = safetensors_numpy.load_file(bf16)
    assert loaded["dense/kernel"].dtype == ml_dtypes.bfloat16
    back = convert(bf16, tmp_path / "back" / "ckpt")
    reader = tfbundle.open(back)
    assert reader.dtype("dense/kernel") == "bfloat16"
    assert reader.dtype("global_step") == "int64"
    assert_same_array(reader.get_tensor("dense/kernel"), loaded["dense/kernel"])


def test_npz_round_trip(bert_like, tmp_path):
    prefix, tensors = bert_like
    with pytest.warns(UserWarning, match="vocab"):
        path = convert(prefix, tmp_path / "w.npz")
    with np.load(path) as npz:
        assert set(npz.files) == set(tensors) - {"vocab"}
        assert_same_array(npz["dense/kernel"], tensors["dense/kernel"])
    back = tfbundle.open(convert(path, tmp_path / "from_npz" / "ckpt"))
    assert_same_array(back.get_tensor("global_step"), np.asarray(tensors["global_step"]))


def test_keras_h5_to_checkpoint(tf, tmp_path):
    pytest.importorskip("h5py")
    import h5py

    path = tmp_path / "weights.h5"
    kernel = np.arange(6, dtype=np.float32).reshape(2, 3)
    with h5py.File(path, "w") as f:  # the Keras 2 HDF5 weights layout
        f.attrs["layer_names"] = [b"dense"]
        g = f.create_group("dense")
        g.attrs["weight_names"] = [b"dense/kernel:0", b"dense/bias:0"]
        g.create_dataset("dense/kernel:0", data=kernel)
        g.create_dataset("dense/bias:0", data=np.zeros(3, np.float32))
    out = convert(path, tmp_path / "ckpt" / "model.ckpt")
    reader = tf.train.load_checkpoint(out)
    assert sorted(reader.get_variable_to_shape_map()) == ["dense/bias", "dense/kernel"]
    assert_same_array(reader.get_tensor("dense/kernel"), kernel)


def test_copying_damaged_data_raises_and_writes_nothing(tmp_path):
    src = tmp_path / "src"
    tfbundle.save({"a": np.arange(1000.0), "s": ["x", "y"]}, src)
    data = str(src) + ".data-00000-of-00001"
    raw = bytearray(Path(data).read_bytes())
    raw[100] ^= 0xFF
    Path(data).write_bytes(raw)
    with pytest.raises(tfbundle.DataLossError, match="'a'"):
        transform(src, tmp_path / "dst")
    assert sorted(os.listdir(tmp_path)) == ["src.data-00000-of-00001", "src.index"]


def test_every_npz_we_write_loads(tf, all_dtypes, tmp_path):
    """np.load opens every member of every .npz we write, as the dtype it was;
    what it cannot read back (ml_dtypes types, strings) is skipped by name."""
    reader = tfbundle.open(all_dtypes)
    with pytest.warns(UserWarning, match="float8_e5m2") as warned:
        path = convert(all_dtypes, tmp_path / "all.npz")
    with np.load(path, allow_pickle=False) as npz:
        written = set(npz.files)
        for name in npz.files:
            value = npz[name]
            assert value.dtype == reader.dtype(name).numpy_dtype, name
            assert_same_array(value, tfbundle.reader.as_array(reader.get_tensor(name)), name)
    skipped = set(reader.keys()) - written
    assert {"bfloat16", "float8_e5m2", "float8_e4m3fn", "int4", "string/matrix"} <= skipped
    assert {"float16", "float32", "complex128", "uint64", "bool", "qint8"} <= written
    for name in skipped:
        assert name in str(warned[0].message), name
    # With a cast to float32 the floating ones are kept.
    with pytest.warns(UserWarning, match="cannot store"):
        cast = convert(all_dtypes, tmp_path / "cast.npz", dtype="float32")
    with np.load(cast, allow_pickle=False) as npz:
        assert npz["bfloat16"].dtype == np.float32
        assert npz["float8_e5m2"].dtype == np.float32
