"""Writing checkpoints: tfbundle vs tf.raw_ops.SaveV2, safetensors and a
plain file write, all in one process.

Run: python benchmarks/bench_write.py [--mib 768] [--repeats 5]

Each run writes into a fresh directory on the same file system (set
TFBUNDLE_BENCH_DIR to choose it) and deletes the result afterwards. Numbers
include the page-cache copy, not the disk: no fsync (sync=False everywhere).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time

import numpy as np

from common import report

import tfbundle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=int, default=768)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    per_tensor = 16 * 2**20 // 4
    rng = np.random.default_rng(0)
    tensors = {f"layer_{i:03d}/kernel": rng.normal(size=(1024, per_tensor // 1024)).astype(np.float32)
               for i in range(args.mib // 16)}
    nbytes = sum(t.nbytes for t in tensors.values())
    root = tempfile.mkdtemp(dir=os.environ.get("TFBUNDLE_BENCH_DIR"))
    counter = [0]

    def fresh(name: str) -> str:
        counter[0] += 1
        d = os.path.join(root, f"{name}{counter[0]}")
        os.makedirs(d)
        return d

    def timed(name, write):
        """Median time of write(d) into a fresh directory; deleting the files
        afterwards (dropping their page cache) is not part of the time."""
        times = []
        for i in range(args.repeats + 1):
            d = fresh(name)
            start = time.perf_counter()
            write(d)
            elapsed = time.perf_counter() - start
            shutil.rmtree(d)
            if i > 0:  # the first run warms up
                times.append(elapsed)
        return statistics.median(times)

    def plain_write(d):
        with open(os.path.join(d, "raw"), "wb") as f:
            for t in tensors.values():
                f.write(memoryview(t).cast("B"))

    results = {
        "plain file write (floor)": timed("raw", plain_write),
        "tfbundle.save": timed("ours", lambda d: tfbundle.save(tensors, os.path.join(d, "ckpt"))),
        "tfbundle.save (num_shards=2)": timed("ours2", lambda d: tfbundle.save(tensors, os.path.join(d, "ckpt"),
                                                                             num_shards=2)),
    }
    try:
        import tensorflow as tf

        names = list(tensors)
        tf_tensors = [tf.constant(tensors[n]) for n in names]
        results["tf.raw_ops.SaveV2"] = timed("tf", lambda d: tf.raw_ops.SaveV2(
            prefix=os.path.join(d, "ckpt"), tensor_names=names, shape_and_slices=[""] * len(names),
            tensors=tf_tensors))
    except ImportError:
        print("TensorFlow is not installed: its row is skipped")
    try:
        import safetensors.numpy as stnp

        results["safetensors.numpy.save_file"] = timed("st", lambda d: stnp.save_file(tensors, os.path.join(d, "x")))
    except ImportError:
        pass
    shutil.rmtree(root)
    report(f"Write {nbytes / 2**20:.0f} MiB of float32 in {len(tensors)} tensors", results, nbytes,
           baseline="tfbundle.save")
    ours = results["tfbundle.save"]
    for other in ("tf.raw_ops.SaveV2", "safetensors.numpy.save_file", "plain file write (floor)"):
        if other in results:
            print(f"  ratio: tfbundle.save vs {other} = {results[other] / ours:.2f}x")


if __name__ == "__main__":
    main()
