"""Bulk extraction (tfbundle.bulk, `tfbundle extract`): many checkpoints into
stacked arrays or a table. TensorFlow writes part of the zoo and reads every
value back for comparison."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tfbundle
from tfbundle import bulk
from tfbundle.remote import Store

# The Small CNN Zoo network: 4 970 float32 parameters.
ZOO_SHAPES = {
    "conv1/kernel": (3, 3, 1, 16),
    "conv1/bias": (16,),
    "conv2/kernel": (3, 3, 16, 16),
    "conv2/bias": (16,),
    "conv3/kernel": (3, 3, 16, 16),
    "conv3/bias": (16,),
    "dense/kernel": (16, 10),
    "dense/bias": (10,),
}


def _weights(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: rng.normal(size=shape).astype(np.float32) for name, shape in ZOO_SHAPES.items()}


@pytest.fixture(scope="module")
def zoo(tf, tmp_path_factory):
    """12 checkpoints ckpt-1 .. ckpt-12: odd ones written by TensorFlow's
    SaveV2, even ones by tfbundle; each with its global_step."""
    root = tmp_path_factory.mktemp("zoo")
    for i in range(1, 13):
        values = _weights(i)
        values["global_step"] = np.int64(i * 100)
        prefix = str(root / f"ckpt-{i}")
        if i % 2:
            names = list(values)
            tf.raw_ops.SaveV2(
                prefix=prefix,
                tensor_names=names,
                shape_and_slices=[""] * len(names),
                tensors=[tf.constant(values[n]) for n in names],
            )
        else:
            tfbundle.save(values, prefix)
    return root


def _tf_value(tf, prefix, key):
    return tf.train.load_checkpoint(str(prefix)).get_tensor(key)


def test_expand_sorts_naturally(zoo):
    from_glob = bulk.expand(str(zoo / "ckpt-*.index"))
    assert [Path(p).name for p in from_glob] == [f"ckpt-{i}" for i in range(1, 13)]
    assert bulk.expand(zoo) == from_glob
    assert bulk.expand([zoo / "ckpt-3", zoo / "ckpt-1"]) == [str(zoo / "ckpt-3"), str(zoo / "ckpt-1")]


def test_stack_matches_tensorflow(tf, zoo, tmp_path):
    sources = str(zoo / "ckpt-*.index")
    stacked = bulk.stack(sources, ["conv1/kernel", r"dense/.*"])
    assert list(stacked) == ["conv1/kernel", "dense/bias", "dense/kernel"]
    assert stacked["conv1/kernel"].shape == (12, 3, 3, 1, 16)
    for row, prefix in enumerate(bulk.expand(sources)):
        for key, array in stacked.items():
            np.testing.assert_array_equal(array[row], _tf_value(tf, prefix, key))
    flat = bulk.stack(sources, [r"conv\d/kernel", r"conv\d/bias", r"dense/.*"], flatten=True)
    assert flat.shape == (12, 4970)
    assert flat.dtype == np.float32
    prefix = bulk.expand(sources)[4]
    order = ["conv1/kernel", "conv2/kernel", "conv3/kernel", "conv1/bias", "conv2/bias", "conv3/bias"]
    order += ["dense/bias", "dense/kernel"]
    expected = np.concatenate([_tf_value(tf, prefix, k).reshape(-1) for k in order])
    np.testing.assert_array_equal(flat[4], expected)
    # Straight into a .npy, and with two worker processes: bit for bit the same.
    out = bulk.stack(sources, [r"conv\d/kernel", r"conv\d/bias", r"dense/.*"], flatten=True, out=tmp_path / "z.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "z.npy"), flat)
    assert out.shape == flat.shape
    pooled = bulk.stack(sources, [r"conv\d/kernel", r"conv\d/bias", r"dense/.*"], flatten=True, workers=2)
    assert pooled.tobytes() == flat.tobytes()
    pooled_npy = bulk.stack(sources, ["dense/kernel"], out=tmp_path / "d.npy", workers=2)
    assert np.load(tmp_path / "d.npy").tobytes() == stacked["dense/kernel"].tobytes()
    assert pooled_npy.shape == (12, 16, 10)


def test_bad_checkpoints_are_reported_and_the_run_goes_on(zoo, tmp_path):
    import shutil

    copy = tmp_path / "zoo"
    shutil.copytree(zoo, copy)
    data = copy / "ckpt-5.data-00000-of-00001"
    with tfbundle.open(copy / "ckpt-5") as reader:
        offset = reader.entry("dense/kernel")["offset"]
    raw = bytearray(data.read_bytes())
    raw[offset + 10] ^= 0xFF  # inside dense/kernel
    data.write_bytes(bytes(raw))
    tfbundle.save({"other": np.zeros(3)}, copy / "ckpt-13")  # lacks the keys
    sources = str(copy / "ckpt-*.index")
    with pytest.raises(bulk.BulkError, match="2 checkpoint") as info:
        bulk.stack(sources, ["dense/kernel"])
    assert set(info.value.errors) == {str(copy / "ckpt-5"), str(copy / "ckpt-13")}
    assert "checksum" in info.value.errors[str(copy / "ckpt-5")]
    with pytest.warns(UserWarning, match="2 checkpoint"):
        stacked = bulk.stack(sources, ["dense/kernel"], on_error="warn")
    values = stacked["dense/kernel"]
    assert np.isnan(values[4]).all()
    assert np.isnan(values[12]).all()
    assert not np.isnan(np.delete(values, [4, 12], axis=0)).any()


def test_table_statistics_and_error_rows(tf, zoo, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    import shutil

    copy = tmp_path / "zoo"
    shutil.copytree(zoo, copy)
    (copy / "ckpt-7.index").write_bytes(b"not a table")
    table = bulk.table(copy, [r".*kernel"], out=tmp_path / "t.parquet", workers=2)
    rows = table.to_pylist()
    errors = [r for r in rows if r["error"]]
    assert [r["path"] for r in errors] == [str(copy / "ckpt-7")]
    good = [r for r in rows if not r["error"]]
    assert len(good) == 11 * 4
    assert pq.read_table(tmp_path / "t.parquet").equals(table)
    for r in good[:8]:
        value = _tf_value(tf, r["path"], r["key"]).astype(np.float64)
        assert r["step"] == int(Path(r["path"]).name.split("-")[1])
        assert r["dtype"] == "float32"
        assert r["shape"] == list(value.shape)
        assert r["nbytes"] == value.size * 4
        assert r["min"] == value.min()
        assert r["max"] == value.max()
        assert r["mean"] == pytest.approx(value.mean(), rel=1e-12)
        assert r["std"] == pytest.approx(value.std(), rel=1e-12)
        assert r["l2"] == pytest.approx(np.linalg.norm(value), rel=1e-12)
        assert (r["nan"], r["inf"]) == (0, 0)
    with_values = bulk.table([copy / "ckpt-2"], ["dense/bias"], stats=False, values=True)
    assert with_values.column("values").to_pylist()[0] == _weights(2)["dense/bias"].astype(np.float64).tolist()


def test_extract_command(zoo, tmp_path):
    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "tfbundle", "extract", *map(str, args)], capture_output=True, text=True
        )

    out = run(zoo / "ckpt-*.index", "-o", tmp_path / "w.npy", "--keys", r"conv\d/kernel", "--flatten", "--workers", "2")
    assert out.returncode == 0, out.stderr
    assert np.load(tmp_path / "w.npy").shape == (12, 3 * 3 * 1 * 16 + 2 * 3 * 3 * 16 * 16)
    out = run(zoo, "-o", tmp_path / "t.parquet", "--stats")
    assert out.returncode == 0, out.stderr
    assert "108 rows" in out.stdout  # 12 checkpoints x 9 tensors


def test_stack_resumes_an_interrupted_run(zoo, tmp_path, monkeypatch):
    sources = str(zoo / "ckpt-*.index")
    keys = [r"conv\d/kernel", r"dense/.*"]
    expected = bulk.stack(sources, keys, flatten=True)
    out = tmp_path / "w.npy"
    real = bulk._read_rows
    calls: list[str] = []
    stopped: list[bool] = []

    def failing_on_third_batch(prefixes, *args):
        calls.append(prefixes[0])
        if len(calls) == 3 and not stopped:
            stopped.append(True)
            raise KeyboardInterrupt  # the run is stopped mid-way
        return real(prefixes, *args)

    monkeypatch.setattr(bulk, "_read_rows", failing_on_third_batch)
    with pytest.raises(KeyboardInterrupt):
        bulk.stack(sources, keys, flatten=True, out=out)
    assert not out.exists()  # only a complete output gets the name
    partial = tmp_path / "w.npy.partial"
    done = len(list(partial.glob("done-*.json")))  # the batch after the failure may have run
    assert 2 <= done < 4
    # Other keys cannot resume this run; without resume it starts again.
    with pytest.raises(ValueError, match="interrupted extraction of other"):
        bulk.stack(sources, ["dense/bias"], out=out, resume=True)
    calls.clear()
    result = bulk.stack(sources, keys, flatten=True, out=out, resume=True, workers=2)  # other workers: same batches
    assert len(calls) == 4 - done  # only the unfinished batches of three checkpoints
    assert result.tobytes() == expected.tobytes()
    assert np.load(out).tobytes() == expected.tobytes()
    assert not partial.exists()


def test_stack_into_zarr(zoo, tmp_path):
    zarr = pytest.importorskip("zarr")
    sources = str(zoo / "ckpt-*.index")
    flat = bulk.stack(sources, [r"conv\d/kernel", r"dense/.*"], flatten=True)
    stored = bulk.stack(sources, [r"conv\d/kernel", r"dense/.*"], flatten=True, out=tmp_path / "f.zarr", workers=2)
    assert stored.shape == flat.shape
    assert stored[:].tobytes() == flat.tobytes()
    assert zarr.open(store=str(tmp_path / "f.zarr"), mode="r")[:].tobytes() == flat.tobytes()
    per_key = bulk.stack(sources, ["conv1/kernel", "dense/bias"])
    group = bulk.stack(sources, ["conv1/kernel", "dense/bias"], out=tmp_path / "g.zarr")
    for key, array in per_key.items():
        assert group[key][:].tobytes() == array.tobytes()
    assert not (tmp_path / "g.zarr.partial").exists()


def test_table_resumes_an_interrupted_run(zoo, tmp_path, monkeypatch):
    pytest.importorskip("pyarrow")
    expected = bulk.table(zoo, [r".*kernel"])
    out = tmp_path / "t.parquet"
    real = bulk.table_rows
    calls: list[str] = []
    stopped: list[bool] = []

    def failing_on_second_batch(prefixes, *args):
        calls.append(prefixes[0])
        if len(calls) == 2 and not stopped:
            stopped.append(True)
            raise KeyboardInterrupt
        return real(prefixes, *args)

    monkeypatch.setattr(bulk, "table_rows", failing_on_second_batch)
    with pytest.raises(KeyboardInterrupt):
        bulk.table(zoo, [r".*kernel"], out=out)
    assert not out.exists()
    done = len(list((tmp_path / "t.parquet.partial").glob("done-*.json")))
    assert 1 <= done < 4
    calls.clear()
    resumed = bulk.table(zoo, [r".*kernel"], out=out, resume=True)
    assert len(calls) == 4 - done
    assert resumed.equals(expected)
    assert not (tmp_path / "t.parquet.partial").exists()


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64", "int8", "uint16", "int64", "bool"])
def test_statistics_computed_while_reading_match_numpy(tmp_path, dtype):
    import ml_dtypes

    rng = np.random.default_rng(7)
    numpy_dtype = np.dtype(ml_dtypes.bfloat16) if dtype == "bfloat16" else np.dtype(dtype)
    values = (rng.normal(size=700_001) * 40 + 3).astype(numpy_dtype)  # two or more read chunks
    if numpy_dtype.kind == "f" or dtype == "bfloat16":
        values[[5, 70_000]] = np.nan
        values[[9, 200_000, 700_000]] = [np.inf, -np.inf, np.inf]
    tfbundle.save({"v": values, "empty": np.zeros((0, 3), numpy_dtype)}, tmp_path / "c")
    with tfbundle.open(tmp_path / "c") as reader:
        stats = reader.statistics("v")
        assert reader.statistics("empty")["mean"] is None
    data = values.astype(np.float64)
    finite = data[np.isfinite(data)]
    assert stats["nan"] == int(np.isnan(data).sum())
    assert stats["inf"] == int(np.isinf(data).sum())
    assert stats["min"] == finite.min()
    assert stats["max"] == finite.max()
    assert stats["mean"] == pytest.approx(finite.mean(), rel=1e-12, abs=1e-12)
    assert stats["std"] == pytest.approx(finite.std(), rel=1e-12)
    assert stats["l2"] == pytest.approx(np.linalg.norm(finite), rel=1e-12)
    from tfbundle.reader import array_statistics

    assert array_statistics(values) == stats  # the same chunks, the same arithmetic


def test_statistics_of_a_damaged_tensor_raise(tmp_path):
    tfbundle.save({"v": np.arange(1000, dtype=np.float32)}, tmp_path / "c")
    data = tmp_path / "c.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[100] ^= 1
    data.write_bytes(bytes(raw))
    with tfbundle.open(tmp_path / "c") as reader, pytest.raises(tfbundle.DataLossError, match="checksum"):
        reader.statistics("v")


def test_extract_command_resumes_and_summarises(zoo, tmp_path):
    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "tfbundle", "extract", *map(str, args)], capture_output=True, text=True
        )

    out = run(zoo, "-o", tmp_path / "k.zarr", "--keys", "dense/kernel", "--resume")
    assert out.returncode == 0, out.stderr
    assert "12 checkpoints (0 unreadable)" in out.stdout
    assert "per second" in out.stdout
    partial = tmp_path / "t.parquet.partial"
    partial.mkdir()
    (partial / "manifest.json").write_text("{}")  # a run of something else
    out = run(zoo, "-o", tmp_path / "t.parquet", "--resume")
    assert out.returncode != 0
    assert "interrupted extraction of other" in out.stderr
    out = run(zoo, "-o", tmp_path / "t.parquet")  # without --resume: starts again
    assert out.returncode == 0, out.stderr
    assert "108 rows, 0 unreadable" in out.stdout


def test_v1_checkpoints_in_a_tree_and_url_globs(tf, zoo, tmp_path):
    from tests import tf_fixtures

    single, single_values = tf_fixtures.v1_checkpoint(tf, tmp_path / "tree" / "a")
    sharded, _ = tf_fixtures.v1_checkpoint(tf, tmp_path / "tree" / "b", shards=2)
    tfbundle.save({"w": np.ones(3, np.float32)}, tmp_path / "tree" / "c" / "ckpt-7")
    found = bulk.expand(tmp_path / "tree")
    base = str(tmp_path / "tree")
    assert found == [single, f"{base}/b/model.ckpt-1234", f"{base}/c/ckpt-7"]
    assert sharded.startswith(found[1] + "-")  # TensorFlow names the shard set by a pattern
    rows = bulk.table(found[:1]).to_pylist()
    assert not any(r["error"] for r in rows)
    checked = 0
    for r in rows:
        value = single_values.get(r["key"])
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            continue
        if value.size == 0:
            assert r["mean"] is None
        else:
            assert r["mean"] == pytest.approx(value.astype(np.float64).mean(), rel=1e-12)
            checked += 1
    assert checked >= 2
    # A glob over URLs lists through fsspec; the checkpoints are read by byte ranges.
    pytest.importorskip("fsspec")
    local = sorted(bulk.expand(str(zoo / "ckpt-*.index")), key=bulk.natural_key)
    for prefix in local:
        name = Path(prefix).name
        for suffix in (".index", ".data-00000-of-00001"):
            Store.for_url("memory://").put_bytes(f"memory://bulkzoo/{name}{suffix}", Path(prefix + suffix).read_bytes())
    urls = bulk.expand("memory://bulkzoo/ckpt-*.index")
    assert [u.rsplit("/", 1)[1] for u in urls] == [Path(p).name for p in local]
    remote = bulk.stack(urls, ["dense/kernel"], flatten=True)
    assert remote.tobytes() == bulk.stack(local, ["dense/kernel"], flatten=True).tobytes()


def test_stack_reads_spans_and_scattered_tensors_alike(tmp_path):
    # "a" and "z" lie on either side of an 8 MiB tensor: the stack reads them
    # one by one instead of the span; "a" and "b", adjacent, in one read.
    # A truncated data file is an error row either way.
    rng = np.random.default_rng(1)
    for i in range(3):
        tfbundle.save(
            {
                "a": rng.normal(size=5).astype(np.float32),
                "b": rng.normal(size=7).astype(np.float32),
                "m": rng.normal(size=(1024, 2048)).astype(np.float32),
                "z": np.arange(i, i + 3, dtype=np.int64),
            },
            tmp_path / f"c-{i}",
        )
    sources = [tmp_path / f"c-{i}" for i in range(3)]
    for keys in (["a", "z"], ["a", "b"]):
        stacked = bulk.stack(sources, keys)
        for row, prefix in enumerate(sources):
            with tfbundle.open(prefix) as reader:
                for key in keys:
                    assert stacked[key][row].tobytes() == reader.get_tensor(key).tobytes()
    # Without "m", "z" and "a" are read by one preadv (and "b" between them
    # into a sink), each into its own column, whatever order keys give.
    for i in range(3):
        tfbundle.save({"a": np.int64([i]), "b": np.arange(9.0), "z": np.int64([-i, i])}, tmp_path / f"s-{i}")
    small = [tmp_path / f"s-{i}" for i in range(3)]
    flat = bulk.stack(small, ["z", "a"], flatten=True)
    assert flat.dtype == np.int64
    assert flat.tolist() == [[-i, i, i] for i in range(3)]
    for keys in (["z", "a"], ["b"]):
        stacked = bulk.stack(small, keys)
        for row, prefix in enumerate(small):
            with tfbundle.open(prefix) as reader:
                for key in keys:
                    assert stacked[key][row].tobytes() == reader.get_tensor(key).tobytes()
    data = tmp_path / "c-1.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:100])  # "a" and "b" (bytes 0-48) survive, "z" does not
    for keys in (["a", "z"], ["z"]):
        with pytest.raises(bulk.BulkError) as info:
            bulk.stack(sources, keys)
        assert list(info.value.errors) == [str(tmp_path / "c-1")]
        assert "truncated" in info.value.errors[str(tmp_path / "c-1")]
    assert bulk.stack(sources, ["a", "b"])["b"].shape == (3, 7)  # as TensorFlow, which reads only what it needs


def test_stack_of_many_rows_into_fresh_memory(tf, zoo, tmp_path):
    # 360 rows (7 MB flattened) span many of the 512 KiB windows the stack
    # populates ahead of its reads, per column when not flattened: every row
    # holds its checkpoint's values, in memory, in a .npy and over two workers.
    prefixes = bulk.expand(str(zoo / "ckpt-*.index"))
    sources = [prefixes[i % 3 * 5] for i in range(360)]  # ckpt-1, ckpt-6, ckpt-11, ckpt-1...
    keys = [r"conv\d/kernel", r"conv\d/bias", r"dense/.*"]
    expected = {p: {k: _tf_value(tf, p, k) for k in ZOO_SHAPES} for p in set(sources)}
    order = ["conv1/kernel", "conv2/kernel", "conv3/kernel", "conv1/bias", "conv2/bias", "conv3/bias"]
    order += ["dense/bias", "dense/kernel"]
    rows = np.stack([np.concatenate([expected[p][k].reshape(-1) for k in order]) for p in sources])
    for workers in (1, 2):
        flat = bulk.stack(sources, keys, flatten=True, workers=workers)
        assert flat.tobytes() == rows.tobytes()
        stacked = bulk.stack(sources, keys, workers=workers)
        for key, array in stacked.items():
            assert array.tobytes() == np.stack([expected[p][key] for p in sources]).tobytes(), key
    bulk.stack(sources, keys, flatten=True, out=tmp_path / "rows.npy")
    assert np.load(tmp_path / "rows.npy").tobytes() == rows.tobytes()
