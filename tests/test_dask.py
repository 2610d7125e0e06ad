"""tfbundle.dask on a real distributed.LocalCluster with worker processes:
the lazy Dask Arrays and DataFrame equal tfbundle.bulk's results bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

import tfbundle
from tfbundle import bulk

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
tfdask = pytest.importorskip("tfbundle.dask")

SHAPES = {"conv/kernel": (3, 3, 1, 8), "conv/bias": (8,), "dense/kernel": (8, 10), "dense/bias": (10,)}


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    root = tmp_path_factory.mktemp("dask_zoo")
    for i in range(10):
        rng = np.random.default_rng(i)
        values = {k: rng.normal(size=s).astype(np.float32) for k, s in SHAPES.items()}
        values["global_step"] = np.int64(i)
        tfbundle.save(values, root / f"m-{i}")
    return root


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def test_stack_on_a_cluster_equals_the_local_path(zoo, client):
    sources = str(zoo / "m-*.index")
    local = bulk.stack(sources, [".*kernel", ".*bias"], flatten=True)
    lazy = tfdask.stack(sources, [".*kernel", ".*bias"], flatten=True, batch_size=3)
    assert lazy.chunks[0] == (3, 3, 3, 1)
    computed = client.compute(lazy).result()
    assert computed.dtype == local.dtype
    assert computed.tobytes() == local.tobytes()
    # Task keys come from the inputs: the same stack batched differently
    # never shares a key with it, even computed together.
    other = tfdask.stack(sources, [".*kernel", ".*bias"], flatten=True, batch_size=4)
    assert other.name != lazy.name
    assert tfdask.stack(sources, [".*kernel", ".*bias"], flatten=True, batch_size=3).name == lazy.name
    for result in [*client.compute([lazy, other], sync=True), *dask.compute(lazy, other, scheduler="sync")]:
        assert result.tobytes() == local.tobytes()
    per_key = tfdask.stack(sources, ["conv/kernel", "dense/bias"], workers=2)
    expected = bulk.stack(sources, ["conv/kernel", "dense/bias"])
    results = client.compute(list(per_key.values()), sync=True)
    for (key, array), value in zip(per_key.items(), results):
        assert array.shape == expected[key].shape
        assert value.tobytes() == expected[key].tobytes()


def test_stack_to_zarr_on_a_cluster(zoo, client, tmp_path):
    pytest.importorskip("zarr")
    sources = str(zoo / "m-*.index")
    stored = tfdask.stack(sources, [".*kernel"], flatten=True, out=tmp_path / "w.zarr", batch_size=4)
    assert stored[:].tobytes() == bulk.stack(sources, [".*kernel"], flatten=True).tobytes()


def test_a_bad_checkpoint_fails_its_task_or_stays_nan(zoo, client, tmp_path):
    import shutil

    copy = tmp_path / "zoo"
    shutil.copytree(zoo, copy)
    (copy / "m-4.data-00000-of-00001").write_bytes(b"")
    sources = str(copy / "m-*.index")
    lazy = tfdask.stack(sources, ["dense/bias"], batch_size=5)
    with pytest.raises(bulk.BulkError, match="m-4"):
        client.compute(lazy["dense/bias"]).result()
    kept = client.compute(tfdask.stack(sources, ["dense/bias"], on_error="ignore")["dense/bias"]).result()
    assert np.isnan(kept[4]).all()
    assert not np.isnan(np.delete(kept, 4, axis=0)).any()


def test_table_on_a_cluster_equals_the_local_path(zoo, client, tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    local = bulk.table(zoo, [".*kernel"]).to_pandas(types_mapper=pd.ArrowDtype)
    frame = tfdask.table(zoo, [".*kernel"], batch_size=3)
    assert frame.npartitions == 4
    computed = client.compute(frame).result().reset_index(drop=True)
    pd.testing.assert_frame_equal(computed, local, check_exact=True)
    written = tfdask.table(zoo, [".*kernel"], out=tmp_path / "t")
    back = pd.read_parquet(written, dtype_backend="pyarrow").sort_values(["path", "key"], ignore_index=True)
    pd.testing.assert_frame_equal(back, local.sort_values(["path", "key"], ignore_index=True), check_dtype=False)
