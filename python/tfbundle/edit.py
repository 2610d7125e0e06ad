"""Checkpoint surgery: drop, keep, rename and cast tensors, streaming.

:func:`transform` reads one tensor at a time and writes a new checkpoint
atomically. Tensors that are neither cast nor otherwise changed are copied
byte for byte (checksums verified, nothing decoded). In a TF2 object-based
checkpoint the ``_CHECKPOINTABLE_OBJECT_GRAPH`` is rewritten to match, so
``tf.train.Checkpoint.restore`` still works on the result.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from . import paths, remote
from ._fsutil import temp_name
from .dtypes import as_dtype
from .objects import OBJECT_GRAPH_KEY
from .proto import parse
from .reader import CheckpointReader
from .writer import Writer

# Optimizer state of the common optimizers, by key (TF1 Saver names, BERT,
# mesh-TF/T5 Adafactor, TF2 slot keys). TF2 checkpoints with an object graph
# are also judged by the graph (see optimizer_keys).
OPTIMIZER_KEY_PATTERNS: tuple[str, ...] = (
    r"/Adam(_\d+)?$",
    r"/(adam_m|adam_v)$",
    r"_slot_(vc|vr|v|m)$",
    r"/Momentum(_\d+)?$",
    r"/RMSProp(_\d+)?$",
    r"/Adagrad(_\d+)?$",
    r"/Adadelta(_\d+)?$",
    r"/Ftrl(_\d+)?$",
    r"/LAMB(_\d+)?$",
    r"(^|/)beta[12]_power$",
    r"/\.OPTIMIZER_SLOT/",
    r"^optimizer/",
)


def optimizer_keys(reader: CheckpointReader) -> set[str]:
    """Keys holding optimizer state.

    With an object graph, a value is optimizer state when its object can only
    be reached from the root through an edge named ``optimizer`` or is a slot
    variable; this keeps model weights that Keras 3 happens to save under
    ``optimizer/_trainable_variables/...``. Without one, keys are matched
    against :data:`OPTIMIZER_KEY_PATTERNS`.

    Example:
        >>> sorted(optimizer_keys(tfbundle.open("bert_model.ckpt")))[:2]   # doctest: +SKIP
        ['bert/embeddings/LayerNorm/beta/adam_m', 'bert/embeddings/LayerNorm/beta/adam_v']
    """
    if reader.has_tensor(OBJECT_GRAPH_KEY):
        return _optimizer_keys_from_graph(reader)
    pattern = re.compile("|".join(OPTIMIZER_KEY_PATTERNS))
    return {k for k in reader.keys() if pattern.search(k)}


def _optimizer_keys_from_graph(reader: CheckpointReader) -> set[str]:
    graph = parse("TrackableObjectGraph", reader.get_tensor(OBJECT_GRAPH_KEY))
    nodes = graph.nodes
    slot_nodes = {s.slot_variable_node_id for n in nodes for s in n.slot_variables}
    reachable = {0}
    stack = [0]
    while stack:  # everything reachable without passing through an optimizer
        node_id = stack.pop()
        for child in nodes[node_id].children:
            if child.local_name == "optimizer" or child.node_id in slot_nodes:
                continue
            if 0 <= child.node_id < len(nodes) and child.node_id not in reachable:
                reachable.add(child.node_id)
                stack.append(child.node_id)
    return {a.checkpoint_key for i, n in enumerate(nodes) if i not in reachable for a in n.attributes}


def _rewrite_object_graph(raw: bytes, renamed: dict[str, str]) -> bytes:
    """Drops attributes whose keys are gone and renames the others; slot
    references to objects left without values are removed too."""
    graph = parse("TrackableObjectGraph", raw)
    emptied = set()
    for node_id, node in enumerate(graph.nodes):
        kept = [a for a in node.attributes if a.checkpoint_key in renamed]
        had = len(node.attributes) > 0
        for a in kept:
            a.checkpoint_key = renamed[a.checkpoint_key]
        del node.attributes[:]
        node.attributes.extend(kept)
        if had and not kept:
            emptied.add(node_id)
    for node in graph.nodes:
        slots = [s for s in node.slot_variables if s.slot_variable_node_id not in emptied]
        del node.slot_variables[:]
        node.slot_variables.extend(slots)
    return graph.SerializeToString()


def plan(
    reader: CheckpointReader,
    *,
    drop: Iterable[str] = (),
    keep: Iterable[str] = (),
    rename: Sequence[tuple[str, str]] = (),
    drop_optimizer: bool = False,
) -> dict[str, str]:
    """``{source key: destination key}`` of what :func:`transform` keeps.

    Raises ValueError when two keys would get the same name.

    Example:
        >>> plan(ckpt, drop=[r"^global_step$"], rename=[(r"^bert/", "encoder/")])  # doctest: +SKIP
        {'bert/pooler/dense/bias': 'encoder/pooler/dense/bias', ...}
    """
    drop_res = [re.compile(p) for p in drop]
    keep_res = [re.compile(p) for p in keep]
    rename_res = [(re.compile(p), r) for p, r in rename]
    optimizer = optimizer_keys(reader) if drop_optimizer else set()
    mapping: dict[str, str] = {}
    seen: dict[str, str] = {}
    for key in reader.keys():
        if key == OBJECT_GRAPH_KEY:
            continue
        if key in optimizer or any(r.search(key) for r in drop_res):
            continue
        if keep_res and not any(r.search(key) for r in keep_res):
            continue
        new = key
        for pattern, replacement in rename_res:
            new = pattern.sub(replacement, new)
        if not new:
            raise ValueError(f"renaming {key!r} gives an empty key")
        if new in seen:
            raise ValueError(f"{seen[new]!r} and {key!r} would both be written as {new!r}")
        seen[new] = key
        mapping[key] = new
    return mapping


def transform(
    src: paths.PathLike,
    dst: paths.PathLike,
    *,
    drop: Iterable[str] = (),
    keep: Iterable[str] = (),
    rename: Sequence[tuple[str, str]] = (),
    cast: Mapping[Any, Any] | None = None,
    drop_optimizer: bool = False,
    num_shards: int | None = None,
    in_place: bool = False,
    sync: bool = False,
    progress: Any = None,
    storage_options: Mapping[str, Any] | None = None,
) -> str:
    """Writes a modified copy of checkpoint ``src`` at prefix ``dst``.

    ``drop``/``keep`` are regexes searched in each key (keep: only matching
    keys stay); ``rename`` is an ordered list of ``(pattern, replacement)``
    for ``re.sub``; ``cast`` maps source dtypes to target dtypes (e.g.
    ``{"float32": "bfloat16"}``); ``drop_optimizer`` removes optimizer state
    (see :func:`optimizer_keys`); ``num_shards`` defaults to the source's.
    ``dst`` equal to ``src`` needs ``in_place=True``; the new checkpoint is
    then written completely under a temporary prefix and swapped in by one
    atomic rename of its index. That needs data file names the old
    checkpoint does not use, so unless ``num_shards`` is given an in-place
    result has a different number of data files (1 <-> 2, else one fewer);
    with ``num_shards`` equal to the old count the old index is removed
    before the renames, leaving a moment with no checkpoint at all.
    ``progress``, if given, is called with (done, total) after each tensor.
    ``src`` and ``dst`` may be URLs (fsspec ``storage_options``); in place
    only locally. Returns the destination prefix.

    Example:
        >>> transform("bert/model.ckpt-100000", "slim/model.ckpt",
        ...           drop_optimizer=True, cast={"float32": "bfloat16"})   # doctest: +SKIP
        'slim/model.ckpt'
    """
    with CheckpointReader(src, storage_options=storage_options) as reader:
        src_prefix = reader.prefix
        dst_prefix = paths.strip_file_suffix(os.fspath(remote.local_path(dst)))
        urls = remote.is_url(src_prefix) or remote.is_url(dst_prefix)
        same = src_prefix == dst_prefix if urls else os.path.abspath(src_prefix) == os.path.abspath(dst_prefix)
        if same and urls:
            raise ValueError(f"{dst_prefix!r}: editing in place works on local checkpoints only")
        if same and not in_place:
            raise ValueError(f"{dst_prefix!r} is the source checkpoint; pass in_place=True to replace it")
        mapping = plan(reader, drop=drop, keep=keep, rename=rename, drop_optimizer=drop_optimizer)
        casts = {as_dtype(k).enum: as_dtype(v) for k, v in (cast or {}).items()}
        old_shards = max(1, reader.num_shards)
        shards = num_shards or (_unused_shard_count(dst_prefix, old_shards) if same else old_shards)
        # In place: a whole temporary bundle whose names mark it as ours, so a
        # killed edit's leftovers are never mistaken for a checkpoint.
        target = temp_name(dst_prefix) if same else dst_prefix
        with Writer(target, num_shards=shards, sync=sync, storage_options=storage_options) as writer:
            total = len(mapping)
            for done, (key, new) in enumerate(mapping.items(), 1):
                enum = reader._core.info(key)[0]
                if enum in casts:
                    writer.add(new, reader.get_tensor(key).astype(casts[enum].numpy_dtype), dtype=casts[enum])
                else:
                    writer.copy_from(reader, key, new)
                if progress is not None:
                    progress(done, total)
            if reader.has_tensor(OBJECT_GRAPH_KEY):
                if rename or drop or keep or drop_optimizer:
                    raw = _rewrite_object_graph(reader.get_tensor(OBJECT_GRAPH_KEY), mapping)
                    writer.add(OBJECT_GRAPH_KEY, raw)
                else:
                    writer.copy_from(reader, OBJECT_GRAPH_KEY)
    if same:
        _replace_bundle(target, dst_prefix, sync)
    return dst_prefix


def _unused_shard_count(prefix: str, old: int) -> int:
    """A data-file count close to ``old`` whose file names no file at
    ``prefix`` has (1 <-> 2, else one fewer, else the next free count)."""
    taken = {int(p[-5:]) for p in paths.existing_data_paths(prefix)}
    for candidate in [2 if old == 1 else old - 1, *list(range(old + 1, old + len(taken) + 2))]:
        if candidate not in taken:
            return candidate
    raise AssertionError("unreachable: more candidates than taken counts")


def _replace_bundle(temp_prefix: str, prefix: str, sync: bool) -> None:
    """Moves a complete bundle from temp_prefix to prefix.

    When the new data file names differ from the old ones, the data files are
    renamed first (nothing references them yet) and the index is renamed over
    the old index: one atomic step from the old checkpoint to the new one.
    Otherwise the old index is removed first, so that no instant pairs it
    with new data, then the data files and the index are renamed."""
    new_data = paths.existing_data_paths(temp_prefix)
    old_data = paths.existing_data_paths(prefix)
    finals = [prefix + path[len(temp_prefix) :] for path in new_data]
    if set(finals) & set(old_data):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(prefix + ".index")
    renamed = set()
    for path, final in zip(new_data, finals):
        os.replace(path, final)
        renamed.add(final)
    os.replace(temp_prefix + ".index", prefix + ".index")
    for path in old_data:
        if path not in renamed:
            os.unlink(path)
    if sync:
        fd = os.open(os.path.dirname(os.path.abspath(prefix)), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


__all__ = ["OPTIMIZER_KEY_PATTERNS", "optimizer_keys", "plan", "transform"]
