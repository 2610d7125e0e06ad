"""Writes checkpoints, a frozen graph and a SavedModel with TensorFlow 0.12
(Python 2.7), and what it reads back from them, for check_fixtures.py.
Python 2 syntax on purpose: TensorFlow 0.12 has no Python 3.7+ wheels. The
same script runs under TensorFlow 1.x before tf.compat (1.5.1 on Python 3.6:
``python3.6 -m venv /tmp/tf15 && /tmp/tf15/bin/pip install "tensorflow==1.5.1"``).

    python2.7 -m pip install --target /tmp/tf012 "tensorflow==0.12.1" "numpy<1.17" "protobuf==3.1.0.post1"
    python2.7 -c "import site; site.addsitedir('/tmp/tf012'); import runpy, sys; \\
        sys.argv = ['', '/tmp/old_tf0']; runpy.run_path('tests/old_tf/write_fixtures_tf0.py', run_name='__main__')"
    python tests/old_tf/check_fixtures.py /tmp/old_tf0

Values are stored as plain records (dtype name, shape, bytes or a list of
strings) that Python 3 and a newer numpy can unpickle.
"""

from __future__ import print_function

import os
import pickle
import shutil
import sys

import numpy as np
import tensorflow as tf
from tensorflow.python.framework import graph_util, tensor_util
from tensorflow.python.saved_model import builder as saved_model_builder
from tensorflow.python.saved_model import tag_constants


def record(value):
    value = np.asarray(value)
    data = [bytes(s) for s in value.ravel()] if value.dtype == object else value.tobytes()
    return {"dtype": value.dtype.name, "shape": list(value.shape), "data": data}


def read_checkpoint(prefix):
    reader = tf.train.NewCheckpointReader(prefix)
    shapes = reader.get_variable_to_shape_map()
    values = {}
    for key in shapes:
        try:
            values[key] = record(reader.get_tensor(key))
        except Exception as e:  # TensorFlow 0.12 raises its own error types
            print("%s: TensorFlow cannot read %r: %s" % (prefix, key, e))
    return {"kind": "ckpt", "prefix": prefix, "shapes": shapes, "values": values}


def main():
    out = sys.argv[1]
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    expected = {"tensorflow": tf.__version__}
    rng = np.random.RandomState(0)
    graph = tf.Graph()
    with graph.as_default(), tf.device("/cpu:0"):
        kernel = tf.Variable(rng.normal(size=(7, 5)).astype(np.float32), name="dense/kernel")
        tf.Variable(rng.normal(size=(3,)).astype(np.float16), name="half")
        with tf.device("/cpu:1"):  # a second device: sharded savers write one file per device
            tf.Variable(np.arange(6, dtype=np.float64), name="other/bias")
        strings = tf.Variable([b"alpha", b"", b"\x00\xffbin"], name="strings")
        tf.Variable([True, False, True], name="flags")
        tf.Variable(np.arange(-5, 5, dtype=np.int8), name="i8")
        tf.Variable(3.5, name="scalar")
        tf.get_variable(
            "emb",
            shape=(10, 4),
            initializer=tf.random_normal_initializer(seed=1),
            partitioner=tf.fixed_size_partitioner(3),
        )
        tf.contrib.framework.get_or_create_global_step()
        savers = {
            "v1": tf.train.Saver(write_version=tf.train.SaverDef.V1),
            "v1sharded": tf.train.Saver(write_version=tf.train.SaverDef.V1, sharded=True),
            "v2": tf.train.Saver(write_version=tf.train.SaverDef.V2),
        }
        with tf.Session(graph=graph, config=tf.ConfigProto(device_count={"CPU": 2})) as sess:
            sess.run(tf.global_variables_initializer())
            for name, saver in savers.items():
                os.makedirs(os.path.join(out, name))
                prefix = saver.save(sess, os.path.join(out, name, "model.ckpt"), global_step=12)
                expected[name] = read_checkpoint(prefix)
            outputs = [kernel.op.name, strings.op.name]
            frozen = graph_util.convert_variables_to_constants(sess, graph.as_graph_def(), outputs)
            with open(os.path.join(out, "frozen.pb"), "wb") as f:
                f.write(frozen.SerializeToString())
            builder = saved_model_builder.SavedModelBuilder(os.path.join(out, "sm_v1"))
            builder.add_meta_graph_and_variables(sess, [tag_constants.SERVING])
            builder.save()
    expected["sm_v1"] = read_checkpoint(os.path.join(out, "sm_v1", "variables", "variables"))
    consts = {n.name: record(tensor_util.MakeNdarray(n.attr["value"].tensor)) for n in frozen.node if n.op == "Const"}
    expected["frozen.pb"] = {"kind": "graph", "path": os.path.join(out, "frozen.pb"), "consts": consts}
    with open(os.path.join(out, "expected.pkl"), "wb") as f:
        pickle.dump(expected, f, protocol=2)
    print("TensorFlow %s wrote %d fixtures to %s" % (tf.__version__, len(expected) - 1, out))


if __name__ == "__main__":
    main()
