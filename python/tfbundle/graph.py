"""Frozen GraphDefs and MetaGraphs: stream Const tensors, inspect graphs,
freeze variables into constants and wrap frozen graphs as SavedModels.

Binary graphs are walked by the C++ scanner over a memory map, never
parsed whole, so files over protobuf's 2 GiB limit work and constants stored
as ``tensor_content`` come back as read-only zero-copy views. Text graphs
(``.pbtxt``) go through protobuf's text parser (slower, same results).
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from . import paths, remote
from ._core import GraphScanner, decode_tensor_proto
from ._fsutil import temp_name
from ._lazy import numpy as np
from .dtypes import DType, as_dtype, from_enum
from .errors import DataLossError
from .graph_functions import read_values
from .proto import message_class, parse

VARIABLE_OPS = ("VariableV2", "Variable", "VarHandleOp", "AutoReloadVariable")


@dataclass(frozen=True)
class Node:
    """One node: ``name``, ``op``, ``inputs``, ``device``, and the library
    ``function`` it belongs to ("" for the top-level graph)."""

    name: str
    op: str
    inputs: tuple[str, ...]
    device: str
    function: str = ""


def _graph_file(path: str) -> str:
    """The file holding a graph: ``path``, or a SavedModel directory's
    ``saved_model.pb`` (its ``saved_model.pbtxt`` when only that exists)."""
    if not os.path.isdir(path):
        return path
    binary = os.path.join(path, "saved_model.pb")
    text = os.path.join(path, "saved_model.pbtxt")
    return text if not os.path.isfile(binary) and os.path.isfile(text) else binary


def _location(path: str) -> tuple[str, list[int]]:
    """(file, field path to its GraphDef) for a graph, .meta or SavedModel."""
    path = _graph_file(path)
    base = os.path.basename(path)
    if base == "saved_model.pb":
        return path, [2, 2]
    if path.endswith(".meta"):
        return path, [2]
    return path, []


# Bytes that protobuf text format never holds (TensorFlow's writer escapes
# them inside strings), but a binary graph does within its first bytes: every
# NodeDef's op field starts with 0x12, a GraphDef's versions with 0x08.
_CONTROL_BYTES = bytes(b for b in range(32) if chr(b) not in "\t\n\v\f\r") + b"\x7f"


def _is_text(path: str) -> bool:
    """Whether a graph file is protobuf text: by its name (``.pbtxt``,
    ``.txt``), else by its first 4 KiB holding no control byte, since
    ``tf.io.write_graph`` writes text by default whatever the name (many a
    ``graph.pb`` is text) and TensorFlow reads a text ``.meta`` too."""
    if path.endswith((".pbtxt", ".txt")):
        return True
    with builtins.open(path, "rb") as f:
        head = f.read(4096)
    return bool(head.strip()) and len(head.translate(None, _CONTROL_BYTES)) == len(head)


def _to_array(dtype_enum: int, shape: tuple[int, ...], kind: str, payload: Any) -> np.ndarray:
    dtype = from_enum(dtype_enum)
    if kind == "strings":
        out = np.empty(len(payload), dtype=object)
        out[:] = payload
        return out.reshape(shape)
    return payload.view(dtype.numpy_dtype).reshape(shape)


def _parse_text(path: str, kind: str) -> Any:
    """A protobuf text file parsed as message ``kind``; DataLossError naming
    the file when it is not one."""
    from google.protobuf import text_format

    message = message_class(kind)()
    try:
        with builtins.open(path, encoding="utf-8") as f:
            text_format.Parse(f.read(), message, allow_unknown_field=True)
    except (text_format.ParseError, UnicodeDecodeError) as e:
        raise DataLossError(f"{path}: malformed text {kind}: {e}") from None
    return message


def _text_graph(path: str) -> Any:
    """The GraphDef of a text GraphDef, of a text ``.meta``, or of a
    ``saved_model.pbtxt``'s first MetaGraph (the one ``saved_model.pb``
    readers take too)."""
    if path.endswith(".meta"):
        return _parse_text(path, "MetaGraphDef").graph_def
    if os.path.basename(path) != "saved_model.pbtxt":
        return _parse_text(path, "GraphDef")
    message = _parse_text(path, "SavedModel")
    if not message.meta_graphs:
        raise DataLossError(f"{path}: holds no MetaGraph")
    return message.meta_graphs[0].graph_def


def _iter_text_nodes(graph: Any) -> Iterator[tuple[Node, Any]]:
    for node in graph.node:
        yield Node(node.name, node.op, tuple(node.input), node.device), node
    for function in graph.library.function:
        for node in function.node_def:
            yield Node(node.name, node.op, tuple(node.input), node.device, function.signature.name), node


def _decode_text_value(path: str, node: Any) -> Any:
    tensor = node.attr["value"].tensor
    try:
        return _to_array(*decode_tensor_proto(tensor.SerializeToString()))
    except DataLossError as e:
        raise DataLossError(f"{path}: node {node.name!r}: {e}") from None


def _const_name(node: Node) -> str:
    return f"{node.function}/{node.name}" if node.function else node.name


def _readable(path: paths.PathLike, storage_options: Mapping[str, Any] | None) -> str:
    """A local path to read ``path`` from: itself, or for a URL a fetched copy
    (graphs are parsed whole)."""
    p = os.fspath(remote.local_path(path))
    return remote.fetched_copy(p, storage_options) if remote.is_url(p) else p


def iter_nodes(path: paths.PathLike, *, storage_options: Mapping[str, Any] | None = None) -> Iterator[Node]:
    """Every node of a graph file (binary, text, ``.meta`` or SavedModel),
    the graph's first, then each library function's.

    Example:
        >>> [n.op for n in iter_nodes("frozen.pb")][:3]            # doctest: +SKIP
        ['Placeholder', 'Const', 'MatMul']
    """
    p = _graph_file(_readable(path, storage_options))
    if _is_text(p):
        for node, _proto in _iter_text_nodes(_text_graph(p)):
            yield node
        return
    scanner = GraphScanner(*_location(p))
    while (item := scanner.next()) is not None:
        name, op, inputs, device, function, _dtype, _has_value = item
        yield Node(name, op, tuple(inputs), device, function)


def consts(
    path: paths.PathLike, *, copy: bool = False, storage_options: Mapping[str, Any] | None = None
) -> Iterator[tuple[str, np.ndarray]]:
    """Streams ``(name, array)`` for every ``Const`` node, including those
    inside library functions (named ``function/node``). Values stored as
    ``tensor_content`` are read-only views into the mapped file, or, with
    ``copy=True``, new writeable arrays filled by the fast file copy; values
    stored in typed fields are decoded and broadcast as ``tf.make_ndarray``
    does. Strings come back as object arrays of bytes. ``path`` may be a URL
    (fetched whole once per process).

    Example:
        >>> for name, value in consts("frozen.pb"):                # doctest: +SKIP
        ...     print(name, value.shape)
    """
    p = _graph_file(_readable(path, storage_options))
    if _is_text(p):
        for node, proto in _iter_text_nodes(_text_graph(p)):
            if node.op == "Const" and "value" in proto.attr:
                yield _const_name(node), _decode_text_value(p, proto)
        return
    scanner = GraphScanner(*_location(p))
    while (item := scanner.next()) is not None:
        name, op, _inputs, _device, function, _dtype, has_value = item
        if op == "Const" and has_value:
            yield (f"{function}/{name}" if function else name), _to_array(*scanner.value(copy))


def load_consts(path: paths.PathLike, *, storage_options: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
    """``{name: array}`` of every Const; see :func:`consts`.

    Example:
        >>> weights = load_consts("frozen.pb")                     # doctest: +SKIP
    """
    return dict(consts(path, storage_options=storage_options))


class Graph:
    """A graph file: ``nodes`` (list of :class:`Node`) and ``consts`` (dict
    of name -> array, read on first use).

    Example:
        >>> g = tfbundle.graph.open("frozen.pb")                   # doctest: +SKIP
        >>> g.nodes[0].op, len(g.consts)                           # doctest: +SKIP
    """

    def __init__(self, path: paths.PathLike, *, storage_options: Mapping[str, Any] | None = None) -> None:
        self.path = _readable(path, storage_options)
        self.nodes: list[Node] = list(iter_nodes(self.path))
        self._consts: dict[str, Any] | None = None

    @property
    def consts(self) -> dict[str, np.ndarray]:
        if self._consts is None:
            self._consts = load_consts(self.path)
        return self._consts


def open(path: paths.PathLike, *, storage_options: Mapping[str, Any] | None = None) -> Graph:  # noqa: A001
    """Opens a GraphDef (``.pb`` or ``.pbtxt``), ``.meta`` or SavedModel graph
    (a URL too)."""
    return Graph(path, storage_options=storage_options)


class ConstSource:
    """A graph's constants as a tensor source for :mod:`tfbundle.convert`
    (``keys``, ``dtype``, ``shape``, ``get_tensor``). Reading the names in
    order streams the file once."""

    def __init__(self, path: paths.PathLike) -> None:
        self.path = os.fspath(path)
        self._meta: dict[str, tuple[DType, tuple[int, ...]]] = {}
        for name, value in consts(self.path):
            self._meta[name] = (
                as_dtype(value.dtype) if value.dtype != object else as_dtype("string"),
                tuple(value.shape),
            )
        self._stream: Iterator[tuple[str, Any]] | None = None

    def keys(self) -> list[str]:
        return list(self._meta)

    def dtype(self, name: str) -> DType:
        return self._meta[name][0]

    def shape(self, name: str) -> tuple[int, ...]:
        return self._meta[name][1]

    def get_tensor(self, name: str) -> np.ndarray:
        if name not in self._meta:
            raise KeyError(name)
        for attempt in range(2):
            if self._stream is None or attempt == 1:
                self._stream = consts(self.path)
            for found, value in self._stream:
                if found == name:
                    return value
        raise KeyError(name)

    def close(self) -> None:
        self._stream = None


# -- MetaGraphs ----------------------------------------------------------------


@dataclass(frozen=True)
class VariableInfo:
    """A variable the graph declares: node name, op, dtype and shape."""

    name: str
    op: str
    dtype: DType | None
    shape: tuple[int, ...] | None


class MetaGraph:
    """A parsed ``.meta`` file (MetaGraphDef).

    Attributes: ``tags``, ``tensorflow_version``, ``graph`` (GraphDef
    message), ``nodes``, ``saver_def`` (dict), ``collections`` (name -> list
    of node names, bytes, ints or floats), ``signatures`` and ``variables``.

    Example:
        >>> meta = tfbundle.graph.open_meta("model.ckpt-20.meta")   # doctest: +SKIP
        >>> meta.saver_def["restore_op_name"]                      # doctest: +SKIP
        'save/restore_all'
    """

    def __init__(
        self, path: paths.PathLike, *, storage_options: Mapping[str, Any] | None = None, proto: Any = None
    ) -> None:
        from .saved_model import Signature, _tensor_info

        self.path = _readable(path, storage_options) if proto is None else os.fspath(path)
        if proto is None and _is_text(self.path):  # export_meta_graph(as_text=True)
            proto = _parse_text(self.path, "MetaGraphDef")
        elif proto is None:
            with builtins.open(self.path, "rb") as f:
                data = f.read()
            try:
                proto = parse("MetaGraphDef", data)
            except DataLossError as e:
                raise DataLossError(f"{self.path}: {e}") from None
        self.proto = proto
        info = self.proto.meta_info_def
        self.tags = tuple(info.tags)
        self.tensorflow_version = info.tensorflow_version
        self.graph = self.proto.graph_def
        self.nodes = [Node(n.name, n.op, tuple(n.input), n.device) for n in self.graph.node]
        s = self.proto.saver_def
        self.saver_def = {
            "filename_tensor_name": s.filename_tensor_name,
            "save_tensor_name": s.save_tensor_name,
            "restore_op_name": s.restore_op_name,
            "max_to_keep": s.max_to_keep,
            "sharded": s.sharded,
            "keep_checkpoint_every_n_hours": s.keep_checkpoint_every_n_hours,
            "version": s.version,
        }
        self.collections: dict[str, list[Any]] = {}
        for name, collection in self.proto.collection_def.items():
            kind = collection.WhichOneof("kind")
            self.collections[name] = list(getattr(collection, kind).value) if kind else []
        self.signatures = {
            name: Signature(
                {k: _tensor_info(v) for k, v in sorted(sig.inputs.items())},
                {k: _tensor_info(v) for k, v in sorted(sig.outputs.items())},
                sig.method_name,
            )
            for name, sig in sorted(self.proto.signature_def.items())
        }
        self.variables = [
            VariableInfo(
                n.name,
                n.op,
                as_dtype(n.attr["dtype"].type) if "dtype" in n.attr else None,
                tuple(d.size for d in n.attr["shape"].shape.dim) if "shape" in n.attr else None,
            )
            for n in self.graph.node
            if n.op in VARIABLE_OPS
        ]

    def slice_infos(self) -> dict[str, Any]:
        """``{variable node name: SaveSliceInfoDef}`` of partitioned variables."""
        out = {}
        for collection in ("variables", "trainable_variables"):
            for raw in self.collections.get(collection, []):
                var = parse("VariableDef", raw)
                if var.HasField("save_slice_info_def"):
                    out[var.variable_name.split(":")[0]] = var.save_slice_info_def
        return out


def open_meta(path: paths.PathLike, *, storage_options: Mapping[str, Any] | None = None) -> MetaGraph:
    """Opens a ``.meta`` file (a URL too); see :class:`MetaGraph`."""
    return MetaGraph(path, storage_options=storage_options)


# -- building graphs ---------------------------------------------------------------


def make_tensor_proto(value: Any, dtype: Any = None) -> Any:
    """A TensorProto message for an array: raw ``tensor_content`` for numeric
    types, ``string_val`` for strings.

    Example:
        >>> make_tensor_proto(np.ones(2, np.float32)).tensor_content
        b'\\x00\\x00\\x80?\\x00\\x00\\x80?'
    """
    from .writer import as_tensor

    array, dt = as_tensor("const", value, dtype)
    proto = message_class("TensorProto")(dtype=dt.enum)
    for d in array.shape:
        proto.tensor_shape.dim.add(size=d)
    if dt.is_variable_length:
        proto.string_val.extend(array.reshape(-1).tolist())
    else:
        proto.tensor_content = array.tobytes()
    return proto


def _node_name(reference: str) -> str:
    """'^a', 'a:1' and 'a' all name node 'a'."""
    return reference.lstrip("^").split(":")[0]


def write_graph_def(path: paths.PathLike, nodes: Sequence[Any], *, library: Any = None, versions: Any = None) -> None:
    """Writes a GraphDef node by node (so it may exceed 2 GiB), atomically.

    Example:
        >>> write_graph_def("g.pb", [node_def_1, node_def_2])      # doctest: +SKIP
    """
    out = os.fspath(path)
    temp = temp_name(out)

    def field(f: BinaryIO, number: int, payload: bytes) -> None:
        key = (number << 3) | 2
        f.write(_varint(key) + _varint(len(payload)))
        f.write(payload)

    try:
        with builtins.open(temp, "wb") as f:
            for node in nodes:
                field(f, 1, node.SerializeToString())
            if library is not None and library.ByteSize():
                field(f, 2, library.SerializeToString())
            if versions is not None:
                field(f, 4, versions.SerializeToString())
        os.replace(temp, out)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_graph_def(path: str) -> Any:
    """(GraphDef, MetaGraph or None) of a graph file, ``.meta`` or SavedModel
    directory or its ``saved_model.pb`` (the default MetaGraph, see
    :class:`tfbundle.saved_model.SavedModel`)."""
    if os.path.isdir(path) or paths.saved_model_dir_of(path) is not None:
        from .saved_model import SavedModel

        meta = MetaGraph(path, proto=SavedModel(path).meta_graph)
        return meta.graph, meta
    if path.endswith(".meta"):
        meta = MetaGraph(path)
        return meta.graph, meta
    if _is_text(path):
        return _text_graph(path), None
    with builtins.open(path, "rb") as f:
        data = f.read()
    try:
        return parse("GraphDef", data), None
    except DataLossError as e:
        raise DataLossError(f"{path}: {e}") from None


def _variable_value(reader: Any, node_name: str, slice_info: Any) -> Any:
    """The checkpoint value for a variable node (or its part)."""
    if slice_info is not None:
        full = reader.get_tensor(slice_info.full_name)
        region = tuple(slice(o, o + s) for o, s in zip(slice_info.var_offset, slice_info.var_shape))
        return full[region]
    if reader.has_tensor(node_name):
        return reader.get_tensor(node_name)
    base, _, part = node_name.rpartition("/part_")
    if base and part.isdigit() and reader.has_tensor(base) and reader.entry(base)["slices"]:
        # A partitioned variable without slice info: parts in offset order.
        slices = sorted(reader.entry(base)["slices"], key=lambda ext: [e[0] for e in ext])
        extents = slices[int(part)]
        full = reader.get_tensor(base)
        return full[tuple(slice(None) if n < 0 else slice(s, s + n) for s, n in extents)]
    raise KeyError(f"variable {node_name!r} is not in checkpoint {reader.prefix}")


def freeze(
    graph_or_meta_path: paths.PathLike,
    checkpoint: paths.PathLike,
    output_nodes: Sequence[str],
    out_path: paths.PathLike,
) -> str:
    """Freezes a graph without TensorFlow: each variable (VariableV2, or
    VarHandleOp with its ReadVariableOp readers) becomes a Const holding the
    checkpoint's value, the graph is pruned to what ``output_nodes`` need,
    and devices are cleared. Partitioned variables use the ``.meta``'s slice
    info (or ``name/part_N`` order). Readers of a variable become readers of
    its value: embedding lookups (ResourceGather, ResourceGatherNd), TF1
    control flow on references (RefSwitch...), initialization checks (true),
    and functions it is passed into (an ``If`` branch, a call; see
    :mod:`tfbundle.graph_functions`). A kept node that needs the variable
    itself (an assignment) raises ValueError and nothing is written.
    ``graph_or_meta_path`` may be a SavedModel directory (its default
    MetaGraph), and ``checkpoint`` then the same directory (its variables).
    Returns ``out_path``.

    Example:
        >>> freeze("model.ckpt-20.meta", "model.ckpt-20", ["logits"], "frozen.pb")  # doctest: +SKIP
        'frozen.pb'
    """
    from .reader import CheckpointReader

    graph, meta = _read_graph_def(os.fspath(graph_or_meta_path))
    slice_infos = meta.slice_infos() if meta is not None else {}
    by_name = {n.name: n for n in graph.node}
    wanted = [_node_name(o) for o in output_nodes]
    missing = [o for o in wanted if o not in by_name]
    if missing:
        raise KeyError(f"output nodes not in the graph: {missing}")
    keep = set()
    stack = list(wanted)
    while stack:
        name = stack.pop()
        if name in keep:
            continue
        keep.add(name)
        stack.extend(_node_name(i) for i in by_name[name].input if _node_name(i) in by_name)
    NodeDef = message_class("NodeDef")
    frozen = []
    resource_dtypes: dict[str, int] = {}
    ref_variables: set[str] = set()
    with CheckpointReader(checkpoint) as reader:
        for node in graph.node:
            if node.name not in keep:
                continue
            if node.op in VARIABLE_OPS:
                dtype = as_dtype(node.attr["dtype"].type)
                value = _variable_value(reader, node.name, slice_infos.get(node.name))
                const = NodeDef(name=node.name, op="Const")
                const.attr["dtype"].type = dtype.enum
                const.attr["value"].tensor.CopyFrom(make_tensor_proto(np.asarray(value), dtype=dtype))
                if node.op == "VarHandleOp":
                    resource_dtypes[node.name] = dtype.enum
                else:
                    ref_variables.add(node.name)
                frozen.append(const)
                continue
            copy = NodeDef()
            copy.CopyFrom(node)
            copy.device = ""
            frozen.append(copy)
    kept_names = {n.name for n in frozen}
    for node in frozen:
        _read_reference_variable(node, ref_variables, resource_dtypes)
    added, _renamed = read_values(frozen, dict(resource_dtypes), graph.library)
    for node in frozen:
        if "_class" in node.attr:  # colocation with pruned nodes would fail import
            refs = [r for r in node.attr["_class"].list.s if r.decode().replace("loc:@", "") in kept_names]
            if refs:
                del node.attr["_class"].list.s[:]
                node.attr["_class"].list.s.extend(refs)
            else:
                del node.attr["_class"]
    write_graph_def(out_path, frozen + added, library=graph.library, versions=graph.versions)
    return os.fspath(out_path)


def _read_reference_variable(node: Any, ref_variables: set[str], resource_dtypes: dict[str, int]) -> None:
    """Rewrites ``node`` in place where it reads a reference variable that is
    now a Const, or checks any frozen variable's initialization, as
    TensorFlow's own converters do (resource reads: :mod:`tfbundle.graph_functions`).
    Raises ValueError for an assignment, which needs the variable itself."""
    source = _node_name(node.input[0]) if node.input else ""
    is_ref, is_resource = source in ref_variables, source in resource_dtypes
    if node.op in _REF_OPS and is_ref:  # a Const is no reference
        node.op = node.op[len("Ref") :]
    elif (node.op, is_ref, is_resource) in _INITIALIZED_CHECKS:
        # A constant is always initialized (a TF1 cond on it: Estimator's global_step).
        node.CopyFrom(_const_node(node.name, np.asarray(True)))
    elif is_ref and node.op.startswith(_MUTATIONS):
        raise ValueError(
            f"node {node.name!r} ({node.op}) needs the variable {source!r} itself, not its value; freezing "
            "cannot keep it (leave the node out of what the outputs need)"
        )


def _const_node(name: str, value: np.ndarray) -> Any:
    """A Const NodeDef named ``name`` holding ``value``."""
    dtype = as_dtype(value.dtype)
    node = message_class("NodeDef")(name=name, op="Const")
    node.attr["dtype"].type = dtype.enum
    node.attr["value"].tensor.CopyFrom(make_tensor_proto(value, dtype=dtype))
    return node


# Ops that change a reference-typed variable: freezing cannot keep them.
_MUTATIONS = ("Assign", "Scatter", "Apply", "SparseApply", "CountUpTo")
# Ops that take a reference-typed variable and have a value-typed twin.
_REF_OPS = ("RefSwitch", "RefIdentity", "RefEnter", "RefMerge", "RefExit", "RefNextIteration")
# (op, reads a VariableV2, reads a VarHandleOp) of the initialization checks freezing answers.
_INITIALIZED_CHECKS = {("IsVariableInitialized", True, False), ("VarIsInitializedOp", False, True)}


def _tensor_info_for(graph: Any, reference: str) -> Any:
    """TensorInfo (name, dtype, shape) for 'node:idx', from the node's attrs."""
    TensorInfo = message_class("TensorInfo")
    name = reference if ":" in reference else reference + ":0"
    node_name, index = name.rsplit(":", 1)
    node = next((n for n in graph.node if n.name == node_name), None)
    if node is None:
        raise KeyError(f"tensor {reference!r}: no node {node_name!r} in the graph")
    info = TensorInfo(name=name)
    for attr in ("dtype", "T", "out_type"):
        if attr in node.attr and node.attr[attr].WhichOneof("value") == "type":
            info.dtype = node.attr[attr].type
            break
    if "shape" in node.attr and node.attr["shape"].WhichOneof("value") == "shape":
        info.tensor_shape.CopyFrom(node.attr["shape"].shape)
    elif "_output_shapes" in node.attr and int(index) < len(node.attr["_output_shapes"].list.shape):
        info.tensor_shape.CopyFrom(node.attr["_output_shapes"].list.shape[int(index)])
    elif node.op == "Const":
        info.tensor_shape.CopyFrom(node.attr["value"].tensor.tensor_shape)
    else:
        info.tensor_shape.unknown_rank = True
    return info


def to_saved_model(
    frozen_pb: paths.PathLike,
    export_dir: paths.PathLike,
    inputs: Mapping[str, str],
    outputs: Mapping[str, str],
    tags: Sequence[str] = ("serve",),
    signature_name: str = "serving_default",
) -> str:
    """Wraps a frozen graph as a SavedModel with one predict signature, which
    ``tf.saved_model.load`` and ``saved_model_cli`` accept. ``inputs`` and
    ``outputs`` map signature keys to tensor names (``"x:0"``). The
    directory is built under a temporary name and renamed into place.

    Example:
        >>> to_saved_model("frozen.pb", "export/1", {"x": "x:0"}, {"y": "y:0"})  # doctest: +SKIP
        'export/1'
    """
    import shutil
    import uuid

    graph, _meta = _read_graph_def(os.fspath(frozen_pb))
    target = os.fspath(export_dir)
    if os.path.exists(target) and os.listdir(target):
        raise FileExistsError(f"{target}: exists and is not empty")
    saved = message_class("SavedModel")(saved_model_schema_version=1)
    meta = saved.meta_graphs.add()
    meta.meta_info_def.tags.extend(tags)
    meta.meta_info_def.meta_graph_version = "v2"
    meta.graph_def.CopyFrom(graph)
    signature = meta.signature_def[signature_name]
    signature.method_name = "tensorflow/serving/predict"
    for key, reference in inputs.items():
        signature.inputs[key].CopyFrom(_tensor_info_for(graph, reference))
    for key, reference in outputs.items():
        signature.outputs[key].CopyFrom(_tensor_info_for(graph, reference))
    staging = f"{target.rstrip(os.sep)}.tmp{uuid.uuid4().hex[:12]}"
    os.makedirs(os.path.join(staging, "variables"))
    try:
        with builtins.open(os.path.join(staging, "saved_model.pb"), "wb") as f:
            f.write(saved.SerializeToString())
        if os.path.isdir(target):
            os.rmdir(target)
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


__all__ = [
    "ConstSource",
    "Graph",
    "MetaGraph",
    "Node",
    "consts",
    "freeze",
    "iter_nodes",
    "load_consts",
    "make_tensor_proto",
    "open",
    "open_meta",
    "to_saved_model",
    "write_graph_def",
]
