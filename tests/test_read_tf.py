"""TensorFlow writes, tfbundle reads: every kind of checkpoint TF makes."""

from __future__ import annotations

import os
import pathlib

import numpy as np
import pytest

import tfbundle
from tests.helpers import assert_matches_tensorflow, assert_same_array


def test_every_dtype_matches_tensorflow(tf, all_dtypes):
    ckpt = assert_matches_tensorflow(tf, all_dtypes)
    assert ckpt.dtype("bfloat16").name == "bfloat16"
    assert ckpt.dtype("qint8").name == "qint8"
    assert ckpt.get_tensor("string/matrix")[1, 1] == b"x" * 300
    assert ckpt.get_tensor("string/empty").shape == (0,)
    assert ckpt.shape("scalar/float") == ()
    assert ckpt.get_tensor("empty/int32").shape == (2, 0, 5)


def test_tf1_saver_latest_and_retention(tf, tf1_saver):
    assert tfbundle.latest_checkpoint(tf1_saver) == tf.train.latest_checkpoint(str(tf1_saver))
    latest = tfbundle.latest_checkpoint(tf1_saver)
    assert latest.endswith("model.ckpt-3")
    ckpt = assert_matches_tensorflow(tf, latest)
    assert ckpt.get_tensor("global_step") == 3
    assert ckpt.dtype("global_step").name == "int64"
    assert "dense/kernel/Adam" in ckpt
    assert "beta1_power" in ckpt
    # A directory with a state file opens its latest checkpoint.
    assert tfbundle.open(tf1_saver).prefix == latest
    # So does the Saver's .meta beside it (the file people import the graph from).
    assert tfbundle.open(latest + ".meta").prefix == latest
    # Saver(max_to_keep=2) removed step 1.
    assert not os.path.exists(str(tf1_saver / "model.ckpt-1.index"))


def test_tf1_sharded_saver_has_several_shards(tf, tf1_sharded):
    latest = tfbundle.latest_checkpoint(tf1_sharded)
    ckpt = assert_matches_tensorflow(tf, latest)
    assert ckpt.num_shards >= 2
    assert ckpt.get_tensor("layer2/name") == b"n2"


def test_tf1_partitioned_variables_assemble(tf, tf1_partitioned):
    ckpt = assert_matches_tensorflow(tf, tf1_partitioned)
    assert ckpt.keys() == ["cube", "emb", "plain"]  # slice keys are hidden, as in TF
    assert ckpt.entry("emb")["slices"]  # really stored as slices
    emb = ckpt.get_tensor("emb")
    theirs = tf.train.load_checkpoint(str(tf1_partitioned)).get_tensor("emb")
    assert_same_array(ckpt.get_slice("emb")[3:8], theirs[3:8])
    assert_same_array(ckpt.get_slice("emb")[-1, ::-2], theirs[-1, ::-2])
    assert_same_array(
        ckpt.get_slice("cube")[:, 2:7, 1], tf.train.load_checkpoint(str(tf1_partitioned)).get_tensor("cube")[:, 2:7, 1]
    )
    assert_same_array(ckpt.get_slice("emb")[[1, 8]], emb[[1, 8]])


def test_tf2_checkpoint_manager(tf, tf2_manager):
    latest = tfbundle.latest_checkpoint(tf2_manager)
    assert latest == tf.train.latest_checkpoint(str(tf2_manager))
    ckpt = assert_matches_tensorflow(tf, latest)
    assert "_CHECKPOINTABLE_OBJECT_GRAPH" in ckpt
    assert ckpt.get_tensor("save_counter/.ATTRIBUTES/VARIABLE_VALUE") == 3
    # The state file's older entry also opens, by any of its file names.
    state = tfbundle.get_checkpoint_state(tf2_manager)
    older = state.all_model_checkpoint_paths[0]
    for name in (older, older + ".index", older + ".data-00000-of-00001", pathlib.Path(older)):
        assert tfbundle.open(name).prefix == older


def test_tf2_max_shard_size_policy_splits_tensors_into_slices(tf, tmp_path):
    """TF 2.16+ MaxShardSizePolicy cuts a variable bigger than the shard size
    into slices over many data files; they read back assembled, and an edit
    writes a checkpoint TensorFlow restores."""
    from tensorflow.python.checkpoint.sharding import sharding_policies

    rng = np.random.default_rng(11)
    values = {"v": rng.normal(size=(100, 30)).astype(np.float32), "w": np.arange(10), "s": [b"a", b"bb", b"ccc"]}
    variables = {name: tf.Variable(value) for name, value in values.items()}
    policy = sharding_policies.MaxShardSizePolicy(max_shard_size=1000)
    options = tf.train.CheckpointOptions(experimental_sharding_callback=policy)
    prefix = tf.train.Checkpoint(**variables).write(str(tmp_path / "ckpt"), options=options)
    ckpt = assert_matches_tensorflow(tf, prefix)
    assert len(list(tmp_path.glob("ckpt.data-*"))) > 3  # the policy did split
    assert_same_array(ckpt.get_slice("v/.ATTRIBUTES/VARIABLE_VALUE")[40:45, 2], values["v"][40:45, 2])

    tfbundle.edit.transform(prefix, tmp_path / "edited" / "ckpt", num_shards=2)
    restored = {name: tf.Variable(tf.zeros_like(v)) for name, v in variables.items()}
    tf.train.Checkpoint(**restored).read(str(tmp_path / "edited" / "ckpt")).assert_consumed()
    for name, value in values.items():
        assert_same_array(restored[name].numpy(), np.asarray(value))


def test_saved_model_variables(tf, saved_model):
    ckpt = assert_matches_tensorflow(tf, saved_model / "variables" / "variables")
    assert tfbundle.open(saved_model).prefix == str(saved_model / "variables" / "variables")
    assert ckpt.get_tensor("scale/.ATTRIBUTES/VARIABLE_VALUE") == 2.0


def test_zero_copy_views(all_dtypes):
    ckpt = tfbundle.open(all_dtypes)
    view = ckpt.get_tensor("big", copy=False)
    assert not view.flags.writeable
    assert not view.flags.owndata
    with pytest.raises(ValueError, match="read-only"):
        view[0, 0] = 1
    copy = ckpt.get_tensor("big")
    assert copy.flags.writeable
    assert_same_array(view, copy)
    ckpt.close()
    assert view[599, 499] == 299_999  # the mapping outlives the reader
    with pytest.raises(ValueError, match="is closed"):
        ckpt.get_tensor("big")


def test_tf_style_functions(tf, tf1_saver):
    latest = tfbundle.latest_checkpoint(tf1_saver)
    assert tfbundle.list_variables(latest) == tf.train.list_variables(latest)
    assert_same_array(tfbundle.load_variable(latest, "dense/kernel"), tf.train.load_variable(latest, "dense/kernel"))
    everything = tfbundle.load(latest)
    assert set(everything) == set(dict(tf.train.list_variables(latest)))
    assert isinstance(tfbundle.load_checkpoint(latest), tfbundle.CheckpointReader)
    reader = tfbundle.open(latest)
    assert len(reader) == len(everything)
    assert set(iter(reader)) == set(everything)
    assert reader.get_variable_to_dtype_map()["global_step"] == "int64"
    assert reader.has_tensor("dense/bias")
    assert not reader.has_tensor("nope")
    # TF1's names for the same things.
    v1 = tf.compat.v1.train
    assert tfbundle.NewCheckpointReader(latest).debug_string() == v1.NewCheckpointReader(latest).debug_string()
    for path in (latest, latest + "-typo", str(tf1_saver / "model.ckpt-1")):
        assert tfbundle.checkpoint_exists(path) == v1.checkpoint_exists(path), path


def test_reading_without_mmap_gives_same_values(all_dtypes, tmp_path):
    import subprocess
    import sys

    script = (
        "import sys, numpy as np, tfbundle\n"
        "c = tfbundle.open(sys.argv[1])\n"
        "keys = [k for k in c.keys() if c.dtype(k).name != 'string']\n"
        "np.savez(sys.argv[2], **{k.replace('/', '|'): c.get_tensor(k).reshape(-1).view(np.uint8) for k in keys})\n"
        "c.verify()\n"
    )
    out = tmp_path / "nommap.npz"
    env = dict(os.environ, TFBUNDLE_NO_MMAP="1")
    subprocess.run([sys.executable, "-c", script, str(all_dtypes), str(out)], check=True, env=env)
    ckpt = tfbundle.open(all_dtypes)
    with np.load(out, allow_pickle=False) as saved:
        assert len(saved.files) > 20
        for name in saved.files:
            key = name.replace("|", "/")
            assert ckpt.get_tensor(key).tobytes() == saved[name].tobytes(), key
