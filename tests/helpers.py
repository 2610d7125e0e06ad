"""Comparison helpers shared by the tests."""

from __future__ import annotations

import numpy as np

import tfbundle


def assert_same_array(ours, theirs, what: str = "") -> None:
    """Equal shape, element width and bytes (NaNs and -0.0 included); strings
    compared element by element. Scalars may be numpy scalars or bytes (as
    TensorFlow returns 0-d tensors) or 0-d arrays."""
    if isinstance(theirs, bytes) or isinstance(ours, bytes):
        theirs = theirs if isinstance(theirs, bytes) else np.asarray(theirs)[()]
        ours = ours if isinstance(ours, bytes) else np.asarray(ours)[()]
        assert ours == theirs, what
        return
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != {theirs.shape}"
    if ours.dtype == object or theirs.dtype == object:
        assert ours.tolist() == theirs.tolist(), what
        return
    assert ours.dtype.itemsize == theirs.dtype.itemsize, f"{what}: {ours.dtype} vs {theirs.dtype}"
    assert np.ascontiguousarray(ours).tobytes() == np.ascontiguousarray(theirs).tobytes(), what


def assert_matches_tensorflow(tf, path) -> tfbundle.CheckpointReader:
    """Every key, dtype, shape and value that tf.train.load_checkpoint sees."""
    theirs = tf.train.load_checkpoint(str(path))
    tf_shapes = theirs.get_variable_to_shape_map()
    tf_dtypes = theirs.get_variable_to_dtype_map()
    ours = tfbundle.open(path)
    assert sorted(ours.keys()) == sorted(tf_shapes)
    assert ours.get_variable_to_shape_map() == tf_shapes
    if ours.version == 2:
        assert ours.debug_string() == theirs.debug_string()
    for key in tf_shapes:
        assert ours.dtype(key).name == tf_dtypes[key].name, key
        assert list(ours.shape(key)) == tf_shapes[key], key
        mine, tfs = ours.get_tensor(key), theirs.get_tensor(key)
        assert type(mine) is type(tfs), f"{key}: {type(mine)} is not TensorFlow's {type(tfs)}"
        if not isinstance(tfs, bytes):  # quantized types as TF's storage integers, bfloat16 as ml_dtypes'
            assert np.asarray(mine).dtype == np.asarray(tfs).dtype, f"{key}: {np.asarray(mine).dtype}"
        assert_same_array(mine, tfs, key)
    return ours


def varint(value: int) -> bytes:
    """A protobuf varint, written independently of the code under test."""
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
