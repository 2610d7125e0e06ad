"""Reads, with an older TensorFlow, what check_fixtures.py wrote with
tfbundle into OUT/ours: every dtype through ``load_checkpoint`` and
``RestoreV2``, one data file and three, and a Keras SavedModel whose Dense
kernel tfbundle replaced, loaded by Keras and by ``tf.saved_model.load``.

    /tmp/tf215/bin/python tests/old_tf/read_ours.py /tmp/old_tf

Prints each difference and exits 1 if there is any.
"""

from __future__ import annotations

import os
import pickle
import sys
from typing import Any

import numpy as np
import tensorflow as tf

if tf.__version__.startswith("1."):
    tf.compat.v1.enable_eager_execution()


def same(got: Any, want: dict[str, Any]) -> bool:
    """Whether an array equals check_fixtures.py's portable record of one."""
    got = np.asarray(got)
    if list(got.shape) != want["shape"]:
        return False
    if want["dtype"] == "object":
        return bool(got.ravel().tolist() == list(np.asarray(want["data"], dtype=object).ravel()))
    return got.dtype.name == want["dtype"] and got.tobytes() == want["data"]


def main() -> int:
    ours = os.path.join(sys.argv[1], "ours")
    with open(os.path.join(ours, "expected.pkl"), "rb") as f:
        expected = pickle.load(f)
    problems = []
    for name in ("ckpt", "sharded"):
        prefix = os.path.join(ours, name)
        reader = tf.train.load_checkpoint(prefix)
        for key, want in expected["values"].items():
            if not same(reader.get_tensor(key), want):
                problems.append(f"{name} {key}: load_checkpoint differs")
            if want["dtype"] not in ("object", "bfloat16"):  # RestoreV2 needs a TF dtype
                (restored,) = tf.raw_ops.RestoreV2(
                    prefix=prefix, tensor_names=[key], shape_and_slices=[""], dtypes=[tf.as_dtype(want["dtype"])]
                )
                if not same(restored.numpy(), want):
                    problems.append(f"{name} {key}: RestoreV2 differs")
    keras3 = getattr(tf.keras, "__version__", "2").startswith("3.")
    if not keras3:  # before the 2.x loader: 2.6's cannot load this model until Keras has
        kernel = tf.keras.models.load_model(os.path.join(ours, "keras_sm")).layers[-1].kernel
    loaded = tf.compat.v2.saved_model.load(os.path.join(ours, "keras_sm"))  # 1.15: the 2.x loader
    if keras3:  # a model.export(), whose functions read .variables
        kernel = next(v for v in loaded.variables if v.name.startswith("sequential/dense/kernel"))
    if not same(kernel.numpy(), expected["dense_kernel"]):
        problems.append("keras_sm: TensorFlow loaded another Dense kernel")
    outputs = loaded.signatures["serving_default"](tf.zeros((1, 8, 8, 1)))
    if [tuple(v.shape) for v in outputs.values()] != [(1, 3)]:
        problems.append("keras_sm: the serving signature's output changed")
    for problem in problems:
        print(problem)
    print(f"TensorFlow {tf.__version__}: {len(problems)} problem(s) reading tfbundle's files")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
