"""Reading checkpoints from a local S3 server (moto's standalone server on
127.0.0.1) against the transport floor: s3fs fetching the data file's bytes
alone, with no parsing or checking. Also counts the requests the shape map
of a 20 000-entry checkpoint takes (on an HTTP server that counts them).

    python benchmarks/bench_remote.py [--mix bert_base] [--repeat 3]

Prints medians and ratios (interleaved runs); targets: a verified load()
of every tensor in at most 1.25x the floor's time, and the shape map in at
most 3 requests.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.remote_servers

from tests.remote_servers import RangeHTTPServer, S3Server

import mixes
import tfbundle
from common import interleaved_medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mix", default="bert_base", choices=["bert_base", "resnet50"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import s3fs

    with tempfile.TemporaryDirectory() as tmp, S3Server() as server:
        shapes = getattr(mixes, args.mix)()
        prefix = os.path.join(tmp, "ckpt")
        tfbundle.save(mixes.materialize(shapes), prefix)
        fs = s3fs.S3FileSystem(**server.options)
        url = server.url("bench/ckpt")
        for suffix in (".index", ".data-00000-of-00001"):
            fs.put_file(prefix + suffix, url + suffix)
        nbytes = os.path.getsize(prefix + ".data-00000-of-00001")
        options = server.options

        def floor() -> object:
            return s3fs.S3FileSystem(**options, skip_instance_cache=True).cat_file(url + ".data-00000-of-00001")

        def load() -> object:
            return tfbundle.load(url, storage_options=options)

        def get_tensor_loop() -> object:
            with tfbundle.open(url, storage_options=options) as ckpt:
                return [ckpt.get_tensor(k) for k in ckpt.keys()]

        times = interleaved_medians(
            {
                "s3fs cat_file of the data file (floor)": floor,
                "tfbundle load (verified)": load,
                "tfbundle get_tensor loop (verified)": get_tensor_loop,
            },
            repeats=args.repeat,
        )
        print(f"{args.mix}: {len(shapes)} tensors, {nbytes / 1e9:.2f} GB on moto S3 at 127.0.0.1")
        base = times["s3fs cat_file of the data file (floor)"]
        for name, seconds in times.items():
            print(f"  {name:42s} {seconds:7.2f} s  {nbytes / seconds / 1e6:7.0f} MB/s  {seconds / base:5.2f}x floor")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        tfbundle.save({f"var/{i:05d}": np.float32(i) for i in range(20_000)}, root / "many" / "ckpt")
        with RangeHTTPServer(root) as http:
            http.counters.reset()
            with tfbundle.open(http.url("many/ckpt")) as ckpt:
                assert len(ckpt.get_variable_to_shape_map()) == 20_000
            index = (root / "many" / "ckpt.index").stat().st_size
            print(
                f"shape map of 20 000 entries over HTTP: {len(http.counters.requests)} request(s), "
                f"{http.counters.bytes / 1e3:.0f} kB moved (the index is {index / 1e3:.0f} kB)"
            )


if __name__ == "__main__":
    main()
