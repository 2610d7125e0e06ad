"""The `checkpoint` state file and CheckpointManager, against TensorFlow."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

import tfbundle
from tfbundle import manager as manager_module


def test_state_file_round_trips_with_tensorflow(tf, tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    for name in ("ckpt-1", "ckpt-2"):
        tfbundle.save({"x": np.ones(2)}, d / name)
    tfbundle.update_checkpoint_state(
        d,
        str(d / "ckpt-2"),
        [str(d / "ckpt-1"), str(d / "ckpt-2")],
        all_model_checkpoint_timestamps=[1.5, 2.5],
        last_preserved_timestamp=0.5,
    )
    text = (d / "checkpoint").read_text()
    assert 'model_checkpoint_path: "ckpt-2"' in text  # relative, as TF2 writes
    theirs = tf.train.get_checkpoint_state(str(d))
    assert theirs.model_checkpoint_path == str(d / "ckpt-2")
    assert list(theirs.all_model_checkpoint_paths) == [str(d / "ckpt-1"), str(d / "ckpt-2")]
    assert list(theirs.all_model_checkpoint_timestamps) == [1.5, 2.5]
    assert tf.train.latest_checkpoint(str(d)) == tfbundle.latest_checkpoint(d) == str(d / "ckpt-2")
    # TensorFlow writes (absolute paths, TF1 style); we read.
    tf.compat.v1.train.update_checkpoint_state(str(d), str(d / "ckpt-1"), [str(d / "ckpt-1")])
    ours = tfbundle.get_checkpoint_state(d)
    assert ours.model_checkpoint_path == str(d / "ckpt-1")
    assert list(ours.all_model_checkpoint_paths) == [str(d / "ckpt-1")]


def test_missing_malformed_and_moved(tmp_path):
    assert tfbundle.get_checkpoint_state(tmp_path) is None
    assert tfbundle.latest_checkpoint(tmp_path) is None
    (tmp_path / "checkpoint").write_text("model_checkpoint_path: unquoted garbage {")
    with pytest.raises(tfbundle.DataLossError, match="checkpoint"):
        tfbundle.get_checkpoint_state(tmp_path)
    assert tfbundle.latest_checkpoint(tmp_path) is None  # as TensorFlow: unreadable state means none
    # A directory written with absolute paths, then moved, still resolves.
    old = tmp_path / "old"
    old.mkdir()
    tfbundle.save({"x": np.ones(1)}, old / "ckpt-1")
    tfbundle.update_checkpoint_state(old, str(old / "ckpt-1"), save_relative_paths=False)
    assert os.path.isabs(tfbundle.get_checkpoint_state(old).model_checkpoint_path)
    moved = tmp_path / "moved"
    os.rename(old, moved)
    assert tfbundle.latest_checkpoint(moved) == str(moved / "ckpt-1")
    assert tfbundle.open(moved).get_tensor("x").tolist() == [1.0]


def test_state_file_written_on_windows(tmp_path):
    """A run trained on Windows names C:\\... paths; read on Linux, the
    checkpoints of those file names beside the state file are meant (TF on
    Linux finds none), and a manager adopting the directory retires them."""
    for step in (1, 2):
        tfbundle.save({"x": np.full(1, step, np.float32)}, tmp_path / f"ckpt-{step}")
    (tmp_path / "checkpoint").write_text(
        'model_checkpoint_path: "C:\\\\run\\\\ckpt-2"\n'
        'all_model_checkpoint_paths: "C:\\\\run\\\\ckpt-1"\n'
        'all_model_checkpoint_paths: "C:\\\\run\\\\ckpt-2"\n'
    )
    assert tfbundle.get_checkpoint_state(tmp_path).model_checkpoint_path.endswith("C:\\run\\ckpt-2")
    assert tfbundle.latest_checkpoint(tmp_path) == str(tmp_path / "ckpt-2")
    assert tfbundle.load(tmp_path)["x"].tolist() == [2.0]
    manager = tfbundle.CheckpointManager(tmp_path, max_to_keep=2)
    assert manager.checkpoints == [str(tmp_path / "ckpt-1"), str(tmp_path / "ckpt-2")]
    manager.save({"x": np.full(1, 3, np.float32)})
    assert not (tmp_path / "ckpt-1.index").exists()
    assert tfbundle.get_checkpoint_state(tmp_path).all_model_checkpoint_paths == [
        str(tmp_path / "ckpt-2"),
        str(tmp_path / "ckpt-3"),
    ]


def test_manager_numbering_retention_and_tensorflow_agrees(tf, tmp_path):
    mgr = tfbundle.CheckpointManager(tmp_path, max_to_keep=3)
    for i in range(5):
        prefix = mgr.save({"step": np.int64(i)})
        assert prefix == str(tmp_path / f"ckpt-{i + 1}")
    assert mgr.checkpoints == [str(tmp_path / f"ckpt-{n}") for n in (3, 4, 5)]
    assert not os.path.exists(tmp_path / "ckpt-2.index")
    assert not os.path.exists(tmp_path / "ckpt-2.data-00000-of-00001")
    state = tf.train.get_checkpoint_state(str(tmp_path))
    assert list(state.all_model_checkpoint_paths) == mgr.checkpoints
    assert len(state.all_model_checkpoint_timestamps) == 3
    assert tf.train.latest_checkpoint(str(tmp_path)) == mgr.latest_checkpoint
    # A new manager on the same directory continues where this one stopped.
    again = tfbundle.CheckpointManager(tmp_path, max_to_keep=3)
    assert again.checkpoints == mgr.checkpoints
    assert again.save({"step": np.int64(9)}).endswith("ckpt-6")
    assert not os.path.exists(tmp_path / "ckpt-3.index")
    # TensorFlow's manager continues our directory and applies its retention to our checkpoints.
    v = tf.Variable(1.0)
    tf_mgr = tf.train.CheckpointManager(tf.train.Checkpoint(v=v), str(tmp_path), max_to_keep=3)
    assert tf_mgr.checkpoints == again.checkpoints
    tf_mgr.save(checkpoint_number=10)
    assert not os.path.exists(tmp_path / "ckpt-4.index")
    assert tfbundle.latest_checkpoint(tmp_path) == str(tmp_path / "ckpt-10")


def test_manager_adopts_tensorflow_manager_directory(tf, tf2_manager, tmp_path):
    d = tmp_path / "adopted"
    shutil.copytree(tf2_manager, d)
    theirs = tf.train.get_checkpoint_state(str(d))
    mgr = tfbundle.CheckpointManager(d, max_to_keep=2)
    assert mgr.checkpoints == list(theirs.all_model_checkpoint_paths)  # ckpt-2, ckpt-3
    assert mgr.save({"x": np.zeros(1)}).endswith("ckpt-4")
    assert not os.path.exists(d / "ckpt-2.index")
    assert tf.train.latest_checkpoint(str(d)).endswith("ckpt-4")


def test_manager_adopts_tf1_saver_directory(tf, tf1_saver, tmp_path):
    d = tmp_path / "saver"
    shutil.copytree(tf1_saver, d)
    # Saver state files use absolute paths: rewrite them for the copied directory.
    tf.compat.v1.train.update_checkpoint_state(
        str(d), str(d / "model.ckpt-3"), [str(d / "model.ckpt-2"), str(d / "model.ckpt-3")]
    )
    mgr = tfbundle.CheckpointManager(d, max_to_keep=2, checkpoint_name="model.ckpt")
    assert mgr.save({"global_step": np.int64(4)}, checkpoint_number=4) == str(d / "model.ckpt-4")
    assert not os.path.exists(d / "model.ckpt-2.index")
    assert not os.path.exists(d / "model.ckpt-2.meta")  # TF1 Saver's .meta goes too
    assert os.path.exists(d / "model.ckpt-3.meta")
    assert tf.train.latest_checkpoint(str(d)) == str(d / "model.ckpt-4")


def test_keep_checkpoint_every_n_hours(tmp_path, monkeypatch):
    clock = [1_000_000.0]
    monkeypatch.setattr(manager_module.time, "time", lambda: clock[0])
    mgr = tfbundle.CheckpointManager(tmp_path, max_to_keep=1, keep_checkpoint_every_n_hours=1)
    saved = []
    for _ in range(6):
        clock[0] += 1800  # every half hour
        saved.append(mgr.save({"x": np.zeros(1)}))
    kept = sorted(p for p in saved if os.path.exists(p + ".index"))
    # One per full hour is preserved (ckpt-2, ckpt-4), plus the newest.
    assert kept == sorted([saved[1], saved[3], saved[5]])
    assert mgr.checkpoints == [saved[5]]


def test_manager_order_of_operations(tmp_path, monkeypatch):
    """When an old checkpoint is deleted, the new one is complete and the
    state file no longer names the old one."""
    mgr = tfbundle.CheckpointManager(tmp_path, max_to_keep=1)
    mgr.save({"x": np.zeros(1)})
    seen = []
    real_delete = manager_module.delete_checkpoint_files

    def checking_delete(prefix, **options):
        state = tfbundle.get_checkpoint_state(tmp_path)
        seen.append(
            (
                prefix,
                state.model_checkpoint_path,
                list(state.all_model_checkpoint_paths),
                os.path.exists(state.model_checkpoint_path + ".index"),
            )
        )
        real_delete(prefix, **options)

    monkeypatch.setattr(manager_module, "delete_checkpoint_files", checking_delete)
    mgr.save({"x": np.ones(1)})
    [(deleted, latest, listed, complete)] = seen
    assert deleted.endswith("ckpt-1")
    assert latest.endswith("ckpt-2")
    assert complete
    assert deleted not in listed


def test_dead_writers_temporaries_are_cleaned_by_the_next_writer(tmp_path):
    import subprocess
    import sys

    # A writer killed mid-save leaves temporaries named after its host and pid.
    script = (
        "import os, numpy as np, tfbundle\n"
        "w = tfbundle.Writer(os.path.join(os.sys.argv[1], 'ckpt-1'))\n"
        "w.add('x', np.ones(10))\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True)
    leftovers = [f for f in os.listdir(tmp_path) if ".tfbundle-tmp." in f]
    assert leftovers
    live = tmp_path / f"ckpt-9.index.tfbundle-tmp.{__import__('socket').gethostname()}.{os.getpid()}.7"
    live.write_bytes(b"a writer of this very process")
    tfbundle.save({"y": np.zeros(1)}, tmp_path / "ckpt-2")
    assert sorted(os.listdir(tmp_path)) == sorted(["ckpt-2.index", "ckpt-2.data-00000-of-00001", live.name])


def test_stale_temporaries_are_cleaned(tmp_path):
    stale = tmp_path / "ckpt-1.data-00000-of-00001.tempstate123"
    stale.write_bytes(b"partial")
    fresh = tmp_path / "ckpt-9.index.tempstate456"
    fresh.write_bytes(b"being written")
    old = 1_000_000_000
    os.utime(stale, (old, old))
    tfbundle.CheckpointManager(tmp_path).save({"x": np.zeros(1)})
    assert not stale.exists()
    assert fresh.exists()  # too young: may belong to a running writer
