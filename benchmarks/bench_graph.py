"""Extracting constants from frozen graphs: tfbundle vs TensorFlow.

Run: python benchmarks/bench_graph.py [--mib 1024] [--repeats 3] [--big-gib 0]

* A ~1 GiB frozen graph of float32 Const nodes (written by tfbundle's own
  GraphDef writer): every constant extracted by tfbundle (zero-copy views,
  and copies) vs TensorFlow (GraphDef.ParseFromString + tf.make_ndarray).
* Peak RSS growth of each, measured in a fresh subprocess, against the file size.
* With --big-gib 2.5: a graph over 2 GiB, which protobuf refuses to parse,
  streamed by tfbundle (kept out of the test suite: it writes GiBs).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

from common import median_seconds, report
from tfbundle import graph as tgraph
from tfbundle.proto import message_class


def write_graph(path: str, mib: int) -> int:
    NodeDef = message_class("NodeDef")
    per = 16 * 2**20 // 4
    block = np.random.default_rng(0).normal(size=per).astype(np.float32)

    def nodes():
        for i in range(mib // 16):
            node = NodeDef(name=f"layer_{i:04d}/kernel", op="Const")
            node.attr["dtype"].type = 1
            node.attr["value"].tensor.CopyFrom(tgraph.make_tensor_proto((block + i).reshape(1024, -1)))
            yield node

    tgraph.write_graph_def(path, nodes())
    return os.path.getsize(path)


_RSS_PROBE = r"""
import sys
mode, path = sys.argv[1], sys.argv[2]

def peak_rss():  # VmHWM, unlike ru_maxrss, is not inherited from the parent
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024

if mode == "tf":
    import tensorflow as tf
else:
    import numpy as np
    from tfbundle import graph
base = peak_rss()
if mode == "tf":
    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString(open(path, "rb").read())
    values = [tf.make_ndarray(n.attr["value"].tensor) for n in gd.node if n.op == "Const"]
elif mode == "views":
    values = [v for _n, v in graph.consts(path)]
else:
    total = 0
    for _n, v in graph.consts(path, copy=True):
        total += float(v[0, 0])  # one copy at a time, then dropped
print(peak_rss() - base)
"""


def rss_growth(mode: str, path: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", _RSS_PROBE, mode, path],
        capture_output=True,
        text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return int(float(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--big-gib", type=float, default=0.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("TFBUNDLE_BENCH_DIR")) as tmp:
        path = os.path.join(tmp, "frozen.pb")
        size = write_graph(path, args.mib)
        results = {
            "tfbundle consts() as views": median_seconds(lambda: list(tgraph.consts(path)), args.repeats),
            "tfbundle consts(copy=True)": median_seconds(lambda: list(tgraph.consts(path, copy=True)), args.repeats),
        }
        try:
            import tensorflow as tf

            def tf_extract():
                gd = tf.compat.v1.GraphDef()
                with open(path, "rb") as f:
                    gd.ParseFromString(f.read())
                return [tf.make_ndarray(n.attr["value"].tensor) for n in gd.node if n.op == "Const"]

            results["TF ParseFromString + make_ndarray"] = median_seconds(tf_extract, args.repeats)
        except ImportError:
            tf = None
        report(
            f"Extract every Const of a {size / 2**20:.0f} MiB frozen graph",
            results,
            size,
            baseline="tfbundle consts(copy=True)",
        )
        if tf is not None:
            tf_time = results["TF ParseFromString + make_ndarray"]
            print(
                f"  ratio vs TF: views {tf_time / results['tfbundle consts() as views']:.1f}x, "
                f"copies {tf_time / results['tfbundle consts(copy=True)']:.1f}x"
            )
        print("\nPeak RSS growth (fresh process) as a share of the file size:")
        for mode in ("views", "copies") + (("tf",) if tf is not None else ()):
            growth = rss_growth(mode, path)
            print(f"  {mode:8s} {growth / 2**20:8.1f} MiB  {100 * growth / size:6.1f}%")
        os.unlink(path)
        if args.big_gib:
            big = os.path.join(tmp, "big.pb")
            size = write_graph(big, int(args.big_gib * 1024))
            seconds = median_seconds(lambda: sum(v.nbytes for _n, v in tgraph.consts(big)), 1, warmup=0)
            print(f"\n{size / 2**30:.2f} GiB graph streamed by tfbundle in {seconds:.2f} s")
            if tf is not None:
                gd = tf.compat.v1.GraphDef()
                try:
                    with open(big, "rb") as f:
                        gd.ParseFromString(f.read())
                    print("  TensorFlow parsed it too")
                except Exception as e:  # protobuf's 2 GiB limit
                    print(f"  TensorFlow: {type(e).__name__}: {str(e)[:100]}")


if __name__ == "__main__":
    main()
