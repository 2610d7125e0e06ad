"""Peak memory of convert and edit on a multi-GiB checkpoint.

Run: python benchmarks/bench_edit_memory.py [--gib 2.5]

Writes a checkpoint of float32 tensors of 128 MiB each, then, each in a
fresh process, converts it to safetensors (cast to bfloat16), edits it
(drop + rename + cast) and copies it verbatim, printing the peak RSS growth
of each against the largest tensor. Streaming means the growth stays near
one tensor (two when a cast holds the source and its cast copy).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

import tfbundle

_JOB = r"""
import sys, time
import tfbundle
from tfbundle.convert import convert
from tfbundle.edit import transform

def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024

job, src, dst = sys.argv[1:4]
base = peak()
start = time.perf_counter()
if job == "convert-bf16":
    convert(src, dst, dtype="bfloat16")
elif job == "edit-cast":
    transform(src, dst, drop=[r"_007/"], rename=[(r"^layer", "block")], cast={"float32": "bfloat16"})
else:
    transform(src, dst)
print(peak() - base, time.perf_counter() - start)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gib", type=float, default=2.5)
    args = parser.parse_args()
    tensor_bytes = 128 << 20
    count = int(args.gib * 1024 / 128)
    with tempfile.TemporaryDirectory(dir=os.environ.get("TFBUNDLE_BENCH_DIR")) as tmp:
        src = os.path.join(tmp, "big")
        block = np.random.default_rng(0).normal(size=tensor_bytes // 4).astype(np.float32)
        with tfbundle.Writer(src) as w:
            for i in range(count):
                w.add(f"layer_{i:03d}/kernel", block.reshape(4096, -1))
        size = sum(os.path.getsize(p) for p in tfbundle.paths.existing_data_paths(src))
        print(f"checkpoint: {size / 2**30:.2f} GiB in {count} tensors of {tensor_bytes >> 20} MiB")
        for job, dst in (
            ("convert-bf16", os.path.join(tmp, "out.safetensors")),
            ("edit-cast", os.path.join(tmp, "edited")),
            ("copy", os.path.join(tmp, "copied")),
        ):
            out = subprocess.run(
                [sys.executable, "-c", _JOB, job, src, dst], capture_output=True, text=True, check=True
            )
            growth, seconds = out.stdout.split()
            growth = int(growth)
            print(
                f"  {job:14s} peak RSS growth {growth / 2**20:8.1f} MiB = {growth / tensor_bytes:4.2f} tensors "
                f"({100 * growth / size:4.1f}% of the checkpoint), {float(seconds):.1f} s"
            )


if __name__ == "__main__":
    main()
