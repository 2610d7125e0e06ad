"""CRC32C throughput: tfbundle's kernel vs the `crc32c` package, one core.

Run: python benchmarks/bench_crc32c.py

Cache-resident buffers (64 KiB..4 MiB) show the kernel's compute speed; the
256 MiB buffer is bound by one core's memory bandwidth.
"""

from __future__ import annotations

import time

import numpy as np

from tfbundle import _core


def gbps(fn, data: np.ndarray, total_bytes: int = 1 << 30) -> float:
    reps = max(1, total_bytes // data.nbytes)
    best = 0.0
    for _ in range(5):  # best of 5: these runs are short and the machine noisy
        start = time.perf_counter()
        for _ in range(reps):
            fn(data)
        best = max(best, data.nbytes * reps / (time.perf_counter() - start) / 1e9)
    return best


def main() -> None:
    try:
        import crc32c
    except ImportError:
        crc32c = None
    print(f"tfbundle implementation: {_core.crc32c_implementation()}")
    print(f"{'size':>10s} {'tfbundle GB/s':>14s} {'crc32c pkg GB/s':>16s} {'ratio':>6s}")
    for size in (4096, 65536, 1 << 20, 4 << 20, 256 << 20):
        data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8)
        ours = gbps(_core.crc32c, data)
        theirs = gbps(lambda d: crc32c.crc32c(d), data) if crc32c else float("nan")
        print(f"{size:>10d} {ours:14.1f} {theirs:16.1f} {ours / theirs:6.2f}")


if __name__ == "__main__":
    main()
