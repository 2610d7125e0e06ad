"""Big-endian bundles and variant tensors, judged by TensorFlow."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

import tfbundle
from tests.helpers import assert_same_array, varint
from tfbundle import _core


def _entry(dtype: int, shape, offset: int, size: int, crc: int) -> bytes:
    dims = b"".join(
        b"\x12" + varint(len(b"\x08" + varint(d))) + b"\x08" + varint(d) if d else b"\x12\x00" for d in shape
    )
    body = b"\x08" + varint(dtype) + b"\x12" + varint(len(dims)) + dims
    if offset:
        body += b"\x20" + varint(offset)
    if size:
        body += b"\x28" + varint(size)
    return body + b"\x35" + struct.pack("<I", _core.crc32c_mask(crc))


def write_big_endian_bundle(prefix: str, arrays: dict, strings: list) -> None:
    """A bundle as a big-endian machine writes it: element bytes, string
    lengths' checksum and L in big-endian order; header endianness = BIG."""
    data = bytearray()
    entries = []
    for name, value in arrays.items():
        raw = value.astype(value.dtype.newbyteorder(">")).tobytes()
        entries.append(
            (
                name,
                _entry(
                    {np.float32: 1, np.int64: 9, np.complex64: 8, np.float16: 19}[value.dtype.type],
                    value.shape,
                    len(data),
                    len(raw),
                    _core.crc32c(raw),
                ),
            )
        )
        data += raw
    lengths = b"".join(varint(len(s)) for s in strings)
    fixed = b"".join(struct.pack(">I", len(s)) for s in strings)
    l_stored = struct.pack(">I", _core.crc32c_mask(_core.crc32c(fixed)))
    payload = lengths + l_stored + b"".join(strings)
    crc = _core.crc32c(b"".join(strings), _core.crc32c(l_stored, _core.crc32c(fixed)))
    entries.append(("strings", _entry(7, [len(strings)], len(data), len(payload), crc)))
    data += payload
    header = bytes([0x08, 0x01, 0x10, 0x01, 0x1A, 0x02, 0x08, 0x01])  # num_shards 1, endianness BIG
    Path(prefix + ".index").write_bytes(_core.build_table([("", header), *sorted(entries)]))
    Path(prefix + ".data-00000-of-00001").write_bytes(bytes(data))


def test_big_endian_bundle_is_swapped_like_tensorflow(tf, tmp_path):
    arrays = {
        "f32": np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5,
        "i64": np.array([1, -2, 2**40]),
        "c64": np.array([1 + 2j, -3.5j], np.complex64),
        "f16": np.array([0.5, -1.0], np.float16),
    }
    strings = [b"big", b"", b"endian" * 3]
    prefix = str(tmp_path / "be")
    write_big_endian_bundle(prefix, arrays, strings)
    ours = tfbundle.open(prefix)
    theirs = tf.train.load_checkpoint(prefix)
    for name, value in arrays.items():
        assert_same_array(ours.get_tensor(name), value, name)
        assert_same_array(ours.get_tensor(name, copy=False), value, name)  # a swapped copy
        assert_same_array(np.asarray(theirs.get_tensor(name)), value, name)
    assert ours.get_tensor("strings").tolist() == strings == list(theirs.get_tensor("strings"))
    assert ours.get_slice("f32")[1, ::2].tolist() == [0.5, 2.5]
    ours.verify()
    # Copying re-encodes in little-endian order, which TensorFlow reads as well.
    out = tfbundle.edit.transform(prefix, tmp_path / "le")
    assert not tfbundle.open(out)._core.big_endian
    assert_same_array(tf.train.load_checkpoint(out).get_tensor("i64"), arrays["i64"])


def test_variant_tensors_from_a_tf_data_iterator(tf, tmp_path):
    dataset = tf.data.Dataset.range(10)
    iterator = iter(dataset)
    next(iterator)
    saved = tf.train.Checkpoint(it=iterator).save(str(tmp_path / "src" / "ckpt"))
    reader = tfbundle.open(saved)
    variants = [k for k in reader.keys() if reader.dtype(k).name == "variant"]
    assert variants
    value = reader.get_tensor(variants[0])
    assert value.dtype == object
    assert all(isinstance(v, bytes) for v in value.reshape(-1))
    reader.verify()
    # A verbatim copy restores the iterator's position in TensorFlow.
    out = tfbundle.edit.transform(saved, tmp_path / "dst" / "ckpt-1")
    restored = iter(dataset)
    tf.train.Checkpoint(it=restored).restore(out).assert_consumed()
    assert int(next(restored)) == 1


def test_dtype_proto_names_are_tensorflows(tf):
    from tensorflow.core.framework import types_pb2

    compared = 0
    for enum in types_pb2.DataType.values():
        if enum == 0 or enum >= 100:  # DT_INVALID and the _REF types
            continue
        try:
            dtype = tfbundle.dtypes.from_enum(enum)
        except ValueError:
            continue  # newer than tfbundle's table
        assert dtype.proto_name == types_pb2.DataType.Name(enum), enum
        compared += 1
    assert compared >= 33
