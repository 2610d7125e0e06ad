"""The ``tfbundle`` command line: look inside, check, compare, shrink,
rename, cast and convert checkpoints without TensorFlow.

Each command is a thin layer over the Python API. Errors print one line on
stderr and exit 1 (``--debug`` shows the traceback); progress bars appear
only on a terminal, and only when ``tqdm`` is installed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Callable

from . import paths
from .dtypes import DType


def _dtype_name(enum: int) -> str:
    from .dtypes import from_enum

    return from_enum(enum).name


@contextmanager
def _progress(total_hint: str) -> Iterator[Callable[[int, int], None] | None]:
    """A (done, total) callback drawing a tqdm bar on a terminal, else None."""
    if not sys.stderr.isatty():
        yield None
        return
    try:
        from tqdm import tqdm
    except ImportError:
        yield None
        return
    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=total_hint, unit="tensor", file=sys.stderr, leave=False)
        bar.n = done
        bar.refresh()

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()


# -- listing ------------------------------------------------------------------


def _rows_for(path: str) -> tuple[str, list[dict[str, Any]]]:
    """(kind, rows) for anything `ls` accepts."""
    from . import convert, saved_model
    from .reader import CheckpointReader

    fmt = convert.detect_format(path)
    if (export_dir := paths.saved_model_dir_of(path)) is not None:
        if fmt == "graph":  # no variables: the weights are the graph's constants
            return "saved_model constants", _source_rows(convert.open_source(path, fmt))
        prefix = saved_model.variables_prefix(export_dir)
        return "saved_model", _checkpoint_rows(CheckpointReader(prefix))
    if path.lower().endswith(".meta"):
        return "meta", _meta_rows(path)
    if fmt == "tflite":
        return fmt, _tflite_rows(path)
    if fmt in ("graph", "safetensors", "npz", "h5"):
        return fmt, _source_rows(convert.open_source(path, fmt))
    return "checkpoint", _checkpoint_rows(CheckpointReader(path))


def _source_rows(source: Any) -> list[dict[str, Any]]:
    """A row per tensor of a convert source (closed afterwards)."""
    rows = []
    for name in source.keys():
        dtype, shape = source.dtype(name), tuple(source.shape(name))
        count = 1
        for d in shape:
            count *= d
        row = {"name": name, "dtype": dtype.name, "shape": list(shape), "bytes": count * dtype.itemsize, "shard": None}
        rows.append(row)
    source.close()
    return rows


def _tflite_rows(path: str) -> list[dict[str, Any]]:
    """Every tensor of a .tflite model's first subgraph, with its quantization."""
    from . import tflite

    rows = []
    with tflite.open(path) as model:
        for t in model.tensors:
            q = t.quantization
            if q.per_axis:
                quant = f"per-axis {len(q.scales)} scales, dim {q.quantized_dimension}"
            elif len(q.scales):
                zero = int(q.zero_points[0]) if len(q.zero_points) else 0
                quant = f"scale {float(q.scales[0]):.6g}, zero point {zero}"
            else:
                quant = ""
            rows.append(
                {
                    "name": t.name,
                    "dtype": t.dtype.name,
                    "shape": list(t.shape),
                    "bytes": t.nbytes,
                    "shard": None,
                    "constant": t.is_constant,
                    "quantization": quant,
                    "scales": [float(x) for x in q.scales],
                    "zero_points": [int(x) for x in q.zero_points],
                    "quantized_dimension": q.quantized_dimension,
                }
            )
    return rows


def _meta_rows(path: str) -> list[dict[str, Any]]:
    """The variables a .meta graph declares (its weights live in the checkpoint)."""
    from .graph import open_meta

    rows = []
    for var in open_meta(path).variables:
        count = 1
        for d in var.shape or ():
            count *= d
        rows.append(
            {
                "name": var.name,
                "dtype": var.dtype.name if var.dtype else "?",
                "shape": list(var.shape) if var.shape is not None else None,
                "bytes": count * (var.dtype.itemsize if var.dtype else 0),
                "shard": var.op,
            }
        )
    return rows


def _checkpoint_rows(reader: Any) -> list[dict[str, Any]]:
    rows = []
    with reader:
        for name in reader.keys():
            entry = reader.entry(name)
            if entry["slices"]:
                size = sum(reader.entry(k)["size"] for _e, k in reader._core.slices(name))
                shard = "sliced"
            else:
                size, shard = entry["size"], entry["shard_id"]
            rows.append(
                {
                    "name": name,
                    "dtype": _dtype_name(entry["dtype"]),
                    "shape": list(entry["shape"]),
                    "bytes": size,
                    "shard": shard,
                }
            )
    return rows


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def cmd_ls(args: argparse.Namespace) -> int:
    import re

    kind, rows = _rows_for(args.path)
    if args.filter:
        pattern = re.compile(args.filter)
        rows = [r for r in rows if pattern.search(r["name"])]
    total = sum(r["bytes"] for r in rows)
    if args.json:
        json.dump({"kind": kind, "tensors": rows, "count": len(rows), "total_bytes": total}, sys.stdout, indent=1)
        print()
        return 0
    width = max([len(r["name"]) for r in rows] + [4])
    if kind == "tflite":
        print(f"{'name':{width}s}  {'dtype':8s} {'shape':20s} {'bytes':>10s}  const  quantization")
        for r in rows:
            constant = "yes" if r["constant"] else ""
            print(
                f"{r['name']:{width}s}  {r['dtype']:8s} {r['shape']!s:20s} {r['bytes']:10d}  {constant:5s}  "
                f"{r['quantization']}"
            )
    else:
        print(f"{'name':{width}s}  {'dtype':12s} {'shape':20s} {'bytes':>12s}  shard")
        for r in rows:
            shard = "" if r["shard"] is None else str(r["shard"])
            print(f"{r['name']:{width}s}  {r['dtype']:12s} {r['shape']!s:20s} {r['bytes']:12d}  {shard}")
    print(f"{len(rows)} tensors, {total} bytes ({_human(total)}) [{kind}]")
    return 0


# -- show, verify, diff -----------------------------------------------------------


def parse_index(text: str) -> tuple[Any, ...]:
    """Parses "0:3,:,5" into a numpy index (comma between dimensions).

    Example:
        >>> parse_index("0:3,:,5")
        (slice(0, 3, None), slice(None, None, None), 5)
    """
    parts: list[Any] = []
    for piece in text.split(","):
        piece = piece.strip()
        if piece == "...":
            parts.append(Ellipsis)
        elif ":" in piece:
            bounds = [int(b) if b.strip() else None for b in piece.split(":")]
            parts.append(slice(*bounds))
        else:
            parts.append(int(piece))
    return tuple(parts)


def _open_any(path: str, dequantized: bool = False) -> Any:
    """A tensor source for show and diff; ``dequantized``: a .tflite model's
    quantized and half-precision constants as float32 (to compare them with
    the checkpoint they came from)."""
    from . import convert, tflite

    fmt = convert.detect_format(path)
    if path.lower().endswith(".meta"):
        fmt = "graph"
    source = convert.open_source(path, fmt)
    return tflite.DequantizedSource(source) if dequantized and fmt == "tflite" else source


def cmd_show(args: argparse.Namespace) -> int:
    import numpy as np

    from . import saved_model
    from .reader import as_array

    source = _open_any(args.path, dequantized=args.dequantize)
    try:
        if args.name not in source.keys() and paths.saved_model_dir_of(args.path) is not None:
            # A SavedModel's variable by the name TensorFlow gives it, or its object path.
            args.name = saved_model.open(args.path).resolve_key(args.name)
        if args.slice and hasattr(source, "get_slice"):
            value = source.get_slice(args.name)[parse_index(args.slice)]
        else:
            value = as_array(source.get_tensor(args.name))
            if args.slice:
                value = value[parse_index(args.slice)]
        print(f"{args.name}: {source.dtype(args.name).name}{list(source.shape(args.name))}")
        with np.printoptions(threshold=sys.maxsize if args.full else np.get_printoptions()["threshold"]):
            print(value)
    finally:
        source.close()
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from . import convert, graph
    from .reader import CheckpointReader

    if convert.detect_format(args.path) == "graph":  # no checksums: every constant must decode
        count = sum(1 for _ in graph.consts(args.path))
        print(f"OK: {count} constants decode; a graph has no checksums ({args.path})")
        return 0
    with CheckpointReader(args.path) as reader:
        damaged = reader.damaged()
        count = len(reader.keys())
    for name, problem in damaged.items():
        print(f"DAMAGED {name}: {problem}")
    if damaged:
        print(f"{len(damaged)} damaged tensor(s) in {reader.prefix}", file=sys.stderr)
        return 1
    print(f"OK: {count} tensors, every checksum matches ({reader.prefix})")
    return 0


def _compare(a: Any, b: Any, name: str, rtol: float, atol: float) -> dict[str, Any]:
    import numpy as np

    from .reader import as_array

    x, y = as_array(a.get_tensor(name)), as_array(b.get_tensor(name))
    if x.dtype == object or y.dtype == object:
        equal = x.tolist() == y.tolist()
        return {"name": name, "equal": equal, "max_abs": None, "max_rel": None}
    xf, yf = x.astype(np.float64), y.astype(np.float64)
    diff = np.abs(xf - yf)
    max_abs = float(diff.max()) if diff.size else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(np.abs(yf) > 0, diff / np.abs(yf), np.where(diff > 0, np.inf, 0.0))
    max_rel = float(rel.max()) if rel.size else 0.0
    close = bool(np.allclose(xf, yf, rtol=rtol, atol=atol, equal_nan=True))
    return {"name": name, "equal": close, "max_abs": max_abs, "max_rel": max_rel}


def cmd_diff(args: argparse.Namespace) -> int:
    a, b = _open_any(args.a, dequantized=True), _open_any(args.b, dequantized=True)
    try:
        keys_a, keys_b = set(a.keys()), set(b.keys())
        report: dict[str, Any] = {
            "only_in_a": sorted(keys_a - keys_b),
            "only_in_b": sorted(keys_b - keys_a),
            "changed_dtype_or_shape": [],
            "different_values": [],
            "equal": 0,
        }
        for name in sorted(keys_a & keys_b):
            da, db = a.dtype(name).name, b.dtype(name).name
            sa, sb = list(a.shape(name)), list(b.shape(name))
            if da != db or sa != sb:
                report["changed_dtype_or_shape"].append({"name": name, "a": f"{da}{sa}", "b": f"{db}{sb}"})
                continue
            result = _compare(a, b, name, args.rtol, args.atol)
            if result["equal"]:
                report["equal"] += 1
            else:
                report["different_values"].append(result)
    finally:
        a.close()
        b.close()
    same = not (
        report["only_in_a"] or report["only_in_b"] or report["changed_dtype_or_shape"] or report["different_values"]
    )
    if args.json:
        json.dump(report, sys.stdout, indent=1)
        print()
    else:
        for name in report["only_in_a"]:
            print(f"- {name}")
        for name in report["only_in_b"]:
            print(f"+ {name}")
        for item in report["changed_dtype_or_shape"]:
            print(f"~ {item['name']}: {item['a']} -> {item['b']}")
        for item in sorted(report["different_values"], key=lambda r: -(r["max_abs"] or 0)):
            if item["max_abs"] is None:
                print(f"! {item['name']}: values differ")
            else:
                print(f"! {item['name']}: max abs diff {item['max_abs']:.6g}, max rel diff {item['max_rel']:.6g}")
        print(
            f"{report['equal']} equal, {len(report['different_values'])} different, "
            f"{len(report['changed_dtype_or_shape'])} changed, {len(report['only_in_a'])} removed, "
            f"{len(report['only_in_b'])} added"
        )
    return 0 if same else 1


# -- convert and edit ---------------------------------------------------------------


def cmd_convert(args: argparse.Namespace) -> int:
    from .convert import convert

    with _progress("convert") as progress:
        out = convert(args.src, args.dst, dtype=args.dtype, progress=progress)
    print(out)
    return 0


def _pair(text: str, sep: str, what: str) -> tuple[str, str]:
    if sep not in text:
        raise ValueError(f"{what} needs the form A{sep}B, got {text!r}")
    left, right = text.split(sep, 1)
    return left, right


def cmd_edit(args: argparse.Namespace) -> int:
    from .edit import transform

    if args.dst is None and not args.in_place:
        raise ValueError("give DST, or --in-place to replace SRC")
    dst = args.src if args.dst is None else args.dst
    rename = [_pair(r, "=", "--rename") for r in args.rename]
    cast = dict(_pair(c, ":", "--cast") for c in args.cast)
    with _progress("edit") as progress:
        out = transform(
            args.src,
            dst,
            drop=args.drop,
            keep=args.keep,
            rename=rename,
            cast=cast or None,
            drop_optimizer=args.drop_optimizer,
            num_shards=args.num_shards,
            in_place=args.in_place,
            progress=progress,
        )
    print(out)
    return 0


# -- saved-model show -----------------------------------------------------------------


def _tensor_info_lines(side: str, infos: dict[str, Any]) -> list[str]:

    lines = []
    for key, info in infos.items():
        dtype = "DT_INVALID" if info.dtype is None else "DT_" + _tf_enum_name(info.dtype)
        # saved_model_cli's (5), not Python's (5,)
        shape = "unknown_rank" if info.shape is None else "(" + ", ".join(str(d) for d in info.shape) + ")"
        lines += [
            f"  {side}['{key}'] tensor_info:",
            f"      dtype: {dtype}",
            f"      shape: {shape}",
            f"      name: {info.name}",
        ]
    return lines


# TensorFlow's DT_ enum names differ from tf.DType names for these.
_TF_ENUM_NAMES = {"float32": "FLOAT", "float64": "DOUBLE", "float16": "HALF"}


def _tf_enum_name(dtype: DType) -> str:
    return _TF_ENUM_NAMES.get(dtype.name, dtype.name.upper())


def _signature_lines(sig: Any) -> list[str]:
    lines = ["The given SavedModel SignatureDef contains the following input(s):"]
    lines += _tensor_info_lines("inputs", sig.inputs)
    lines.append("The given SavedModel SignatureDef contains the following output(s):")
    lines += _tensor_info_lines("outputs", sig.outputs)
    lines.append(f"Method name is: {sig.method_name}")
    return lines


def cmd_extract(args: argparse.Namespace) -> int:
    import time
    import warnings

    from . import bulk

    sources: Any = args.sources[0] if len(args.sources) == 1 else args.sources
    keys = args.keys or None
    out = args.output
    progress = False if args.quiet else None  # None: a bar when stderr is a terminal
    start = time.perf_counter()
    if out.rstrip("/").endswith((".npy", ".zarr")):
        if not keys:
            raise ValueError(f"extract to {out} needs --keys (the tensors to stack)")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", bulk.BulkWarning)
            result = bulk.stack(
                sources,
                keys,
                flatten=args.flatten,
                out=out,
                workers=args.workers,
                on_error="warn",
                resume=args.resume,
                progress=progress,
            )
        failed = 0
        for w in caught:
            if isinstance(w.message, bulk.BulkWarning):
                failed += len(w.message.errors)
            print(f"warning: {w.message}", file=sys.stderr)
        count = int(result.shape[0]) if hasattr(result, "shape") else len(bulk.expand(sources))
        described = f"{result.dtype}{list(result.shape)}" if hasattr(result, "shape") else "a Zarr group"
        print(f"{out}: {described}")
    elif out.endswith(".parquet"):
        table = bulk.table(
            sources,
            keys,
            stats=args.stats,
            values=args.values,
            out=out,
            workers=args.workers,
            resume=args.resume,
            progress=progress,
        )
        sources = table.column("path").to_pylist()
        errors = table.column("error").to_pylist()
        count = len(set(sources))
        failed = len({p for p, e in zip(sources, errors) if e})
        print(f"{out}: {table.num_rows} rows, {failed} unreadable checkpoint(s)")
    else:
        raise ValueError(f"{out}: the output is a .npy or .zarr (stacked tensors) or a .parquet (a table)")
    seconds = time.perf_counter() - start
    print(f"{count} checkpoints ({failed} unreadable) in {seconds:.1f} s, {count / max(seconds, 1e-9):.0f} per second")
    return 0


def cmd_saved_model_show(args: argparse.Namespace) -> int:
    from . import saved_model

    # As saved_model_cli: "serve,gpu" is a tag-set, "" the empty one.
    tag_set = [t for t in args.tag_set.split(",") if t] if args.tag_set is not None else None
    all_tags = [tuple(m.meta_info_def.tags) for m in saved_model.read_saved_model_proto(args.dir).meta_graphs]
    if args.all:
        for tags in all_tags:
            meta = saved_model.open(args.dir, tag_set=tags)
            print(f"\nMetaGraphDef with tag-set: '{', '.join(tags)}' contains the following SignatureDefs:")
            for name, sig in meta.signatures.items():
                print(f"\nsignature_def['{name}']:")
                print("\n".join("  " + line for line in _signature_lines(sig)))
        return 0
    if tag_set is None:
        print("The given SavedModel contains the following tag-sets:")
        for tags in all_tags:
            print(", ".join(f"'{t}'" for t in tags))
        return 0
    model = saved_model.open(args.dir, tag_set=tag_set)
    if args.signature_def is None:
        print("The given SavedModel MetaGraphDef contains SignatureDefs with the following keys:")
        for name in model.signatures:
            print(f'SignatureDef key: "{name}"')
        return 0
    if args.signature_def not in model.signatures:
        raise KeyError(f"no signature {args.signature_def!r}; available: {sorted(model.signatures)}")
    print("\n".join(_signature_lines(model.signatures[args.signature_def])))
    return 0


def cmd_saved_model_update(args: argparse.Namespace) -> int:
    from . import saved_model
    from .convert import open_source

    source = open_source(args.weights)
    try:
        updates = {name: source.get_tensor(name) for name in source.keys()}
    finally:
        source.close()
    saved_model.update_variables(args.dir, updates)
    print(f"{args.dir}: {len(updates)} variable(s) replaced")
    return 0


# -- bench ------------------------------------------------------------------------------


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import run

    result = run(args.path, write=args.write, repeat=args.repeat)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    nbytes = result["bytes"]
    print(f"{result['tensors']} tensors, {_human(nbytes)}; medians of {args.repeat} interleaved runs")
    for kind, base in (("read", "tfbundle get_tensor"), ("write", "tfbundle save")):
        if kind not in result:
            continue
        times = result[kind]
        print(f"\n{kind}:")
        for name, seconds in times.items():
            line = f"  {name:24s} {seconds * 1e3:9.1f} ms  {nbytes / seconds / 1e9:6.2f} GB/s"
            if not name.startswith("tfbundle"):
                line += f"   {base} is {seconds / times[base]:.2f}x faster"
            print(line)
    return 0


# -- entry point -------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tfbundle", description="TensorFlow checkpoints without TensorFlow.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ls", help="list tensors: name, dtype, shape, bytes, shard (.tflite: quantization)")
    p.add_argument(
        "path",
        help="checkpoint (prefix, .index, .data-*, directory), SavedModel, .pb, .meta, .safetensors, .npz or .h5",
    )
    p.add_argument("--filter", help="only names matching this regex")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_ls)

    p = sub.add_parser("show", help="print a tensor's values")
    p.add_argument("path")
    p.add_argument("name")
    p.add_argument("--slice", help='numpy-style selection, dimensions separated by commas, e.g. "0:3,:"')
    p.add_argument("--full", action="store_true", help="print every value, no ellipsis")
    p.add_argument("--dequantize", action="store_true", help="a .tflite tensor's real values (float32)")
    p.set_defaults(run=cmd_show)

    p = sub.add_parser("verify", help="check every checksum (a graph: every constant decodes); exit 0 only when intact")
    p.add_argument("path")
    p.set_defaults(run=cmd_verify)

    p = sub.add_parser(
        "diff", help="compare two checkpoints (or .tflite models, dequantized); exit 0 only when they match"
    )
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--rtol", type=float, default=0.0)
    p.add_argument("--atol", type=float, default=0.0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_diff)

    p = sub.add_parser("convert", help="checkpoint <-> safetensors <-> npz; .h5, frozen .pb and .tflite as sources")
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--dtype", help="cast floating-point tensors, e.g. bfloat16")
    p.set_defaults(run=cmd_convert)

    p = sub.add_parser("edit", help="drop, keep, rename and cast tensors into a new checkpoint")
    p.add_argument("src")
    p.add_argument("dst", nargs="?")
    p.add_argument("--drop", action="append", default=[], metavar="RE")
    p.add_argument("--keep", action="append", default=[], metavar="RE")
    p.add_argument("--rename", action="append", default=[], metavar="RE=REPL")
    p.add_argument("--cast", action="append", default=[], metavar="FROM:TO")
    p.add_argument("--drop-optimizer", action="store_true")
    p.add_argument("--num-shards", type=int)
    p.add_argument("--in-place", action="store_true")
    p.set_defaults(run=cmd_edit)

    p = sub.add_parser("extract", help="many checkpoints into one .npy or .zarr (stacked) or .parquet (a table)")
    p.add_argument("sources", nargs="+", help="checkpoints, a glob or a directory tree")
    p.add_argument("-o", "--output", required=True, help="OUT.npy or OUT.zarr (stack) or OUT.parquet (table)")
    p.add_argument("--keys", action="append", help="a key or regular expression (repeatable)")
    p.add_argument("--flatten", action="store_true", help="one row vector per checkpoint (.npy)")
    p.add_argument("--stats", action="store_true", help="min, max, mean, std, L2, NaN/inf counts (.parquet)")
    p.add_argument("--values", action="store_true", help="the values themselves (.parquet)")
    p.add_argument("--workers", type=int, default=1, help="parallel readers (threads to stack, processes for tables)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run with the same arguments")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=cmd_extract)

    p = sub.add_parser("bench", help="time reading (and saving) a checkpoint against TensorFlow and safetensors")
    p.add_argument("path")
    p.add_argument("--write", action="store_true", help="also time saving it, to a temporary directory")
    p.add_argument("--repeat", type=int, default=5, help="interleaved runs per contender (median reported)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_bench)

    p = sub.add_parser("saved-model", help="SavedModel tools")
    sm = p.add_subparsers(dest="saved_model_command", required=True)
    s = sm.add_parser("show", help="tag-sets, signatures and tensors, as saved_model_cli show")
    s.add_argument("dir")
    s.add_argument("--all", action="store_true")
    s.add_argument("--tag-set", "--tag_set", dest="tag_set")
    s.add_argument("--signature-def", "--signature_def", dest="signature_def")
    s.set_defaults(run=cmd_saved_model_show)
    s = sm.add_parser(
        "update", help="replace variables with the tensors of WEIGHTS, named by key, object path or variable name"
    )
    s.add_argument("dir")
    s.add_argument("weights", help=".safetensors, .npz, checkpoint or anything convert reads")
    s.set_defaults(run=cmd_saved_model_update)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status.

    Example:
        >>> main(["ls", "model.ckpt-20"])                          # doctest: +SKIP
        0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("tfbundle: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # one clear line unless --debug
        if args.debug:
            raise
        message = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"tfbundle: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
