"""Reading a frozen variable's value where a graph read its resource handle.

Freezing turns a resource variable (VarHandleOp) into a Const. The graph
read the handle in several ways, and each becomes a read of the value:

- ``ReadVariableOp`` becomes ``Identity``; ``ResourceGather`` (an embedding
  lookup) ``GatherV2`` and ``ResourceGatherNd`` ``GatherNd``;
- TF1 control flow passes the handle on (``Enter`` into a loop, ``Switch``
  into a cond, ``Identity``): those now pass the value;
- control flow v2 and calls pass the handle into library functions (``If``
  and ``Case`` branches, ``While`` bodies, ``PartitionedCall``): the call gets a copy of
  each function whose argument is the value and whose body reads it as
  above; the original function stays for callers that still pass a handle.

A node that needs the variable itself (an assignment) raises ValueError.
"""

from __future__ import annotations

from typing import Any

from .proto import message_class

RESOURCE = 20  # DT_RESOURCE
INT32 = 3  # DT_INT32

# Call ops: (attrs naming the functions, leading inputs that are not arguments, attr listing argument types).
CALLS = {
    "Case": (("branches",), 1, "Tin"),
    "StatelessCase": (("branches",), 1, "Tin"),
    "If": (("then_branch", "else_branch"), 1, "Tin"),
    "StatelessIf": (("then_branch", "else_branch"), 1, "Tin"),
    "While": (("cond", "body"), 0, "T"),
    "StatelessWhile": (("cond", "body"), 0, "T"),
    "PartitionedCall": (("f",), 0, "Tin"),
    "StatefulPartitionedCall": (("f",), 0, "Tin"),
}
# Ops that hand their input on unchanged (TF1 control flow, Identity).
PASS_ON = ("Enter", "Switch", "Identity")


def read_values(nodes: Any, values: dict[str, int], library: Any) -> tuple[list, dict[str, str]]:
    """Rewrites ``nodes`` (a GraphDef's, or a FunctionDef's ``node_def``) in
    place so that the handles named in ``values`` (node or argument name ->
    dtype enum) are read as values; names handed on are added to
    ``values``. Returns the nodes to add beside them (gather axes) and the
    output references that changed (``{"read:value:": "read:output:"}``,
    which matter only inside functions, whose outputs are named).

    Example:
        >>> added, _ = read_values(graph.node, {"embedding": 1}, graph.library)  # doctest: +SKIP
    """
    added: list = []
    renamed: dict[str, str] = {}
    _hand_on(nodes, values)
    for node in list(nodes):
        sources = [r for r in node.input if not r.startswith("^") and r.split(":")[0] in values]
        if not sources or node.op in PASS_ON:
            continue
        dtype = values[sources[0].split(":")[0]]
        if node.op == "ReadVariableOp":
            node.op = "Identity"
            node.attr["T"].type = dtype
            del node.attr["dtype"]
            renamed[f"{node.name}:value:"] = f"{node.name}:output:"
        elif node.op in ("ResourceGather", "ResourceGatherNd") and node.input[0] == sources[0]:
            added.extend(_gather(node, dtype, {n.name for n in nodes} | {n.name for n in added}))
        elif not bind_call(node, library, values):
            raise ValueError(
                f"node {node.name!r} ({node.op}) needs the variable {sources[0]!r} itself, not its value; "
                "freezing cannot keep it (leave the node out of what the outputs need)"
            )
    return added, renamed


def _hand_on(nodes: Any, values: dict[str, int]) -> None:
    """Adds to ``values`` every Enter, Switch or Identity that hands on one of
    them (its type attr becomes the value's dtype), until none is left."""
    changed = True
    while changed:
        changed = False
        for node in nodes:
            if node.op not in PASS_ON or node.name in values or not node.input:
                continue
            source = node.input[0].split(":")[0]
            if source in values and node.attr["T"].type == RESOURCE:
                node.attr["T"].type = values[node.name] = values[source]
                for stale in ("_output_shapes", "_handle_dtypes", "_handle_shapes"):  # the handle's
                    if stale in node.attr:
                        del node.attr[stale]
                changed = True


def _gather(node: Any, dtype: int, taken: set[str]) -> list:
    """ResourceGather(Nd) -> GatherV2 (with an axis Const, returned) or GatherNd."""
    del node.attr["dtype"]
    node.attr["Tparams"].type = dtype
    if "validate_indices" in node.attr:
        del node.attr["validate_indices"]
    if node.op == "ResourceGatherNd":
        node.op = "GatherNd"
        return []
    node.op = "GatherV2"
    batch_dims = node.attr["batch_dims"].i if "batch_dims" in node.attr else 0
    name, n = f"{node.name}/axis", 0
    while name in taken:
        n += 1
        name = f"{node.name}/axis_{n}"
    axis = message_class("NodeDef")(name=name, op="Const")
    axis.attr["dtype"].type = INT32
    axis.attr["value"].tensor.dtype = INT32
    axis.attr["value"].tensor.int_val.append(batch_dims)
    node.input.insert(2, name)
    node.attr["Taxis"].type = INT32
    return [axis]


def bind_call(node: Any, library: Any, values: dict[str, int]) -> bool:
    """Rewrites a call ``node`` (see ``CALLS``) whose arguments include
    handles named in ``values`` to pass their values: its argument types
    and called functions change. Returns False when it passes none.

    Example:
        >>> bind_call(if_node, graph.library, {"global_step": 9})  # doctest: +SKIP
        True
    """
    if node.op not in CALLS:
        return False
    attrs, skip, types = CALLS[node.op]
    bound = {}
    for position, reference in enumerate(node.input[skip:]):
        name = reference.split(":")[0]
        if not reference.startswith("^") and name in values:
            bound[position] = values[name]
    if not bound:
        return False
    for position, dtype in bound.items():
        node.attr[types].list.type[position] = dtype
    for attr in attrs:
        value = node.attr[attr]
        for function in value.list.func if value.WhichOneof("value") == "list" else [value.func]:  # Case: a list
            function.name = _bound_function(library, function.name, bound)
    if "_read_only_resource_inputs" in node.attr:
        kept = [i for i in node.attr["_read_only_resource_inputs"].list.i if i - skip not in bound]
        del node.attr["_read_only_resource_inputs"].list.i[:]
        node.attr["_read_only_resource_inputs"].list.i.extend(kept)
    return True


def _bound_function(library: Any, name: str, bound: dict[int, int]) -> str:
    """The name of a copy of function ``name`` whose arguments ``bound``
    (position -> dtype) are values; made once and added to ``library``."""
    suffix = "_".join(f"{p}v{d}" for p, d in sorted(bound.items()))
    new_name = f"{name}_frozen_{suffix}"
    if any(f.signature.name == new_name for f in library.function):
        return new_name
    original = next((f for f in library.function if f.signature.name == name), None)
    if original is None:
        raise ValueError(f"function {name!r} is not in the graph's library")
    function = library.function.add()
    function.CopyFrom(original)
    function.signature.name = new_name
    values = {}
    for position, dtype in bound.items():
        arg = function.signature.input_arg[position]
        if arg.type != RESOURCE:
            raise ValueError(f"function {name!r}: argument {arg.name!r} is not a variable handle")
        arg.type = values[arg.name] = dtype
        del arg.handle_data[:]  # the resource's dtype and shape
        if position in function.arg_attr:
            for key in ("_handle_dtypes", "_handle_shapes"):
                if key in function.arg_attr[position].attr:
                    del function.arg_attr[position].attr[key]
        if position in function.resource_arg_unique_id:
            del function.resource_arg_unique_id[position]
    added, renamed = read_values(function.node_def, values, library)
    function.node_def.extend(added)

    def new_reference(reference: str) -> str:
        for old, new in renamed.items():
            if reference.startswith(old):
                return new + reference[len(old) :]
        return reference

    for node in function.node_def:
        for i, reference in enumerate(node.input):
            node.input[i] = new_reference(reference)
    for arg in function.signature.output_arg:  # a While body hands its loop variables back
        reference = function.ret[arg.name] = new_reference(function.ret[arg.name])
        if arg.type == RESOURCE and reference.split(":")[0] in values:
            arg.type = values[reference.split(":")[0]]
            del arg.handle_data[:]
    return new_name
