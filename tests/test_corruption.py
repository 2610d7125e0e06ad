"""Damaged checkpoints raise the documented exceptions and never crash.

Each case runs in a subprocess, so that a crash (segfault, abort) fails the
test instead of killing the test run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tfbundle

# Reads everything, reports what happened as JSON: {"ok": bool, "error": class name, "message": str}.
_PROBE = r"""
import hashlib, json, sys
import tfbundle
results = []
for prefix in sys.argv[1:]:
    try:
        with tfbundle.open(prefix) as c:
            digest = hashlib.sha256()
            for k in c.keys():
                v = tfbundle.reader.as_array(c.get_tensor(k))
                payload = v.tolist() if v.dtype == object else v.tobytes()
                digest.update(repr((k, c.dtype(k).name, v.shape, payload)).encode())
            c.verify()
        results.append({"ok": True, "digest": digest.hexdigest()})
    except Exception as e:
        results.append({"ok": False, "error": type(e).__name__, "message": str(e)})
print(json.dumps(results))
"""

DOCUMENTED = {"DataLossError", "FileNotFoundError", "NotFoundError"}


def probe(prefixes):
    out = subprocess.run([sys.executable, "-c", _PROBE, *map(str, prefixes)], capture_output=True, text=True)
    assert out.returncode == 0, f"reader crashed (exit {out.returncode}): {out.stderr[-2000:]}"
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory):
    prefix = tmp_path_factory.mktemp("corrupt") / "ckpt"
    rng = np.random.default_rng(5)
    tfbundle.save(
        {
            "a/kernel": rng.normal(size=(17, 9)).astype(np.float32),
            "a/bias": np.arange(9, dtype=np.int64),
            "names": ["alpha", "", "gamma" * 10],
            "step": np.int64(3),
            "empty": np.zeros((0, 2), np.float16),
        },
        prefix,
    )
    return prefix


def copy_checkpoint(src, dst_dir, name):
    dst = dst_dir / name
    for suffix in (".index", ".data-00000-of-00001"):
        shutil.copyfile(str(src) + suffix, str(dst) + suffix)
    return dst


def mutate(path, fn):
    data = bytearray(Path(path).read_bytes())
    data = fn(data)
    Path(path).write_bytes(bytes(data))


def test_truncated_index_at_every_length(small_checkpoint, tmp_path):
    index = Path(str(small_checkpoint) + ".index").read_bytes()
    prefixes = []
    for n in range(len(index)):
        p = copy_checkpoint(small_checkpoint, tmp_path, f"t{n}")
        mutate(str(p) + ".index", lambda d, n=n: d[:n])
        prefixes.append(p)
    for n, result in enumerate(probe(prefixes)):
        assert not result["ok"], f"truncation to {n} bytes went unnoticed"
        assert result["error"] == "DataLossError", result
        assert f"t{n}.index" in result["message"]


def test_bit_flips_in_index(small_checkpoint, tmp_path):
    [original] = probe([small_checkpoint])
    size = os.path.getsize(str(small_checkpoint) + ".index")
    prefixes = []
    for i in range(size):
        p = copy_checkpoint(small_checkpoint, tmp_path, f"f{i}")
        mutate(str(p) + ".index", lambda d, i=i: d[:i] + bytes([d[i] ^ (1 << (i % 8))]) + d[i + 1 :])
        prefixes.append(p)
    unnoticed = 0
    for i, result in enumerate(probe(prefixes)):
        if result["ok"]:
            # Only bytes no reader needs (the footer's zero padding) may
            # change unnoticed, and then the values must be the same.
            assert result["digest"] == original["digest"], f"bit flip at index byte {i} changed values silently"
            unnoticed += 1
        else:
            assert result["error"] in DOCUMENTED, result
    assert unnoticed < 40  # the footer pads at most 40 - 8 bytes


def test_bit_flips_and_truncation_in_data(small_checkpoint, tmp_path):
    data_file = str(small_checkpoint) + ".data-00000-of-00001"
    size = os.path.getsize(data_file)
    prefixes = []
    for i in range(size):
        p = copy_checkpoint(small_checkpoint, tmp_path, f"d{i}")
        mutate(str(p) + ".data-00000-of-00001", lambda d, i=i: d[:i] + bytes([d[i] ^ 0x10]) + d[i + 1 :])
        prefixes.append(p)
    for n in range(0, size, 7):
        p = copy_checkpoint(small_checkpoint, tmp_path, f"dt{n}")
        mutate(str(p) + ".data-00000-of-00001", lambda d, n=n: d[:n])
        prefixes.append(p)
    for p, result in zip(prefixes, probe(prefixes)):
        assert not result["ok"], f"damage in {p.name} went unnoticed"
        assert result["error"] == "DataLossError", result
        assert ".data-00000-of-00001" in result["message"], result


def test_missing_shard_names_the_file(small_checkpoint, tmp_path):
    p = copy_checkpoint(small_checkpoint, tmp_path, "noshard")
    os.unlink(str(p) + ".data-00000-of-00001")
    [result] = probe([p])
    assert result["error"] == "FileNotFoundError"
    assert "noshard.data-00000-of-00001" in result["message"]


def test_missing_index_and_missing_key(small_checkpoint, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothing\.index"):
        tfbundle.open(tmp_path / "nothing")
    ckpt = tfbundle.open(small_checkpoint)
    with pytest.raises(tfbundle.NotFoundError):
        ckpt.get_tensor("no/such/key")
    with pytest.raises(KeyError):
        ckpt.shape("no/such/key")


def test_declared_sizes_beyond_the_file_do_not_allocate(small_checkpoint, tmp_path):
    """An entry claiming a huge shape fails on the size check, before any
    allocation: rewrite a tensor's entry with a 2^40-element shape."""
    from tfbundle import _core

    prefix = tmp_path / "huge"
    with tfbundle.Writer(prefix) as w:
        w.add("x", np.zeros(4, np.float32))
    # Patch the index: the entry's shape dim 4 -> a varint of 2^40, via a fresh table.
    reader = _core.BundleReader(str(prefix))
    assert reader.entry("x")["size"] == 16
    raw = Path(str(prefix) + ".index").read_bytes()
    entry = bytes([0x08, 0x01, 0x12, 0x09, 0x12, 0x07, 0x08]) + bytes([0x80, 0x80, 0x80, 0x80, 0x80, 0x20])
    assert _core.read_table(raw)[1][0] == "x"
    built = _core.build_table([("", bytes([0x08, 0x01, 0x1A, 0x02, 0x08, 0x01])), ("x", entry)])
    Path(str(prefix) + ".index").write_bytes(built)
    [result] = probe([prefix])
    assert result["error"] == "DataLossError"
    assert "does not match" in result["message"]
