"""V1 checkpoints (no .index; TensorSliceWriter tables) made by TensorFlow
2.21's V1 writer, read through the same API as V2 and judged against what
TensorFlow restores from them."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import tfbundle
from tests import tf_fixtures
from tests.helpers import assert_same_array
from tests.snappy_tables import block_types, rewrite_file

TF_NAMES = {"float16": "half", "float32": "float", "float64": "double"}


def assert_values_match(reader: tfbundle.CheckpointReader, values: dict) -> None:
    """Every variable TF restored has our key, dtype, shape and value."""
    assert sorted(reader.keys()) == sorted(values)
    for name, theirs in values.items():
        ours = reader.get_tensor(name)
        assert_same_array(ours, theirs, name)
        assert tuple(reader.shape(name)) == np.shape(theirs) or isinstance(theirs, bytes), name


def assert_tf_reader_parity(tf, path: str, reader: tfbundle.CheckpointReader) -> None:
    """What tf.train.load_checkpoint returns, we return: same maps, and the
    same type and value from get_tensor (TF's V1 reader refuses some dtypes
    and every partitioned tensor; those are judged by restore above)."""
    theirs = tf.train.load_checkpoint(path)
    assert reader.get_variable_to_shape_map() == theirs.get_variable_to_shape_map()
    assert {k: v.name for k, v in reader.get_variable_to_dtype_map().items()} == {
        k: v.name for k, v in theirs.get_variable_to_dtype_map().items()
    }
    # The same lines; TensorFlow's V1 order is its hash table's, ours sorted.
    assert sorted(reader.debug_string().splitlines()) == sorted(theirs.debug_string().splitlines())
    compared = 0
    for key in reader.keys():
        try:
            tf_value = theirs.get_tensor(key)
        except (tf.errors.UnimplementedError, NotImplementedError):
            continue
        ours = reader.get_tensor(key)
        assert type(ours) is type(tf_value), key
        assert_same_array(ours, tf_value, key)
        compared += 1
    assert compared >= 10


def test_single_file_every_dtype_matches_tensorflow(tf, v1_single):
    path, values = v1_single
    assert not os.path.exists(path + ".index")
    with tfbundle.open(path) as ckpt:
        assert ckpt.version == 1
        assert ckpt.num_shards == 1
        assert_values_match(ckpt, values)
        for name in tf_fixtures.V1_DTYPES:
            assert ckpt.dtype(f"v/{name}").name == name
        assert ckpt.get_tensor("global_step") == 1234
        assert type(ckpt.get_tensor("global_step")) is np.int64
        assert ckpt.get_tensor("vocab/name") == b"words"
        assert ckpt.get_tensor("empty").shape == (0, 3)
        assert_tf_reader_parity(tf, path, ckpt)
        ckpt.verify()
        assert ckpt.damaged() == {}


def test_sharded_checkpoint_by_pattern_directory_and_shard(tf, v1_sharded):
    pattern, values = v1_sharded
    directory = os.path.dirname(pattern)
    count = int(pattern[-5:])
    assert count >= 2
    assert pattern.endswith(f"-?????-of-{count:05d}")
    assert tfbundle.latest_checkpoint(directory) == tf.train.latest_checkpoint(directory) == pattern
    prefix = pattern[: -len("-?????-of-00000")]
    for name in (pattern, directory, pattern.replace("?????", "00001"), prefix, prefix + ".meta"):
        with tfbundle.open(name) as ckpt:
            assert ckpt.version == 1, name
            assert ckpt.num_shards == count, name
            assert_values_match(ckpt, values)
    assert_tf_reader_parity(tf, pattern, tfbundle.open(pattern))


def test_a_directory_of_one_v1_checkpoint_without_a_state_file(tf, v1_single, v1_sharded, tmp_path):
    """What a TF-slim download unpacks to (inception_v3.ckpt alone), and a TF1
    session bundle (export.meta beside export-SSSSS-of-NNNNN shards)."""
    path, values = v1_single
    slim = tmp_path / "slim"
    slim.mkdir()
    shutil.copy(path, slim / "inception_v3.ckpt")
    (slim / "README.txt").write_text("not a checkpoint")
    with tfbundle.open(slim) as ckpt:
        assert ckpt.prefix == str(slim / "inception_v3.ckpt")
        assert_values_match(ckpt, values)

    pattern, sharded_values = v1_sharded
    bundle = tmp_path / "session_bundle" / "00000123"
    bundle.mkdir(parents=True)
    for shard in glob.glob(pattern):
        name = os.path.basename(shard)
        shutil.copy(shard, bundle / ("export" + name[-len("-SSSSS-of-NNNNN") :]))
    shutil.copy(pattern[: -len("-?????-of-00000")] + ".meta", bundle / "export.meta")
    with tfbundle.open(bundle) as ckpt:
        assert ckpt.version == 1
        assert ckpt.num_shards == int(pattern[-5:])
        assert_values_match(ckpt, sharded_values)
        assert_tf_reader_parity(tf, str(bundle / f"export-?????-of-{pattern[-5:]}"), ckpt)

    shutil.copy(path, slim / "resnet_v1_50.ckpt")  # two: which one is meant is not for tfbundle to guess
    with pytest.raises(FileNotFoundError, match=r"holds 2 V1 checkpoints \(inception_v3.ckpt, resnet_v1_50.ckpt\)"):
        tfbundle.open(slim)


def test_partitioned_variables_assemble_and_slice(v1_single):
    path, values = v1_single
    ckpt = tfbundle.open(path)
    assert "emb" in ckpt
    assert "emb/part_0" not in ckpt
    assert len(ckpt.entry("emb")["slices"]) == 3
    assert_same_array(ckpt.get_slice("emb")[2:9:3, 1], values["emb"][2:9:3, 1])
    assert_same_array(ckpt.get_slice("cube")[1, 3:7], values["cube"][1, 3:7])
    assert_same_array(ckpt.get_slice("v/int64")[1:, ::2], values["v/int64"][1:, ::2])
    out = np.empty((10, 4), np.float32)
    ckpt.read_into("emb", out)
    assert_same_array(out, values["emb"])


def test_tf_train_style_functions(tf, v1_single):
    path, values = v1_single
    assert tfbundle.list_variables(path) == [(k, list(v)) for k, v in tf.train.list_variables(path)]
    step = tfbundle.load_variable(path, "global_step")
    assert type(step) is type(tf.train.load_variable(path, "global_step"))
    assert step == 1234
    loaded = tfbundle.load(path)
    assert sorted(loaded) == sorted(values)
    assert all(isinstance(v, np.ndarray) for v in loaded.values())
    view = tfbundle.open(path).get_tensor("v/float32", copy=False)
    assert not view.flags.writeable
    assert_same_array(view, values["v/float32"])


def test_snappy_compressed_v1_files_read_like_tensorflow(tf, v1_sharded, tmp_path):
    pattern, values = v1_sharded
    copy = tmp_path / "snappy"
    shutil.copytree(os.path.dirname(pattern), copy)
    for shard in copy.glob("model.ckpt-1234-*-of-*"):
        rewrite_file(shard)
        assert block_types(shard.read_bytes()) == {1}  # every block now Snappy
    snappy_pattern = str(copy / os.path.basename(pattern))
    restored = tf_fixtures.v1_restore(tf, snappy_pattern, devices=3)
    with tfbundle.open(snappy_pattern) as ckpt:
        assert_values_match(ckpt, restored)
        ckpt.verify()
    for name in values:
        assert_same_array(restored[name], values[name], name)


def test_upgrade_to_v2_restores_in_tensorflow(tf, v1_single, tmp_path):
    path, values = v1_single
    out = str(tmp_path / "v2" / "model.ckpt-1234")
    subprocess.run([sys.executable, "-m", "tfbundle", "convert", path, out], check=True, capture_output=True)
    assert os.path.exists(out + ".index")
    assert tfbundle.open(out).entry("emb")["slices"]  # the partitioning is kept
    restored = tf_fixtures.v1_restore(tf, out)  # a TF1 Saver reading the V2 result
    for name, value in values.items():
        assert_same_array(restored[name], value, name)


def test_edit_of_a_v1_source_writes_v2(tf, v1_single, tmp_path):
    path, values = v1_single
    out = tmp_path / "edited"
    tfbundle.edit.transform(path, out, drop=["^v/"], rename=[("^emb$", "embedding")])
    reader = tf.train.load_checkpoint(str(out))
    assert sorted(reader.get_variable_to_shape_map()) == [
        "cube",
        "embedding",
        "empty",
        "global_step",
        "scale",
        "vocab/name",
    ]
    assert_same_array(reader.get_tensor("embedding"), values["emb"])


def test_cli_reads_v1(v1_single, tmp_path):
    path, values = v1_single

    def run(*args):
        return subprocess.run([sys.executable, "-m", "tfbundle", *map(str, args)], capture_output=True, text=True)

    listing = run("ls", path)
    assert listing.returncode == 0
    assert "v/complex128" in listing.stdout
    assert "emb" in listing.stdout
    shown = run("show", path, "global_step")
    assert shown.returncode == 0
    assert "1234" in shown.stdout
    assert run("verify", path).returncode == 0
    copy = tmp_path / "copy.ckpt"
    shutil.copy(path, copy)
    assert run("diff", path, copy).returncode == 0
    npz = tmp_path / "w.npz"
    assert run("convert", path, npz).returncode == 0
    assert_same_array(np.load(npz)["emb"], values["emb"])
    edited = tmp_path / "edited"
    assert run("edit", path, edited, "--keep", "^emb$").returncode == 0
    assert tfbundle.open(edited).version == 2
    assert tfbundle.open(edited).keys() == ["emb"]


def test_large_tensor(tf, tmp_path):
    """A 256 MiB tensor: TF's V1 writer stores it as one slice in one block."""
    v1 = tf.compat.v1
    g = tf.Graph()
    with g.as_default():
        big = v1.get_variable("big", [64 * 1024 * 1024 + 3], initializer=v1.random_uniform_initializer(seed=3))
        saver = v1.train.Saver(write_version=v1.train.SaverDef.V1)
        with v1.Session(graph=g) as sess:
            sess.run(v1.global_variables_initializer())
            path = saver.save(sess, str(tmp_path / "big"))
            expected = sess.run(big)
    with tfbundle.open(path) as ckpt:
        assert ckpt.shape("big") == expected.shape
        np.testing.assert_array_equal(ckpt.get_tensor("big"), expected)
    del expected


def test_missing_checkpoint_error_says_what_was_looked_for(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        tfbundle.open(tmp_path / "no_such")
    message = str(info.value)
    for looked_for in (
        "no_such.index",
        "V1 checkpoint",
        "no_such-NNNNN-of-NNNNN",
        "'checkpoint' state file",
        "SavedModel",
    ):
        assert looked_for in message, looked_for
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(FileNotFoundError, match="looked for a 'checkpoint' state file, a SavedModel"):
        tfbundle.open(tmp_path / "empty_dir")
    with pytest.raises(FileNotFoundError, match=r"gone\.index: no such file"):
        tfbundle.open(str(tmp_path / "gone.data-00000-of-00001"))


def test_saved_model_with_v1_variables(tf, saved_model, v1_single, tmp_path):
    """A SavedModel directory whose variables/ holds a V1 checkpoint (as the
    oldest exports may) opens through the directory and saved_model.open."""
    path, values = v1_single
    export = tmp_path / "export"
    shutil.copytree(saved_model, export)
    for name in os.listdir(export / "variables"):
        os.unlink(export / "variables" / name)
    shutil.copy(path, export / "variables" / "variables")
    with tfbundle.open(export) as ckpt:
        assert ckpt.version == 1
        assert_values_match(ckpt, values)
    model = tfbundle.saved_model.open(export)
    assert "serving_default" in model.signatures
    assert model.variables.version == 1
