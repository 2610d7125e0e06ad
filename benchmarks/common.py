"""Timing helpers shared by the benchmark scripts.

Every number is the median of several runs, and results are reported as
ratios against anchors measured in the same process, because absolute times
on shared machines drift from run to run.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Callable

import numpy as np

from tfbundle.bench import interleaved_medians  # noqa: F401  (one implementation, shared with `tfbundle bench`)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def median_seconds(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of fn() over `repeats` runs after `warmup` runs."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
        del result  # freeing the result is the caller's business, not the timed call's
    return statistics.median(times)


def memcpy_floor(nbytes: int) -> Callable[[], object]:
    """Copies nbytes between two resident buffers (fresh destination pages
    are part of any copy that returns new arrays, so the destination is
    allocated inside the timed call, as a reader's result would be)."""
    src = np.ones(nbytes, dtype=np.uint8)

    def run():
        dst = np.empty_like(src)
        np.copyto(dst, src)
        return dst

    return run


def page_cache_read_floor(paths: list[str]) -> Callable[[], object]:
    """Reads files (already in the page cache) into fresh buffers."""

    def run():
        out = []
        for p in paths:
            size = os.path.getsize(p)
            buf = np.empty(size, dtype=np.uint8)
            with open(p, "rb", buffering=0) as f:
                f.readinto(memoryview(buf))
            out.append(buf)
        return out

    return run


def report(title: str, results: dict[str, float], nbytes: int = 0, baseline: str = "") -> None:
    """Prints each result with GB/s (when nbytes) and its ratio to `baseline`."""
    print(f"\n{title}")
    base = results.get(baseline)
    for name, seconds in results.items():
        line = f"  {name:44s} {seconds * 1e3:9.1f} ms"
        if nbytes:
            line += f"  {nbytes / seconds / 1e9:6.2f} GB/s"
        if base:
            line += f"  {base / seconds:6.2f}x vs {baseline}"
        print(line)
