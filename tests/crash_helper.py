"""Runs one writing operation in a forked child and SIGKILLs it after a
given delay, many times, for tests/test_reliability.py.

Protocol (one line each way): the parent writes "OP DIR DELAY_SECONDS";
this process forks, the child runs OP in DIR, this process kills it after
the delay (or sees it finish) and answers "killed" or "finished SECONDS".
A separate process, not the pytest process, so that forking happens in a
process without TensorFlow's threads.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import numpy as np

import tfbundle
from tfbundle.edit import transform

TENSORS = {f"layer_{i}/kernel": np.full((512, 512), i, np.float32) for i in range(24)}
# Small enough that a preempted training loop saves many times per trial.
SMALL = {f"layer_{i}/kernel": np.full((64, 64), i, np.float32) for i in range(8)}


def run(op: str, directory: str) -> None:
    if op == "save":
        tfbundle.save(TENSORS, os.path.join(directory, "ckpt-new"))
    elif op == "writer":
        with tfbundle.Writer(os.path.join(directory, "ckpt-new"), num_shards=2) as w:
            for name, value in TENSORS.items():
                w.add(name, value)
    elif op == "manager":
        tfbundle.CheckpointManager(directory, max_to_keep=2).save(TENSORS)
    elif op == "training":  # a preemptible job: (re)open its directory, save until killed
        # A URL directory's storage options come from the environment (JSON).
        options = json.loads(os.environ.get("TFBUNDLE_TEST_STORAGE_OPTIONS", "{}"))
        manager = tfbundle.CheckpointManager(directory, max_to_keep=3, storage_options=options)
        for _ in range(100_000):
            manager.save(SMALL)
    elif op == "edit":
        transform(
            os.path.join(directory, "ckpt-1"), os.path.join(directory, "ckpt-1"), in_place=True, drop=[r"layer_0/"]
        )
    else:
        raise ValueError(op)


class Helper:
    """This script as a helper process, driven from a test:
    ``trial(op, directory, delay)`` returns its answer ("killed" or
    "finished SECONDS"). ``env`` replaces the environment.

    Example:
        >>> with Helper() as helper:                               # doctest: +SKIP
        ...     helper.trial("save", tmp_path, 0.01)
        'killed'
    """

    def __init__(self, env: dict[str, str] | None = None) -> None:
        import subprocess
        from pathlib import Path

        self.process = subprocess.Popen(
            [sys.executable, __file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=str(Path(__file__).resolve().parent.parent),
        )

    def trial(self, op: str, directory: object, delay: float) -> str:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(f"{op} {directory} {delay}\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def __enter__(self) -> Helper:
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


def main() -> None:
    if "TFBUNDLE_TEST_STORAGE_OPTIONS" in os.environ:
        import s3fs  # noqa: F401  (imported once here, not in every forked child before its first save)
    for line in sys.stdin:
        op, directory, delay = line.split()
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:
            try:
                run(op, directory)
            finally:
                os._exit(0)
        deadline = time.monotonic() + float(delay)
        outcome = "finished"
        while True:
            done, _status = os.waitpid(pid, os.WNOHANG)
            if done:
                outcome = f"finished {time.monotonic() - start:.6f}"
                break
            if time.monotonic() >= deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                outcome = "killed"
                break
            time.sleep(0.0005)
        print(outcome, flush=True)


if __name__ == "__main__":
    main()
