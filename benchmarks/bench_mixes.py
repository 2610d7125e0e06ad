"""Reading and writing realistic checkpoint mixes: tfbundle vs TensorFlow,
safetensors and the machine's floors, in one process, contenders
interleaved (a, b, c, a, b, c, ...), medians of --repeats runs.

Run: python benchmarks/bench_mixes.py [--mix bert resnet uniform_256k uniform_4m] [--repeats 5] [--no-write]

Per mix, reads (every tensor, new arrays):
  tfbundle get_tensor loop (verified), tfbundle.load (verified),
  TF load_checkpoint + get_tensor, TF RestoreV2, safetensors load_file,
  np.array(get_tensor(copy=False)) (unverified view + copy),
  floors: memcpy into reused / fresh memory, pread of the files into fresh memory;
and writes (every save to a new name):
  tfbundle.save, TF SaveV2, safetensors save_file, a plain write() of the same bytes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from typing import Callable, Dict

import numpy as np

from common import interleaved_medians, report
from mixes import MIXES, materialize

import tfbundle


def read_contenders(prefix: str, st_path: str, tensors: Dict[str, np.ndarray]) -> Dict[str, Callable[[], object]]:
    keys = tfbundle.open(prefix).keys()
    nbytes = sum(v.nbytes for v in tensors.values())
    files = [prefix + ".index"] + tfbundle.paths.existing_data_paths(prefix)

    def ours_get_tensor():
        with tfbundle.open(prefix) as c:
            return [c.get_tensor(k) for k in keys]

    def ours_load():
        return tfbundle.load(prefix)

    def ours_view_copy():
        with tfbundle.open(prefix) as c:
            return [np.array(c.get_tensor(k, copy=False)) for k in keys]

    flat = np.ones(nbytes, np.uint8)
    reused = np.empty_like(flat)

    def memcpy_reused():
        np.copyto(reused, flat)

    def memcpy_fresh():
        out = np.empty_like(flat)
        np.copyto(out, flat)
        return out

    def pread_fresh():
        out = []
        for p in files:
            buf = np.empty(os.path.getsize(p), np.uint8)
            fd = os.open(p, os.O_RDONLY)
            try:
                os.preadv(fd, [buf], 0)
            finally:
                os.close(fd)
            out.append(buf)
        return out

    contenders = {"tfbundle get_tensor loop": ours_get_tensor, "tfbundle.load": ours_load}
    try:
        import tensorflow as tf

        dtypes = [tf.as_dtype(tensors[k].dtype) for k in keys]

        def tf_get_tensor():
            r = tf.train.load_checkpoint(prefix)
            return [r.get_tensor(k) for k in keys]

        def tf_restore_v2():
            return tf.raw_ops.RestoreV2(prefix=prefix, tensor_names=keys, shape_and_slices=[""] * len(keys),
                                        dtypes=dtypes)

        contenders["TF load_checkpoint+get_tensor"] = tf_get_tensor
        contenders["TF RestoreV2"] = tf_restore_v2
    except ImportError:
        pass
    try:
        from safetensors.numpy import load_file

        contenders["safetensors load_file"] = lambda: load_file(st_path)
    except ImportError:
        pass
    contenders["view + np.array (unverified)"] = ours_view_copy
    contenders["floor: memcpy, reused memory"] = memcpy_reused
    contenders["floor: memcpy, fresh memory"] = memcpy_fresh
    contenders["floor: pread into fresh memory"] = pread_fresh
    return contenders


def write_contenders(directory: str, tensors: Dict[str, np.ndarray]) -> Dict[str, Callable[[], object]]:
    counter = [0]

    def fresh(name: str) -> str:
        counter[0] += 1
        path = os.path.join(directory, f"{name}_{counter[0]}")
        os.makedirs(path)
        return os.path.join(path, "ckpt")

    def done(path: str) -> None:
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)

    def timed_then_removed(fn):
        def run():
            path = fresh(fn.__name__)
            start = time.perf_counter()
            fn(path)
            elapsed = time.perf_counter() - start
            done(path)
            return elapsed
        return run

    def ours(path):
        tfbundle.save(tensors, path)

    def plain_write(path):
        with open(path, "wb") as f:
            for v in tensors.values():
                f.write(memoryview(v).cast("B"))

    fns = {"tfbundle.save": ours}
    try:
        import tensorflow as tf

        names = list(tensors)
        constants = [tf.constant(tensors[n]) for n in names]

        def tf_save_v2(path):
            tf.raw_ops.SaveV2(prefix=path, tensor_names=names, shape_and_slices=[""] * len(names), tensors=constants)

        fns["TF SaveV2"] = tf_save_v2
    except ImportError:
        pass
    try:
        from safetensors.numpy import save_file

        def st_save(path):
            save_file(tensors, path + ".safetensors")

        fns["safetensors save_file"] = st_save
    except ImportError:
        pass
    fns["floor: plain write() to a new file"] = plain_write
    return {name: timed_then_removed(fn) for name, fn in fns.items()}


def interleaved_self_timed(fns: Dict[str, Callable[[], float]], repeats: int) -> Dict[str, float]:
    """Like interleaved_medians, for callables that time themselves (so that
    creating and removing the output directory stays outside the timing)."""
    import statistics

    for fn in fns.values():
        fn()
    times: Dict[str, list] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(fn())
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mix", nargs="*", default=list(MIXES), choices=list(MIXES))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("TFBUNDLE_BENCH_DIR")) as directory:
        for mix in args.mix:
            tensors = materialize(MIXES[mix]())
            nbytes = sum(v.nbytes for v in tensors.values())
            prefix = tfbundle.save(tensors, os.path.join(directory, mix, "ckpt"))
            st_path = os.path.join(directory, mix, "model.safetensors")
            try:
                from safetensors.numpy import save_file

                save_file(tensors, st_path)
            except ImportError:
                pass
            results = interleaved_medians(read_contenders(prefix, st_path, tensors), args.repeats)
            report(f"{mix}: read {len(tensors)} tensors, {nbytes / 1e9:.2f} GB", results, nbytes,
                   "tfbundle get_tensor loop")
            for base in ("TF load_checkpoint+get_tensor", "safetensors load_file"):
                if base in results:
                    print(f"  ratios vs {base}: get_tensor loop {results[base] / results['tfbundle get_tensor loop']:.2f}x,"
                          f" load {results[base] / results['tfbundle.load']:.2f}x")
            if not args.no_write:
                writes = interleaved_self_timed(write_contenders(os.path.join(directory, mix), tensors), args.repeats)
                report(f"{mix}: save {len(tensors)} tensors", writes, nbytes, "tfbundle.save")


if __name__ == "__main__":
    main()
