"""Reading and writing realistic checkpoint mixes: tfbundle vs TensorFlow,
safetensors and the machine's floors, in one process, contenders
interleaved (a, b, c, a, b, c, ...), medians of --repeats runs.

Run: python benchmarks/bench_mixes.py [--mix bert resnet uniform_256k uniform_4m] [--repeats 5] [--no-write]
     python benchmarks/bench_mixes.py --alone --mix resnet --repeats 15

Before each mix's reads the fixtures just written are flushed (os.sync):
otherwise the kernel writes them back in the middle of the timed reads, and
one run in three had a mix read 15-50% slower for it.

--alone times only tfbundle's two reads and safetensors load_file, without
TensorFlow, floors or saves, and with the generated tensors freed first: a
process that only loads one mix, where no other contender's freed memory
is at hand.

Per mix (see mixes.py), reads of every tensor into new arrays:
  tfbundle get_tensor loop (verified) and load (verified), TF
  load_checkpoint + get_tensor and RestoreV2, safetensors load_file, an
  unverified view + np.array copy per tensor, and the floors: memcpy into
  reused and into fresh memory, pread of the files into fresh memory;
and saves to a new name each time: tfbundle.save, TF SaveV2, safetensors
save_file and a plain write() of the same bytes.
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np

import tfbundle
from common import report
from mixes import MIXES, saved
from tfbundle.bench import interleaved_medians, read_contenders, write_contenders


def floors(prefix: str, nbytes: int) -> dict[str, object]:
    files = [prefix + ".index", *tfbundle.paths.existing_data_paths(prefix)]
    source = np.ones(nbytes, np.uint8)
    reused = np.empty_like(source)
    keys = tfbundle.open(prefix).keys()

    def view_and_copy():
        with tfbundle.open(prefix) as c:
            return [np.array(c.get_tensor(k, copy=False)) for k in keys]

    def memcpy_fresh():
        out = np.empty_like(source)
        np.copyto(out, source)
        return out

    def pread_fresh():
        out = []
        for path in files:
            buf = np.empty(os.path.getsize(path), np.uint8)
            with open(path, "rb", buffering=0) as f:
                f.readinto(memoryview(buf))
            out.append(buf)
        return out

    return {
        "view + np.array (unverified)": view_and_copy,
        "floor: memcpy, reused memory": lambda: np.copyto(reused, source),
        "floor: memcpy, fresh memory": memcpy_fresh,
        "floor: pread, fresh memory": pread_fresh,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mix", nargs="*", default=list(MIXES), choices=list(MIXES))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--alone", action="store_true", help="tfbundle and safetensors reads only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("TFBUNDLE_BENCH_DIR")) as directory:
        for mix in args.mix:
            prefix, tensors, nbytes = saved(mix, directory)
            st_path = os.path.join(directory, mix, "model.safetensors")
            try:
                from safetensors.numpy import save_file

                save_file(tensors, st_path)
            except ImportError:
                st_path = None
            count = len(tensors)
            # The fixtures just written are written back by the kernel within
            # 30 s, in the middle of the timed reads, unless flushed first.
            os.sync()
            if args.alone:
                del tensors
                reads = interleaved_medians(read_contenders(prefix, st_path, with_tensorflow=False), args.repeats)
            else:
                contenders = {**read_contenders(prefix, st_path), **floors(prefix, nbytes)}
                reads = interleaved_medians(contenders, args.repeats)
            report(f"{mix}: read {count} tensors, {nbytes / 1e9:.2f} GB", reads, nbytes, "tfbundle get_tensor")
            for base in ("TF get_tensor", "TF RestoreV2", "safetensors load_file"):
                if base in reads:
                    print(
                        f"  vs {base}: get_tensor loop {reads[base] / reads['tfbundle get_tensor']:.2f}x, "
                        f"load {reads[base] / reads['tfbundle load']:.2f}x"
                    )
            if not (args.no_write or args.alone):
                writes_dir = os.path.join(directory, mix, "writes")
                os.makedirs(writes_dir)
                writes = interleaved_medians(write_contenders(tensors, writes_dir), args.repeats)
                report(f"{mix}: save {count} tensors", writes, nbytes, "tfbundle save")


if __name__ == "__main__":
    main()
