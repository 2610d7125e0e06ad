"""The history of one run: statistics of every tensor of N checkpoints of the
BERT-base mix (BERT-base with Adam slots, 598 tensors, 1.31 GB each), as a
study of how weights move during training reads them.

    python benchmarks/bench_run_history.py [--count 200] [--repeat 1] [--distinct]

Contenders, interleaved, medians: ``bulk.table(..., stats=True)`` (min, max,
mean, std, L2, NaN/inf counts taken in the core during the verified read)
with 1 and 2 workers, against a loop of ``tf.train.load_checkpoint`` +
``get_tensor`` of every key with the same statistics in numpy. By default
the N checkpoints are hard links to one written checkpoint, so that 200 of
them fit on a disk: their bytes are in the page cache, as in the other
benchmarks (``--distinct`` writes N real copies instead).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np

import tfbundle
from common import interleaved_medians
from mixes import MIXES, materialize
from tfbundle import bulk


def numpy_statistics(value: np.ndarray) -> dict[str, float]:
    data = value.astype(np.float64).reshape(-1)
    finite = data[np.isfinite(data)]
    return {
        "min": finite.min(),
        "max": finite.max(),
        "mean": finite.mean(),
        "std": finite.std(),
        "l2": float(np.sqrt(np.dot(finite, finite))),
        "nan": int(np.isnan(data).sum()),
        "inf": int(np.isinf(data).sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--distinct", action="store_true", help="write N real checkpoints, not hard links")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("TFBUNDLE_BENCH_DIR")) as tmp:
        root = Path(tmp)
        tensors = materialize(MIXES["bert"]())
        nbytes = sum(v.nbytes for v in tensors.values())
        first = tfbundle.save(tensors, root / "ckpt-1000")
        for i in range(2, args.count + 1):
            prefix = root / f"ckpt-{i * 1000}"
            if args.distinct:
                tfbundle.save(tensors, prefix)
                continue
            for suffix in (".index", ".data-00000-of-00001"):
                os.link(first + suffix, str(prefix) + suffix)
        del tensors
        prefixes = bulk.expand(str(root / "ckpt-*.index"))

        import tensorflow as tf

        def tf_loop() -> object:
            rows = []
            for prefix in prefixes:
                reader = tf.train.load_checkpoint(prefix)
                rows.extend(numpy_statistics(reader.get_tensor(k)) for k in reader.get_variable_to_shape_map())
            return rows

        check = bulk.table(prefixes[:1], stats=True).to_pylist()
        reader = tf.train.load_checkpoint(prefixes[0])
        for row in check[:20]:  # the same numbers as numpy on TensorFlow's values
            expected = numpy_statistics(reader.get_tensor(row["key"]))
            assert np.isclose(row["std"], expected["std"], rtol=1e-9), row["key"]

        times = interleaved_medians(
            {
                "bulk.table stats, workers=1": lambda: bulk.table(prefixes, stats=True),
                "bulk.table stats, workers=2": lambda: bulk.table(prefixes, stats=True, workers=2),
                "TF load_checkpoint + get_tensor + numpy statistics": tf_loop,
            },
            repeats=args.repeat,
            warmup=0,
        )
    total = nbytes * len(prefixes)
    print(f"{len(prefixes)} checkpoints of BERT-base + Adam ({total / 1e9:.0f} GB), statistics of every tensor")
    for name, seconds in times.items():
        print(f"  {name:52s} {seconds:7.1f} s  {total / seconds / 1e9:5.2f} GB/s")
    tf_time = times["TF load_checkpoint + get_tensor + numpy statistics"]
    for workers in (1, 2):
        print(f"  workers={workers} vs TF loop: {tf_time / times[f'bulk.table stats, workers={workers}']:.1f}x")


if __name__ == "__main__":
    main()
