"""Freezes every ``.meta`` of older TensorFlow's fixtures (write_fixtures*.py)
with tfbundle and runs the frozen graphs in this (the newest) TensorFlow:
each variable read must give the checkpoint's value, and Estimator's
``global_step/add`` what the restored graph gives.

    python tests/old_tf/freeze_metas.py /tmp/old_tf /tmp/old_tf0 ...

Prints a line per graph and exits 1 if any differs or fails.
"""

from __future__ import annotations

import glob
import os
import sys
import tempfile

import numpy as np
import tensorflow as tf

import tfbundle
from tfbundle import graph

v1 = tf.compat.v1
READ_SUFFIXES = ("/read", "/Read/ReadVariableOp")  # a VariableV2's snapshot, a resource variable's read


def variable_reads(meta: str) -> list[str]:
    """The top-level nodes reading a variable, and Estimator's global_step read."""
    nodes = graph.open(meta).nodes
    reads = [
        n.name
        for n in nodes
        if not n.function
        and n.op in ("Identity", "ReadVariableOp")
        and n.name.endswith(READ_SUFFIXES)
        and not n.name.endswith("/cond/read")
    ]
    if any(n.name == "global_step/add" for n in nodes):
        reads.append("global_step/add")
    return reads


def run(graph_def: object, outputs: list[str]) -> list[np.ndarray]:
    with tf.Graph().as_default():
        tf.import_graph_def(graph_def, name="")
        with v1.Session() as session:
            return session.run([f"{o}:0" for o in outputs])


def check(meta: str, out_dir: str) -> str | None:
    """None when the frozen graph gives the checkpoint's values, else why not."""
    prefix = meta[: -len(".meta")]
    outputs = variable_reads(meta)
    if not outputs:
        return "no variable reads"
    frozen = graph.freeze(meta, prefix, outputs, os.path.join(out_dir, "frozen.pb"))
    graph_def = v1.GraphDef()
    with open(frozen, "rb") as f:
        graph_def.ParseFromString(f.read())
    values = run(graph_def, outputs)
    reader = tfbundle.open(prefix)
    for name, value in zip(outputs, values):
        if name == "global_step/add":
            with tf.Graph().as_default():
                saver = v1.train.import_meta_graph(meta)
                with v1.Session() as session:
                    saver.restore(session, prefix)
                    expected = session.run("global_step/add:0")
        else:
            key = next(name[: -len(s)] for s in READ_SUFFIXES if name.endswith(s))
            if key not in reader:
                continue  # a part of a partitioned variable: its whole is the key
            expected = reader.get_tensor(key)
        if not np.array_equal(np.asarray(value), np.asarray(expected)):
            return f"{name} differs"
    return None


def main() -> int:
    metas = sorted(m for root in sys.argv[1:] for m in glob.glob(os.path.join(root, "*", "*.meta")))
    failed = 0
    with tempfile.TemporaryDirectory() as out_dir:
        for meta in metas:
            try:
                problem = check(meta, out_dir)
            except Exception as e:  # report every graph, not the first failure
                problem = f"{type(e).__name__}: {e}"
            failed += problem is not None and problem != "no variable reads"
            print(f"{'ok  ' if problem is None else 'FAIL'} {meta}{'' if problem is None else ': ' + problem}")
    print(f"{len(metas)} graphs, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
