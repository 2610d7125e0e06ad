"""Writes checkpoints, SavedModels and graphs with an older TensorFlow, and
what that TensorFlow reads back from them, for check_fixtures.py.

CI has one TensorFlow (the newest); files from older versions are checked
by hand. In a virtual environment with the older TensorFlow: 2.12-2.17 have
wheels for Python 3.11 (up to 2.15 with Keras 2 and Estimators, from 2.16
with Keras 3, whose SavedModel is a ``model.export()``), 2.6 for
3.8 ("keras==2.6.0" "numpy<1.20" "protobuf<3.21"), 2.3 for 3.8
("tensorflow-cpu==2.3.4" "protobuf<3.21"), 1.15 for Python 3.7
(runs eagerly here, so that Keras and tf.Module save as in 2.x):

    python -m venv /tmp/tf215 && /tmp/tf215/bin/pip install "tensorflow-cpu==2.15.0" "numpy<2"
    python3.7 -m venv /tmp/tf115
    /tmp/tf115/bin/pip install "tensorflow-cpu==1.15.0" "protobuf<3.21" "numpy<1.19" "h5py<3"
    /tmp/tf215/bin/python tests/old_tf/write_fixtures.py /tmp/old_tf
    python tests/old_tf/check_fixtures.py /tmp/old_tf

A part this TensorFlow cannot write is reported and left out.

Writes OUT/expected.pkl: {name: {"kind": "ckpt" | "graph" | "state", ...}}
with TensorFlow's values, shapes, dtypes and state-file answers.
"""

from __future__ import annotations

import os
import pickle
import shutil
import sys
from typing import Any

import numpy as np
import tensorflow as tf

v1 = tf.compat.v1
if tf.__version__.startswith("1."):
    v1.enable_eager_execution()  # graph_mode_files builds its own graph and session


def read_checkpoint(prefix: str) -> dict[str, Any]:
    """What TensorFlow's reader gives for every key; keys it refuses are
    left out of "values" (the checker then only asks that tfbundle reads or
    raises cleanly)."""
    reader = tf.train.load_checkpoint(prefix)
    shapes = reader.get_variable_to_shape_map()
    values = {}
    for key in shapes:
        try:
            values[key] = reader.get_tensor(key)
        except (tf.errors.OpError, ValueError) as e:
            print(f"{prefix}: TensorFlow cannot read {key!r}: {e}")
    dtypes = {k: d.name for k, d in reader.get_variable_to_dtype_map().items()}
    return {"kind": "ckpt", "prefix": prefix, "shapes": shapes, "dtypes": dtypes, "values": values}


def read_saved_model(export_dir: str) -> dict[str, Any]:
    """Tags, signatures (tensor names, dtype enums, shapes or None for an
    unknown rank) and the variables' keys, as TensorFlow's own protobuf
    classes parse saved_model.pb."""
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(export_dir, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())

    def info(t: Any) -> list[Any]:
        shape = None if t.tensor_shape.unknown_rank else [d.size for d in t.tensor_shape.dim]
        return [t.name or t.coo_sparse.values_tensor_name, t.dtype, shape]

    meta = proto.meta_graphs[0]
    signatures = {
        name: {
            "inputs": {k: info(v) for k, v in sig.inputs.items()},
            "outputs": {k: info(v) for k, v in sig.outputs.items()},
            "method": sig.method_name,
        }
        for name, sig in meta.signature_def.items()
    }
    tags = [sorted(m.meta_info_def.tags) for m in proto.meta_graphs]
    variables: dict[str, list[Any]] = {}
    if meta.object_graph_def.nodes:  # a TF2 SavedModel: the variables TensorFlow's loader restores, by name
        try:
            loaded = tf.compat.v2.saved_model.load(export_dir)
        except Exception as e:  # 2.15 cannot load the lookup module in the process that saved it
            print(f"TensorFlow {tf.__version__} could not load {export_dir} back: {type(e).__name__}; names unchecked")
            loaded = None
        for variable in tracked_variables(loaded) if loaded is not None else []:
            variables.setdefault(variable.name[: -len(":0")], []).append(variable.numpy())
    return {"kind": "saved_model", "dir": export_dir, "tags": tags, "signatures": signatures, "variables": variables}


def tracked_variables(root: Any) -> list[Any]:
    """Every tf.Variable reachable from a loaded SavedModel, once each."""
    seen, queue, found = set(), [root], []
    while queue:
        obj = queue.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, tf.Variable):
            found.append(obj)
        if hasattr(obj, "_trackable_children"):  # TensorFlow 2.10 and newer
            queue.extend(obj._trackable_children().values())
        elif hasattr(obj, "_checkpoint_dependencies"):
            queue.extend(d.ref for d in obj._checkpoint_dependencies)
    return found


def graph_mode_files(out: str, expected: dict[str, Any]) -> None:
    """Variables of many dtypes (one partitioned) on two devices, saved by V1,
    V2 and sharded V2 savers; a frozen graph; a TF1 SavedModel."""
    rng = np.random.default_rng(0)
    graph = tf.Graph()
    with graph.as_default():
        with tf.device("/cpu:0"):
            kernel = v1.get_variable("dense/kernel", initializer=rng.normal(size=(7, 5)).astype(np.float32))
            v1.get_variable("half", initializer=rng.normal(size=(3,)).astype(np.float16))
            v1.get_variable("cplx", initializer=(rng.normal(size=(2, 2)) + 1j).astype(np.complex64))
            strings = v1.Variable([b"alpha", b"", b"\x00\xffbin"], name="strings")
            v1.Variable([True, False, True], name="flags")
            v1.Variable(np.arange(-5, 5, dtype=np.int8), name="i8")
            v1.Variable(np.arange(9, dtype=np.uint16).reshape(3, 3), name="u16")
            v1.Variable(3.5, name="scalar")
            v1.get_variable(
                "emb",
                shape=(10, 4),
                initializer=v1.random_normal_initializer(seed=1),
                partitioner=v1.fixed_size_partitioner(3),
            )
            v1.train.get_or_create_global_step()
        with tf.device("/cpu:1"):
            bias = v1.get_variable("other/bias", initializer=np.arange(6, dtype=np.float64))
        savers = {
            "v1": v1.train.Saver(write_version=v1.train.SaverDef.V1),
            "v1sharded": v1.train.Saver(write_version=v1.train.SaverDef.V1, sharded=True),
            "v2sharded": v1.train.Saver(sharded=True),
            "v2": v1.train.Saver(),
        }
        config = v1.ConfigProto(device_count={"CPU": 2})
        with v1.Session(graph=graph, config=config) as sess:
            sess.run(v1.global_variables_initializer())
            for name, saver in savers.items():
                os.makedirs(os.path.join(out, name))
                prefix = saver.save(sess, os.path.join(out, name, "model.ckpt"), global_step=12)
                expected[name] = read_checkpoint(prefix)
            outputs = [kernel.op.name, bias.op.name, strings.op.name]
            frozen = v1.graph_util.convert_variables_to_constants(sess, graph.as_graph_def(), outputs)
            with open(os.path.join(out, "frozen.pb"), "wb") as f:
                f.write(frozen.SerializeToString())
            tf.io.write_graph(frozen, out, "frozen.pbtxt", as_text=True)
            builder = v1.saved_model.Builder(os.path.join(out, "sm_v1"))
            builder.add_meta_graph_and_variables(sess, ["serve"])
            builder.save()
    expected["sm_v1"] = read_checkpoint(os.path.join(out, "sm_v1", "variables", "variables"))
    expected["sm_v1 proto"] = read_saved_model(os.path.join(out, "sm_v1"))
    consts = {n.name: tf.make_ndarray(n.attr["value"].tensor) for n in frozen.node if n.op == "Const"}
    for name in ("frozen.pb", "frozen.pbtxt"):
        expected[name] = {"kind": "graph", "path": os.path.join(out, name), "consts": consts}


def keras_files(out: str, expected: dict[str, Any]) -> None:
    """A trained Keras model: its SavedModel, TF-format weights, and a
    CheckpointManager directory with the optimizer's slots. Keras 3
    (TensorFlow 2.16 and newer) exports the SavedModel with ``export`` and
    has no TF-format weights (``save_weights`` writes HDF5 only)."""
    keras3 = getattr(tf.keras, "__version__", "2").startswith("3.")
    model = tf.keras.Sequential(
        [
            tf.keras.layers.Conv2D(4, 3, input_shape=(8, 8, 1)),
            tf.keras.layers.BatchNormalization(),
            tf.keras.layers.Flatten(),
            tf.keras.layers.Dense(3),
        ]
    )
    model.compile(optimizer=tf.keras.optimizers.Adam(), loss="mse")
    rng = np.random.default_rng(1)
    model.fit(rng.random((16, 8, 8, 1), np.float32), rng.random((16, 3), np.float32), epochs=1, verbose=0)
    if keras3:
        model.export(os.path.join(out, "keras_sm"))
    else:
        model.save(os.path.join(out, "keras_sm"), save_format="tf")
        model.save_weights(os.path.join(out, "keras_w", "weights"))
        expected["keras_w"] = read_checkpoint(os.path.join(out, "keras_w", "weights"))
    manager = tf.train.CheckpointManager(
        tf.train.Checkpoint(model=model, optimizer=model.optimizer), os.path.join(out, "keras_ckpt"), max_to_keep=2
    )
    for _ in range(3):
        manager.save()
    expected["keras_sm"] = read_checkpoint(os.path.join(out, "keras_sm", "variables", "variables"))
    expected["keras_sm proto"] = read_saved_model(os.path.join(out, "keras_sm"))
    expected["keras_ckpt"] = read_checkpoint(manager.latest_checkpoint)
    expected["keras_ckpt state"] = {
        "kind": "state",
        "dir": os.path.join(out, "keras_ckpt"),
        "latest": manager.latest_checkpoint,
        "all": list(manager.checkpoints),
    }


def module_with_asset(out: str, expected: dict[str, Any]) -> None:
    """A tf.Module SavedModel with a lookup table initialised from an asset."""
    vocab = os.path.join(out, "vocab.txt")
    with open(vocab, "w") as f:
        f.write("a\nb\nc\n")

    class Lookup(tf.Module):
        def __init__(self) -> None:
            init = tf.lookup.TextFileInitializer(
                vocab, tf.string, tf.lookup.TextFileIndex.WHOLE_LINE, tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER
            )
            self.table = tf.lookup.StaticHashTable(init, -1)
            self.w = tf.Variable(tf.ones((2, 2)))
            self.s = tf.Variable("text")

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def __call__(self, x: Any) -> Any:
            return self.table.lookup(x)

    tf.saved_model.save(Lookup(), os.path.join(out, "module_sm"))
    expected["module_sm"] = read_checkpoint(os.path.join(out, "module_sm", "variables", "variables"))
    expected["module_sm proto"] = read_saved_model(os.path.join(out, "module_sm"))


def estimator_files(out: str, expected: dict[str, Any]) -> None:
    """An Estimator's checkpoints (TensorFlow 2.15 and older only)."""
    if not hasattr(tf, "estimator"):
        return
    features = [tf.feature_column.numeric_column("x", shape=(3,))]
    estimator = tf.estimator.LinearRegressor(features, model_dir=os.path.join(out, "estimator"))
    rng = np.random.default_rng(2)
    data = ({"x": rng.random((32, 3), np.float32)}, rng.random(32, np.float32))
    estimator.train(lambda: tf.data.Dataset.from_tensor_slices(data).batch(8), steps=5)
    expected["estimator"] = read_checkpoint(tf.train.latest_checkpoint(os.path.join(out, "estimator")))
    spec = tf.feature_column.make_parse_example_spec(features)
    receiver = tf.estimator.export.build_parsing_serving_input_receiver_fn(spec)
    exported = estimator.export_saved_model(os.path.join(out, "estimator_export"), receiver)
    exported = exported.decode() if isinstance(exported, bytes) else exported
    expected["estimator_export"] = read_checkpoint(os.path.join(exported, "variables", "variables"))
    expected["estimator_export proto"] = read_saved_model(exported)


def main() -> None:
    out = sys.argv[1]
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    expected: dict[str, Any] = {"tensorflow": tf.__version__}
    for part in (graph_mode_files, keras_files, module_with_asset, estimator_files):
        try:
            part(out, expected)
        except Exception as e:  # an older TensorFlow may lack the API: report it, write the rest
            print(f"TensorFlow {tf.__version__} could not write {part.__name__}: {type(e).__name__}: {e}")
    with open(os.path.join(out, "expected.pkl"), "wb") as f:
        pickle.dump(expected, f)
    print(f"TensorFlow {tf.__version__} wrote {len(expected) - 1} fixtures to {out}")


if __name__ == "__main__":
    main()
