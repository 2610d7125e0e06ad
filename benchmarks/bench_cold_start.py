"""Cold start: a fresh Python process that imports the library, opens a
checkpoint and reads every tensor, as a conversion script or a data loader
does once per job. tfbundle (`import tfbundle; tfbundle.load`) against
TensorFlow (`import tensorflow; tf.train.load_checkpoint` + `get_tensor` of
every key) and safetensors (`from safetensors.numpy import load_file` on a
copy converted once, outside the timing). The files are in the page cache
(one untimed run of each first); each timing is the wall time of the whole
process, so interpreter start-up, imports and the read are all in it. The
contenders run in turn, medians of --repeats.

Run: python benchmarks/bench_cold_start.py [--mix bert] [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import tfbundle
from mixes import MIXES, saved

PROGRAMS = {
    "tfbundle": "import sys, tfbundle; tfbundle.load(sys.argv[1])",
    "TensorFlow": (
        "import sys, tensorflow as tf; r = tf.train.load_checkpoint(sys.argv[1]); "
        "[r.get_tensor(k) for k in r.get_variable_to_shape_map()]"
    ),
    "safetensors": "import sys; from safetensors.numpy import load_file; load_file(sys.argv[2])",
    "python alone": "import sys",
}


def run_once(program: str, prefix: str, safetensors_path: str) -> float:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", program, prefix, safetensors_path], check=True, env=env)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mix", default="bert", choices=list(MIXES))
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("TFBUNDLE_BENCH_DIR")) as directory:
        prefix, tensors, nbytes = saved(args.mix, directory)
        del tensors
        safetensors_path = os.path.join(directory, "copy.safetensors")
        tfbundle.convert.convert(prefix, safetensors_path)
        times: dict[str, list[float]] = {name: [] for name in PROGRAMS}
        for program in PROGRAMS.values():  # warm the page cache and the import caches
            run_once(program, prefix, safetensors_path)
        for _ in range(args.repeats):
            for name, program in PROGRAMS.items():
                times[name].append(run_once(program, prefix, safetensors_path))
    medians = {name: statistics.median(t) for name, t in times.items()}
    print(f"{args.mix}: {nbytes / 1e9:.2f} GB, a fresh process per run, medians of {args.repeats}")
    for name, seconds in medians.items():
        print(f"  {name:14s} {seconds * 1e3:8.0f} ms   tfbundle is {seconds / medians['tfbundle']:5.2f}x faster")


if __name__ == "__main__":
    main()
