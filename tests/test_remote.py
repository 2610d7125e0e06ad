"""Checkpoints read from remote storage through fsspec, against real
servers on the loopback (an HTTP server honouring Range, moto's S3 server)
and memory://. TensorFlow writes every fixture; values are compared with
TensorFlow's reader of the local copy."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import tfbundle
from tests.helpers import assert_same_array
from tests.remote_servers import RangeHTTPServer, S3Server

pytest.importorskip("fsspec")

BACKENDS = ["memory", "http", "s3"]


@pytest.fixture(scope="session")
def http_root(tmp_path_factory):
    return tmp_path_factory.mktemp("http_root")


@pytest.fixture(scope="session")
def http_server(http_root):
    with RangeHTTPServer(http_root) as server:
        yield server


@pytest.fixture(scope="session")
def s3_server():
    pytest.importorskip("s3fs")
    pytest.importorskip("moto")
    with S3Server() as server:
        yield server


class Remote:
    """One backend: ``put(local_dir_or_file_prefix, name)`` uploads files and
    returns their base URL; ``options`` are the storage_options to pass."""

    def __init__(self, kind: str, request: pytest.FixtureRequest) -> None:
        self.kind = kind
        self.options: dict = {}
        if kind == "http":
            self.server = request.getfixturevalue("http_server")
            self.root = request.getfixturevalue("http_root")
        elif kind == "s3":
            self.server = request.getfixturevalue("s3_server")
            self.options = self.server.options
        else:
            import fsspec

            self.fs = fsspec.filesystem("memory")

    def url(self, name: str) -> str:
        if self.kind == "http":
            return self.server.url(name)
        if self.kind == "s3":
            return self.server.url(name)
        return f"memory://tfbundle-tests/{name}"

    def put_bytes(self, name: str, data: bytes) -> None:
        if self.kind == "http":
            target = self.root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        elif self.kind == "s3":
            import s3fs

            s3fs.S3FileSystem(**self.options).pipe_file(self.url(name), data)
        else:
            self.fs.pipe_file(self.url(name), data)

    def put_files(self, files: list[Path], base: Path, name: str) -> str:
        """Uploads ``files`` (paths under ``base``) under ``name``; returns its URL."""
        for f in files:
            self.put_bytes(f"{name}/{f.relative_to(base).as_posix()}", f.read_bytes())
        return self.url(name)


@pytest.fixture(params=BACKENDS)
def remote(request):
    return Remote(request.param, request)


def _files(directory: Path) -> list[Path]:
    return [p for p in sorted(directory.rglob("*")) if p.is_file()]


def test_every_dtype_matches_tensorflow(tf, all_dtypes, remote):
    base = remote.put_files(_files(all_dtypes.parent), all_dtypes.parent, "all_dtypes")
    url = f"{base}/{all_dtypes.name}"
    theirs = tf.train.load_checkpoint(str(all_dtypes))
    shapes = theirs.get_variable_to_shape_map()
    with tfbundle.open(url, storage_options=remote.options) as ours:
        assert ours.prefix == url
        assert ours.get_variable_to_shape_map() == shapes
        assert {k: v.name for k, v in ours.get_variable_to_dtype_map().items()} == {
            k: v.name for k, v in theirs.get_variable_to_dtype_map().items()
        }
        for key in shapes:
            mine, tfs = ours.get_tensor(key), theirs.get_tensor(key)
            assert type(mine) is type(tfs), key
            assert_same_array(mine, tfs, key)
        ours.verify()
    loaded = tfbundle.load(url + ".index", storage_options=remote.options)
    assert set(loaded) == set(shapes)
    for key, value in loaded.items():
        assert_same_array(value, theirs.get_tensor(key), key)
    assert tfbundle.list_variables(url, storage_options=remote.options) == sorted(shapes.items())
    assert_same_array(tfbundle.load_variable(url, "big:0", storage_options=remote.options), theirs.get_tensor("big"))


def test_directories_state_files_partitions_and_saved_models(tf, tf2_manager, tf1_partitioned, saved_model, remote):
    # A CheckpointManager directory: its state file names local absolute paths.
    url = remote.put_files(_files(tf2_manager), tf2_manager, "manager")
    local_latest = tf.train.latest_checkpoint(str(tf2_manager))
    latest = tfbundle.latest_checkpoint(url, storage_options=remote.options)
    assert latest == f"{url}/{Path(local_latest).name}"
    assert tfbundle.get_checkpoint_state(url, storage_options=remote.options).all_model_checkpoint_paths == [
        f"{url}/{Path(p).name}" for p in tf.train.get_checkpoint_state(str(tf2_manager)).all_model_checkpoint_paths
    ]
    with tfbundle.open(url, storage_options=remote.options) as ours:
        assert ours.prefix == latest
        theirs = tf.train.load_checkpoint(local_latest)
        for key in theirs.get_variable_to_shape_map():
            assert_same_array(ours.get_tensor(key), theirs.get_tensor(key), key)
    # A TF1 partitioned variable reads back whole; its slices stay hidden.
    base = remote.put_files(_files(tf1_partitioned.parent), tf1_partitioned.parent, "partitioned")
    url = f"{base}/{tf1_partitioned.name}"
    theirs = tf.train.load_checkpoint(str(tf1_partitioned))
    with tfbundle.open(url, storage_options=remote.options) as ours:
        assert sorted(ours.keys()) == sorted(theirs.get_variable_to_shape_map())
        for key in ours.keys():
            assert_same_array(ours.get_tensor(key), theirs.get_tensor(key), key)
        for key, value in tfbundle.load(url, storage_options=remote.options).items():
            assert_same_array(value, theirs.get_tensor(key), key)
    # A SavedModel directory reads as its variables.
    url = remote.put_files(_files(saved_model), saved_model, "saved_model")
    theirs = tf.train.load_checkpoint(str(saved_model / "variables" / "variables"))
    with tfbundle.open(url, storage_options=remote.options) as ours:
        assert ours.prefix == f"{url}/variables/variables"
        assert ours.get_variable_to_shape_map() == theirs.get_variable_to_shape_map()


def test_damaged_objects_raise_naming_the_url(tmp_path, remote):
    prefix = tmp_path / "ckpt"
    tfbundle.save({"w": np.arange(1000, dtype=np.float32), "s": np.array([b"ab", b"c"], dtype=object)}, prefix)
    data = (tmp_path / "ckpt.data-00000-of-00001").read_bytes()
    index = (tmp_path / "ckpt.index").read_bytes()
    for name, payload in {"truncated": data[:-10], "flipped": data[:100] + bytes([data[100] ^ 1]) + data[101:]}.items():
        remote.put_bytes(f"damaged/{name}/ckpt.index", index)
        remote.put_bytes(f"damaged/{name}/ckpt.data-00000-of-00001", payload)
        url = remote.url(f"damaged/{name}/ckpt")
        with tfbundle.open(url, storage_options=remote.options) as ckpt:
            with pytest.raises(tfbundle.DataLossError, match="truncated" if name == "truncated" else "checksum"):
                ckpt.verify()
            assert ckpt.damaged(), name
    missing = remote.url("damaged/nothing-here/ckpt")
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        tfbundle.open(missing, storage_options=remote.options)
    remote.put_bytes("damaged/bad-index/ckpt.index", index[:-5])
    with pytest.raises(tfbundle.DataLossError, match=r"bad-index/ckpt\.index"):
        tfbundle.open(remote.url("damaged/bad-index/ckpt"), storage_options=remote.options)


def test_http_moves_only_the_bytes_needed(http_server, http_root):
    """The shape map of a 1 GB checkpoint moves less than 1 MB in one request;
    a 4 MiB tensor moves 4 MiB; load() coalesces neighbouring tensors."""
    block = np.ones(16 << 20, dtype=np.float32)  # 64 MiB, written 16 times
    tensors = {f"layer{i:02d}/kernel": block for i in range(16)}
    tensors["small/4mib"] = np.arange(1 << 20, dtype=np.float32)
    tensors["table"] = np.arange(1 << 20, dtype=np.float32).reshape(1024, 1024)
    tensors.update({f"bias/{i:03d}": np.full(100, i, np.float32) for i in range(200)})
    local = http_root / "big"
    tfbundle.save(tensors, local / "ckpt")
    url = http_server.url("big/ckpt")
    counters = http_server.counters

    counters.reset()
    with tfbundle.open(url) as ckpt:
        shapes = ckpt.get_variable_to_shape_map()
    assert len(shapes) == len(tensors)
    assert len(counters.requests) == 1, counters.requests
    assert counters.bytes < 1 << 20

    with tfbundle.open(url) as ckpt:
        counters.reset()
        value = ckpt.get_tensor("small/4mib")
        assert_same_array(value, tensors["small/4mib"])
        assert len(counters.requests) == 1, counters.requests
        assert counters.bytes == 4 << 20
        counters.reset()
        rows = ckpt.get_slice("table")[10:20, ::3]  # 10 rows of 4 KiB: only those move
        assert_same_array(rows, tensors["table"][10:20, ::3])
        assert len(counters.requests) == 1, counters.requests
        assert counters.bytes == 10 * 4096
        assert_same_array(ckpt.get_slice("table")[-1], tensors["table"][-1])
        assert_same_array(ckpt.get_slice("table")[..., 5], tensors["table"][..., 5])
        assert ckpt.get_slice("table")[7:7].shape == (0, 1024)
        counters.reset()
        biases = ckpt._core.read_many([f"bias/{i:03d}" for i in range(200)])
        assert len(counters.requests) == 1, counters.requests  # 200 neighbours, one block
        assert counters.bytes == 200 * 400
        for i in range(200):
            assert_same_array(biases[f"bias/{i:03d}"], tensors[f"bias/{i:03d}"])
    shutil.rmtree(local)


def test_http_errors(http_server, http_root):
    tfbundle.save({"w": np.arange(100_000, dtype=np.float32)}, http_root / "errors" / "ckpt")
    with pytest.raises(PermissionError, match="forbidden/errors/ckpt"):
        tfbundle.open(http_server.url("errors/ckpt", mount="forbidden"))
    with tfbundle.open(http_server.url("errors/ckpt", mount="drop")) as ckpt:  # the index is served whole
        with pytest.raises(OSError, match=r"drop/errors/ckpt\.data-00000-of-00001") as info:
            ckpt.get_tensor("w")
        assert not isinstance(info.value, FileNotFoundError)


def test_cli_lists_a_url(http_server, http_root):
    tfbundle.save({"dense/kernel": np.zeros((4, 3), np.float32)}, http_root / "cli" / "ckpt")
    out = subprocess.run(
        [sys.executable, "-m", "tfbundle", "ls", http_server.url("cli/ckpt"), "--json"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "dense/kernel" in out.stdout


def test_local_use_never_imports_fsspec(tmp_path):
    tfbundle.save({"w": np.ones(3)}, tmp_path / "ckpt")
    script = (
        "import sys, tfbundle\n"
        f"tfbundle.load({str(tmp_path / 'ckpt')!r}); tfbundle.latest_checkpoint({str(tmp_path)!r})\n"
        "assert 'fsspec' not in sys.modules, 'fsspec imported'\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


WRITABLE = ["memory", "s3"]


@pytest.fixture(params=WRITABLE)
def writable(request):
    return Remote(request.param, request)


def _download(remote: Remote, url: str, target: Path) -> Path:
    """Copies every object under ``url`` into ``target`` (for TensorFlow)."""
    from tfbundle.remote import Store

    store = Store.for_url(url, remote.options)
    target.mkdir(parents=True, exist_ok=True)
    for name in store.fs.ls(url, detail=False):
        (target / Path(name).name).write_bytes(store.cat(store.url(name)))
    return target


def _names(remote: Remote, url: str) -> set[str]:
    from tfbundle.remote import Store

    store = Store.for_url(url, remote.options)
    try:
        return {Path(n).name for n in store.fs.ls(url, detail=False)}
    except FileNotFoundError:
        return set()


def test_save_and_writer_to_a_url_tensorflow_restores(tf, tmp_path, writable):
    rng = np.random.default_rng(5)
    tensors = {
        "dense/kernel": rng.normal(size=(300, 200)).astype(np.float32),
        "dense/bias": np.arange(200, dtype=np.float64),
        "vocab": np.array([b"a", b"\xff", b""], dtype=object),
        "step": np.int64(9),
    }
    url = writable.url("written/ckpt-1")
    assert tfbundle.save(tensors, url, num_shards=2, storage_options=writable.options) == url
    names = _names(writable, writable.url("written"))
    assert names == {"ckpt-1.index", "ckpt-1.data-00000-of-00002", "ckpt-1.data-00001-of-00002"}
    local = _download(writable, writable.url("written"), tmp_path / "down")
    theirs = tf.train.load_checkpoint(str(local / "ckpt-1"))
    for key, value in tensors.items():
        assert_same_array(theirs.get_tensor(key), value, key)

    # A writer that fails inside its with-block uploads nothing.
    def write_then_fail() -> None:
        with tfbundle.Writer(writable.url("aborted/ckpt-1"), storage_options=writable.options) as w:
            w.add("x", np.ones(10))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        write_then_fail()
    assert _names(writable, writable.url("aborted")) == set()


def test_manager_at_a_url(tf, tmp_path, writable):
    url = writable.url("managed")
    manager = tfbundle.CheckpointManager(url, max_to_keep=2, storage_options=writable.options)
    saved = [manager.save({"w": np.full(5, i, np.float32)}) for i in range(4)]
    assert manager.checkpoints == saved[2:]
    assert tfbundle.latest_checkpoint(url, storage_options=writable.options) == saved[3]
    names = _names(writable, url)
    assert names == {"checkpoint"} | {f"ckpt-{i}.{s}" for i in (3, 4) for s in ("index", "data-00000-of-00001")}
    local = _download(writable, url, tmp_path / "managed")
    assert tf.train.latest_checkpoint(str(local)) == str(local / "ckpt-4")
    time.sleep(1.1)  # stores time objects to the second; the leftovers come later than the first save
    # Leftovers of a preempted job: a dead writer's upload marker, its orphan
    # data, a complete checkpoint the state file never listed; and a file
    # that is not the manager's.
    from tfbundle.remote import Store

    store = Store.for_url(url, writable.options)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = __import__("socket").gethostname()
    store.put_bytes(f"{url}/ckpt-9.index.tfbundle-tmp.{host}.{dead.stdout.strip()}.1", b"")
    store.put_bytes(f"{url}/ckpt-9.data-00000-of-00001", b"orphan")
    for suffix in ("index", "data-00000-of-00001"):
        store.put_bytes(f"{url}/ckpt-7.{suffix}", store.cat(f"{url}/ckpt-4.{suffix}"))
    store.put_bytes(f"{url}/notes.data-00000-of-00001", b"not ours")
    manager = tfbundle.CheckpointManager(url, max_to_keep=2, storage_options=writable.options)
    assert manager.checkpoints == [saved[2], saved[3], f"{url}/ckpt-7"]
    names = _names(writable, url)
    assert not [n for n in names if n.startswith("ckpt-9")], names
    assert "notes.data-00000-of-00001" in names
    latest = manager.save({"w": np.zeros(5, np.float32)})
    assert latest == f"{url}/ckpt-8"
    assert manager.checkpoints == [f"{url}/ckpt-7", latest]
    assert _names(writable, url) == {"checkpoint", "notes.data-00000-of-00001"} | {
        f"ckpt-{i}.{s}" for i in (7, 8) for s in ("index", "data-00000-of-00001")
    }


def test_preempted_training_loop_at_a_url_leaks_nothing(s3_server):
    """The local preemption test against the S3 server: a CheckpointManager
    loop writing to s3:// SIGKILLed 20 times at seeded moments, restarted
    each time; one more save leaves exactly three intact checkpoints, the
    state file and nothing else."""
    import json
    import os
    import random

    from tests.crash_helper import SMALL, Helper
    from tfbundle.remote import Store

    rng = random.Random("preempted-s3")
    url = s3_server.url("preempted")
    env = dict(os.environ, TFBUNDLE_TEST_STORAGE_OPTIONS=json.dumps(s3_server.options))
    with Helper(env) as helper:
        for _ in range(20):
            assert helper.trial("training", url, rng.uniform(0.5, 2.0)) == "killed"
    store = Store.for_url(url, s3_server.options)

    def listing() -> list[str]:
        try:
            return [Path(n).name for n in store.fs.ls(url, detail=False, refresh=True)]
        except FileNotFoundError:  # nothing written yet
            return []

    manager = tfbundle.CheckpointManager(url, max_to_keep=3, storage_options=s3_server.options)
    left = set(listing())
    assert not [n for n in left if ".tfbundle-tmp." in n], left
    for name in left:
        if ".data-" in name:
            assert name.split(".data-")[0] + ".index" in left, f"orphan data object {name}"
    latest = manager.save(SMALL)
    names = listing()
    kept = sorted(f"{url}/{n[: -len('.index')]}" for n in names if n.endswith(".index"))
    assert kept == sorted(manager.checkpoints)
    assert 1 <= len(kept) <= 3  # 3 unless a slow machine was killed before 3 saves
    assert tfbundle.latest_checkpoint(url, storage_options=s3_server.options) == latest
    expected = {"checkpoint"} | {f"{Path(k).name}.{s}" for k in kept for s in ("index", "data-00000-of-00001")}
    assert set(listing()) == expected
    for prefix in kept:
        with tfbundle.open(prefix, storage_options=s3_server.options) as ckpt:
            ckpt.verify()


def test_saved_model_and_convert_from_a_url(tf, saved_model, tmp_path, writable):
    url = writable.put_files(_files(saved_model), saved_model, "sm")
    local = tfbundle.saved_model.open(saved_model)
    with tfbundle.saved_model.open(url, storage_options=writable.options) as model:
        assert model.tags == local.tags
        assert list(model.signatures) == list(local.signatures)
        assert model.object_paths == local.object_paths
        for key in local.variables.keys():
            assert_same_array(model.variables.get_tensor(key), local.variables.get_tensor(key), key)
    # A URL checkpoint converted to a local one and to safetensors; the copy
    # keeps the stored bytes (TensorFlow restores it).
    src = f"{url}/variables/variables"
    from tfbundle.convert import convert

    out = convert(src, tmp_path / "copy" / "ckpt", storage_options=writable.options)
    theirs = tf.train.load_checkpoint(str(saved_model / "variables" / "variables"))
    copied = tf.train.load_checkpoint(out)
    for key in theirs.get_variable_to_shape_map():
        assert_same_array(copied.get_tensor(key), theirs.get_tensor(key), key)
    # write_variables to a URL: TensorFlow serves the downloaded export.
    export = writable.url("sm-written")
    for item in _files(saved_model):
        if "variables" not in item.parts:
            writable.put_bytes(f"sm-written/{item.relative_to(saved_model).as_posix()}", item.read_bytes())
    values = {k: local.variables.get_tensor(k) for k in local.variables.keys()}
    tfbundle.saved_model.write_variables(export, values, storage_options=writable.options)
    with tfbundle.saved_model.open(export, storage_options=writable.options) as model:
        for key, value in values.items():
            assert_same_array(model.variables.get_tensor(key), value, key)
    with pytest.raises(ValueError, match="atomic directory swap"):
        tfbundle.saved_model.update_variables(export, {})
    with pytest.warns(UserWarning, match="cannot store"):  # the object graph is a string
        st = convert(src, tmp_path / "weights.safetensors", storage_options=writable.options)
    assert Path(st).stat().st_size > 0


def test_graphs_and_edits_at_urls(tf, tmp_path, tf2_manager, writable):
    from tests.test_graph import tf_consts
    from tfbundle import graph as tgraph
    from tfbundle.edit import transform

    g = tf.Graph()
    with g.as_default():
        tf.constant(np.arange(12, dtype=np.float32).reshape(3, 4), name="table")
        tf.constant([b"a", b"bc"], name="words")
        w = tf.compat.v1.get_variable("w", [2, 3])
        tf.identity(w, name="out")
        meta = tf.compat.v1.train.export_meta_graph(filename=str(tmp_path / "model.meta"), graph=g)
    tf.io.write_graph(g.as_graph_def(), str(tmp_path), "frozen.pb", as_text=False)
    url = writable.put_files([tmp_path / "frozen.pb", tmp_path / "model.meta"], tmp_path, "graphs")
    ours = tgraph.load_consts(f"{url}/frozen.pb", storage_options=writable.options)
    theirs = tf_consts(tf, tmp_path / "frozen.pb")
    assert set(ours) == set(theirs)
    assert {"table", "words"} <= set(ours)
    for name in ("table", "w/Initializer/random_uniform/shape"):
        assert_same_array(ours[name], theirs[name], name)
    assert ours["words"].tolist() == [b"a", b"bc"]
    nodes = tgraph.open(f"{url}/frozen.pb", storage_options=writable.options).nodes
    assert [n.name for n in nodes] == [n.name for n in g.as_graph_def().node]
    opened = tgraph.open_meta(f"{url}/model.meta", storage_options=writable.options)
    local = tgraph.open_meta(tmp_path / "model.meta")
    assert [v.name for v in opened.variables] == [v.name for v in local.variables] == ["w"]
    assert len(opened.nodes) == len(meta.graph_def.node)
    # edit: a URL checkpoint, optimizer state dropped, written to another URL.
    latest = Path(tf.train.latest_checkpoint(str(tf2_manager)))
    src = writable.put_files([p for p in tf2_manager.iterdir() if p.name.startswith(latest.name)], tf2_manager, "edit")
    dst = writable.url("edited/slim")
    transform(f"{src}/{latest.name}", dst, drop_optimizer=True, storage_options=writable.options)
    theirs = tf.train.load_checkpoint(str(latest))
    with tfbundle.open(dst, storage_options=writable.options) as edited:
        assert not any("optimizer" in k for k in edited.keys() if k != "_CHECKPOINTABLE_OBJECT_GRAPH")
        for key in edited.keys():
            if key != "_CHECKPOINTABLE_OBJECT_GRAPH":
                assert_same_array(edited.get_tensor(key), theirs.get_tensor(key), key)


def test_a_missing_fsspec_names_the_extra():
    script = (
        "import sys\n"
        "sys.modules['fsspec'] = None  # as if not installed\n"
        "import tfbundle\n"
        "try:\n"
        "    tfbundle.open('s3://bucket/run/ckpt-1')\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert 'pip install "tfbundle[s3]"' in out.stdout
