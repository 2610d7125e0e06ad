"""atheris target: the `checkpoint` state-file parser on arbitrary text.
It must return a state, return None, or raise DataLossError; nothing else."""

import contextlib
import os
import sys
import tempfile

import atheris

with atheris.instrument_imports():
    import tfbundle

DIRECTORY = tempfile.mkdtemp(prefix="fuzz_state_")


def test_one_input(data: bytes) -> None:
    with open(os.path.join(DIRECTORY, "checkpoint"), "wb") as f:
        f.write(data)
    with contextlib.suppress(tfbundle.DataLossError):
        tfbundle.get_checkpoint_state(DIRECTORY)
    tfbundle.latest_checkpoint(DIRECTORY)  # never raises


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
