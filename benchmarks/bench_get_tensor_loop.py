"""The verified get_tensor loop alone, in a process of its own: every tensor
of a mix read --rounds times (a new reader each round), medians printed.
No other library is loaded, so nothing else competes for the cores or
reshapes the heap between rounds.

Run: python benchmarks/bench_get_tensor_loop.py [--mix bert resnet uniform_256k uniform_4m] [--rounds 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import tfbundle
from mixes import MIXES, saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mix", nargs="*", default=list(MIXES), choices=list(MIXES))
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("TFBUNDLE_BENCH_DIR")) as directory:
        for mix in args.mix:
            prefix, tensors, nbytes = saved(mix, directory)
            del tensors
            keys = tfbundle.open(prefix).keys()
            times = []
            for _ in range(args.rounds + 1):  # the first round warms the page and buffer caches
                start = time.perf_counter()
                with tfbundle.open(prefix) as reader:
                    values = [reader.get_tensor(k) for k in keys]
                times.append(time.perf_counter() - start)
                del values
            median = statistics.median(times[1:])
            print(
                f"{mix:14s} {len(keys):5d} tensors  median {median * 1e3:7.1f} ms  {nbytes / median / 1e9:5.2f} GB/s  "
                f"(range {min(times[1:]) * 1e3:.0f}-{max(times[1:]) * 1e3:.0f} ms)"
            )


if __name__ == "__main__":
    main()
