"""Reading checkpoints: tfbundle vs TensorFlow, safetensors and the machine.

Run: python benchmarks/bench_read.py [--mib 768] [--entries 20000] [--repeats 5]

Prints medians and ratios measured in one process:
  * a ~768 MiB float32 checkpoint read whole (verified) and as zero-copy views;
  * a 20 000-entry checkpoint opened and listed (shape map), and every one
    of its small tensors read.
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np

import tfbundle
from common import interleaved_medians, memcpy_floor, page_cache_read_floor, report


def make_large(directory: str, mib: int) -> str:
    prefix = os.path.join(directory, "large")
    per_tensor = 16 * 2**20 // 4
    rng = np.random.default_rng(0)
    block = rng.normal(size=per_tensor).astype(np.float32)
    with tfbundle.Writer(prefix) as w:
        for i in range(mib // 16):
            w.add(f"layer_{i:03d}/kernel", (block + i).reshape(1024, -1))
    return prefix


def make_many(directory: str, entries: int) -> str:
    prefix = os.path.join(directory, "many")
    with tfbundle.Writer(prefix) as w:
        for i in range(entries):
            w.add(f"model/layer_{i // 10:05d}/sub_{i % 10}/kernel", np.full((4, 4), i, np.float32))
    return prefix


_NO_POOL = r"""
import json, sys, tfbundle
from common import interleaved_medians
prefix, repeats = sys.argv[1], int(sys.argv[2])
keys = tfbundle.open(prefix).keys()

def ours():
    with tfbundle.open(prefix) as c:
        return [c.get_tensor(k) for k in keys]

contenders = {"ours": ours}
try:
    import tensorflow as tf

    def theirs():
        r = tf.train.load_checkpoint(prefix)
        return [r.get_tensor(k) for k in keys]

    contenders["tf"] = theirs
except ImportError:
    pass
print(json.dumps(interleaved_medians(contenders, repeats)))
"""


def without_buffer_cache(prefix: str, repeats: int) -> dict:
    """Verified full reads with the buffer cache off, so every destination
    page is new (as on a process's first read), interleaved with TF's
    get_tensor in that same process: {"ours": s, "tf": s}."""
    import json
    import subprocess
    import sys

    env = dict(
        os.environ,
        TFBUNDLE_BUFFER_CACHE_MB="0",
        PYTHONPATH=os.pathsep.join([os.path.dirname(os.path.abspath(__file__)), os.environ.get("PYTHONPATH", "")]),
    )
    out = subprocess.run(
        [sys.executable, "-c", _NO_POOL, prefix, str(repeats)], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_large(tf, prefix: str, repeats: int) -> None:
    data_files = tfbundle.paths.existing_data_paths(prefix)
    nbytes = sum(os.path.getsize(p) for p in data_files)
    page_cache_read_floor(data_files)()  # warm the page cache
    keys = tfbundle.open(prefix).keys()

    def ours_copy():
        with tfbundle.open(prefix) as c:
            return [c.get_tensor(k) for k in keys]

    def ours_view():
        with tfbundle.open(prefix) as c:
            return [c.get_tensor(k, copy=False) for k in keys]

    buffers = {k: np.empty(tfbundle.open(prefix).shape(k), np.float32) for k in keys}

    def ours_into():
        with tfbundle.open(prefix) as c:
            return [c.read_into(k, buffers[k]) for k in keys]

    contenders = {
        "memcpy (fresh destination)": memcpy_floor(nbytes),
        "page-cache read into fresh buffers": page_cache_read_floor(data_files),
        "tfbundle get_tensor (verified copy)": ours_copy,
        "tfbundle get_tensor(copy=False)": ours_view,
        "tfbundle read_into (verified, reused buffers)": ours_into,
    }
    if tf is not None:

        def tf_reader():
            r = tf.train.load_checkpoint(prefix)
            return [r.get_tensor(k) for k in keys]

        def tf_restore():
            out = tf.raw_ops.RestoreV2(
                prefix=prefix, tensor_names=keys, shape_and_slices=[""] * len(keys), dtypes=[tf.float32] * len(keys)
            )
            return [t.numpy() for t in out]

        contenders["tf.train.load_checkpoint + get_tensor"] = tf_reader
        contenders["tf.raw_ops.RestoreV2 (+ .numpy())"] = tf_restore
    st_path = prefix + ".safetensors"
    try:
        import safetensors.numpy as stnp

        stnp.save_file(tfbundle.load(prefix), st_path)
        page_cache_read_floor([st_path])()
        contenders["safetensors.numpy.load_file"] = lambda: stnp.load_file(st_path)
    except ImportError:
        pass
    # Run in turn, so that a slow spell of the VM hits every contender alike.
    results = interleaved_medians(contenders, repeats)
    no_cache = without_buffer_cache(prefix, repeats)
    results["tfbundle get_tensor, buffer cache off"] = no_cache["ours"]
    if os.path.exists(st_path):
        os.unlink(st_path)
    report(
        f"Full read of {nbytes / 2**20:.0f} MiB float32 in {len(keys)} tensors",
        results,
        nbytes,
        baseline="tfbundle get_tensor (verified copy)",
    )
    copy = results["tfbundle get_tensor (verified copy)"]
    print("  ratios: verified copy vs memcpy = {:.2f}x speed".format(results["memcpy (fresh destination)"] / copy))
    if tf is not None:
        print(
            "          verified copy vs TF get_tensor = {:.2f}x".format(
                results["tf.train.load_checkpoint + get_tensor"] / copy
            )
        )
        print(
            "          verified copy vs TF RestoreV2  = {:.2f}x".format(
                results["tf.raw_ops.RestoreV2 (+ .numpy())"] / copy
            )
        )
        print(
            "          with the buffer cache off (fresh pages): {:.2f}x TF get_tensor (interleaved in a second "
            "process)".format(no_cache["tf"] / no_cache["ours"])
        )
        print(
            "          copy=False views vs TF get_tensor = {:.1f}x".format(
                results["tf.train.load_checkpoint + get_tensor"] / results["tfbundle get_tensor(copy=False)"]
            )
        )


def bench_many(tf, prefix: str, repeats: int) -> None:
    keys = tfbundle.open(prefix).keys()

    def ours_list():
        with tfbundle.open(prefix) as c:
            return c.get_variable_to_shape_map()

    def ours_read_all():
        with tfbundle.open(prefix) as c:
            return [c.get_tensor(k) for k in keys]

    listing = {"tfbundle open + get_variable_to_shape_map": ours_list}
    reading = {"tfbundle get_tensor of every tensor": ours_read_all}
    if tf is not None:
        listing["tf.train.load_checkpoint + shape map"] = lambda: tf.train.load_checkpoint(
            prefix
        ).get_variable_to_shape_map()

        def tf_read_all():
            r = tf.train.load_checkpoint(prefix)
            return [r.get_tensor(k) for k in keys]

        reading["tf.train.load_checkpoint + get_tensor of every tensor"] = tf_read_all
    # Each run takes milliseconds: many interleaved runs steady the medians.
    results = interleaved_medians(listing, repeats=max(repeats, 31))
    report(
        f"Open and list a {len(keys)}-entry checkpoint", results, baseline="tfbundle open + get_variable_to_shape_map"
    )
    if tf is not None:
        print(
            "  ratio: tfbundle vs TF = {:.1f}x".format(
                results["tf.train.load_checkpoint + shape map"] / results["tfbundle open + get_variable_to_shape_map"]
            )
        )
    results = interleaved_medians(reading, repeats=max(repeats, 11))
    report(
        f"Read all {len(keys)} small (64-byte) tensors, verified",
        results,
        baseline="tfbundle get_tensor of every tensor",
    )
    if tf is not None:
        print(
            "  ratio: tfbundle vs TF = {:.1f}x".format(
                results["tf.train.load_checkpoint + get_tensor of every tensor"]
                / results["tfbundle get_tensor of every tensor"]
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=int, default=768)
    parser.add_argument("--entries", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    try:
        import tensorflow as tf
    except ImportError:
        tf = None
        print("TensorFlow is not installed: its rows are skipped")
    print(f"crc32c implementation: {tfbundle._core.crc32c_implementation()}")
    with tempfile.TemporaryDirectory(dir=os.environ.get("TFBUNDLE_BENCH_DIR")) as tmp:
        bench_large(tf, make_large(tmp, args.mib), args.repeats)
        bench_many(tf, make_many(tmp, args.entries), args.repeats)


if __name__ == "__main__":
    main()
