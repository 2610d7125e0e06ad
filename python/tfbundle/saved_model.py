"""SavedModel directories: signatures, tags, assets and the variables bundle.

A SavedModel is ``saved_model.pb`` (one or more MetaGraphs, each with tags
and signatures), ``variables/variables.{index,data-*}`` (a V2 checkpoint),
``assets/`` and optionally ``fingerprint.pb``. ``saved_model.pb`` is parsed
with tfbundle's own protobuf subset, so TensorFlow is never imported.
"""

from __future__ import annotations

import builtins
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import paths, remote
from .dtypes import DType, as_dtype
from .errors import DataLossError
from .objects import child_paths, node_at, object_graph, object_paths
from .reader import CheckpointReader
from .state import checkpoint_exists

VARIABLES_DIRECTORY = "variables"
VARIABLES_FILENAME = "variables"
FINGERPRINT_FILENAME = "fingerprint.pb"


@dataclass(frozen=True)
class TensorInfo:
    """One signature input or output: graph tensor name, dtype and shape.
    ``shape`` uses -1 for an unknown dimension and is None for unknown rank.
    """

    name: str
    dtype: DType | None
    shape: tuple[int, ...] | None


@dataclass(frozen=True)
class Signature:
    """A SignatureDef: ``inputs`` and ``outputs`` by key, and its method name."""

    inputs: dict[str, TensorInfo]
    outputs: dict[str, TensorInfo]
    method_name: str


def _shape(proto: Any) -> tuple[int, ...] | None:
    if proto.unknown_rank:
        return None
    return tuple(int(d.size) for d in proto.dim)


def _tensor_info(proto: Any) -> TensorInfo:
    name = proto.name
    if proto.WhichOneof("encoding") == "coo_sparse":
        name = proto.coo_sparse.values_tensor_name
    dtype = as_dtype(proto.dtype) if proto.dtype else None
    return TensorInfo(name=name, dtype=dtype, shape=_shape(proto.tensor_shape))


def _asset_filenames(meta_graph: Any) -> list[str]:
    """Asset file names: TF2 lists them in ``asset_file_def``; TF1 builders
    in the ``saved_model_assets`` collection, as Any-packed AssetFileDefs."""
    from .proto import parse

    names = [a.filename for a in meta_graph.asset_file_def]
    if "saved_model_assets" in meta_graph.collection_def:
        for packed in meta_graph.collection_def["saved_model_assets"].any_list.value:
            name = parse("AssetFileDef", packed.value).filename
            if name not in names:
                names.append(name)
    return names


@dataclass(frozen=True)
class _SavedVariable:
    name: str  # TensorFlow's name for it, not unique
    key: str  # its value's checkpoint key
    read: bool  # whether a function of the SavedModel reads it


def _saved_variables(meta_graph: Any, variables: CheckpointReader | None, where: str) -> list[_SavedVariable]:
    """The variables of ``saved_model.pb``'s object graph with their keys. A
    variable's value is at the node of the variables' checkpoint graph that
    its chain of child names leads to, which is how TensorFlow's loader
    restores it (node numbers differ: before 2.15 the SavedModel's graph
    also lists functions). A variable whose checkpoint node has no value of
    its dtype is left out, rather than guessed."""
    saved = meta_graph.object_graph_def
    checkpoint = object_graph(variables) if variables is not None else None
    if variables is None or checkpoint is None:
        return []
    read = {node_id for function in saved.concrete_functions.values() for node_id in function.bound_inputs}
    found = []
    for node_id, path in enumerate(child_paths(saved.nodes, where)):
        node = saved.nodes[node_id]
        if node.WhichOneof("kind") != "variable" or not node.variable.name or path is None:
            continue  # only variables are walked to in the checkpoint's graph
        twin = node_at(checkpoint.nodes, path)
        if twin is None:
            continue
        keys = [a.checkpoint_key for a in checkpoint.nodes[twin].attributes if a.name == "VARIABLE_VALUE"]
        if len(keys) == 1 and variables.has_tensor(keys[0]) and variables.dtype(keys[0]).enum == node.variable.dtype:
            found.append(_SavedVariable(node.variable.name, keys[0], node_id in read))
    return found


def _tf1_variables(meta_graph: Any, variables: CheckpointReader | None) -> list[_SavedVariable]:
    """A TF1 SavedModel's variables as TensorFlow 2's loader names them:
    its resource variables (VarHandleOp nodes; it names no reference
    variable), each with its checkpoint key: the node's name, or for a part
    of a partitioned variable the whole variable's key (the part is a slice
    of it). A variable the checkpoint does not hold (a local one) is left out."""
    from .proto import parse

    if variables is None:
        return []
    whole = {}
    for collection in ("variables", "local_variables"):
        if collection in meta_graph.collection_def:
            for raw in meta_graph.collection_def[collection].bytes_list.value:
                variable = parse("VariableDef", raw)
                if variable.HasField("save_slice_info_def"):
                    whole[variable.variable_name.split(":")[0]] = variable.save_slice_info_def.full_name
    found = []
    for node in meta_graph.graph_def.node:
        if node.op != "VarHandleOp":
            continue
        key = whole.get(node.name, node.name)
        if variables.has_tensor(key):
            found.append(_SavedVariable(node.name, key, True))
    return found


def _read_fingerprint(path: str) -> Any | None:
    """The ``FingerprintDef`` at ``path`` (TF 2.12+ writes ``fingerprint.pb``),
    or None when there is none. A damaged file raises DataLossError naming it.
    Of its hashes, only ``checkpoint_hash`` covers the variables (see
    :func:`_checkpoint_hash`); the others cover ``saved_model.pb``."""
    from .proto import parse

    if not os.path.isfile(path):
        return None
    with builtins.open(path, "rb") as f:
        raw = f.read()
    try:
        return parse("FingerprintDef", raw)
    except DataLossError as e:
        raise DataLossError(f"{path}: {e}") from None


def _checkpoint_hash(index_path: str) -> int:
    """TensorFlow's fingerprint ``checkpoint_hash``: FarmHash's Fingerprint64
    of ``variables/variables.index``."""
    import farmhash

    with builtins.open(index_path, "rb") as f:
        return int(farmhash.fingerprint64(f.read()))


def _write_fingerprint(fingerprint: Any, path: str, index_path: str, sync: bool) -> str:
    """Writes ``fingerprint`` with the checkpoint hash of ``index_path`` to a
    temporary name next to ``path``; returns that name, to rename into place."""
    from ._fsutil import temp_name

    fingerprint.checkpoint_hash = _checkpoint_hash(index_path)
    temp = temp_name(path)
    try:
        with builtins.open(temp, "wb") as f:
            f.write(fingerprint.SerializeToString())
            if sync:
                f.flush()
                os.fsync(f.fileno())
    except BaseException:
        if os.path.exists(temp):
            os.remove(temp)
        raise
    return temp


def has_variables(export_dir: paths.PathLike) -> bool:
    """True when a local SavedModel has a ``variables/`` checkpoint (V2, or
    V1 in very old exports). TF1 exports of frozen graphs have none: their
    weights are constants in the graph (:func:`tfbundle.graph.load_consts`).

    Example:
        >>> has_variables("export/1")                              # doctest: +SKIP
        False
    """
    return checkpoint_exists(variables_prefix(export_dir))


def _directory(export_dir: paths.PathLike) -> str:
    """``export_dir`` as a string: a URL as given; a local SavedModel's
    directory also when ``export_dir`` is its ``saved_model.pb``."""
    directory = os.fspath(remote.local_path(export_dir))
    return directory if remote.is_url(directory) else paths.saved_model_dir_of(directory) or directory


def variables_prefix(export_dir: paths.PathLike) -> str:
    """``export_dir/variables/variables`` (a URL for a URL)."""
    directory = _directory(export_dir)
    if remote.is_url(directory):
        return remote.join(directory, f"{VARIABLES_DIRECTORY}/{VARIABLES_FILENAME}")
    return os.path.join(directory, VARIABLES_DIRECTORY, VARIABLES_FILENAME)


def _read_file(path: str, storage_options: Mapping[str, Any] | None) -> bytes | None:
    """A file's bytes (local or at a URL); None when it does not exist."""
    if remote.is_url(path):
        try:
            return remote.Store.for_url(path, storage_options).cat(path)
        except FileNotFoundError:
            return None
    if not os.path.isfile(path):
        return None
    with builtins.open(path, "rb") as f:
        return f.read()


def read_saved_model_proto(export_dir: paths.PathLike, *, storage_options: Mapping[str, Any] | None = None) -> Any:
    """Parses ``saved_model.pb`` (or ``saved_model.pbtxt``) into a SavedModel
    message; ``export_dir`` may be a URL."""
    from .proto import message_class, parse

    directory = _directory(export_dir)
    join = remote.join if remote.is_url(directory) else os.path.join
    pb = join(directory, "saved_model.pb")
    data = _read_file(pb, storage_options)
    if data is not None:
        try:
            return parse("SavedModel", data)
        except DataLossError as e:
            raise DataLossError(f"{pb}: {e}") from None
    pbtxt = join(directory, "saved_model.pbtxt")
    text = _read_file(pbtxt, storage_options)
    if text is not None:
        from google.protobuf import text_format

        message = message_class("SavedModel")()
        try:
            text_format.Parse(text.decode("utf-8"), message, allow_unknown_field=True)
        except (text_format.ParseError, UnicodeDecodeError) as e:
            raise DataLossError(f"{pbtxt}: {e}") from None
        return message
    raise FileNotFoundError(f"{pb}: no such file (not a SavedModel directory)")


class SavedModel:
    """An open SavedModel directory.

    Attributes: ``tags`` (the tag-set of every MetaGraph), ``meta_graph``
    (the selected MetaGraphDef message), ``signatures`` (name ->
    :class:`Signature`), ``variables`` (a :class:`CheckpointReader`, or None
    when there are no variables), ``assets`` (asset file names),
    ``object_paths`` (object path -> checkpoint key) and ``variable_names``
    (variable name -> checkpoint keys).

    ``tag_set`` selects a MetaGraph by its exact tags; None takes the only
    one, else the one tagged ``serve``, else the untagged one (TF Hub's TF1
    modules), and otherwise raises ValueError listing the tag-sets.

    Opening reads ``saved_model.pb`` only: tags, signatures and assets never
    touch ``variables/``, which is opened on first use of ``variables`` (and
    so raises there, not here, when it is damaged).

    Example:
        >>> sm = tfbundle.saved_model.open("export/1")              # doctest: +SKIP
        >>> sm.signatures["serving_default"].inputs["x"].shape     # doctest: +SKIP
        (-1, 4)
    """

    def __init__(
        self,
        export_dir: paths.PathLike,
        tag_set: Sequence[str] | None = None,
        *,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.export_dir = _directory(export_dir)
        self._storage_options = storage_options
        self.proto = read_saved_model_proto(self.export_dir, storage_options=storage_options)
        self.tags: list[tuple[str, ...]] = [tuple(m.meta_info_def.tags) for m in self.proto.meta_graphs]
        self.meta_graph = self._select(tag_set)
        self.signatures: dict[str, Signature] = {
            name: Signature(
                inputs={k: _tensor_info(v) for k, v in sorted(sig.inputs.items())},
                outputs={k: _tensor_info(v) for k, v in sorted(sig.outputs.items())},
                method_name=sig.method_name,
            )
            for name, sig in sorted(self.meta_graph.signature_def.items())
        }
        self.assets: list[str] = _asset_filenames(self.meta_graph)
        self._variables: CheckpointReader | None = None
        self._variables_looked_for = False
        self._object_paths: dict[str, str] | None = None
        self._saved_variables: list[_SavedVariable] | None = None

    @property
    def variables(self) -> CheckpointReader | None:
        """The ``variables/`` checkpoint (V2, or V1 in very old exports), opened
        on first use; None when the SavedModel has no variables.

        Example:
            >>> sm.variables.keys()                                  # doctest: +SKIP
        """
        if not self._variables_looked_for:
            prefix = variables_prefix(self.export_dir)
            if checkpoint_exists(prefix, storage_options=self._storage_options):
                self._variables = CheckpointReader(prefix, storage_options=self._storage_options)
            self._variables_looked_for = True
        return self._variables

    def _select(self, tag_set: Sequence[str] | None) -> Any:
        graphs = list(self.proto.meta_graphs)
        if not graphs:
            raise DataLossError(f"{self.export_dir}: saved_model.pb holds no MetaGraph")
        if tag_set is None:
            # The only MetaGraph; else the one tagged 'serve'; else the untagged
            # one, the default of TF Hub's TF1 modules (tag-sets {} and {'train'}).
            if len(graphs) == 1:
                return graphs[0]
            for default in ({"serve"}, set()):
                for graph in graphs:
                    if set(graph.meta_info_def.tags) == default:
                        return graph
            raise ValueError(
                f"{self.export_dir}: holds {len(graphs)} MetaGraphs, none tagged 'serve' or untagged; "
                f"pass tag_set= one of {self.tags}"
            )
        wanted = {t for t in ([tag_set] if isinstance(tag_set, str) else tag_set) if t}  # "" is no tag
        for graph in graphs:
            if set(graph.meta_info_def.tags) == wanted:
                return graph
        raise ValueError(f"{self.export_dir}: no MetaGraph has tags {sorted(wanted)}; available: {self.tags}")

    @property
    def tensorflow_version(self) -> str:
        """The TensorFlow version that wrote the selected MetaGraph."""
        return self.meta_graph.meta_info_def.tensorflow_version

    @property
    def object_paths(self) -> dict[str, str]:
        """``{object path: checkpoint key}`` of the variables (TF2 SavedModels)."""
        if self._object_paths is None:
            self._object_paths = object_paths(self.variables) if self.variables is not None else {}
        return self._object_paths

    @property
    def variable_names(self) -> dict[str, list[str]]:
        """``{variable name: checkpoint keys}`` of a TF2 SavedModel: the names
        TensorFlow gives the variables it loads (``sequential/dense/kernel``),
        from ``saved_model.pb``'s object graph, with the keys of variables
        its functions read first. Names are not unique: a Keras 3 export
        saves each variable twice (``variables/6``, which its functions read,
        and an unread ``_all_variables/0``), and every unnamed ``tf.Variable``
        is ``Variable``. For a TF1 SavedModel, its resource variables by node
        name (what TensorFlow 2's loader gives; a partitioned variable's part
        names the whole variable's key, of which it is a slice).

        Example:
            >>> tfbundle.saved_model.open("export/1").variable_names["sequential/dense/kernel"]  # doctest: +SKIP
            ['variables/6/.ATTRIBUTES/VARIABLE_VALUE', '_all_variables/0/.ATTRIBUTES/VARIABLE_VALUE']
        """
        names: dict[str, list[str]] = {}
        for v in sorted(self._variables_saved(), key=lambda v: not v.read):
            names.setdefault(v.name, []).append(v.key)
        return names

    def _variables_saved(self) -> list[_SavedVariable]:
        if self._saved_variables is None:
            if self.meta_graph.object_graph_def.nodes:
                self._saved_variables = _saved_variables(
                    self.meta_graph, self.variables, os.path.join(self.export_dir, "saved_model.pb")
                )
            else:  # TF1: no object graph
                self._saved_variables = _tf1_variables(self.meta_graph, self.variables)
        return self._saved_variables

    def resolve_key(self, key_or_path: str) -> str:
        """The checkpoint key that a checkpoint key, object path (``blocks/0``)
        or variable name (``sequential/dense/kernel``, with or without
        TensorFlow's ``:0``) stands for. A name that several variables share
        resolves to the one a function of the SavedModel reads; when that is
        not exactly one, ValueError lists the keys to choose from.

        Example:
            >>> tfbundle.saved_model.open("export/1").resolve_key("scale")  # doctest: +SKIP
            'scale/.ATTRIBUTES/VARIABLE_VALUE'
        """
        if self.variables is not None and self.variables.has_tensor(key_or_path):
            return key_or_path
        if key_or_path in self.object_paths:
            return self.object_paths[key_or_path]
        bare = key_or_path[: -len(":0")] if key_or_path.endswith(":0") else key_or_path
        if bare != key_or_path and self.variables is not None and self.variables.has_tensor(bare):
            return bare  # a TF1 variable's name is its key
        named = [v for v in self._variables_saved() if v.name == bare]
        if not named:
            raise KeyError(f"{self.export_dir}: no variable, object path or variable name {key_or_path!r}")
        read = [v for v in named if v.read]
        if len(named) == 1 or len(read) == 1:
            return (read or named)[0].key
        raise ValueError(
            f"{self.export_dir}: {len(named)} variables are named {bare!r} and {len(read)} of them are read by "
            f"the SavedModel's functions; pass one of their keys: {[v.key for v in named]}"
        )

    def close(self) -> None:
        if self._variables is not None:
            self._variables.close()

    def __enter__(self) -> SavedModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open(  # noqa: A001
    export_dir: paths.PathLike,
    tag_set: Sequence[str] | None = None,
    *,
    storage_options: Mapping[str, Any] | None = None,
) -> SavedModel:
    """Opens a SavedModel directory; ``tag_set`` picks a MetaGraph (default:
    the only one, else the one tagged exactly ``serve``). ``export_dir`` may
    be a URL (fsspec ``storage_options``): ``saved_model.pb`` is fetched, the
    variables are read by byte ranges.

    Example:
        >>> with tfbundle.saved_model.open("export/1") as sm:       # doctest: +SKIP
        ...     print(sm.tags, list(sm.signatures))
    """
    return SavedModel(export_dir, tag_set, storage_options=storage_options)


def update_variables(export_dir: paths.PathLike, updates: Mapping[str, Any], *, sync: bool = False) -> None:
    """Replaces some variables' values in a SavedModel, atomically.

    Keys are checkpoint keys, object paths (``blocks/0/kernel``) or variable
    names (``sequential/dense/kernel``), resolved by
    :meth:`SavedModel.resolve_key`. Each new
    value must have the variable's dtype and shape. Every other entry is
    copied byte for byte, in the original data order and shards. An unknown
    key or a mismatch raises before anything is written. The new bundle is
    written to a temporary directory next to ``variables/`` and swapped in
    with one atomic rename; a ``fingerprint.pb`` gets the new checkpoint hash
    TensorFlow would compute, renamed into place just after.

    Example:
        >>> update_variables("export/1", {"scale": np.float32(3.0)})  # doctest: +SKIP
    """
    import uuid

    from ._fsutil import replace_directory
    from .writer import as_tensor

    if remote.is_url(os.fspath(remote.local_path(export_dir))):
        raise ValueError(
            f"{os.fspath(export_dir)}: update_variables needs an atomic directory swap, which object stores do not "
            "have; update a local copy, or write_variables() a complete new export"
        )
    prefix = variables_prefix(export_dir)
    variables_dir = os.path.dirname(prefix)
    staging = f"{variables_dir}.tmp{uuid.uuid4().hex}"
    model = SavedModel(export_dir)
    reader = model.variables
    if reader is None:
        raise FileNotFoundError(f"{prefix}.index: no such file (the SavedModel has no variables)")
    with model:
        resolved: dict[str, Any] = {}
        for key_or_path, value in updates.items():
            key = model.resolve_key(key_or_path)
            want_dtype, want_shape = reader.dtype(key), reader.shape(key)
            array, dtype = as_tensor(key, value)
            if dtype != want_dtype or tuple(array.shape) != tuple(want_shape):
                raise ValueError(
                    f"{key_or_path!r}: new value is {dtype.name}{list(array.shape)}, "
                    f"the variable is {want_dtype.name}{list(want_shape)}"
                )
            resolved[key] = array
        fingerprint_path = os.path.join(os.path.dirname(variables_dir), FINGERPRINT_FILENAME)
        fingerprint = _read_fingerprint(fingerprint_path)
        fingerprint_temp = None
        os.makedirs(staging)
        try:
            _write_updated(reader, resolved, os.path.join(staging, VARIABLES_FILENAME), sync)
            for name in os.listdir(variables_dir):  # anything else kept there
                if not name.startswith(VARIABLES_FILENAME + "."):
                    source = os.path.join(variables_dir, name)
                    if os.path.isfile(source):
                        shutil.copy2(source, os.path.join(staging, name))
            if fingerprint is not None:
                index = os.path.join(staging, VARIABLES_FILENAME + ".index")
                fingerprint_temp = _write_fingerprint(fingerprint, fingerprint_path, index, sync)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            if fingerprint_temp is not None:
                os.remove(fingerprint_temp)
            raise
    replace_directory(staging, variables_dir)
    if fingerprint_temp is not None:  # now the hash of the variables in place
        os.replace(fingerprint_temp, fingerprint_path)


def _write_updated(reader: CheckpointReader, resolved: dict[str, Any], prefix: str, sync: bool) -> None:
    """Copies `reader` to `prefix` in its data order, replacing `resolved`."""
    from .writer import Writer

    order = sorted(reader.keys(), key=lambda k: _position(reader, k))
    with Writer(prefix, num_shards=max(1, reader.num_shards), sync=sync) as writer:
        for key in order:
            entry = reader.entry(key)
            if key in resolved and entry["slices"]:
                _add_partitioned(writer, key, resolved[key], entry["slices"])
            elif key in resolved:
                writer.add(key, resolved[key], dtype=reader.dtype(key), shard=entry["shard_id"])
            else:
                writer.copy_from(reader, key, shard=entry["shard_id"] if not entry["slices"] else None)


def _position(reader: CheckpointReader, key: str) -> tuple[int, int]:
    entry = reader.entry(key)
    if entry["slices"]:
        first = reader._core.slices(key)[0][1]
        entry = reader.entry(first)
    return entry["shard_id"], entry["offset"]


def _add_partitioned(writer: Any, key: str, array: Any, slices: Any) -> None:
    """Writes a new value of a partitioned variable with its old slicing."""
    for extents in slices:
        spec = ":".join("-" if length < 0 else f"{start},{length}" for start, length in extents)
        region = tuple(slice(None) if length < 0 else slice(start, start + length) for start, length in extents)
        writer.add_slice(key, array.shape, spec, array[region])


def write_variables(
    export_dir: paths.PathLike,
    tensors: Mapping[str, Any],
    *,
    num_shards: int = 1,
    sync: bool = False,
    storage_options: Mapping[str, Any] | None = None,
) -> str:
    """Writes ``export_dir/variables/variables.*`` from ``{key: array}``;
    returns the prefix. ``export_dir`` may be a URL (see :class:`tfbundle.Writer`).
    A local export's ``fingerprint.pb`` gets the new checkpoint hash.

    Example:
        >>> write_variables("export/1", {"w/.ATTRIBUTES/VARIABLE_VALUE": w})  # doctest: +SKIP
    """
    from .writer import save

    prefix = variables_prefix(export_dir)
    local = not remote.is_url(prefix)
    fingerprint_path = os.path.join(os.path.dirname(os.path.dirname(prefix)), FINGERPRINT_FILENAME)
    fingerprint = _read_fingerprint(fingerprint_path) if local else None
    written = save(tensors, prefix, num_shards=num_shards, sync=sync, storage_options=storage_options)
    if fingerprint is not None:
        os.replace(_write_fingerprint(fingerprint, fingerprint_path, written + ".index", sync), fingerprint_path)
    return written


__all__ = [
    "SavedModel",
    "Signature",
    "TensorInfo",
    "open",
    "update_variables",
    "variables_prefix",
    "write_variables",
]
