"""The object graph of TF2 object-based checkpoints.

``tf.train.Checkpoint`` and ``tf.saved_model.save`` store a serialized
``TrackableObjectGraph`` under ``_CHECKPOINTABLE_OBJECT_GRAPH``. Walking it
from the root gives every saved value an object path such as
``model/blocks/0/kernel`` (child names joined by ``/``), which is how users
think of their weights; the checkpoint keys (``.../.ATTRIBUTES/VARIABLE_VALUE``)
are derived from the same walk but are not meant to be parsed.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from .errors import DataLossError
from .proto import parse

OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


def object_graph(reader: Any) -> Any | None:
    """The ``TrackableObjectGraph`` message of a TF2 checkpoint; None for a
    TF1 (name-based) checkpoint, which has none.

    Example:
        >>> len(object_graph(tfbundle.open("ckpt-1")).nodes)    # doctest: +SKIP
        7
    """
    if not reader.has_tensor(OBJECT_GRAPH_KEY):
        return None
    return parse("TrackableObjectGraph", reader.get_tensor(OBJECT_GRAPH_KEY))


def child_paths(nodes: Any, where: str) -> list[tuple[str, ...] | None]:
    """Each node's chain of child names from the root (node 0), None for a
    node no chain reaches. Breadth-first, so each node gets its shortest
    chain, as TensorFlow does. Works on any graph whose nodes list
    ``children`` (``TrackableObjectGraph``, ``SavedObjectGraph``); a child
    outside the graph raises DataLossError naming ``where``.

    Example:
        >>> child_paths(object_graph(tfbundle.open("ckpt-1")).nodes, "ckpt-1")[3]  # doctest: +SKIP
        ('model', 'dense', 'kernel')
    """
    paths: list[tuple[str, ...] | None] = [None] * len(nodes)
    if not paths:
        return paths
    paths[0] = ()
    queue = deque([0])
    while queue:
        node_id = queue.popleft()
        parent = paths[node_id]
        assert parent is not None  # a node is queued once it has a path
        for child in nodes[node_id].children:
            if not 0 <= child.node_id < len(nodes):
                raise DataLossError(f"{where}: object graph names node {child.node_id} of {len(nodes)}")
            if paths[child.node_id] is None:
                paths[child.node_id] = (*parent, child.local_name)
                queue.append(child.node_id)
    return paths


def node_at(nodes: Any, names: tuple[str, ...]) -> int | None:
    """The node that the chain of child names ``names`` leads to from the
    root, or None when a name is missing on the way; how TensorFlow matches
    a checkpoint's objects to a program's.

    Example:
        >>> node_at(object_graph(tfbundle.open("ckpt-1")).nodes, ("model", "dense", "kernel"))  # doctest: +SKIP
        3
    """
    node_id = 0
    for name in names:
        if not 0 <= node_id < len(nodes):
            return None
        node_id = next((c.node_id for c in nodes[node_id].children if c.local_name == name), -1)
    return node_id if 0 <= node_id < len(nodes) else None


def object_paths(reader: Any) -> dict[str, str]:
    """``{object path: checkpoint key}`` for every saved attribute of a TF2
    checkpoint; ``{}`` for a TF1 (name-based) checkpoint.

    A variable's path is its chain of child names (``model/dense/kernel``);
    another attribute adds its name (``iterator/.ATTRIBUTES/ITERATOR_STATE``
    becomes ``iterator/ITERATOR_STATE``); an optimizer slot is
    ``<variable path>/.OPTIMIZER_SLOT/<optimizer path>/<slot name>``.

    Example:
        >>> object_paths(tfbundle.open("ckpt-1"))["model/dense/kernel"]    # doctest: +SKIP
        'model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE'
    """
    graph = object_graph(reader)
    nodes = graph.nodes if graph is not None else []
    if not nodes:
        return {}
    paths = ["/".join(p) if p is not None else None for p in child_paths(nodes, reader.prefix)]
    for node_id, node in enumerate(nodes):
        for slot in node.slot_variables:
            original, slot_node = slot.original_variable_node_id, slot.slot_variable_node_id
            if not (0 <= original < len(nodes) and 0 <= slot_node < len(nodes)):
                raise DataLossError(f"{reader.prefix}: object graph slot refers to a missing node")
            if paths[slot_node] is None and paths[original] is not None and paths[node_id] is not None:
                paths[slot_node] = f"{paths[original]}/.OPTIMIZER_SLOT/{paths[node_id]}/{slot.slot_name}"
    mapping: dict[str, str] = {}
    for node_id, node in enumerate(nodes):
        node_path = paths[node_id]
        if node_path is None:
            continue
        for attr in node.attributes:
            path = node_path if attr.name == "VARIABLE_VALUE" else _join(node_path, attr.name)
            mapping[path] = attr.checkpoint_key
    return mapping


def _join(parent: str, name: str) -> str:
    return name if not parent else f"{parent}/{name}"


__all__ = ["OBJECT_GRAPH_KEY", "child_paths", "node_at", "object_graph", "object_paths"]
