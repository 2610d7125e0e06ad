"""Listing and extracting every constant of a ~100 MB .tflite model:
tfbundle.tflite (views of the mapped file, and copies) against TF's
tf.lite.Interpreter (construction, allocate_tensors, get_tensor of each
constant), each in a fresh process per run (imports outside the timing),
medians of --repeat. Also the peak RSS growth of each, against the file size.

    python benchmarks/bench_tflite.py [--mb 100] [--repeat 5]

Target: views >= 20x the interpreter, with peak RSS growth under 5% of the
file size.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

CHILD = r"""
import json, resource, sys, time, warnings
kind, path = sys.argv[1], sys.argv[2]
import numpy as np
if kind == "interpreter":
    import tensorflow as tf
else:
    import ml_dtypes  # imported lazily by tfbundle; not part of reading the model
    import tfbundle.tflite
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
if kind == "interpreter":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interpreter = tf.lite.Interpreter(model_path=path)
    interpreter.allocate_tensors()
    details = interpreter.get_tensor_details()
    values = []
    for d in details:
        try:
            values.append(interpreter.get_tensor(d["index"]))
        except ValueError:  # tensors without data
            pass
    count = len(values)
else:
    model = tfbundle.tflite.open(path)
    copy = kind == "tfbundle copies"
    values = [model.get_tensor(t.index, copy=copy) for t in model.tensors if t.is_constant]
    details = [(t.name, t.dtype, t.shape, t.quantization) for t in model.tensors]
    count = len(values)
elapsed = time.perf_counter() - start
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": elapsed, "rss_growth": (after - before) * 1024, "count": count}))
"""

CONTENDERS = ["tfbundle views", "tfbundle copies", "interpreter"]


def make_model(path: str, megabytes: int) -> None:
    import tensorflow as tf

    width = 2048
    layers = max(1, megabytes * 2**20 // (width * width * 4))
    inputs = tf.keras.Input((width,))
    x = inputs
    for i in range(layers):
        x = tf.keras.layers.Dense(width, name=f"dense_{i}")(x)
    model = tf.keras.Model(inputs, x)
    with open(path, "wb") as f:
        f.write(tf.lite.TFLiteConverter.from_keras_model(model).convert())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    with tempfile.TemporaryDirectory(dir=os.environ.get("TFBUNDLE_BENCH_DIR")) as tmp:
        path = os.path.join(tmp, "model.tflite")
        subprocess.run(
            [sys.executable, "-c", f"import bench_tflite; bench_tflite.make_model({path!r}, {args.mb})"],
            check=True,
            env=dict(env, PYTHONPATH=os.path.dirname(os.path.abspath(__file__))),
        )
        size = os.path.getsize(path)
        runs: dict[str, list[dict[str, float]]] = {k: [] for k in CONTENDERS}
        for _ in range(args.repeat):
            for kind in CONTENDERS:
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, kind, path], check=True, capture_output=True, text=True, env=env
                )
                runs[kind].append(json.loads(out.stdout.strip().splitlines()[-1]))
    count = runs["tfbundle views"][0]["count"]
    print(f"{size / 2**20:.0f} MiB model, every constant ({count}), medians of {args.repeat}")
    base = statistics.median(r["seconds"] for r in runs["interpreter"])
    for kind, results in runs.items():
        seconds = statistics.median(r["seconds"] for r in results)
        growth = statistics.median(r["rss_growth"] for r in results)
        print(
            f"  {kind:16s} {seconds * 1e3:9.2f} ms  {base / seconds:8.1f}x the interpreter  "
            f"peak RSS growth {growth / 2**20:7.1f} MiB ({growth / size:6.1%} of the file)"
        )


if __name__ == "__main__":
    main()
