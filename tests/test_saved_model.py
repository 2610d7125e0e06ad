"""SavedModel directories against TensorFlow and saved_model_cli."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tfbundle
from tests import tf_fixtures
from tests.snappy_tables import footer_handles, masked_crc


def run_cli(*args) -> subprocess.CompletedProcess:
    """``python -m tfbundle ARGS``; fails the test on a non-zero exit."""
    out = subprocess.run([sys.executable, "-m", "tfbundle", *map(str, args)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out


def saved_model_cli_show(directory) -> dict:
    """{tag-set: {signature: {"inputs": {k: (dtype, shape, name)}, "outputs": ..., "method": str}}}"""
    out = subprocess.run(
        ["saved_model_cli", "show", "--dir", str(directory), "--all"],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    ).stdout
    result, tags, sig, side, key = {}, None, None, None, None
    for line in out.splitlines():
        if m := re.match(r"MetaGraphDef with tag-set: '(.*)' contains", line):
            tags = tuple(t.strip() for t in m.group(1).split(","))
            result[tags] = {}
        elif m := re.match(r"signature_def\['(.*)'\]:", line):
            sig = result[tags].setdefault(m.group(1), {"inputs": {}, "outputs": {}, "method": None})
        elif m := re.match(r"\s+(inputs|outputs)\['(.*)'\] tensor_info:", line):
            side, key = m.group(1), m.group(2)
            sig[side][key] = {}
        elif m := re.match(r"\s+(dtype|shape|name): (.*)$", line):
            sig[side][key][m.group(1)] = m.group(2).strip()
        elif m := re.match(r"\s+Method name is: ?(.*)$", line):
            sig["method"] = m.group(1).strip()
    return result


def assert_matches_cli(tf, directory):
    from tensorflow.core.framework import types_pb2

    cli = saved_model_cli_show(directory)
    assert cli, "saved_model_cli printed no MetaGraph"
    for tags, signatures in cli.items():
        model = tfbundle.saved_model.open(directory, tag_set=tags)
        assert sorted(model.signatures) == sorted(signatures)
        for name, expected in signatures.items():
            ours = model.signatures[name]
            assert ours.method_name == expected["method"]
            for side in ("inputs", "outputs"):
                got = getattr(ours, side)
                assert sorted(got) == sorted(expected[side]), (name, side)
                for key, info in expected[side].items():
                    t = got[key]
                    assert types_pb2.DataType.Name(t.dtype.enum if t.dtype else 0) == info["dtype"]
                    shape = "unknown_rank" if t.shape is None else "(" + ", ".join(map(str, t.shape)) + ")"
                    assert shape == info["shape"], (name, key)
                    assert t.name == info["name"]
    return cli


def test_tf2_saved_model_signatures_variables_and_paths(tf, saved_model):
    assert_matches_cli(tf, saved_model)
    model = tfbundle.saved_model.open(saved_model)
    assert model.tags == [("serve",)]
    assert model.signatures["serving_default"].inputs["x"].shape == (-1, 4)
    assert model.object_paths["blocks/0"] == "blocks/0/.ATTRIBUTES/VARIABLE_VALUE"
    assert model.object_paths["scale"] == "scale/.ATTRIBUTES/VARIABLE_VALUE"
    assert model.variables.get_tensor(model.resolve_key("scale")) == 2.0
    assert model.tensorflow_version.startswith("2.")


def test_keras_export(tf, tmp_path):
    directory = tf_fixtures.keras_export(tf, tmp_path / "keras")
    assert_matches_cli(tf, directory)
    model = tfbundle.saved_model.open(directory)
    loaded = tf.saved_model.load(str(directory))
    assert set(model.signatures) >= {"serving_default"}
    ours = [model.variables.get_tensor(key) for key in sorted(set(model.object_paths.values()))]
    assert len(ours) == len(model.variables.keys()) - 1  # every key but the object graph has a path
    for variable in loaded.variables:  # every variable TF restores, reached through an object path
        assert any(v.shape == tuple(variable.shape) and np.array_equal(v, variable.numpy()) for v in ours)


def _tf_variables(tf, loaded):
    """Every tf.Variable that TensorFlow's loader restored, once each."""
    seen = {}
    for obj in tf.train.TrackableView(loaded).descendants():
        if isinstance(obj, tf.Variable):
            seen[id(obj)] = obj
    return list(seen.values())


@pytest.mark.parametrize("fixture", ["keras_export", "saved_model", "tf1_builder"])
def test_variable_names_are_what_tensorflow_loads(tf, tmp_path, saved_model, fixture):
    if fixture == "keras_export":
        directory = tf_fixtures.keras_export(tf, tmp_path / "keras")
    elif fixture == "tf1_builder":  # TF1: resource variables by node name, a reference variable too
        directory = tf_fixtures.tf1_builder(tf, tmp_path / "tf1", reference_variable=True)
    else:
        directory = saved_model
    model = tfbundle.saved_model.open(directory)
    variables = _tf_variables(tf, tf.saved_model.load(str(directory), tags=["serve"]))
    assert variables
    if fixture == "tf1_builder":
        assert "ref" in model.variables
        assert "ref" not in model.variable_names  # TensorFlow names no reference variable
    assert set(model.variable_names) == {v.name.removesuffix(":0") for v in variables}
    for variable in variables:
        keys = model.variable_names[variable.name.removesuffix(":0")]
        assert any(np.array_equal(model.variables.get_tensor(k), variable.numpy()) for k in keys), variable.name


def test_update_variables_by_name_changes_what_keras_3_serves(tf, tmp_path):
    """A Keras 3 export saves each variable twice, and its functions read
    one copy: a variable name resolves to that one."""
    directory = tf_fixtures.keras_export(tf, tmp_path / "keras")
    model = tfbundle.saved_model.open(directory)
    kernel = model.variable_names["logits/kernel"]
    assert len(kernel) == 2  # the copy the functions read, then the unread one
    assert model.resolve_key("logits/kernel:0") == kernel[0]
    tfbundle.saved_model.update_variables(
        directory, {"logits/kernel": np.zeros((3, 2), np.float32), "logits/bias:0": np.float32([1.5, -2.0])}
    )
    loaded = tf.saved_model.load(str(directory))
    out = loaded.serve(tf.ones((4, 5))).numpy()
    np.testing.assert_array_equal(out, np.tile(np.float32([1.5, -2.0]), (4, 1)))
    # The command line takes the same names.
    shown = run_cli("show", directory, "logits/bias:0").stdout.splitlines()
    assert shown[0] == f"{model.resolve_key('logits/bias')}: float32[2]"
    assert shown[1] == "[ 1.5 -2. ]"


def test_a_name_several_unread_variables_share_is_refused(tf, tmp_path):
    module = tf.Module()
    module.a, module.b = tf.Variable(tf.zeros(2)), tf.Variable(tf.ones(2))  # both named "Variable"
    tf.saved_model.save(module, str(tmp_path / "sm"))
    before = _digest(tmp_path / "sm")
    model = tfbundle.saved_model.open(tmp_path / "sm")
    assert sorted(model.variable_names["Variable"]) == ["a/.ATTRIBUTES/VARIABLE_VALUE", "b/.ATTRIBUTES/VARIABLE_VALUE"]
    assert model.resolve_key("a") == "a/.ATTRIBUTES/VARIABLE_VALUE"  # the object path still resolves
    with pytest.raises(ValueError, match="2 variables are named 'Variable'"):
        tfbundle.saved_model.update_variables(tmp_path / "sm", {"Variable:0": np.ones(2, np.float32)})
    with pytest.raises(KeyError, match="no variable, object path or variable name"):
        model.resolve_key("c")
    assert _digest(tmp_path / "sm") == before


@pytest.mark.parametrize("as_text", [False, True], ids=["pb", "pbtxt"])
def test_tf1_builder_two_metagraphs_and_asset(tf, tmp_path, as_text):
    directory = tf_fixtures.tf1_builder(tf, tmp_path / "tf1", as_text=as_text)
    assert (directory / "saved_model.pbtxt").is_file() == as_text
    cli = assert_matches_cli(tf, directory)
    assert set(cli) == {("serve",), ("train",)}
    serve = tfbundle.saved_model.open(directory, tag_set=["serve"])
    train = tfbundle.saved_model.open(directory, tag_set="train")
    assert sorted(serve.tags) == [("serve",), ("train",)]
    assert list(train.signatures) == ["train_sig"]
    assert serve.assets == ["vocab.txt"]
    assert os.path.isfile(directory / "assets" / "vocab.txt")
    assert sorted(serve.variables.keys()) == ["global_step", "w"]
    with pytest.raises(ValueError, match="no MetaGraph"):
        tfbundle.saved_model.open(directory, tag_set=["gpu"])


@pytest.mark.parametrize("as_text", [False, True], ids=["pb", "pbtxt"])
def test_a_saved_models_own_file_names_the_saved_model(tf, tmp_path, as_text):
    """People point at ``saved_model.pb``, as at a ``.meta``: every entry point
    then reads the SavedModel (its variables), not the file as a graph."""
    directory = tf_fixtures.tf1_builder(tf, tmp_path / "tf1", as_text=as_text)
    own_file = directory / ("saved_model.pbtxt" if as_text else "saved_model.pb")
    restored = tf.train.load_checkpoint(str(directory / "variables" / "variables"))
    with tfbundle.open(own_file) as reader:
        assert sorted(reader.keys()) == ["global_step", "w"]
        np.testing.assert_array_equal(reader.get_tensor("w"), restored.get_tensor("w"))
    model = tfbundle.saved_model.open(str(own_file))
    assert (model.export_dir, model.tags) == (str(directory), [("serve",), ("train",)])
    assert tfbundle.convert.detect_format(own_file) == "checkpoint"
    listing = json.loads(run_cli("ls", own_file, "--json").stdout)
    assert listing == json.loads(run_cli("ls", directory, "--json").stdout)
    assert listing["kind"] == "saved_model"
    assert run_cli("show", own_file, "w").stdout == run_cli("show", directory, "w").stdout

    frozen = tfbundle.graph.freeze(own_file, own_file, ["y"], tmp_path / "frozen.pb")
    graph_def = tf.compat.v1.GraphDef.FromString(Path(frozen).read_bytes())
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    with tf.Graph().as_default() as g:
        tf.graph_util.import_graph_def(graph_def, name="")
        with tf.compat.v1.Session(graph=g) as session:
            y = session.run("y:0", {"x:0": x})
    np.testing.assert_allclose(y, x @ restored.get_tensor("w"), rtol=1e-6)


def test_tf_hub_style_untagged_metagraph_is_the_default(tf, tmp_path):
    directory = tf_fixtures.tf1_builder(tf, tmp_path / "hub", tags=[])
    assert set(assert_matches_cli(tf, directory)) == {("",), ("train",)}
    model = tfbundle.saved_model.open(directory)
    assert list(model.meta_graph.meta_info_def.tags) == []
    assert list(model.signatures) == ["serving_default"]
    shown = run_cli("saved-model", "show", directory, "--tag_set", "").stdout
    assert shown.splitlines()[-1] == 'SignatureDef key: "serving_default"'
    # With neither a 'serve' nor an untagged MetaGraph, the tag-set must be named.
    other = tf_fixtures.tf1_builder(tf, tmp_path / "gpu", tags=["gpu"])
    with pytest.raises(ValueError, match=r"pass tag_set= one of \[\('gpu',\), \('train',\)\]"):
        tfbundle.saved_model.open(other)
    assert list(tfbundle.saved_model.open(other, tag_set="gpu").signatures) == ["serving_default"]
    assert "'gpu'\n'train'" in run_cli("saved-model", "show", other).stdout


def _digest(directory):
    h = hashlib.sha256()
    for root, _dirs, files in sorted(os.walk(directory)):
        for f in sorted(files):
            h.update(f.encode() + Path(os.path.join(root, f)).read_bytes())
    return h.hexdigest()


def test_update_variables_serves_new_weights(tf, saved_model, tmp_path):
    directory = tmp_path / "sm"
    shutil.copytree(saved_model, directory)
    model = tfbundle.saved_model.open(directory)
    before = {k: model.variables.entry(k) for k in model.variables.keys()}
    before_graph = model.variables._core.entry("_CHECKPOINTABLE_OBJECT_GRAPH")
    rng = np.random.default_rng(9)
    new_block = rng.normal(size=(4, 4)).astype(np.float32)
    tfbundle.saved_model.update_variables(
        directory, {"blocks/0": new_block, "scale/.ATTRIBUTES/VARIABLE_VALUE": np.float32(-3.0)}
    )
    updated = tfbundle.saved_model.open(directory)
    # Untouched entries keep their bytes and positions exactly.
    for key, entry in before.items():
        if key not in ("blocks/0/.ATTRIBUTES/VARIABLE_VALUE", "scale/.ATTRIBUTES/VARIABLE_VALUE"):
            assert updated.variables.entry(key) == entry, key
    assert updated.variables._core.entry("_CHECKPOINTABLE_OBJECT_GRAPH") == before_graph
    # TensorFlow serves the new weights.
    x = rng.normal(size=(3, 4)).astype(np.float32)
    block1 = updated.variables.get_tensor("blocks/1/.ATTRIBUTES/VARIABLE_VALUE")
    loaded = tf.saved_model.load(str(directory))
    y = loaded.signatures["serving_default"](x=tf.constant(x))["y"].numpy()
    np.testing.assert_allclose(y, (x @ new_block @ block1) * -3.0, rtol=1e-5, atol=1e-5)


def _fingerprint(tf, data: bytes):
    from tensorflow.core.protobuf import fingerprint_pb2

    message = fingerprint_pb2.FingerprintDef()
    message.ParseFromString(data)
    return message


def test_update_variables_gives_the_fingerprint_tensorflows_checkpoint_hash(tf, saved_model, tmp_path):
    from tensorflow.python.saved_model.pywrap_saved_model import fingerprinting

    directory = tmp_path / "sm"
    shutil.copytree(saved_model, directory)
    before = _fingerprint(tf, (directory / "fingerprint.pb").read_bytes())
    tfbundle.saved_model.update_variables(directory, {"scale": np.float32(7.0)})
    after = _fingerprint(tf, (directory / "fingerprint.pb").read_bytes())
    tensorflows = _fingerprint(tf, fingerprinting.CreateFingerprintDef(str(directory)))
    assert after.checkpoint_hash == tensorflows.checkpoint_hash != before.checkpoint_hash
    before.checkpoint_hash = after.checkpoint_hash
    assert after == before  # every other field as TensorFlow wrote it
    assert tf.saved_model.experimental.read_fingerprint(str(directory)).checkpoint_hash == after.checkpoint_hash
    assert [f for f in os.listdir(directory) if "tmp" in f] == []


def test_write_variables_gives_the_fingerprint_tensorflows_checkpoint_hash(tf, saved_model, tmp_path):
    from tensorflow.python.saved_model.pywrap_saved_model import fingerprinting

    directory = tmp_path / "sm"
    shutil.copytree(saved_model, directory)
    tensors = tfbundle.load(directory / "variables" / "variables")
    tensors["scale/.ATTRIBUTES/VARIABLE_VALUE"] = np.float32(-1.0)
    tfbundle.saved_model.write_variables(directory, tensors, num_shards=2)
    ours = _fingerprint(tf, (directory / "fingerprint.pb").read_bytes())
    assert ours.checkpoint_hash == _fingerprint(tf, fingerprinting.CreateFingerprintDef(str(directory))).checkpoint_hash
    loaded = tf.saved_model.load(str(directory))
    assert float(loaded.scale.numpy()) == -1.0


def test_update_variables_refuses_a_damaged_fingerprint_and_changes_nothing(saved_model, tmp_path):
    directory = tmp_path / "sm"
    shutil.copytree(saved_model, directory)
    (directory / "fingerprint.pb").write_bytes(b"\x2a\xff")  # field 5 as a length-delimited run past the end
    before = _digest(directory)
    with pytest.raises(tfbundle.DataLossError, match=r"fingerprint\.pb"):
        tfbundle.saved_model.update_variables(directory, {"scale": np.float32(7.0)})
    assert _digest(directory) == before
    assert [f for f in os.listdir(directory) if "tmp" in f] == []


def test_update_variables_rejects_mismatches_and_changes_nothing(saved_model, tmp_path):
    directory = tmp_path / "sm"
    shutil.copytree(saved_model, directory)
    before = _digest(directory)
    with pytest.raises(ValueError, match="float32"):
        tfbundle.saved_model.update_variables(directory, {"blocks/0": np.zeros((4, 5), np.float32)})
    with pytest.raises(ValueError, match="float32"):
        tfbundle.saved_model.update_variables(directory, {"scale": np.int32(1)})
    with pytest.raises(KeyError):
        tfbundle.saved_model.update_variables(directory, {"no/such/variable": np.float32(1)})
    assert _digest(directory) == before
    assert [f for f in os.listdir(directory) if ".tmp" in f] == []


def test_write_variables(tmp_path):
    prefix = tfbundle.saved_model.write_variables(tmp_path / "export", {"w": np.ones((2, 2), np.float32)})
    assert prefix == str(tmp_path / "export" / "variables" / "variables")
    assert tfbundle.open(tmp_path / "export" / "variables").get_tensor("w").sum() == 4


@pytest.mark.parametrize("damage", ["missing", "garbage", "bad_block_type"])
def test_inspection_does_not_need_the_variables(tf, saved_model, tmp_path, damage):
    """Tags, signatures, assets and `saved-model show` read saved_model.pb
    only; the variables are opened (and fail) only when asked for."""
    export = tmp_path / "export"
    shutil.copytree(saved_model, export)
    index = export / "variables" / "variables.index"
    if damage == "missing":
        shutil.rmtree(export / "variables")
    elif damage == "garbage":
        index.write_bytes(b"\x00" * 100)
    else:  # the index block stored with a type no table reader knows, checksum intact
        data = bytearray(index.read_bytes())
        _meta, (offset, size) = footer_handles(bytes(data))
        data[offset + size] = 7
        data[offset + size + 1 : offset + size + 5] = struct.pack(
            "<I", masked_crc(bytes(data[offset : offset + size + 1]))
        )
        index.write_bytes(bytes(data))
    model = tfbundle.saved_model.open(export)
    assert model.tags == [("serve",)]
    assert "serving_default" in model.signatures
    assert model.signatures["serving_default"].outputs["y"].shape == (-1, 4)
    shown = subprocess.run(
        [sys.executable, "-m", "tfbundle", "saved-model", "show", str(export), "--all"], capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr
    assert "serving_default" in shown.stdout
    if damage == "missing":
        assert model.variables is None
    else:
        with pytest.raises(tfbundle.DataLossError, match=r"variables\.index") as info:
            _ = model.variables
        assert damage != "bad_block_type" or "bad block type 7" in str(info.value)


@pytest.mark.parametrize("as_text", [False, True], ids=["pb", "pbtxt"])
def test_saved_model_of_a_frozen_graph_gives_its_constants(tf, tmp_path, as_text):
    """A TF1 export of a frozen graph (object detection, TF Hub v1 style) has
    no variables: its weights are Consts, which ls, convert and verify use;
    the checkpoint API says where the weights are."""
    rng = np.random.default_rng(4)
    weights = rng.normal(size=(3, 2)).astype(np.float32)
    directory = tmp_path / "frozen_export"
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
        w = tf.constant(weights, name="dense/kernel")
        y = tf.identity(tf.matmul(x, w) + tf.constant(0.5, name="dense/bias"), name="y")
        with tf.compat.v1.Session() as session:
            builder = tf.compat.v1.saved_model.Builder(str(directory))
            signature = tf.compat.v1.saved_model.predict_signature_def({"x": x}, {"y": y})
            builder.add_meta_graph_and_variables(session, ["serve"], signature_def_map={"serving_default": signature})
            builder.save(as_text=as_text)
    assert not tfbundle.saved_model.has_variables(directory)

    listing = json.loads(run_cli("ls", directory, "--json").stdout)
    assert listing["kind"] == "saved_model constants"
    assert {t["name"]: t["shape"] for t in listing["tensors"]} == {"dense/kernel": [3, 2], "dense/bias": []}
    assert "2 constants decode" in run_cli("verify", directory).stdout
    own_file = directory / ("saved_model.pbtxt" if as_text else "saved_model.pb")
    assert json.loads(run_cli("ls", own_file, "--json").stdout) == listing

    run_cli("convert", directory, tmp_path / "weights.safetensors")
    converted = tfbundle.convert.open_source(tmp_path / "weights.safetensors")
    kernel, bias = converted.get_tensor("dense/kernel"), converted.get_tensor("dense/bias")
    # The converted constants compute what TensorFlow serves.
    inputs = rng.normal(size=(4, 3)).astype(np.float32)
    served = tf.saved_model.load(str(directory)).signatures["serving_default"](x=tf.constant(inputs))["y"].numpy()
    np.testing.assert_allclose(inputs @ kernel + bias, served, rtol=1e-6)

    with pytest.raises(FileNotFoundError, match=r"without variables.*load_consts"):
        tfbundle.open(directory)
