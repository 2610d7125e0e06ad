"""Seed corpora for the fuzz targets, made by TensorFlow (and tfbundle).

Run: python fuzz/make_seeds.py OUT_DIR  -> OUT_DIR/<target>/<seed files>
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import tensorflow as tf
from tests import tf_fixtures
from tests.snappy_tables import compress, snappy_table

import tfbundle


def main(out: Path) -> None:
    work = out / "_work"
    work.mkdir(parents=True, exist_ok=True)
    seeds = {
        name: out / name
        for name in (
            "fuzz_table",
            "fuzz_entry",
            "fuzz_strings",
            "fuzz_slice_key",
            "fuzz_graph",
            "fuzz_state",
            "fuzz_snappy",
            "fuzz_v1",
            "fuzz_tflite",
        )
    }
    for d in seeds.values():
        d.mkdir(parents=True, exist_ok=True)
    prefixes = [
        tf_fixtures.all_dtypes(tf, work / "dtypes" / "ckpt"),
        tf_fixtures.tf1_partitioned(tf, work / "partitioned"),
    ]
    for i, prefix in enumerate(prefixes):
        index = Path(str(prefix) + ".index").read_bytes()
        (seeds["fuzz_table"] / f"tf_{i}.index").write_bytes(index)
        (seeds["fuzz_table"] / f"tf_{i}_snappy.index").write_bytes(snappy_table(index))
        (seeds["fuzz_snappy"] / f"tf_{i}").write_bytes(compress(index))
        for j, (key, value) in enumerate(tfbundle._core.read_table(index)[:40]):
            (seeds["fuzz_entry"] / f"tf_{i}_{j}").write_bytes(value)
            if key.startswith("\x00"):
                (seeds["fuzz_slice_key"] / f"tf_{i}_{j}").write_bytes(key.encode("utf-8", "surrogateescape"))
    reader = tfbundle.open(prefixes[0])
    data = Path(reader._core.data_path(0)).read_bytes()
    for j, key in enumerate(k for k in reader.keys() if reader.dtype(k).name == "string"):
        entry = reader.entry(key)
        n = int(np.prod(entry["shape"])) if entry["shape"] else 1
        header = bytes([0, n & 0xFF, n >> 8])
        (seeds["fuzz_strings"] / f"tf_{j}").write_bytes(
            header + data[entry["offset"] : entry["offset"] + entry["size"]]
        )
    v1_path, _values = tf_fixtures.v1_checkpoint(tf, work / "v1")
    v1_file = Path(v1_path).read_bytes()
    (seeds["fuzz_v1"] / "tf_v1").write_bytes(v1_file)
    (seeds["fuzz_v1"] / "tf_v1_snappy").write_bytes(snappy_table(v1_file))
    (seeds["fuzz_snappy"] / "repeats").write_bytes(compress(b"abcabcabc" * 50 + bytes(range(256)) * 3))
    g = tf.Graph()
    with g.as_default():
        tf.constant(np.arange(12, dtype=np.float32).reshape(3, 4), name="content")
        tf.constant(1.5, shape=[2, 2], name="broadcast")
        tf.constant([b"a", b"bc"], name="strings")
        tf.constant(np.float16(2.0), name="half")

        @tf.function(input_signature=[tf.TensorSpec([2], tf.float32)])
        def fn(x):
            return x * tf.constant([1.0, 2.0])

        fn.get_concrete_function().add_to_graph(g)
    (seeds["fuzz_graph"] / "tf_graph.pb").write_bytes(g.as_graph_def().SerializeToString())
    d = work / "state"
    d.mkdir(exist_ok=True)
    mgr = tf.train.CheckpointManager(tf.train.Checkpoint(v=tf.Variable(1.0)), str(d), max_to_keep=2)
    for _ in range(3):
        mgr.save()
    (seeds["fuzz_state"] / "tf_state").write_bytes((d / "checkpoint").read_bytes())
    for name, model in tf_fixtures.tflite_models(tf, work / "tflite").items():
        (seeds["fuzz_tflite"] / f"{name}.tflite").write_bytes(Path(model).read_bytes())


if __name__ == "__main__":
    main(Path(sys.argv[1]))
