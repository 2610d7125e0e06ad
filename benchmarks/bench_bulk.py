"""Bulk extraction modelled on the Small CNN Zoo: N checkpoints of a 4 970-
parameter CNN, every one flattened into a row of an (N, 4970) matrix.

    python benchmarks/bench_bulk.py [--count 10000] [--repeat 3] [--dir DIR]

Contenders, interleaved, medians: ``bulk.stack(..., flatten=True)`` with 1
and 2 workers; ``tfbundle.dask.stack`` on a ``distributed`` LocalCluster of 2 worker
processes (started outside the timing), persisted in the workers and also
fetched into this process; a loop of
``tf.train.load_checkpoint`` + ``get_tensor`` over the same files; and the
floor, opening and reading every file's bytes with plain Python I/O. Prints
times and ratios (targets: >= 20x the TF loop, >= 0.5x the floor, workers=2
>= 1.6x workers=1, Dask within 1.5x of workers=2). ``--dir`` keeps the
generated zoo there and reuses it (writing 10 000 checkpoints takes minutes).
"""

from __future__ import annotations

import argparse
import contextlib
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
    parser.add_argument("--dir", help="where to keep (and find) the generated zoo")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with contextlib.ExitStack() as cleanup:
        root = Path(args.dir) if args.dir else Path(cleanup.enter_context(tempfile.TemporaryDirectory()))
        for i in range(args.count):
            values = {k: rng.normal(size=s).astype(np.float32) for k, s in SHAPES.items()}
            values["global_step"] = np.int64(i)
            if not (root / f"net{i:05d}" / "ckpt-86.index").exists():
                tfbundle.save(values, root / f"net{i:05d}" / "ckpt-86")
        prefixes = bulk.expand(str(root / "*" / "ckpt-86.index"))[: args.count]
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

        import distributed

        from tfbundle import dask as tfdask

        cluster = cleanup.enter_context(
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        )
        client = cleanup.enter_context(distributed.Client(cluster))

        def on_dask() -> object:  # read into the workers' memory, where Dask computes on it
            persisted = client.persist(tfdask.stack(prefixes, KEYS, flatten=True, workers=2))
            distributed.wait(persisted)
            return persisted

        def to_client() -> object:  # and sent to this process (200 MB through the cluster's sockets)
            return client.compute(tfdask.stack(prefixes, KEYS, flatten=True, workers=2)).result()

        times = interleaved_medians(
            {
                "plain Python open+read of every file (floor)": floor,
                "bulk.stack flatten, workers=1": lambda: bulk.stack(prefixes, KEYS, flatten=True),
                "bulk.stack flatten, workers=2": lambda: bulk.stack(prefixes, KEYS, flatten=True, workers=2),
                "tfbundle.dask.stack on a LocalCluster (persist)": on_dask,
                "the same, fetched into this process": to_client,
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
        print(f"  workers=2 vs TF loop: {times['TF load_checkpoint + get_tensor loop'] / two:.1f}x")
        print(f"  workers=2 vs floor:   {times['plain Python open+read of every file (floor)'] / two:.2f}x")
        print(f"  workers=2 vs workers=1: {one / two:.2f}x")
        dask_time = times["tfbundle.dask.stack on a LocalCluster (persist)"]
        print(f"  Dask (persist) vs workers=2: {dask_time / two:.2f}x the time")
        print(f"  Dask fetched vs workers=2:   {times['the same, fetched into this process'] / two:.2f}x the time")


if __name__ == "__main__":
    main()
