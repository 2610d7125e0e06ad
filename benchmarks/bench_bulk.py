"""Bulk extraction modelled on the Small CNN Zoo: N checkpoints of a 4 970-
parameter CNN, every one flattened into a row of an (N, 4970) matrix.

    python benchmarks/bench_bulk.py [--count 10000] [--repeat 3]

Contenders, interleaved, medians: ``bulk.stack(..., flatten=True)`` with 1
and 2 workers; a loop of ``tf.train.load_checkpoint`` + ``get_tensor`` over
the same files (one process); and the floor, opening and reading every
file's bytes with plain Python I/O. Prints times and ratios (targets: >= 20x
the TF loop, >= 0.5x the floor, workers=2 >= 1.6x workers=1).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np

import tfbundle
from common import interleaved_medians
from tfbundle import bulk

SHAPES = {
    "conv1/kernel": (3, 3, 1, 16),
    "conv1/bias": (16,),
    "conv2/kernel": (3, 3, 16, 16),
    "conv2/bias": (16,),
    "conv3/kernel": (3, 3, 16, 16),
    "conv3/bias": (16,),
    "dense/kernel": (16, 10),
    "dense/bias": (10,),
}
KEYS = list(SHAPES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for i in range(args.count):
            values = {k: rng.normal(size=s).astype(np.float32) for k, s in SHAPES.items()}
            values["global_step"] = np.int64(i)
            tfbundle.save(values, root / f"net{i:05d}" / "ckpt-86")
        prefixes = bulk.expand(str(root / "*" / "ckpt-86.index"))
        files = [p + suffix for p in prefixes for suffix in (".index", ".data-00000-of-00001")]

        import tensorflow as tf

        sample = prefixes[:: max(1, len(prefixes) // 20)]
        ours = bulk.stack(sample, KEYS, flatten=True)
        for row, prefix in enumerate(sample):  # TensorFlow reads what was written
            reader = tf.train.load_checkpoint(prefix)
            expected = np.concatenate([reader.get_tensor(k).reshape(-1) for k in KEYS])
            assert np.array_equal(ours[row], expected), prefix
        assert ours.shape[1] == 4970

        def floor() -> object:
            total = 0
            for f in files:
                with open(f, "rb") as handle:
                    total += len(handle.read())
            return total

        def tf_loop() -> object:
            out = np.empty((len(prefixes), 4970), np.float32)
            for row, prefix in enumerate(prefixes):
                reader = tf.train.load_checkpoint(prefix)
                out[row] = np.concatenate([reader.get_tensor(k).reshape(-1) for k in KEYS])
            return out

        times = interleaved_medians(
            {
                "plain Python open+read of every file (floor)": floor,
                "bulk.stack flatten, workers=1": lambda: bulk.stack(prefixes, KEYS, flatten=True),
                "bulk.stack flatten, workers=2": lambda: bulk.stack(prefixes, KEYS, flatten=True, workers=2),
                "TF load_checkpoint + get_tensor loop": tf_loop,
            },
            repeats=args.repeat,
        )
        print(f"{len(prefixes)} checkpoints of 4 970 float32 parameters ({os.cpu_count()} cores)")
        for name, seconds in times.items():
            print(f"  {name:46s} {seconds:7.2f} s  {len(prefixes) / seconds:9.0f} checkpoints/s")
        one, two = times["bulk.stack flatten, workers=1"], times["bulk.stack flatten, workers=2"]
        print(f"  workers=1 vs TF loop: {times['TF load_checkpoint + get_tensor loop'] / one:.1f}x")
        print(f"  workers=1 vs floor:   {times['plain Python open+read of every file (floor)'] / one:.2f}x")
        print(f"  workers=2 vs workers=1: {one / two:.2f}x")


if __name__ == "__main__":
    main()
