"""The command line, run as a subprocess against TensorFlow-made fixtures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tfbundle
from tests import tf_fixtures


def run(*args, check=True):
    out = subprocess.run(
        [sys.executable, "-m", "tfbundle", *map(str, args)],
        capture_output=True,
        text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    if check and out.returncode != 0:
        raise AssertionError(f"exit {out.returncode}: {out.stderr}")
    return out


def test_ls_checkpoint_json_and_filter(tf1_partitioned, tf):
    out = json.loads(run("ls", tf1_partitioned, "--json").stdout)
    rows = {r["name"]: r for r in out["tensors"]}
    assert set(rows) == {"cube", "emb", "plain"}
    assert rows["emb"] == {"name": "emb", "dtype": "float32", "shape": [10, 4], "bytes": 160, "shard": "sliced"}
    assert out["total_bytes"] == 160 + 2 * 9 * 3 * 8 + 12
    text = run("ls", str(tf1_partitioned) + ".index", "--filter", "^pl").stdout
    assert "plain" in text
    assert "emb" not in text
    assert "1 tensors" in text


def test_ls_meta_and_frozen_graph(tf1_saver, tmp_path, tf):
    meta = str(tfbundle.latest_checkpoint(tf1_saver)) + ".meta"
    rows = {r["name"]: r for r in json.loads(run("ls", meta, "--json").stdout)["tensors"]}
    assert rows["dense/kernel"]["shape"] == [4, 3]
    assert rows["dense/kernel"]["bytes"] == 48
    g = tf.Graph()
    with g.as_default():
        tf.constant(np.ones((2, 5), np.float32), name="w")
    pb = tmp_path / "frozen.pb"
    pb.write_bytes(g.as_graph_def().SerializeToString())
    text = run("ls", pb).stdout
    assert "w" in text
    assert "[2, 5]" in text
    assert "1 tensors, 40 bytes" in text


def test_ls_saved_model(saved_model):
    text = run("ls", saved_model).stdout
    assert "scale/.ATTRIBUTES/VARIABLE_VALUE" in text
    assert "[saved_model]" in text


def test_show_slice_and_full(all_dtypes, tf):
    text = run("show", all_dtypes, "big", "--slice", "1:3,0:4").stdout
    assert "big: float32[600, 500]" in text
    assert "[[ 500.  501.  502.  503.]\n [1000. 1001. 1002. 1003.]]" in text
    full = run("show", all_dtypes, "int8", "--full").stdout
    expected = tf.train.load_checkpoint(str(all_dtypes)).get_tensor("int8")
    assert str(expected) in full
    assert "..." not in run("show", all_dtypes, "big", "--full").stdout


def test_verify_reports_damage(tmp_path):
    prefix = tmp_path / "ckpt"
    tfbundle.save({"a": np.arange(100.0), "b": np.ones(10)}, prefix)
    assert "OK: 2 tensors" in run("verify", prefix).stdout
    data = str(prefix) + ".data-00000-of-00001"
    raw = bytearray(Path(data).read_bytes())
    raw[10] ^= 1
    Path(data).write_bytes(raw)
    out = run("verify", prefix, check=False)
    assert out.returncode == 1
    assert "DAMAGED a:" in out.stdout
    assert "DAMAGED b" not in out.stdout


def test_diff(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    tfbundle.save({"same": np.ones(3), "changed": np.zeros(4), "gone": np.ones(1), "reshaped": np.ones(2)}, a)
    tfbundle.save(
        {"same": np.ones(3), "changed": np.array([0, 0, 0.5, 0]), "new": np.ones(1), "reshaped": np.ones(3)}, b
    )
    out = run("diff", a, b, "--json", check=False)
    assert out.returncode == 1
    report = json.loads(out.stdout)
    assert report["only_in_a"] == ["gone"]
    assert report["only_in_b"] == ["new"]
    assert report["equal"] == 1
    assert report["changed_dtype_or_shape"][0]["name"] == "reshaped"
    [changed] = report["different_values"]
    assert changed["name"] == "changed"
    assert changed["max_abs"] == 0.5
    assert run("diff", a, a).returncode == 0
    assert run("diff", a, b, "--atol", "1", check=False).returncode == 1  # keys still differ


def test_convert_and_edit(tf, tmp_path):
    src = tmp_path / "src" / "model.ckpt-1"
    tfbundle.save(
        {"w": np.ones((2, 2), np.float32), "w/Adam": np.zeros((2, 2), np.float32), "global_step": np.int64(1)}, src
    )
    st = tmp_path / "m.safetensors"
    run("convert", src, st, "--dtype", "bfloat16")
    from safetensors.numpy import load_file

    assert str(load_file(st)["w"].dtype) == "bfloat16"
    dst = tmp_path / "dst" / "model.ckpt"
    run("edit", src, dst, "--drop-optimizer", "--rename", "^w$=layer/w", "--cast", "float32:float16")
    reader = tf.train.load_checkpoint(str(dst))
    assert sorted(reader.get_variable_to_shape_map()) == ["global_step", "layer/w"]
    assert reader.get_variable_to_dtype_map()["layer/w"].name == "float16"
    run("edit", dst, "--in-place", "--drop", "global_step")
    assert tfbundle.open(dst).keys() == ["layer/w"]


def test_saved_model_show_matches_saved_model_cli(saved_model):
    def cli(*args):
        return subprocess.run(
            ["saved_model_cli", "show", "--dir", str(saved_model), *args],
            capture_output=True,
            text=True,
            check=True,
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        ).stdout

    assert run("saved-model", "show", saved_model).stdout.strip() == cli().strip()
    assert (
        run("saved-model", "show", saved_model, "--tag-set", "serve").stdout.strip()
        == cli("--tag_set", "serve").strip()
    )
    ours = run(
        "saved-model", "show", saved_model, "--tag-set", "serve", "--signature-def", "serving_default"
    ).stdout.strip()
    assert ours == cli("--tag_set", "serve", "--signature_def", "serving_default").strip()
    full = run("saved-model", "show", saved_model, "--all").stdout
    theirs = cli("--all")
    assert full.strip() == theirs[: theirs.index("The MetaGraph with tag set")].strip()


@pytest.mark.parametrize("make", ["signature_shapes_tf2", "signature_shapes_tf1"])
def test_saved_model_show_all_is_byte_identical(tf, tmp_path, make):
    """1-D, scalar, unknown-rank and unknown-dim shapes print as saved_model_cli
    prints them ((5), (-1), (), unknown_rank), for TF1 and TF2 exports."""
    export = getattr(tf_fixtures, make)(tf, tmp_path / "export")
    theirs = subprocess.run(
        ["saved_model_cli", "show", "--dir", str(export), "--all"],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    ).stdout
    end = theirs.find("The MetaGraph with tag set")  # concrete functions: TF2 only, need TF to trace
    theirs = theirs if end < 0 else theirs[:end]
    ours = run("saved-model", "show", export, "--all").stdout
    assert ours.strip() == theirs.strip()
    for shape in ("shape: (5)", "shape: (-1)", "shape: ()", "shape: unknown_rank", "shape: (-1, 3)"):
        assert shape in ours, shape


def test_saved_model_update_replaces_what_keras_3_serves(tf, tmp_path):
    from safetensors.numpy import save_file

    directory = tf_fixtures.keras_export(tf, tmp_path / "keras")
    weights = tmp_path / "new.safetensors"
    save_file({"logits/kernel:0": np.zeros((3, 2), np.float32), "logits/bias": np.float32([0.5, 4.0])}, str(weights))
    assert "2 variable(s) replaced" in run("saved-model", "update", directory, weights).stdout
    loaded = tf.saved_model.load(str(directory))  # held: its functions need its variables alive
    np.testing.assert_array_equal(loaded.serve(tf.ones((2, 5))).numpy(), [[0.5, 4.0], [0.5, 4.0]])
    wrong = tmp_path / "wrong.safetensors"
    save_file({"logits/kernel": np.zeros((2, 2), np.float32)}, str(wrong))
    failed = run("saved-model", "update", directory, wrong, check=False)
    assert failed.returncode == 1
    assert "float32[3, 2]" in failed.stderr


def test_errors_are_one_line(tmp_path):
    out = run("ls", tmp_path / "missing", check=False)
    assert out.returncode == 1
    assert out.stderr.count("\n") == 1
    assert "missing.index" in out.stderr
    assert "Traceback" not in out.stderr
    debug = run("--debug", "ls", tmp_path / "missing", check=False)
    assert "Traceback" in debug.stderr
    bad = tmp_path / "bad"
    tfbundle.save({"x": np.ones(1)}, bad)
    with open(str(bad) + ".index", "r+b") as f:
        f.write(b"\xff" * 8)
    out = run("show", bad, "x", check=False)
    assert out.returncode == 1
    assert "bad.index" in out.stderr
    assert out.stderr.count("\n") == 1


def test_bench_compares_with_tensorflow_and_safetensors(tmp_path):
    prefix = tmp_path / "ckpt"
    tfbundle.save({"w": np.ones((64, 64), np.float32), "step": np.int64(3), "names": ["a", "b"]}, prefix)
    out = run("bench", prefix, "--write", "--repeat", "1", "--json")
    result = json.loads(out.stdout)
    assert result["tensors"] == 3
    assert result["bytes"] == 64 * 64 * 4 + 8
    assert {"tfbundle get_tensor", "tfbundle load", "TF get_tensor", "TF RestoreV2", "safetensors load_file"} <= set(
        result["read"]
    )
    assert {"tfbundle save", "TF SaveV2", "safetensors save_file", "plain write()"} <= set(result["write"])
    assert all(t > 0 for kind in ("read", "write") for t in result[kind].values())
    table = run("bench", prefix, "--repeat", "1")
    assert "tfbundle get_tensor is" in table.stdout
    assert "GB/s" in table.stdout
