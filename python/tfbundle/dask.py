"""Bulk extraction as lazy Dask collections, to run on any ``dask.distributed``
cluster (or Dask's local schedulers): the same results as
:mod:`tfbundle.bulk`, built batch by batch on the workers.

``stack`` gives Dask Arrays (one chunk per batch of checkpoints) and
``table`` a Dask DataFrame (one partition per batch), so they compose with
``dask.array.to_zarr``, ``DataFrame.to_parquet`` and the rest of Dask.
Only the first checkpoint is opened here, for the keys, shapes and dtypes
(and the DataFrame's columns); everything else is read by the tasks.
Needs ``pip install "tfbundle[dask]"``.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from . import bulk
from .bulk_output import batch_ranges
from .dtypes import from_enum


def _dask() -> tuple[Any, Any]:
    try:
        import dask
        import dask.array as da
    except ImportError:
        raise ImportError('tfbundle.dask needs Dask: pip install "tfbundle[dask]"') from None
    return dask, da


def _block(
    prefixes: Sequence[str],
    layout: bulk.Layout,
    flatten: bool,
    on_error: str,
    storage_options: Mapping[str, Any] | None,
) -> Any:
    """A task: one batch of the stack, raising BulkError for bad rows unless
    ``on_error`` is "ignore" (then they stay NaN, as in bulk.stack)."""
    block, errors = bulk.read_block(prefixes, layout, flatten, storage_options)
    if errors and on_error == "raise":
        raise bulk.BulkError(errors)
    if errors and on_error == "warn":
        warnings.warn(bulk.BulkWarning(errors), stacklevel=2)
    return block


def _token(*inputs: Any) -> str:
    """A hash of a stack's inputs (paths, layout, options): equal inputs give
    equal task keys, as dask's own ``pure=True`` tokens would.

    Example:
        >>> _token(["a", "b"], [], True) == _token(["a", "b"], [], True) != _token(["a"], [], True)
        True
    """
    return hashlib.sha1(repr(inputs).encode(), usedforsecurity=False).hexdigest()


def stack(
    sources: bulk.Sources,
    keys: Sequence[str],
    *,
    flatten: bool = False,
    out: str | os.PathLike[str] | None = None,
    workers: int = 1,
    on_error: str = "raise",
    batch_size: int | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> Any:
    """:func:`tfbundle.bulk.stack` as Dask Arrays: ``{key: dask array (N,
    *shape)}``, or one ``(N, D)`` array with ``flatten=True``, chunked by
    batches of ``batch_size`` checkpoints (default: batches of at most
    64 MiB of rows, as many as a multiple of ``workers``, so the workers
    finish together). A batch holding an unreadable
    checkpoint fails its task with :class:`tfbundle.bulk.BulkError`
    (``on_error="raise"``), or leaves its row NaN (``"warn"``, ``"ignore"``).
    With ``out`` (a ``.zarr`` path) the arrays are stored there by
    ``dask.array.to_zarr`` (computing them) and the Zarr arrays returned.

    Example:
        >>> flat = tfbundle.dask.stack("zoo/*/ckpt-final", [".*"], flatten=True)  # doctest: +SKIP
        >>> flat.mean(axis=0).compute()                                            # doctest: +SKIP
    """
    if on_error not in ("raise", "warn", "ignore"):
        raise ValueError("on_error is 'raise', 'warn' or 'ignore'")
    dask, da = _dask()
    prefixes = bulk.expand(sources, storage_options=storage_options)
    if not prefixes:
        raise FileNotFoundError(f"{sources!r}: no checkpoints found")
    layout = bulk.stack_layout(prefixes[0], keys, storage_options=storage_options)
    if batch_size is None:
        by_memory = max(1, (64 << 20) // max(1, bulk.row_bytes(layout)))
        count = -(-len(prefixes) // by_memory)
        count = -(-count // max(1, workers)) * max(1, workers)
        batch_size = max(1, -(-len(prefixes) // count))
    batches = batch_ranges(len(prefixes), batch_size)
    # Keys named here from one hash of the inputs: dask would otherwise walk
    # and tokenize every path of every batch (60 ms for 10 000 paths, a
    # quarter of reading them), and a batch's paths are wrapped as a literal
    # so they are not walked when passed.
    token = _token(prefixes, layout, flatten, on_error, storage_options, batch_size)
    blocks = [
        dask.delayed(_block, pure=True)(
            dask.delayed(prefixes[r.start : r.stop], traverse=False, name=f"tfbundle-paths-{token}-{i}"),
            layout,
            flatten,
            on_error,
            storage_options,
            dask_key_name=f"tfbundle-stack-{token}-{i}",
        )
        for i, r in enumerate(batches)
    ]
    if flatten:
        dtype, width = bulk.flat_row(layout)
        result: Any = da.concatenate(
            [da.from_delayed(b, shape=(len(r), width), dtype=dtype) for b, r in zip(blocks, batches)]
        )
    else:
        result = {
            key: da.concatenate(
                [
                    da.from_delayed(b[key], shape=(len(r), *shape), dtype=from_enum(enum).numpy_dtype)
                    for b, r in zip(blocks, batches)
                ]
            )
            for key, shape, enum in layout
        }
    if out is None:
        return result
    import zarr

    path = os.fspath(out)
    if flatten:
        da.to_zarr(result, path, overwrite=True)
        return zarr.open(store=path, mode="r")
    group = zarr.open_group(store=path, mode="w")
    for key, array in result.items():
        group.create_array(name=key, shape=array.shape, chunks=array.chunksize, dtype=array.dtype)
    da.store(list(result.values()), [group[key] for key in result], lock=False)
    return zarr.open_group(store=path, mode="r")


def _partition(
    prefixes: Sequence[str],
    keys: Sequence[str] | None,
    stats: bool,
    values: bool,
    storage_options: Mapping[str, Any] | None,
) -> Any:
    """A task: one batch of the table as a pandas DataFrame (Arrow-backed
    columns, so every partition has the same dtypes, nulls included)."""
    import pandas as pd

    rows = bulk.table_rows(prefixes, keys, stats, values, storage_options)
    return rows.to_pandas(types_mapper=pd.ArrowDtype)


def table(
    sources: bulk.Sources,
    keys: Sequence[str] | None = None,
    *,
    stats: bool = True,
    values: bool = False,
    out: str | os.PathLike[str] | None = None,
    workers: int = 1,
    batch_size: int | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> Any:
    """:func:`tfbundle.bulk.table` as a Dask DataFrame, one partition per
    batch of ``batch_size`` checkpoints (default: four batches per
    ``workers``, at most 256 checkpoints each); the columns are Arrow-backed
    (``pandas.ArrowDtype``) as in the pyarrow table. With ``out`` (a
    directory) the frame is written there by ``to_parquet`` and the path
    returned.

    Example:
        >>> frame = tfbundle.dask.table("runs/exp1", [r".*kernel"])   # doctest: +SKIP
        >>> frame.groupby("step")["l2"].max().compute()              # doctest: +SKIP
    """
    _dask()
    import dask.dataframe as dd
    import pandas as pd

    prefixes = bulk.expand(sources, storage_options=storage_options)
    if batch_size is None:
        batch_size = max(1, min(256, -(-len(prefixes) // max(1, workers * 4))))
    batches = batch_ranges(len(prefixes), batch_size)
    meta = bulk.table_schema(stats, values).empty_table().to_pandas(types_mapper=pd.ArrowDtype)
    frame = dd.from_map(
        _partition,
        [prefixes[r.start : r.stop] for r in batches],
        keys=keys,
        stats=stats,
        values=values,
        storage_options=storage_options,
        meta=meta,
        divisions=None,
        enforce_metadata=False,
    )
    if out is None:
        return frame
    frame.to_parquet(os.fspath(out), write_index=False)
    return os.fspath(out)


__all__ = ["stack", "table"]
