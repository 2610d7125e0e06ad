"""Writing checkpoints: tfbundle vs tf.raw_ops.SaveV2, safetensors and a
plain file write, all in one process.

Run: python benchmarks/bench_write.py [--mib 768] [--repeats 5]

Also writes a checkpoint of 20 000 small tensors, where per-tensor overhead
is what counts.

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
from typing import Callable

import numpy as np

import tfbundle
from common import report


def interleaved_writes(root: str, writers: dict[str, Callable[[str], object]], repeats: int) -> dict[str, float]:
    """Median time of each writer(d) into a fresh directory d, the writers
    taking turns (one warm-up round first). Deleting the files afterwards
    (dropping their page cache) is not part of the time."""
    times: dict[str, list[float]] = {name: [] for name in writers}
    for round_ in range(repeats + 1):
        for name, write in writers.items():
            d = tempfile.mkdtemp(dir=root)
            start = time.perf_counter()
            write(d)
            elapsed = time.perf_counter() - start
            shutil.rmtree(d)
            if round_ > 0:
                times[name].append(elapsed)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=int, default=768)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    per_tensor = 16 * 2**20 // 4
    rng = np.random.default_rng(0)
    tensors = {
        f"layer_{i:03d}/kernel": rng.normal(size=(1024, per_tensor // 1024)).astype(np.float32)
        for i in range(args.mib // 16)
    }
    small = {f"model/layer_{i // 10:05d}/sub_{i % 10}/kernel": np.full((4, 4), i, np.float32) for i in range(20000)}
    nbytes = sum(t.nbytes for t in tensors.values())
    root = tempfile.mkdtemp(dir=os.environ.get("TFBUNDLE_BENCH_DIR"))

    def plain_write(d):
        with open(os.path.join(d, "raw"), "wb") as f:
            for t in tensors.values():
                f.write(memoryview(t).cast("B"))

    large = {
        "plain file write (floor)": plain_write,
        "tfbundle.save": lambda d: tfbundle.save(tensors, os.path.join(d, "ckpt")),
        "tfbundle.save (num_shards=2)": lambda d: tfbundle.save(tensors, os.path.join(d, "ckpt"), num_shards=2),
    }
    many = {"tfbundle.save": lambda d: tfbundle.save(small, os.path.join(d, "ckpt"))}
    try:
        import tensorflow as tf

        def save_v2(values):
            names = list(values)
            constants = [tf.constant(values[n]) for n in names]
            return lambda d: tf.raw_ops.SaveV2(
                prefix=os.path.join(d, "ckpt"),
                tensor_names=names,
                shape_and_slices=[""] * len(names),
                tensors=constants,
            )

        large["tf.raw_ops.SaveV2"] = save_v2(tensors)
        many["tf.raw_ops.SaveV2"] = save_v2(small)
    except ImportError:
        print("TensorFlow is not installed: its rows are skipped")
    try:
        import safetensors.numpy as stnp

        large["safetensors.numpy.save_file"] = lambda d: stnp.save_file(tensors, os.path.join(d, "x"))
    except ImportError:
        pass
    results = interleaved_writes(root, large, args.repeats)
    many_results = interleaved_writes(root, many, max(args.repeats, 11))
    shutil.rmtree(root)

    report(
        f"Write {nbytes / 2**20:.0f} MiB of float32 in {len(tensors)} tensors",
        results,
        nbytes,
        baseline="tfbundle.save",
    )
    ours = results["tfbundle.save"]
    for other in ("tf.raw_ops.SaveV2", "safetensors.numpy.save_file", "plain file write (floor)"):
        if other in results:
            print(f"  ratio: tfbundle.save vs {other} = {results[other] / ours:.2f}x")
    if "tf.raw_ops.SaveV2" in results:
        print(
            f"  ratio: tfbundle.save(num_shards=2) vs tf.raw_ops.SaveV2 = "
            f"{results['tf.raw_ops.SaveV2'] / results['tfbundle.save (num_shards=2)']:.2f}x"
        )
    report(f"Write {len(small)} small (64-byte) tensors", many_results, baseline="tfbundle.save")
    if "tf.raw_ops.SaveV2" in many_results:
        print(
            f"  ratio: tfbundle.save vs tf.raw_ops.SaveV2 = "
            f"{many_results['tf.raw_ops.SaveV2'] / many_results['tfbundle.save']:.2f}x"
        )


if __name__ == "__main__":
    main()
