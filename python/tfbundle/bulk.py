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
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any, Union

from . import paths
from ._lazy import numpy as np
from .reader import CheckpointReader, as_array

if TYPE_CHECKING:
    import numpy

Sources = Union[str, "os.PathLike[str]", Iterable[Union[str, "os.PathLike[str]"]]]

_DIGITS = re.compile(r"(\d+)")
_STEP = re.compile(r"-(\d+)$")


class BulkError(RuntimeError):
    """Checkpoints that could not be read; ``errors`` maps path to message."""

    def __init__(self, errors: dict[str, str]) -> None:
        first = "; ".join(f"{p}: {e}" for p, e in list(errors.items())[:3])
        super().__init__(f"{len(errors)} checkpoint(s) could not be read: {first}")
        self.errors = errors


def natural_key(text: str) -> list[Any]:
    """Sort key that orders embedded numbers by value.

    Example:
        >>> sorted(["ckpt-10", "ckpt-9"], key=natural_key)
        ['ckpt-9', 'ckpt-10']
    """
    return [int(part) if part.isdigit() else part for part in _DIGITS.split(text)]


def expand(sources: Sources) -> list[str]:
    """The checkpoint prefixes ``sources`` names: a list (kept in its order),
    a glob (sorted naturally) or a directory tree (every ``.index`` in it,
    sorted naturally).

    Example:
        >>> expand("runs/exp1/ckpt-*.index")                      # doctest: +SKIP
        ['runs/exp1/ckpt-1', 'runs/exp1/ckpt-2', 'runs/exp1/ckpt-10']
    """
    if isinstance(sources, (str, os.PathLike)):
        p = os.fspath(sources)
        if os.path.isdir(p):
            found = [
                os.path.join(root, name[: -len(".index")])
                for root, _dirs, names in os.walk(p)
                for name in names
                if name.endswith(".index") and ".tfbundle-tmp." not in name
            ]
            return sorted(found, key=natural_key)
        if glob.has_magic(p):
            matches = {paths.strip_file_suffix(m) for m in glob.glob(p)}
            return sorted(matches, key=natural_key)
        return [p]
    return [os.fspath(s) for s in sources]


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


def _batches(n: int, workers: int) -> list[range]:
    """Contiguous row ranges, a few per worker."""
    parts = max(1, min(n, workers * 4))
    bounds = [n * i // parts for i in range(parts + 1)]
    return [range(bounds[i], bounds[i + 1]) for i in range(parts) if bounds[i] < bounds[i + 1]]


def _pool(workers: int) -> ProcessPoolExecutor:
    """Worker processes started fresh ("spawn"): a forked child would inherit
    the core's thread pool without its threads."""
    import multiprocessing

    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def _stack_rows(
    prefixes: list[str],
    rows: range,
    keys: list[str],
    layout: list[tuple[str, tuple[int, ...], str]],
    flatten: bool,
    out_path: str | None,
) -> tuple[dict[str, numpy.ndarray] | None, dict[str, str]]:
    """Reads ``rows`` of the stack: into the .npy at ``out_path`` when given,
    else into arrays returned to the caller. Returns (arrays, errors)."""
    if out_path is not None:
        target: Any = np.load(out_path, mmap_mode="r+")
        arrays = None
    else:
        if flatten:
            common = np.result_type(*[np.dtype(d) for _k, _s, d in layout])
            total = sum(int(np.prod(s)) for _k, s, _d in layout)
            target = np.empty((len(rows), total), common)
        else:
            target = {k: np.empty((len(rows), *s), np.dtype(d)) for k, s, d in layout}
        arrays = target
    errors: dict[str, str] = {}
    base = rows.start if out_path is None else 0
    # (key, shape, dtype, columns of the flattened row)
    plan: list[tuple[str, tuple[int, ...], Any, slice]] = []
    column = 0
    for key, shape, dtype in layout:
        size = int(np.prod(shape))
        plan.append((key, shape, np.dtype(dtype), slice(column, column + size)))
        column += size
    for row in rows:
        i = row - base
        prefix = prefixes[row]
        try:
            with CheckpointReader(prefix) as reader:
                for key, shape, dtype, columns in plan:
                    if flatten:
                        dst = target[i, columns].reshape(shape)  # a view: rows are C-contiguous
                    else:
                        dst = target[i] if out_path is not None else target[key][i]
                    if dst.dtype == dtype:
                        reader.read_into(key, dst)  # checks shape and dtype; no allocation
                        continue
                    value = as_array(reader.get_tensor(key))  # flattened to a wider common dtype
                    if value.shape != shape or value.dtype != dtype:
                        raise ValueError(
                            f"{key!r} is {value.dtype}{list(value.shape)}, "
                            f"the first checkpoint's is {dtype}{list(shape)}"
                        )
                    dst[...] = value
        except (OSError, ValueError, KeyError, TypeError) as e:
            errors[prefix] = f"{type(e).__name__}: {e}"
            _fill_missing(target, i, layout, flatten, out_path is not None)
    if out_path is not None:
        target.flush()
    return arrays, errors


def _fill_missing(target: Any, i: int, layout: list[Any], flatten: bool, single: bool) -> None:
    """NaN (or 0 for non-float types) in the row of an unreadable checkpoint."""

    def blank(a: Any) -> None:
        a[i] = np.nan if np.issubdtype(a.dtype, np.inexact) else 0

    if flatten or single:
        blank(target)
    else:
        for key, _shape, _dtype in layout:
            blank(target[key])


def stack(
    sources: Sources,
    keys: Sequence[str],
    *,
    flatten: bool = False,
    out: str | os.PathLike[str] | None = None,
    workers: int = 1,
    on_error: str = "raise",
) -> Any:
    """``{key: array (N, *shape)}`` of the ``keys`` of N checkpoints, rows in
    the order of ``sources`` (see :func:`expand`); with ``flatten=True`` one
    ``(N, D)`` array, each row the keys' values raveled and concatenated in
    the order ``keys`` selects them (cast to their common dtype). Keys and
    shapes come from the first checkpoint; every other must match.

    ``out``, a ``.npy`` path, is filled in place (a memory map, never the
    whole result in memory) and returned as a read-only memory map; it
    holds one array, so it needs ``flatten=True`` or a single key.
    ``workers`` processes read contiguous batches of checkpoints. A
    checkpoint that cannot be read leaves its row NaN (0 for integers);
    then ``on_error="raise"`` raises :class:`BulkError` at the end, and
    ``"warn"`` warns and returns the result.

    Example:
        >>> zoo = stack("zoo/*/ckpt-final", [r"conv\\d/kernel", r".*bias"], flatten=True)  # doctest: +SKIP
        >>> zoo.shape                                              # doctest: +SKIP
        (10000, 4970)
    """
    if on_error not in ("raise", "warn"):
        raise ValueError("on_error is 'raise' or 'warn'")
    prefixes = expand(sources)
    if not prefixes:
        raise FileNotFoundError(f"{sources!r}: no checkpoints found")
    with CheckpointReader(prefixes[0]) as first:
        selected = select_keys(first, keys)
        layout = []
        for key in selected:
            stored = first.dtype(key)
            if stored.is_variable_length:
                raise TypeError(f"{key!r} holds strings; stack takes numeric tensors")
            layout.append((key, tuple(first.shape(key)), stored.numpy_dtype.str))
    n = len(prefixes)
    out_path = os.fspath(out) if out is not None else None
    if out_path is not None:
        if not out_path.endswith(".npy"):
            raise ValueError(f"{out_path}: out must be a .npy path")
        if not flatten and len(layout) != 1:
            raise ValueError(f"{out_path}: a .npy file holds one array: pass flatten=True or a single key")
        if flatten:
            np_dtype = np.result_type(*[np.dtype(d) for _k, _s, d in layout])
            shape: tuple[int, ...] = (n, sum(int(np.prod(s)) for _k, s, _d in layout))
        else:
            np_dtype, shape = np.dtype(layout[0][2]), (n, *layout[0][1])
        np.lib.format.open_memmap(out_path, mode="w+", dtype=np_dtype, shape=shape).flush()
    batches = _batches(n, max(1, workers))
    results: list[tuple[range, Any, dict[str, str]]] = []
    if workers <= 1:
        for rows in batches:
            arrays, errs = _stack_rows(prefixes, rows, selected, layout, flatten, out_path)
            results.append((rows, arrays, errs))
    else:
        with _pool(workers) as pool:
            futures = [
                (rows, pool.submit(_stack_rows, prefixes, rows, selected, layout, flatten, out_path))
                for rows in batches
            ]
            results = [(rows, *future.result()) for rows, future in futures]
    errors: dict[str, str] = {}
    for _rows, _arrays, errs in results:
        errors.update(errs)
    if out_path is not None:
        result: Any = np.load(out_path, mmap_mode="r")
    elif flatten:
        result = np.concatenate([arrays for _r, arrays, _e in results], axis=0)
    else:
        result = {key: np.concatenate([a[key] for _r, a, _e in results], axis=0) for key, _s, _d in layout}
    if errors:
        if on_error == "raise":
            raise BulkError(errors)
        warnings.warn(str(BulkError(errors)), stacklevel=2)
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


def _statistics(value: numpy.ndarray) -> dict[str, Any]:
    """min, max, mean, std, L2 norm and NaN/inf counts of a numeric tensor
    (NaN and inf excluded from the others); None where they do not apply."""
    empty: dict[str, Any] = {"min": None, "max": None, "mean": None, "std": None, "l2": None, "nan": None, "inf": None}
    if value.dtype == object or value.dtype.kind not in "biufc" or value.size == 0:
        return empty
    data = value.astype(np.float64) if value.dtype.kind in "biu" else value
    if data.dtype.kind == "c":
        data = np.abs(data)
    data = data.astype(np.float64, copy=False)
    finite = np.isfinite(data)
    out = dict(empty, nan=int(np.isnan(data).sum()), inf=int(np.isinf(data).sum()))
    good = data[finite] if not finite.all() else data.reshape(-1)
    if good.size:
        out.update(
            min=float(good.min()),
            max=float(good.max()),
            mean=float(good.mean()),
            std=float(good.std()),
            l2=float(np.sqrt(np.dot(good, good))),
        )
    return out


def _table_rows(
    prefixes: list[str], rows: range, keys: Sequence[str] | None, stats: bool, values: bool
) -> list[dict[str, Any]]:
    """The table's rows for checkpoints ``rows``; an unreadable checkpoint
    (or key) gives one row with its error."""
    out: list[dict[str, Any]] = []
    for row in rows:
        prefix = prefixes[row]
        try:
            with CheckpointReader(prefix) as reader:
                step = _step(reader)
                for key in select_keys(reader, keys):
                    entry = reader.entry(key)
                    dtype = reader.dtype(key)
                    shape = list(reader.shape(key))
                    record: dict[str, Any] = {
                        "path": prefix,
                        "step": step,
                        "key": key,
                        "dtype": dtype.name,
                        "shape": shape,
                        "nbytes": int(entry.get("size", 0)),
                        "crc32c": entry.get("crc32c"),
                        "error": None,
                    }
                    if stats or values:
                        value = as_array(reader.get_tensor(key))  # verified
                        if stats:
                            record.update(_statistics(value))
                        if values:
                            record["values"] = value.reshape(-1).tolist()
                    out.append(record)
        except (OSError, ValueError, KeyError, TypeError) as e:
            out.append({"path": prefix, "error": f"{type(e).__name__}: {e}"})
    return out


def table(
    sources: Sources,
    keys: Sequence[str] | None = None,
    *,
    stats: bool = True,
    values: bool = False,
    out: str | os.PathLike[str] | None = None,
    workers: int = 1,
) -> Any:
    """A ``pyarrow.Table`` with one row per (checkpoint, tensor): ``path``,
    ``step`` (from the name, else ``global_step``), ``key``, ``dtype``,
    ``shape``, ``nbytes``, ``crc32c`` (the stored checksum), and with
    ``stats`` the ``min``, ``max``, ``mean``, ``std``, ``l2`` norm and counts
    of ``nan`` and ``inf`` (from a verified read), with ``values`` the
    values themselves (flattened lists). A checkpoint that cannot be read
    is one row with its ``error`` and the run goes on. ``out``, a
    ``.parquet`` path, receives the table. Needs pyarrow
    (``pip install "tfbundle[parquet]"``).

    Example:
        >>> t = table("runs/exp1", [r".*kernel"])                   # doctest: +SKIP
        >>> t.to_pandas().groupby("step")["l2"].sum()              # doctest: +SKIP
    """
    try:
        import pyarrow as pa
    except ImportError:
        raise ImportError('bulk.table needs pyarrow: pip install "tfbundle[parquet]"') from None
    prefixes = expand(sources)
    batches = _batches(len(prefixes), max(1, workers))
    if workers <= 1:
        chunks = [_table_rows(prefixes, rows, keys, stats, values) for rows in batches]
    else:
        with _pool(workers) as pool:
            chunks = list(pool.map(_table_rows, *zip(*[(prefixes, r, keys, stats, values) for r in batches])))
    records = [r for chunk in chunks for r in chunk]
    columns = ["path", "step", "key", "dtype", "shape", "nbytes", "crc32c"]
    if stats:
        columns += ["min", "max", "mean", "std", "l2", "nan", "inf"]
    if values:
        columns.append("values")
    columns.append("error")
    schema = pa.schema(
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
    result = pa.table({c: [r.get(c) for r in records] for c in columns}, schema=schema)
    if out is not None:
        import pyarrow.parquet as pq

        pq.write_table(result, os.fspath(out))
    return result


__all__ = ["BulkError", "expand", "natural_key", "select_keys", "stack", "table"]
