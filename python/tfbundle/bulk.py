"""Bulk extraction: many checkpoints into one dataset.

``stack`` puts the same tensors of many checkpoints into arrays with one row
per checkpoint (model zoos, the history of one run); ``table`` describes
every tensor of every checkpoint, one row each, with statistics. Sources are
a list of checkpoints, a glob (sorted naturally: ``ckpt-9`` before
``ckpt-10``) or a directory tree (every ``.index`` in it). Work is spread
over ``workers`` processes in contiguous batches, so small files do not
drown in task overhead.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from typing import Any, Union

from . import paths
from ._core import empty_bytes, read_stack_rows
from ._fsutil import temp_name
from ._lazy import numpy as np
from .bulk_output import Run, batch_ranges
from .dtypes import from_enum
from .reader import CheckpointReader, array_statistics, as_array
from .remote import Store, is_url

Sources = Union[str, "os.PathLike[str]", Iterable[Union[str, "os.PathLike[str]"]]]

_DIGITS = re.compile(r"(\d+)")
_STEP = re.compile(r"-(\d+)$")


class BulkError(RuntimeError):
    """Checkpoints that could not be read; ``errors`` maps path to message."""

    def __init__(self, errors: dict[str, str]) -> None:
        first = "; ".join(f"{p}: {e}" for p, e in list(errors.items())[:3])
        super().__init__(f"{len(errors)} checkpoint(s) could not be read: {first}")
        self.errors = errors


class BulkWarning(UserWarning):
    """Issued instead of :class:`BulkError` with ``on_error="warn"``; ``errors`` maps path to message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(str(BulkError(errors)))
        self.errors = errors


def natural_key(text: str) -> list[Any]:
    """Sort key that orders embedded numbers by value.

    Example:
        >>> sorted(["ckpt-10", "ckpt-9"], key=natural_key)
        ['ckpt-9', 'ckpt-10']
    """
    return [int(part) if part.isdigit() else part for part in _DIGITS.split(text)]


def expand(sources: Sources, *, storage_options: Mapping[str, Any] | None = None) -> list[str]:
    """The checkpoints ``sources`` names: a list (kept in its order), a glob
    or a directory tree (every checkpoint in it: V2 ``.index`` files and V1
    files or shard sets, found by their table footer), sorted naturally.
    URLs work too: a glob is listed through fsspec, V2 checkpoints only.

    Example:
        >>> expand("runs/exp1/ckpt-*.index")                      # doctest: +SKIP
        ['runs/exp1/ckpt-1', 'runs/exp1/ckpt-2', 'runs/exp1/ckpt-10']
    """
    if not isinstance(sources, (str, os.PathLike)):
        return [os.fspath(s) for s in sources]
    p = os.fspath(sources)
    if is_url(p):
        if not glob.has_magic(p):
            return [p]
        found = {paths.strip_file_suffix(u) for u in Store.for_url(p, storage_options).glob(p)}
        return sorted((u for u in found if not glob.has_magic(u)), key=natural_key)
    if os.path.isdir(p):
        candidates = [
            os.path.join(root, name)
            for root, _dirs, names in os.walk(p)
            for name in names
            if ".tfbundle-tmp." not in name
        ]
    elif glob.has_magic(p):
        candidates = glob.glob(p)
    else:
        return [p]
    found = {c for c in map(paths.checkpoint_of_file, candidates) if c is not None}
    return sorted(found, key=natural_key)


def select_keys(reader: CheckpointReader, keys: Sequence[str] | None) -> list[str]:
    """The keys ``keys`` names in ``reader``: each entry an exact key, else a
    regular expression matched against whole keys (matches in key order);
    None selects every key."""
    names = reader.keys()
    if keys is None:
        return list(names)
    out: list[str] = []
    for spec in keys:
        if reader.has_tensor(spec):
            out.append(spec)
            continue
        pattern = re.compile(spec)
        matched = [k for k in names if pattern.fullmatch(k)]
        if not matched:
            raise KeyError(f"{reader.prefix}: no key is or matches {spec!r}")
        out.extend(matched)
    return list(dict.fromkeys(out))


def _batch_size(n: int, workers: int, row_bytes: int) -> int:
    """Rows per batch: a few batches per worker (so a slow one is balanced),
    at most 256 MiB of output each."""
    by_workers = -(-n // max(1, workers * 4))
    by_memory = max(1, (256 << 20) // max(1, row_bytes))
    return max(1, min(by_workers, by_memory))


def _process_pool(workers: int) -> ProcessPoolExecutor:
    """Worker processes started fresh ("spawn"): a forked child would inherit
    the core's thread pool without its threads."""
    import multiprocessing

    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


class _Progress:
    """A tqdm bar over checkpoints when wanted (on a terminal by default)
    and installed; otherwise nothing."""

    def __init__(self, total: int, done: int, enabled: bool | None, what: str) -> None:
        self._bar: Any = None
        if not (sys.stderr.isatty() if enabled is None else enabled):
            return
        try:
            from tqdm import tqdm
        except ImportError:
            if enabled:  # asked for, not merely on a terminal
                warnings.warn('a progress bar needs tqdm: pip install "tfbundle[cli]"', stacklevel=3)
            return
        self._bar = tqdm(total=total, initial=done, unit="ckpt", desc=what, dynamic_ncols=True)

    def update(self, rows: int) -> None:
        if self._bar is not None:
            self._bar.update(rows)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _collect(futures: dict[Any, range], bar: _Progress, done: Callable[[range, Any], None]) -> None:
    """Hands each batch's result to ``done`` as batches finish. On the first
    failure (or an interrupt) the batches not yet started are cancelled
    (finished ones keep their markers, for a resume) and it re-raises."""
    try:
        for future in as_completed(futures):
            done(futures[future], future.result())
            bar.update(len(futures[future]))
    except BaseException:
        for future in futures:
            future.cancel()
        raise


def _numpy_dtype(enum: int) -> Any:
    return from_enum(enum).numpy_dtype


Layout = list[tuple[str, tuple[int, ...], int]]  # (key, shape, dtype enum) per stacked tensor


def flat_row(layout: Layout) -> tuple[Any, int]:
    """(dtype, width) of a flattened row: the layout's common dtype and its
    element count.

    Example:
        >>> flat_row([("w", (2, 3), 1), ("b", (3,), 1)])
        (dtype('float32'), 9)
    """
    return np.result_type(*[_numpy_dtype(e) for _k, _s, e in layout]), sum(int(np.prod(s)) for _k, s, _e in layout)


def row_bytes(layout: Layout) -> int:
    """The bytes one checkpoint's stacked tensors hold."""
    return sum(int(np.prod(s)) * max(1, from_enum(e).itemsize) for _k, s, e in layout)


def _empty(shape: tuple[int, ...], dtype: Any) -> Any:
    """An uninitialised array from the core's allocator, which recycles
    released buffers: a repeated stack of small checkpoints then spends no
    time on the kernel faulting in and zeroing fresh pages (a third of a
    row's time into new memory on the development VM)."""
    dtype = np.dtype(dtype)
    count = 1
    for d in shape:
        count *= d
    return empty_bytes(count * dtype.itemsize).view(dtype).reshape(shape)


def _new_block(rows: int, layout: Layout, flatten: bool) -> Any:
    """Empty arrays for ``rows`` rows of the stack."""
    if flatten:
        common, width = flat_row(layout)
        return _empty((rows, width), common)
    return {k: _empty((rows, *s), _numpy_dtype(e)) for k, s, e in layout}


def _read_rows(
    prefixes: Sequence[str],
    layout: Layout,
    flatten: bool,
    block: Any,
    storage_options: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Reads the stacked tensors of ``prefixes`` into ``block`` (row i from
    prefixes[i]): a 2-D array when flattened, else one array per key (a
    single .npy holds one). Returns {path: error} of the unreadable rows,
    which are left NaN (0 for integer types).

    Local V2 checkpoints whose tensors have the first one's dtypes are read
    by one core call for the whole batch, with the GIL released; the rows it
    cannot read (V1, URLs, partitioned variables, casts to a common dtype,
    damage) are read one by one through ``CheckpointReader``, which gives
    the canonical errors."""
    n = len(prefixes)
    plan: list[tuple[str, tuple[int, ...], Any, int, Any]] = []  # key, shape, dtype, enum, rows as 2-D
    column = 0
    for key, shape, enum in layout:
        size = int(np.prod(shape))
        if flatten:
            dst = block[:, column : column + size]
        else:
            dst = (block[key] if isinstance(block, dict) else block).reshape(n, size)
        plan.append((key, shape, _numpy_dtype(enum), enum, dst))
        column += size
    if all(dst.dtype == dtype for _k, _s, dtype, _e, dst in plan) and not any(is_url(p) for p in prefixes):
        columns = [(key, enum, list(shape), dst) for key, shape, _d, enum, dst in plan]
        retry = [i for i, _message in read_stack_rows(list(prefixes), columns, True)]
    else:
        retry = list(range(n))
    errors: dict[str, str] = {}
    for i in retry:
        try:
            with CheckpointReader(prefixes[i], storage_options=storage_options) as reader:
                for key, shape, dtype, _enum, dst in plan:
                    value = as_array(reader.get_tensor(key))  # verified
                    if value.shape != shape or value.dtype != dtype:
                        raise ValueError(
                            f"{key!r} is {value.dtype}{list(value.shape)}, "
                            f"the first checkpoint's is {dtype}{list(shape)}"
                        )
                    dst[i] = value.reshape(-1)  # cast to the common dtype when flattened
        except (OSError, ValueError, KeyError, TypeError) as e:
            errors[prefixes[i]] = f"{type(e).__name__}: {e}"
            for _key, _shape, _dtype, _enum, dst in plan:
                dst[i] = np.nan if np.issubdtype(dst.dtype, np.inexact) else 0
    return errors


def read_block(
    prefixes: Sequence[str],
    layout: Layout,
    flatten: bool,
    storage_options: Mapping[str, Any] | None = None,
) -> tuple[Any, dict[str, str]]:
    """One batch of the stack as new arrays: (block, {path: error}); see
    :func:`stack`. ``layout`` is :func:`stack_layout`'s.

    Example:
        >>> layout = stack_layout("zoo/m0", ["dense/.*"])           # doctest: +SKIP
        >>> block, errors = read_block(["zoo/m0", "zoo/m1"], layout, True)  # doctest: +SKIP
    """
    block = _new_block(len(prefixes), layout, flatten)
    return block, _read_rows(prefixes, layout, flatten, block, storage_options)


def stack_layout(first: str, keys: Sequence[str], *, storage_options: Mapping[str, Any] | None = None) -> Layout:
    """[(key, shape, dtype enum)] of the tensors ``keys`` selects in the
    checkpoint ``first``: what every other checkpoint of a stack must hold.

    Example:
        >>> stack_layout("zoo/m0", ["dense/bias"])                  # doctest: +SKIP
        [('dense/bias', (10,), 1)]
    """
    with CheckpointReader(first, storage_options=storage_options) as reader:
        layout = []
        for key in select_keys(reader, keys):
            stored = reader.dtype(key)
            if stored.is_variable_length:
                raise TypeError(f"{key!r} holds strings; stack takes numeric tensors")
            layout.append((key, tuple(reader.shape(key)), stored.enum))
    return layout


def _output_kind(out: str) -> str:
    for suffix in (".npy", ".zarr"):
        if out.rstrip("/").endswith(suffix):
            return suffix[1:]
    raise ValueError(f"{out}: out must be a .npy or .zarr path")


def _create_zarr(path: str, n: int, batch: int, layout: Layout, flatten: bool) -> None:
    try:
        import zarr
    except ImportError:
        raise ImportError('Zarr output needs zarr: pip install "tfbundle[zarr]"') from None
    for _k, _s, enum in layout:
        if _numpy_dtype(enum).kind == "V":
            raise TypeError(f"{path}: Zarr cannot hold {from_enum(enum).name}; stack to .npy instead")
    if flatten:
        common, width = flat_row(layout)
        zarr.create_array(store=path, shape=(n, width), chunks=(batch, width), dtype=common, fill_value=0)
        return
    group = zarr.open_group(store=path, mode="w")
    for key, shape, enum in layout:
        group.create_array(name=key, shape=(n, *shape), chunks=(batch, *shape), dtype=_numpy_dtype(enum), fill_value=0)


def stack(
    sources: Sources,
    keys: Sequence[str],
    *,
    flatten: bool = False,
    out: str | os.PathLike[str] | None = None,
    workers: int = 1,
    on_error: str = "raise",
    resume: bool = False,
    progress: bool | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> Any:
    """``{key: array (N, *shape)}`` of the ``keys`` of N checkpoints, rows in
    the order of ``sources`` (see :func:`expand`); with ``flatten=True`` one
    ``(N, D)`` array, each row the keys' values raveled and concatenated in
    the order ``keys`` selects them (cast to their common dtype). Keys and
    shapes come from the first checkpoint; every other must match.

    ``out`` a ``.npy`` path (one array: ``flatten=True`` or a single key) or
    a ``.zarr`` path (an array when flattened, else a group with an array
    per key) is filled batch by batch, never holding the whole result, and
    returned opened read-only. It is built in ``<out>.partial`` and renamed
    into place when complete; ``resume=True`` continues an interrupted run
    of the same sources and keys where it stopped. ``workers`` threads read
    contiguous batches (the reading runs in the core without the GIL). A
    checkpoint that cannot be read leaves its row NaN (0 for integers);
    then ``on_error="raise"`` raises :class:`BulkError` at the end, and
    ``"warn"`` warns (a :class:`BulkWarning`) and returns the result.
    ``progress`` shows a tqdm bar (default: when stderr is a terminal).
    ``storage_options`` go to fsspec for URL sources.

    Example:
        >>> zoo = stack("zoo/*/ckpt-final", [r"conv\\d/kernel", r".*bias"], flatten=True)  # doctest: +SKIP
        >>> zoo.shape                                              # doctest: +SKIP
        (10000, 4970)
    """
    if on_error not in ("raise", "warn"):
        raise ValueError("on_error is 'raise' or 'warn'")
    prefixes = expand(sources, storage_options=storage_options)
    if not prefixes:
        raise FileNotFoundError(f"{sources!r}: no checkpoints found")
    layout = stack_layout(prefixes[0], keys, storage_options=storage_options)
    n = len(prefixes)
    batch = _batch_size(n, workers, row_bytes(layout))
    out_path = os.fspath(out) if out is not None else None
    run: Run | None = None
    if out_path is None:
        if resume:
            raise ValueError("resume needs out= (where the interrupted run wrote)")
        result: Any = _new_block(n, layout, flatten)
        batches = batch_ranges(n, batch)
        finished: dict[range, dict[str, str]] = {}
    else:
        kind = _output_kind(out_path)
        if kind == "npy" and not flatten and len(layout) != 1:
            raise ValueError(f"{out_path}: a .npy file holds one array: pass flatten=True or a single key")
        manifest = {
            "kind": f"stack-{kind}",
            "sources": prefixes,
            "layout": [[k, list(s), e] for k, s, e in layout],
            "flatten": flatten,
            "rows": n,
            "batch": batch,
        }
        run = Run(out_path, manifest, resume)
        batches, finished = run.batches, run.finished
        data = run.path(f"data.{kind}")
        if not (run.resumed and os.path.exists(data)):
            finished = {}
            if kind == "npy":
                np_dtype, width = flat_row(layout) if flatten else (_numpy_dtype(layout[0][2]), 0)
                shape = (n, width) if flatten else (n, *layout[0][1])
                np.lib.format.open_memmap(data, mode="w+", dtype=np_dtype, shape=shape).flush()
            else:
                _create_zarr(data, n, int(run.manifest["batch"]), layout, flatten)
        if kind == "npy":
            result = np.load(data, mmap_mode="r+")
        else:
            import zarr

            result = zarr.open(store=data, mode="r+")

    def one_batch(rows: range) -> dict[str, str]:
        names = prefixes[rows.start : rows.stop]
        if isinstance(result, (np.ndarray, dict)):
            target = (
                {k: a[rows.start : rows.stop] for k, a in result.items()}
                if isinstance(result, dict)
                else result[rows.start : rows.stop]
            )
            errs = _read_rows(names, layout, flatten, target, storage_options)
            if isinstance(result, np.memmap):
                result.flush()
        else:  # Zarr: chunks are whole batches, so threads never share one
            block, errs = read_block(names, layout, flatten, storage_options)
            if flatten:
                result[rows.start : rows.stop] = block
            else:
                for key, array in block.items():
                    result[key][rows.start : rows.stop] = array
        if run is not None:
            run.mark_done(rows, errs)
        return errs

    errors: dict[str, str] = {}
    for errs in finished.values():
        errors.update(errs)
    todo = [rows for rows in batches if rows not in finished]
    bar = _Progress(n, n - sum(len(r) for r in todo), progress, "stack")
    try:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = {pool.submit(one_batch, rows): rows for rows in todo}
            _collect(futures, bar, lambda _rows, errs: errors.update(errs))
    finally:
        bar.close()
    if run is not None:
        del result
        kind = _output_kind(run.out)
        run.finish(f"data.{kind}")
        if kind == "npy":
            result = np.load(run.out, mmap_mode="r")
        else:
            import zarr

            result = zarr.open(store=run.out, mode="r")
    if errors:
        ordered = {p: errors[p] for p in prefixes if p in errors}
        if on_error == "raise":
            raise BulkError(ordered)
        warnings.warn(BulkWarning(ordered), stacklevel=2)
    return result


def _step(reader: CheckpointReader) -> int | None:
    """The training step: the number ending the prefix (``ckpt-1000``), else
    the ``global_step`` tensor, else None."""
    m = _STEP.search(os.path.basename(reader.prefix))
    if m:
        return int(m.group(1))
    if reader.has_tensor("global_step"):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            return int(np.asarray(reader.get_tensor("global_step")))
    return None


_STATS = ("min", "max", "mean", "std", "l2", "nan", "inf")


def table_schema(stats: bool = True, values: bool = False) -> Any:
    """The ``pyarrow.Schema`` of :func:`table`'s result.

    Example:
        >>> table_schema(stats=False).names                        # doctest: +SKIP
        ['path', 'step', 'key', 'dtype', 'shape', 'nbytes', 'crc32c', 'error']
    """
    pa = _pyarrow()
    return pa.schema(
        [
            ("path", pa.string()),
            ("step", pa.int64()),
            ("key", pa.string()),
            ("dtype", pa.string()),
            ("shape", pa.list_(pa.int64())),
            ("nbytes", pa.int64()),
            ("crc32c", pa.uint32()),
            *[(c, pa.float64()) for c in ("min", "max", "mean", "std", "l2") if stats],
            *[(c, pa.int64()) for c in ("nan", "inf") if stats],
            *([("values", pa.list_(pa.float64()))] if values else []),
            ("error", pa.string()),
        ]
    )


def _pyarrow() -> Any:
    try:
        import pyarrow as pa
    except ImportError:
        raise ImportError('bulk tables need pyarrow: pip install "tfbundle[parquet]"') from None
    return pa


def table_rows(
    prefixes: Sequence[str],
    keys: Sequence[str] | None,
    stats: bool,
    values: bool,
    storage_options: Mapping[str, Any] | None = None,
) -> Any:
    """The rows of :func:`table` for the checkpoints ``prefixes``, as a
    ``pyarrow.Table``; an unreadable checkpoint gives one row with its error.

    Example:
        >>> table_rows(["run/ckpt-1"], None, True, False).num_rows  # doctest: +SKIP
        12
    """
    records: list[dict[str, Any]] = []
    for prefix in prefixes:
        try:
            with CheckpointReader(prefix, storage_options=storage_options) as reader:
                step = _step(reader)
                for key in select_keys(reader, keys):
                    entry = reader.entry(key)
                    record: dict[str, Any] = {
                        "path": prefix,
                        "step": step,
                        "key": key,
                        "dtype": reader.dtype(key).name,
                        "shape": list(reader.shape(key)),
                        "nbytes": int(entry.get("size", 0)),
                        "crc32c": entry.get("crc32c"),
                        "error": None,
                    }
                    if values:
                        value = as_array(reader.get_tensor(key))  # verified
                        if stats:
                            record.update(array_statistics(value) or {})
                        record["values"] = value.reshape(-1).tolist() if value.dtype != object else None
                    elif stats:
                        record.update(reader.statistics(key) or {})  # verified, in the core while reading
                    records.append(record)
        except (OSError, ValueError, KeyError, TypeError) as e:
            records.append({"path": prefix, "error": f"{type(e).__name__}: {e}"})
    schema = table_schema(stats, values)
    return _pyarrow().table({c: [r.get(c) for r in records] for c in schema.names}, schema=schema)


def _table_batch(
    prefixes: Sequence[str],
    keys: Sequence[str] | None,
    stats: bool,
    values: bool,
    part: str,
    storage_options: Mapping[str, Any] | None,
) -> None:
    """Writes the batch's rows to the Parquet file ``part`` (atomically)."""
    import pyarrow.parquet as pq

    rows = table_rows(prefixes, keys, stats, values, storage_options)
    tmp = temp_name(part)
    pq.write_table(rows, tmp)
    os.replace(tmp, part)


def table(
    sources: Sources,
    keys: Sequence[str] | None = None,
    *,
    stats: bool = True,
    values: bool = False,
    out: str | os.PathLike[str] | None = None,
    workers: int = 1,
    resume: bool = False,
    progress: bool | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> Any:
    """A ``pyarrow.Table`` with one row per (checkpoint, tensor): ``path``,
    ``step`` (from the name, else ``global_step``), ``key``, ``dtype``,
    ``shape``, ``nbytes``, ``crc32c`` (the stored checksum), and with
    ``stats`` the ``min``, ``max``, ``mean``, ``std``, ``l2`` norm and counts
    of ``nan`` and ``inf`` (computed in the core during the verified read),
    with ``values`` the values themselves (flattened lists). A checkpoint
    that cannot be read is one row with its ``error`` and the run goes on.
    ``out``, a ``.parquet`` path, receives the table; it is built in
    ``<out>.partial`` (a Parquet part per batch) and renamed into place when
    complete, and ``resume=True`` continues an interrupted run. ``workers``
    processes read contiguous batches; ``progress`` and ``storage_options``
    as in :func:`stack`. Needs pyarrow (``pip install "tfbundle[parquet]"``).

    Example:
        >>> t = table("runs/exp1", [r".*kernel"])                   # doctest: +SKIP
        >>> t.to_pandas().groupby("step")["l2"].sum()              # doctest: +SKIP
    """
    pa = _pyarrow()
    import pyarrow.parquet as pq

    prefixes = expand(sources, storage_options=storage_options)
    batch = _batch_size(len(prefixes), workers, 1)
    out_path = os.fspath(out) if out is not None else None
    if out_path is None and resume:
        raise ValueError("resume needs out= (where the interrupted run wrote)")
    if out_path is not None and not out_path.endswith(".parquet"):
        raise ValueError(f"{out_path}: out must be a .parquet path")
    manifest = {
        "kind": "table",
        "sources": prefixes,
        "keys": list(keys) if keys is not None else None,
        "stats": stats,
        "values": values,
        "rows": len(prefixes),
        "batch": batch,
    }
    with contextlib.ExitStack() as cleanup:
        if out_path is None:
            scratch = cleanup.enter_context(tempfile.TemporaryDirectory())
            run = Run(os.path.join(scratch, "table.parquet"), manifest, resume=False)
        else:
            run = Run(out_path, manifest, resume)
        finished = run.finished
        todo = [rows for rows in run.batches if rows not in finished]

        def part(rows: range) -> str:
            return run.path(f"part-{rows.start:012d}.parquet")

        bar = _Progress(len(prefixes), len(prefixes) - sum(len(r) for r in todo), progress, "table")
        try:
            with _process_pool(workers) if workers > 1 else ThreadPoolExecutor(max_workers=1) as pool:
                futures = {
                    pool.submit(
                        _table_batch, prefixes[r.start : r.stop], keys, stats, values, part(r), storage_options
                    ): r
                    for r in todo
                }
                _collect(futures, bar, lambda rows, _result: run.mark_done(rows, {}))
        finally:
            bar.close()
        parts = [pq.read_table(part(rows)) for rows in run.batches]
        result = pa.concat_tables(parts) if parts else table_schema(stats, values).empty_table()
        if out_path is not None:
            pq.write_table(result, run.path("data.parquet"))
            run.finish("data.parquet")
    return result


__all__ = [
    "BulkError",
    "BulkWarning",
    "expand",
    "flat_row",
    "natural_key",
    "read_block",
    "row_bytes",
    "select_keys",
    "stack",
    "stack_layout",
    "table",
    "table_rows",
    "table_schema",
]
