"""Shared fixtures. Checkpoints are made by real TensorFlow at test time, into
temporary directories; tests that need TensorFlow skip cleanly without it."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tests import tf_fixtures


@pytest.fixture(scope="session")
def tf():
    return pytest.importorskip("tensorflow")


@pytest.fixture(scope="session")
def fixtures_root(tmp_path_factory):
    return tmp_path_factory.mktemp("tf_made")


@pytest.fixture(scope="session")
def tf1_saver(tf, fixtures_root):
    return tf_fixtures.tf1_saver(tf, fixtures_root / "tf1_saver")


@pytest.fixture(scope="session")
def tf1_sharded(tf, fixtures_root):
    return tf_fixtures.tf1_sharded(tf, fixtures_root / "tf1_sharded")


@pytest.fixture(scope="session")
def tf1_partitioned(tf, fixtures_root):
    return tf_fixtures.tf1_partitioned(tf, fixtures_root / "tf1_partitioned")


@pytest.fixture(scope="session")
def tf2_manager(tf, fixtures_root):
    return tf_fixtures.tf2_manager(tf, fixtures_root / "tf2_manager")


@pytest.fixture(scope="session")
def all_dtypes(tf, fixtures_root):
    return tf_fixtures.all_dtypes(tf, fixtures_root / "all_dtypes" / "ckpt")


@pytest.fixture(scope="session")
def saved_model(tf, fixtures_root):
    return tf_fixtures.saved_model(tf, fixtures_root / "saved_model")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def v1_single(tf, fixtures_root):
    """(path, values TF restores) of a one-file V1 checkpoint."""
    return tf_fixtures.v1_checkpoint(tf, fixtures_root / "v1_single")


@pytest.fixture(scope="session")
def v1_sharded(tf, fixtures_root):
    """(pattern TF names it by, values TF restores) of a sharded V1 checkpoint."""
    return tf_fixtures.v1_checkpoint(tf, fixtures_root / "v1_sharded", shards=3)
