"""Library functions that take a frozen variable's value instead of its handle.

Freezing turns a resource variable (VarHandleOp) into a Const. A graph with
control flow v2 (TF 2.x, also in TF1-style code) passes the handle into a
function (an ``If`` branch, a ``PartitionedCall``), which reads it there
with ``ReadVariableOp``. Such a call gets a copy of its function whose
argument has the variable's dtype and whose reads are ``Identity``; the
original stays for any caller that still passes a handle.
"""

from __future__ import annotations

from typing import Any

# Call ops: (attr naming the functions called, how many leading inputs are not arguments).
CALLS = {
    "If": (("then_branch", "else_branch"), 1),
    "StatelessIf": (("then_branch", "else_branch"), 1),
    "PartitionedCall": (("f",), 0),
    "StatefulPartitionedCall": (("f",), 0),
}

RESOURCE = 20  # DT_RESOURCE


def bind_call(node: Any, library: Any, values: dict[str, int]) -> bool:
    """Rewrites a call ``node`` (see ``CALLS``) whose inputs include frozen
    variables (``values``: node name -> dtype enum) to pass their values:
    its ``Tin`` and called functions change. Returns False when ``node``
    passes none; raises ValueError when a function uses one otherwise than
    by reading it.

    Example:
        >>> bind_call(if_node, graph.library, {"global_step": 9})  # doctest: +SKIP
        True
    """
    if node.op not in CALLS:
        return False
    attrs, skip = CALLS[node.op]
    bound = {}
    for position, reference in enumerate(node.input[skip:]):
        name = reference.split(":")[0]
        if not reference.startswith("^") and name in values:
            bound[position] = values[name]
    if not bound:
        return False
    for position, dtype in bound.items():
        node.attr["Tin"].list.type[position] = dtype
    for attr in attrs:
        node.attr[attr].func.name = _bound_function(library, node.attr[attr].func.name, bound)
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
    args = {}
    for position, dtype in bound.items():
        arg = function.signature.input_arg[position]
        if arg.type != RESOURCE:
            raise ValueError(f"function {name!r}: argument {arg.name!r} is not a variable handle")
        arg.type = dtype
        del arg.handle_data[:]  # the resource's dtype and shape
        args[arg.name] = dtype
        if position in function.arg_attr:
            for key in ("_handle_dtypes", "_handle_shapes"):
                if key in function.arg_attr[position].attr:
                    del function.arg_attr[position].attr[key]
        if position in function.resource_arg_unique_id:
            del function.resource_arg_unique_id[position]
    _read_values(function, library, args)
    return new_name


def _read_values(function: Any, library: Any, args: dict[str, int]) -> None:
    """In ``function``'s body, reads of the arguments ``args`` (name ->
    dtype) become Identity (their outputs renamed to match); nested calls
    passing them are bound in turn."""
    renamed = {}
    for node in function.node_def:
        sources = [r for r in node.input if not r.startswith("^") and r.split(":")[0] in args]
        if not sources:
            continue
        if node.op == "ReadVariableOp":
            node.op = "Identity"
            node.attr["T"].type = args[sources[0]]
            del node.attr["dtype"]
            renamed[f"{node.name}:value:"] = f"{node.name}:output:"
        elif not bind_call(node, library, args):
            raise ValueError(
                f"function {function.signature.name!r}: node {node.name!r} ({node.op}) needs the variable "
                f"{sources[0]!r} itself, not its value; freezing cannot keep it"
            )
    if not renamed:
        return
    for node in function.node_def:
        for i, reference in enumerate(node.input):
            for old, new in renamed.items():
                if reference.startswith(old):
                    node.input[i] = new + reference[len(old) :]
    for key, reference in function.ret.items():
        for old, new in renamed.items():
            if reference.startswith(old):
                function.ret[key] = new + reference[len(old) :]
