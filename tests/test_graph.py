"""Frozen graphs and MetaGraphs, against TensorFlow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tfbundle
from tests import tf_fixtures
from tests.helpers import assert_same_array
from tfbundle import graph as tgraph


def tf_consts(tf, path):
    """{name: tf.make_ndarray(value)} of every Const, graph and functions."""
    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString(Path(path).read_bytes())
    out = {}
    for node in gd.node:
        if node.op == "Const":
            out[node.name] = tf.make_ndarray(node.attr["value"].tensor)
    for fn in gd.library.function:
        for node in fn.node_def:
            if node.op == "Const":
                out[f"{fn.signature.name}/{node.name}"] = tf.make_ndarray(node.attr["value"].tensor)
    return out


def assert_consts_match(tf, path):
    ours = tgraph.load_consts(path)
    theirs = tf_consts(tf, path)
    assert set(ours) == set(theirs)
    for name in theirs:
        expected = theirs[name]
        if expected.dtype.kind == "S" or expected.dtype == object:
            assert ours[name].tolist() == np.asarray(expected, dtype=object).tolist(), name
        else:
            assert_same_array(ours[name], expected, name)
    return ours


def test_hand_made_graph_every_dtype_and_broadcast(tf, tmp_path):
    from tensorflow.python.framework import dtypes as D

    g = tf.Graph()
    with g.as_default():
        rng = np.random.default_rng(1)
        for name in (
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
            "complex64",
            "complex128",
        ):
            dt = getattr(D, name)
            tf.constant(
                rng.normal(size=(3, 2)).astype(np.float64).astype(dt.as_numpy_dtype), dtype=dt, name=f"array_{name}"
            )
            tf.constant(rng.normal(size=()).astype(dt.as_numpy_dtype), dtype=dt, name=f"scalar_{name}")
            tf.constant(np.asarray(1).astype(dt.as_numpy_dtype), dtype=dt, shape=[3, 4], name=f"filled_{name}")
        tf.constant(1.5, shape=[4, 4], name="broadcast_float")
        tf.constant(True, shape=[5], name="bools")
        tf.constant([b"a", b"", b"\xff\x00"], name="strings")
        tf.constant(b"only", shape=[3], name="string_broadcast")
        tf.constant(np.zeros((0, 3), np.float32), name="empty")
        tf.constant(np.float16(1.5), name="half_scalar")
        tf.constant(1.5, dtype=tf.bfloat16, name="bf16_scalar")
        for name in ("float8_e5m2", "float8_e4m3fn"):
            dt = getattr(D, name)
            tf.constant(np.array([0.5, -1.0, 2.0]).astype(dt.as_numpy_dtype), dtype=dt, name=name)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def fn(x):
            return x * tf.constant([2.0, 3.0, 4.0], name="inside_function")

        fn.get_concrete_function().add_to_graph(g)
    gd = g.as_graph_def()
    node = gd.node.add(name="broadcast_last", op="Const")  # fewer values than elements: the last repeats
    node.attr["dtype"].type = tf.int32.as_datatype_enum
    tensor = node.attr["value"].tensor
    tensor.dtype = tf.int32.as_datatype_enum
    tensor.tensor_shape.dim.add(size=2)
    tensor.tensor_shape.dim.add(size=3)
    tensor.int_val.extend([1, 2])
    path = tmp_path / "hand.pb"
    path.write_bytes(gd.SerializeToString())
    ours = assert_consts_match(tf, path)
    assert ours["broadcast_last"].tolist() == [[1, 2, 2], [2, 2, 2]]
    assert any(k.endswith("/inside_function") for k in ours)
    # Text graphs give the same values.
    text = tmp_path / "hand.pbtxt"
    text.write_text(str(gd))
    from_text = tgraph.load_consts(text)
    assert set(from_text) == set(ours)
    for name in ours:
        assert np.asarray(from_text[name]).tolist() == np.asarray(ours[name]).tolist(), name


def test_tensor_content_values_are_views(tf, tmp_path):
    g = tf.Graph()
    with g.as_default():
        tf.constant(np.arange(1000, dtype=np.float32), name="big")
    path = tmp_path / "g.pb"
    path.write_bytes(g.as_graph_def().SerializeToString())
    [(name, value)] = list(tgraph.consts(path))
    assert name == "big"
    assert not value.flags.writeable
    assert not value.flags.owndata
    assert value[999] == 999
    [(_, copied)] = list(tgraph.consts(path, copy=True))
    assert copied.flags.writeable
    assert np.array_equal(copied, value)


def _tf1_model(tf, directory, resource, partitioned):
    v1 = tf.compat.v1
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [None, 4], name="x")
        w = v1.get_variable("w", [4, 3], initializer=v1.random_normal_initializer(seed=1), use_resource=resource)
        if partitioned:
            e = v1.get_variable(
                "emb",
                [6, 3],
                partitioner=v1.fixed_size_partitioner(2),
                initializer=v1.random_normal_initializer(seed=2),
            )
            w = w + tf.reduce_sum(tf.convert_to_tensor(e))
        b = v1.get_variable("b", [3], initializer=v1.constant_initializer(0.5), use_resource=resource)
        y = tf.nn.relu(tf.matmul(x, w) + b, name="y")
        saver = v1.train.Saver()
        with v1.Session(graph=g) as sess:
            sess.run(v1.global_variables_initializer())
            prefix = saver.save(sess, str(directory / "model.ckpt"))
            feed = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
            expected = sess.run(y, {x: feed})
    return prefix, feed, expected, g


def _run_frozen(tf, path, feed):
    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString(Path(path).read_bytes())
    g = tf.Graph()
    with g.as_default():
        tf.import_graph_def(gd, name="")
        with tf.compat.v1.Session(graph=g) as sess:
            return sess.run("y:0", {"x:0": feed}), gd


@pytest.mark.parametrize(("resource", "partitioned"), [(False, False), (True, False), (False, True)])
def test_freeze_runs_like_the_restored_graph(tf, tmp_path, resource, partitioned):
    prefix, feed, expected, _g = _tf1_model(tf, tmp_path, resource, partitioned)
    out = tgraph.freeze(prefix + ".meta", prefix, ["y"], tmp_path / "frozen.pb")
    got, gd = _run_frozen(tf, out, feed)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    ops = {n.op for n in gd.node}
    assert not ops & {"VariableV2", "VarHandleOp", "ReadVariableOp", "Assign", "SaveV2", "RestoreV2"}
    assert all(n.device == "" for n in gd.node)
    # The constants are the checkpoint's values.
    assert_same_array(tgraph.load_consts(out)["b"], tfbundle.load_variable(prefix, "b"))


@pytest.mark.parametrize("control_flow_v2", [True, False], ids=["if_functions", "ref_switch"])
def test_freeze_reads_variables_the_way_tensorflow_graphs_do(tf, tmp_path, control_flow_v2):
    """Embedding lookups on resource variables (ResourceGather, -GatherNd);
    a switch_case (Case) whose branch reads one; a loop reading a resource variable, as a While body function taking the
    handle (control flow v2) or as an Enter of it (TF1); and Estimator's read
    of global_step: a cond on its initialization, as an If whose branch
    function reads the handle or as RefSwitch on a reference variable."""
    from tensorflow.python.training import training_util

    v1 = tf.compat.v1
    if not control_flow_v2:
        v1.disable_control_flow_v2()
    try:
        graph = tf.Graph()
        with graph.as_default():
            table = np.arange(20, dtype=np.float32).reshape(5, 4)
            embedding = v1.get_variable("emb", initializer=table, use_resource=True)
            ids = v1.placeholder(tf.int32, [None], name="ids")
            outputs = {
                "lookup": tf.nn.embedding_lookup(embedding, ids),
                "lookup_nd": tf.gather_nd(embedding, tf.reshape(ids, [-1, 1])),
            }
            recurrent = v1.get_variable("recurrent", initializer=np.eye(4, dtype=np.float32) * 0.5, use_resource=True)
            step = lambda i, h: (i + 1, tf.tanh(tf.matmul(h, recurrent)))  # noqa: E731
            outputs["loop"] = v1.while_loop(lambda i, h: i < 3, step, [tf.constant(0), outputs["lookup"]])[1]
            branch = v1.placeholder(tf.int32, [], name="branch")  # a Case whose first branch reads the variable
            outputs["case"] = tf.switch_case(branch, [lambda: outputs["lookup"] @ recurrent, lambda: outputs["lookup"]])
            v1.get_variable(  # TF1's reference variable, TF2's resource variable
                "global_step",
                initializer=np.int64(0),
                trainable=False,
                use_resource=control_flow_v2,
                collections=[v1.GraphKeys.GLOBAL_VARIABLES, v1.GraphKeys.GLOBAL_STEP],
            )
            outputs["step_read"] = training_util._get_or_create_global_step_read()
            outputs = {name: tf.identity(t, name=name) for name, t in outputs.items()}
            ops = {op.type for op in graph.get_operations()}
            assert ("If" in ops or "StatelessIf" in ops) == control_flow_v2
            assert ("While" in ops or "StatelessWhile" in ops) == control_flow_v2
            assert ("RefSwitch" in ops) != control_flow_v2
            assert ("Enter" in ops) != control_flow_v2
            with v1.Session() as session:
                session.run(v1.global_variables_initializer())
                session.run(v1.train.get_global_step().assign(7))
                prefix = v1.train.Saver().save(session, str(tmp_path / "model.ckpt"))
                expected = session.run(outputs, {ids: [3, 1], branch: 0})
    finally:
        v1.enable_control_flow_v2()
    out = tgraph.freeze(prefix + ".meta", prefix, list(outputs), tmp_path / "frozen.pb")
    frozen = tf.compat.v1.GraphDef()
    frozen.ParseFromString(Path(out).read_bytes())
    with tf.Graph().as_default():
        tf.import_graph_def(frozen, name="")
        with v1.Session() as session:
            got = session.run({name: f"{name}:0" for name in outputs}, {"ids:0": [3, 1], "branch:0": 0})
    for name, value in expected.items():
        assert_same_array(got[name], value, name)
    assert got["step_read"] == 7
    # An output that assigns to a variable cannot be frozen: a clear error, no file.
    with pytest.raises(ValueError, match="needs the variable 'emb' itself"):
        tgraph.freeze(prefix + ".meta", prefix, ["emb/Assign"], tmp_path / "assign.pb")
    assert not (tmp_path / "assign.pb").exists()


def test_freeze_a_tf1_saved_model(tf, tmp_path):
    """An Estimator-style TF1 export frozen into one .pb computes what
    TensorFlow serves from the SavedModel."""
    export = tf_fixtures.tf1_builder(tf, tmp_path / "export")
    out = tgraph.freeze(export, export, ["y"], tmp_path / "frozen.pb")
    feed = np.random.default_rng(2).normal(size=(3, 3)).astype(np.float32)
    got, graph_def = _run_frozen(tf, out, feed)
    served = tf.saved_model.load(str(export), tags=["serve"]).signatures["serving_default"](x=tf.constant(feed))
    np.testing.assert_allclose(got, served["y"].numpy(), rtol=1e-6)
    assert not {n.op for n in graph_def.node} & {"VariableV2", "VarHandleOp", "RestoreV2"}


def test_frozen_graph_from_tensorflow_and_to_saved_model(tf, tmp_path):
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    module = tf.Module()
    module.w = tf.Variable(tf.random.stateless_normal([4, 2], seed=[3, 4]))

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
    def model(x):
        return tf.identity(tf.matmul(x, module.w), name="y")

    frozen = convert_variables_to_constants_v2(model.get_concrete_function())
    path = tmp_path / "frozen_v2.pb"
    path.write_bytes(frozen.graph.as_graph_def().SerializeToString())
    assert_consts_match(tf, path)
    inputs = [t.name for t in frozen.inputs]
    outputs = [t.name for t in frozen.outputs]
    export = tgraph.to_saved_model(path, tmp_path / "export", {"x": inputs[0]}, {"y": outputs[0]})
    loaded = tf.saved_model.load(export)
    feed = np.ones((2, 4), np.float32)
    got = loaded.signatures["serving_default"](x=tf.constant(feed))["y"].numpy()
    np.testing.assert_allclose(got, feed @ module.w.numpy(), rtol=1e-6)
    model_info = tfbundle.saved_model.open(export)
    assert model_info.signatures["serving_default"].inputs["x"].shape == (-1, 4)
    import subprocess

    shown = subprocess.run(
        ["saved_model_cli", "show", "--dir", str(export), "--all"], capture_output=True, text=True, check=True
    )
    assert "signature_def['serving_default']" in shown.stdout


def test_tf1_convert_variables_to_constants(tf, tmp_path):
    v1 = tf.compat.v1
    prefix, _feed, _expected, g = _tf1_model(tf, tmp_path, False, False)
    with g.as_default(), v1.Session(graph=g) as sess:
        v1.train.Saver().restore(sess, prefix)
        frozen = v1.graph_util.convert_variables_to_constants(sess, g.as_graph_def(), ["y"])
    path = tmp_path / "tf1_frozen.pb"
    path.write_bytes(frozen.SerializeToString())
    assert_consts_match(tf, path)


def test_open_meta(tf, tmp_path):
    prefix, _feed, _expected, _g = _tf1_model(tf, tmp_path, False, True)
    meta = tgraph.open_meta(prefix + ".meta")
    assert meta.saver_def["restore_op_name"] == "save/restore_all"
    assert meta.saver_def["version"] == 2
    assert meta.saver_def["max_to_keep"] == 5
    names = {v.name: v for v in meta.variables}
    assert names["w"].shape == (4, 3)
    assert names["w"].dtype == "float32"
    assert {"emb/part_0", "emb/part_1"} <= set(names)
    assert "variables" in meta.collections
    assert meta.tensorflow_version.startswith("2.")
    assert set(meta.slice_infos()) == {"emb/part_0", "emb/part_1"}
    assert any(n.op == "Placeholder" for n in tgraph.open(prefix + ".meta").nodes)


def test_text_graphs_under_binary_names(tf, tmp_path):
    """tf.io.write_graph writes text unless told otherwise, whatever the file
    is called, so many a ``graph.pb`` is text; and TensorFlow imports a text
    ``.meta`` (export_meta_graph(as_text=True)). Both read by their bytes."""
    from google.protobuf import text_format

    v1 = tf.compat.v1
    prefix, feed, expected, g = _tf1_model(tf, tmp_path, False, True)
    with g.as_default(), v1.Session(graph=g) as sess:
        v1.train.Saver().restore(sess, prefix)
        frozen = v1.graph_util.convert_variables_to_constants(sess, g.as_graph_def(), ["y"])
    tf.io.write_graph(frozen, str(tmp_path), "graph.pb")  # as_text=True is the default
    (tmp_path / "binary.pb").write_bytes(frozen.SerializeToString())
    assert (tmp_path / "graph.pb").read_text().startswith("node {")
    text_consts = tgraph.load_consts(tmp_path / "graph.pb")
    binary_consts = assert_consts_match(tf, tmp_path / "binary.pb")
    assert set(text_consts) == set(binary_consts)
    for name, value in binary_consts.items():
        assert_same_array(text_consts[name], value, name)
    assert [n.name for n in tgraph.iter_nodes(tmp_path / "graph.pb")] == [n.name for n in frozen.node]

    meta = v1.MetaGraphDef.FromString(Path(prefix + ".meta").read_bytes())
    binary_meta = tgraph.open_meta(prefix + ".meta")
    Path(prefix + ".meta").write_text(text_format.MessageToString(meta))  # what as_text=True writes
    with tf.Graph().as_default():
        v1.train.import_meta_graph(prefix + ".meta")  # TensorFlow reads it
    text_meta = tgraph.open_meta(prefix + ".meta")
    assert text_meta.saver_def == binary_meta.saver_def
    assert [v.name for v in text_meta.variables] == [v.name for v in binary_meta.variables]
    assert set(text_meta.slice_infos()) == {"emb/part_0", "emb/part_1"}
    assert [n.name for n in tgraph.iter_nodes(prefix + ".meta")] == [n.name for n in meta.graph_def.node]
    got, _gd = _run_frozen(tf, tgraph.freeze(prefix + ".meta", prefix, ["y"], tmp_path / "f.pb"), feed)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    with tfbundle.open(prefix + ".meta") as reader:
        assert "w" in reader.keys()


def test_damaged_graph_raises(tmp_path):
    path = tmp_path / "bad.pb"
    path.write_bytes(b"\x0a\xff\xff\xff\x0f garbage")
    with pytest.raises(tfbundle.DataLossError, match=r"bad\.pb"):
        list(tgraph.consts(path))
