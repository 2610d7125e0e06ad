"""Reading a checkpoint from a server on 127.0.0.1 against the transport
floor: fsspec fetching the data file's bytes alone (one request, no parsing
or checking). Also counts the requests the shape map of a 20 000-entry
checkpoint takes.

    python benchmarks/bench_remote.py [--server http|s3] [--mix bert_base|resnet50] [--repeat 3]

``http`` is a threaded server that honours Range (tests/remote_servers.py);
``s3`` is moto's standalone S3 server, which reads the whole object for
every request, ranged or not, so any ranged reader pays the object's size
per request there (see the printed note). Prints medians of interleaved
runs and ratios; the target is a verified load() within 1.25x the floor,
and the shape map in at most 3 requests.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.remote_servers

import fsspec
from tests.remote_servers import RangeHTTPServer, S3Server

import mixes
import tfbundle
from common import interleaved_medians


def run(url: str, data_url: str, nbytes: int, options: dict, repeat: int, loop: bool) -> None:
    fs = fsspec.filesystem(url.split("://")[0], **options)  # the cached instance, as tfbundle's

    def floor() -> object:
        return fs.cat_file(data_url)

    def ranged_floor() -> object:  # the same bytes asked for as one range, as tfbundle asks
        return fs.cat_file(data_url, start=0, end=nbytes)

    def load() -> object:
        return tfbundle.load(url, storage_options=options)

    def get_tensor_loop() -> object:
        with tfbundle.open(url, storage_options=options) as ckpt:
            return [ckpt.get_tensor(k) for k in ckpt.keys()]

    contenders = {
        "fetch the data file (floor)": floor,
        "fetch it as one range": ranged_floor,
        "tfbundle load (verified)": load,
    }
    if loop:
        contenders["tfbundle get_tensor loop (verified)"] = get_tensor_loop
    times = interleaved_medians(contenders, repeats=repeat)
    base = times["fetch the data file (floor)"]
    for name, seconds in times.items():
        print(f"  {name:38s} {seconds:7.2f} s  {nbytes / seconds / 1e6:7.0f} MB/s  {seconds / base:5.2f}x floor")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default="http", choices=["http", "s3"])
    parser.add_argument("--mix", default="bert_base", choices=["bert_base", "resnet50"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shapes = getattr(mixes, args.mix)()
        tfbundle.save(mixes.materialize(shapes), root / "bench" / "ckpt")
        data = root / "bench" / "ckpt.data-00000-of-00001"
        nbytes = data.stat().st_size
        print(f"{args.mix}: {len(shapes)} tensors, {nbytes / 1e9:.2f} GB, {args.server} server on 127.0.0.1")
        if args.server == "http":
            with RangeHTTPServer(root) as server:
                url = server.url("bench/ckpt")
                run(url, url + ".data-00000-of-00001", nbytes, {}, args.repeat, loop=True)
        else:
            with S3Server() as server:
                fs = fsspec.filesystem("s3", **server.options)
                url = server.url("bench/ckpt")
                for suffix in (".index", ".data-00000-of-00001"):
                    fs.put_file(str(root / "bench" / f"ckpt{suffix}"), url + suffix)
                print(" default blocks (64 MiB): moto reads the whole object per request")
                run(url, url + ".data-00000-of-00001", nbytes, server.options, args.repeat, loop=False)
                os.environ["TFBUNDLE_REMOTE_BLOCK_SIZE"] = str(1 << 40)
                print(" TFBUNDLE_REMOTE_BLOCK_SIZE=1 TiB (one request for the whole shard):")
                run(url, url + ".data-00000-of-00001", nbytes, server.options, args.repeat, loop=False)

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
