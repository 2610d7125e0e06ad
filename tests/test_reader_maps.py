"""The shape and dtype maps: values, independence, and their GC status."""

from __future__ import annotations

import gc

import numpy as np

import tfbundle


def _ranks_checkpoint(tmp_path):
    tensors = {
        "scalar": np.float32(1.5),
        "rank1": np.zeros(3, np.int8),
        "rank6": np.zeros((1, 2, 1, 3, 1, 2), np.float16),  # the last rank held inline
        "rank9": np.zeros((2, 1, 1, 3, 1, 1, 2, 1, 2), np.int64),  # dims beyond the inline ones
        "big_dims": np.zeros((1, 70000), np.uint8),  # dims that are not cached small ints
    }
    prefix = tfbundle.save(tensors, tmp_path / "ranks")
    return prefix, tensors


def test_shape_map_holds_every_rank(tmp_path):
    prefix, tensors = _ranks_checkpoint(tmp_path)
    with tfbundle.open(prefix) as ckpt:
        shapes = ckpt.get_variable_to_shape_map()
        assert shapes == {name: list(np.shape(value)) for name, value in tensors.items()}
        assert all(type(v) is list for v in shapes.values())
        assert ckpt.shape("rank9") == (2, 1, 1, 3, 1, 1, 2, 1, 2)
        assert ckpt.get_tensor("rank9").shape == (2, 1, 1, 3, 1, 1, 2, 1, 2)
        assert {k: v.name for k, v in ckpt.get_variable_to_dtype_map().items()} == {
            "scalar": "float32",
            "rank1": "int8",
            "rank6": "float16",
            "rank9": "int64",
            "big_dims": "uint8",
        }


def test_shape_lists_are_fresh_and_mutable(tmp_path):
    prefix, _ = _ranks_checkpoint(tmp_path)
    with tfbundle.open(prefix) as ckpt:
        first = ckpt.get_variable_to_shape_map()
        first["rank1"].append(99)
        first["new"] = [1]
        assert ckpt.get_variable_to_shape_map()["rank1"] == [3]
        assert "new" not in ckpt.get_variable_to_shape_map()


def test_shape_map_is_left_out_of_cycle_collection_until_it_could_hold_a_cycle(tmp_path):
    """Lists of ints cannot form cycles, so the map skips the cyclic GC (as
    CPython does for tuples of atoms); storing a container in it brings it
    back under the GC, so no cycle through the dict itself can leak."""
    prefix, _ = _ranks_checkpoint(tmp_path)
    with tfbundle.open(prefix) as ckpt:
        shapes = ckpt.get_variable_to_shape_map()
    assert not gc.is_tracked(shapes)
    assert not any(gc.is_tracked(v) for v in shapes.values())
    shapes["self"] = [shapes]
    assert gc.is_tracked(shapes)
