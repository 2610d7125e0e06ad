"""Replays every input the fuzzers ever crashed on (fuzz/regressions/) and
the seed-like edge cases, through the Python bindings, in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REGRESSIONS = Path(__file__).resolve().parent.parent / "fuzz" / "regressions"

_REPLAY = r"""
import json, sys, tempfile, os
from tfbundle import _core, DataLossError
target, path = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
try:
    if target == "fuzz_slice_key":
        name, extents = _core.decode_slice_key(data)
        assert _core.encode_slice_key(name, extents).encode("utf-8", "surrogateescape") == data, "not canonical"
    elif target == "fuzz_table":
        for key, value in _core.read_table(data)[1:]:
            _core.decode_entry(value)
    elif target == "fuzz_snappy":
        _core.snappy_decompress(data)
    elif target == "fuzz_v1":
        with tempfile.NamedTemporaryFile(delete=False) as f:
            f.write(data)
        try:
            reader = _core.V1Reader([f.name])
            for key in reader.keys(True):
                try:
                    reader.verify(key)
                except DataLossError:
                    pass
            reader.verify_files()
        finally:
            os.unlink(f.name)
    elif target == "fuzz_state":
        import tfbundle
        directory = tempfile.mkdtemp()
        with open(os.path.join(directory, "checkpoint"), "wb") as f:
            f.write(data)
        try:
            tfbundle.get_checkpoint_state(directory)
        except DataLossError:
            pass
        tfbundle.latest_checkpoint(directory)  # never raises
    elif target == "fuzz_tflite":
        _core.parse_tflite(data)
    elif target == "fuzz_entry":
        _core.decode_entry(data)
    elif target == "fuzz_strings":
        if len(data) >= 3:
            _core.decode_string_payload(data[3:], data[1] | data[2] << 8, bool(data[0] & 2), bool(data[0] & 1))
    elif target == "fuzz_graph":
        with tempfile.NamedTemporaryFile(suffix=".pb", delete=False) as f:
            f.write(data)
        scanner = _core.GraphScanner(f.name)
        while (node := scanner.next()) is not None:
            if node[6]:
                try:
                    scanner.value()
                except DataLossError:
                    pass
        os.unlink(f.name)
    print(json.dumps("ok"))
except DataLossError as e:
    print(json.dumps("DataLossError"))
"""


def test_replay_fuzz_regressions():
    inputs = sorted(p for p in REGRESSIONS.glob("*/*") if p.is_file())
    assert inputs, "fuzz/regressions/ holds the inputs that once crashed; it must not be empty"
    for path in inputs:
        out = subprocess.run(
            [sys.executable, "-c", _REPLAY, path.parent.name, str(path)], capture_output=True, text=True
        )
        assert out.returncode == 0, f"{path}: {out.stderr[-1500:]}"
        assert json.loads(out.stdout) in ("ok", "DataLossError")
