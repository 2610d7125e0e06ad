"""Write a checkpoint in TensorFlow's V2 format, then list, read and verify it.

Run: python examples/quickstart.py [CHECKPOINT]
With a path (prefix, .index, directory with a `checkpoint` file or a
SavedModel) it inspects that checkpoint instead of writing one.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import tfbundle


def write_demo_checkpoint(directory: Path) -> str:
    """A small TF1-style training checkpoint, registered in the state file."""
    rng = np.random.default_rng(0)
    prefix = str(directory / "model.ckpt-20")
    with tfbundle.Writer(prefix) as w:
        w.add("dense/kernel", rng.normal(size=(784, 256)).astype(np.float32))
        w.add("dense/bias", np.zeros(256, np.float32))
        w.add("dense/kernel/Adam", np.zeros((784, 256), np.float32))
        w.add("global_step", np.int64(20))
        w.add("vocab", ["[PAD]", "[UNK]", "hello", "world"])
        for _i, rows in enumerate(((0, 4), (4, 3), (7, 3))):  # a TF1 partitioned variable
            w.add_slice(
                "embedding", (10, 8), f"{rows[0]},{rows[1]}:-", rng.normal(size=(rows[1], 8)).astype(np.float32)
            )
    tfbundle.update_checkpoint_state(directory, prefix)
    return str(directory)


def inspect(path: str) -> None:
    start = time.perf_counter()
    with tfbundle.open(path) as ckpt:
        print(f"checkpoint {ckpt.prefix} ({ckpt.num_shards} data shard(s), {len(ckpt)} tensors)")
        for name in ckpt.keys():
            print(f"  {name:40s} {ckpt.dtype(name).name:10s} {list(ckpt.shape(name))}")
        total = sum(ckpt.get_tensor(k).nbytes for k in ckpt.keys())
        ckpt.verify()
        print(f"read and verified {total / 2**20:.1f} MiB in {time.perf_counter() - start:.3f} s; all checksums match")


def main() -> None:
    if len(sys.argv) > 1:
        inspect(sys.argv[1])
        return
    with tempfile.TemporaryDirectory() as tmp:
        inspect(write_demo_checkpoint(Path(tmp)))


if __name__ == "__main__":
    main()
