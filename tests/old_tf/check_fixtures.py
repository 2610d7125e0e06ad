"""Checks tfbundle against what an older TensorFlow wrote and read back
(see write_fixtures.py): every key's value, dtype, shape and Python type,
every Const of the frozen graphs, and the checkpoint state file. Then
writes OUT/ours, for read_ours.py to check with the older TensorFlow: a
checkpoint of every dtype tfbundle writes (one shard and three), and the
Keras SavedModel with one kernel replaced.

    python tests/old_tf/check_fixtures.py /tmp/old_tf

Prints each difference and exits 1 if there is any.
"""

from __future__ import annotations

import os
import pickle
import sys
from typing import Any

import numpy as np

import tfbundle


def from_record(value: Any) -> Any:
    """An array from write_fixtures_tf0.py's portable record (unpickled from
    Python 2 with latin-1 strings); anything else as it is."""
    if not isinstance(value, dict):
        return value
    data = value["data"]
    if value["dtype"] == "object":
        items = [d.encode("latin1") if isinstance(d, str) else d for d in data]
        return np.array([*items, None], dtype=object)[:-1].reshape(value["shape"])
    raw = data.encode("latin1") if isinstance(data, str) else data
    return np.frombuffer(raw, dtype=np.dtype(value["dtype"])).reshape(value["shape"])


def difference(ours: Any, theirs: Any) -> str | None:
    """How ours differs from TensorFlow's value, or None. A portable record
    (TensorFlow 0.12) is compared as an array: that TensorFlow's Python types
    are not today's."""
    if isinstance(theirs, dict):
        ours, theirs = np.asarray(ours), from_record(theirs)
    if type(ours) is not type(theirs):
        return f"type {type(ours).__name__}, TensorFlow's {type(theirs).__name__}"
    if not isinstance(theirs, np.ndarray):
        return None if ours == theirs else f"{ours!r}, TensorFlow's {theirs!r}"
    if ours.dtype != theirs.dtype or ours.shape != theirs.shape:
        return f"{ours.dtype}{list(ours.shape)}, TensorFlow's {theirs.dtype}{list(theirs.shape)}"
    if theirs.dtype == object:
        return None if ours.tolist() == theirs.tolist() else "values differ"
    return None if np.array_equal(ours, theirs, equal_nan=theirs.dtype.kind in "fc") else "values differ"


def check_checkpoint(case: dict[str, Any]) -> list[str]:
    problems = []
    with tfbundle.open(case["prefix"]) as reader:
        shapes = reader.get_variable_to_shape_map()
        dtypes = reader.get_variable_to_dtype_map()
        if set(shapes) != set(case["shapes"]):
            problems.append(f"keys differ: {sorted(set(shapes) ^ set(case['shapes']))}")
        for key in sorted(set(shapes) & set(case["shapes"])):
            if list(shapes[key]) != list(case["shapes"][key]):
                problems.append(f"{key}: shape {shapes[key]}, TensorFlow's {case['shapes'][key]}")
            if "dtypes" in case and dtypes[key].name != case["dtypes"][key]:
                problems.append(f"{key}: dtype {dtypes[key].name}, TensorFlow's {case['dtypes'][key]}")
            if key in case["values"]:
                found = difference(reader.get_tensor(key), case["values"][key])
                if found:
                    problems.append(f"{key}: {found}")
            else:  # TensorFlow refused it: reading it must work or raise a documented error
                try:
                    reader.get_tensor(key)
                except (tfbundle.DataLossError, tfbundle.NotFoundError, ValueError, OSError) as e:
                    print(f"  {key}: TensorFlow refused it; tfbundle raises {type(e).__name__}: {e}")
                else:
                    print(f"  {key}: TensorFlow refused it; tfbundle reads it")
    return problems


def check_graph(case: dict[str, Any]) -> list[str]:
    consts = tfbundle.graph.load_consts(case["path"])
    problems = (
        [f"Consts differ: {sorted(set(consts) ^ set(case['consts']))}"] if set(consts) != set(case["consts"]) else []
    )
    for name in sorted(set(consts) & set(case["consts"])):
        found = difference(np.asarray(consts[name]), from_record(case["consts"][name]))
        if found:
            problems.append(f"{name}: {found}")
    return problems


def check_state(case: dict[str, Any]) -> list[str]:
    problems = []
    if tfbundle.latest_checkpoint(case["dir"]) != case["latest"]:
        problems.append(f"latest_checkpoint {tfbundle.latest_checkpoint(case['dir'])}, TensorFlow's {case['latest']}")
    listed = list(tfbundle.get_checkpoint_state(case["dir"]).all_model_checkpoint_paths)
    if listed != case["all"]:
        problems.append(f"all_model_checkpoint_paths {listed}, TensorFlow's {case['all']}")
    return problems


def check_saved_model(case: dict[str, Any]) -> list[str]:
    problems = []
    with tfbundle.saved_model.open(case["dir"]) as model:
        tags = [sorted(t) for t in model.tags]
        if tags != case["tags"]:
            problems.append(f"tags {tags}, TensorFlow's {case['tags']}")
        if set(model.signatures) != set(case["signatures"]):
            problems.append(f"signatures {sorted(model.signatures)}, TensorFlow's {sorted(case['signatures'])}")
        for name in sorted(set(model.signatures) & set(case["signatures"])):
            ours, theirs = model.signatures[name], case["signatures"][name]
            if ours.method_name != theirs["method"]:
                problems.append(f"{name}: method {ours.method_name}, TensorFlow's {theirs['method']}")
            for side in ("inputs", "outputs"):
                got = {
                    k: [t.name, t.dtype.enum if t.dtype else 0, None if t.shape is None else list(t.shape)]
                    for k, t in getattr(ours, side).items()
                }
                if got != theirs[side]:
                    problems.append(f"{name} {side}: {got}, TensorFlow's {theirs[side]}")
        theirs_by_name = case.get("variables", {})  # absent in fixtures from before this check
        if theirs_by_name and set(model.variable_names) != set(theirs_by_name):
            problems.append(f"variable names {sorted(model.variable_names)}, TensorFlow's {sorted(theirs_by_name)}")
        for name in sorted(set(model.variable_names) & set(theirs_by_name)):
            ours = [np.asarray(model.variables.get_tensor(k)) for k in model.variable_names[name]]
            problems.extend(
                f"variable {name!r}: no key of it holds the value TensorFlow loads"
                for value in theirs_by_name[name]
                if all(difference(o, np.asarray(value)) is not None for o in ours)
            )
    return problems


CHECKS = {
    "ckpt": check_checkpoint,
    "graph": check_graph,
    "state": check_state,
    "saved_model": check_saved_model,
}


def write_ours(out: str) -> None:
    """Files for read_ours.py: OUT/ours/{ckpt, sharded, keras_sm} and
    OUT/ours/expected.pkl with the values written (dtype name, shape, and
    the bytes, or the list of strings)."""
    import shutil

    import ml_dtypes

    ours = os.path.join(out, "ours")
    shutil.rmtree(ours, ignore_errors=True)
    rng = np.random.default_rng(0)
    values: dict[str, Any] = {
        "f32": rng.normal(size=(5, 3)).astype(np.float32),
        "f64": rng.normal(size=(4,)),
        "f16": rng.normal(size=(6,)).astype(np.float16),
        "bf16": rng.normal(size=(3, 2)).astype(ml_dtypes.bfloat16),
        "i8": np.arange(-3, 3, dtype=np.int8),
        "u8": np.arange(7, dtype=np.uint8),
        "i16": np.arange(5, dtype=np.int16),
        "u16": np.arange(5, dtype=np.uint16),
        "i32": np.arange(9, dtype=np.int32).reshape(3, 3),
        "u32": np.arange(4, dtype=np.uint32),
        "u64": np.arange(4, dtype=np.uint64),
        "i64": np.array(42, np.int64),
        "c64": (rng.normal(size=(2,)) + 1j).astype(np.complex64),
        "c128": rng.normal(size=(2,)) + 2j,
        "flags": np.array([True, False]),
        "strings": np.array([b"x", b"", b"\x00\xff" * 100], dtype=object),
        "empty": np.zeros((0, 3), np.float32),
        "large": rng.normal(size=(300, 1000)).astype(np.float32),
    }
    tfbundle.save(values, os.path.join(ours, "ckpt"))
    tfbundle.save(values, os.path.join(ours, "sharded"), num_shards=3)
    shutil.copytree(os.path.join(out, "keras_sm"), os.path.join(ours, "keras_sm"))
    with tfbundle.saved_model.open(os.path.join(ours, "keras_sm")) as model:
        # The Dense layer's kernel: by name in a Keras 3 model.export() (whose paths are variables/N), else by path.
        keras3 = "sequential/dense/kernel" in model.variable_names
        key = model.resolve_key("sequential/dense/kernel" if keras3 else "layer_with_weights-2/kernel")
        kernel = np.full(model.variables.get_tensor(key).shape, 0.25, np.float32)
    tfbundle.saved_model.update_variables(os.path.join(ours, "keras_sm"), {key: kernel})

    # Plain Python values only: the older TensorFlow's numpy cannot unpickle arrays from this one.
    def portable(a: Any) -> dict[str, Any]:
        a = np.asarray(a)
        data = a.tolist() if a.dtype == object else a.tobytes()
        return {"dtype": a.dtype.name, "shape": list(a.shape), "data": data}

    with open(os.path.join(ours, "expected.pkl"), "wb") as f:
        pickle.dump({"values": {k: portable(v) for k, v in values.items()}, "dense_kernel": portable(kernel)}, f)


def main() -> int:
    with open(os.path.join(sys.argv[1], "expected.pkl"), "rb") as f:
        expected = pickle.load(f, encoding="latin1")  # Python 2's str, from write_fixtures_tf0.py
    print(f"fixtures written by TensorFlow {expected.pop('tensorflow')}")
    failures = 0
    for name, case in expected.items():
        problems = CHECKS[case["kind"]](case)
        print(f"{'FAIL' if problems else 'ok  '} {name}")
        for problem in problems:
            print(f"  {problem}")
        failures += bool(problems)
    if "keras_sm" in expected:  # written by write_fixtures.py, not the TensorFlow 0.12 one
        write_ours(sys.argv[1])
        print(f"wrote {os.path.join(sys.argv[1], 'ours')} for read_ours.py")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
