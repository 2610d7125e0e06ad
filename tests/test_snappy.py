"""Snappy-compressed table blocks: TensorFlow-written tables rewritten with
every block compressed (as tables written with the table's default options
are) must read in TensorFlow and in tfbundle identically, and damaged
compressed blocks must raise DataLossError naming the file and block."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tfbundle
from tests.helpers import assert_matches_tensorflow, assert_same_array, varint
from tests.snappy_tables import (
    MAGIC,
    block_entries,
    block_types,
    compress,
    data_blocks,
    footer_handles,
    handle,
    masked_crc,
    read_varint,
    rewrite_file,
)
from tfbundle import _core


def snappy_copy(prefix, directory) -> str:
    """A copy of a V2 checkpoint whose .index has every block compressed."""
    os.makedirs(directory, exist_ok=True)
    base = os.path.basename(str(prefix))
    for name in os.listdir(os.path.dirname(str(prefix))):
        if name.startswith((base + ".index", base + ".data-")):
            shutil.copy(os.path.join(os.path.dirname(str(prefix)), name), directory)
    copy = os.path.join(str(directory), base)
    rewrite_file(copy + ".index")
    assert block_types(Path(copy + ".index").read_bytes()) == {1}
    return copy


# -- the decompressor ----------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=3000),
        st.lists(st.sampled_from([b"ab", b"abc", b"\0" * 70, b"xyz" * 30, b"q"]), max_size=200).map(b"".join),
    )
)
def test_decompressor_round_trips_cramjam(data):
    assert _core.snappy_decompress(compress(data)) == data


@pytest.mark.parametrize(
    ("stream", "problem"),
    [
        (varint(10) + b"\x0cab", "literal runs past the input"),  # a 4-byte literal, 2 bytes left
        (varint(4) + b"\x0cabcd" + b"\x01\x04", "past the declared length"),  # a copy beyond the output
        (varint(8) + b"\x0cabcd" + b"\x01\x09", "before the start"),  # offset 9 > 4 bytes produced
        (varint(8) + b"\x0cabcd" + b"\x01\x00", "before the start"),  # offset 0
        (varint(8) + b"\x0cabcd", "shorter than the declared length"),
        (varint(1 << 31) + b"\x00a", "more than"),  # declared length no input can produce
        (b"\xff\xff\xff\xff\xff\xff", "header"),
        (varint(5) + b"\xf0", "truncated literal length"),
        (varint(5) + b"\x04ab\x02", "truncated copy"),
    ],
)
def test_decompressor_rejects_malformed_streams(stream, problem):
    with pytest.raises(tfbundle.DataLossError, match=problem):
        _core.snappy_decompress(stream)


# -- TensorFlow's tables, compressed ------------------------------------------------


def test_small_checkpoint(tf, tf1_saver, tmp_path):
    copy = snappy_copy(tfbundle.latest_checkpoint(tf1_saver), tmp_path / "s")
    ckpt = assert_matches_tensorflow(tf, copy)
    assert ckpt.get_tensor("global_step") == 3
    ckpt.verify()


def test_every_dtype(tf, all_dtypes, tmp_path):
    copy = snappy_copy(all_dtypes, tmp_path / "s")
    assert_matches_tensorflow(tf, copy).verify()


def test_multi_block_index(tf, tmp_path):
    names = [f"model/block_{i:05d}/" + "sublayer/" * 6 + "kernel" for i in range(8200)]
    prefix = str(tmp_path / "tf" / "many")
    tf.raw_ops.SaveV2(
        prefix=prefix,
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=[tf.constant(np.full((2,), i, np.float32)) for i in range(len(names))],
    )
    assert len(data_blocks(Path(prefix + ".index").read_bytes())) >= 3
    copy = snappy_copy(prefix, tmp_path / "s")
    ckpt = assert_matches_tensorflow(tf, copy)
    assert len(ckpt) == 8200


def test_saved_model_variables(tf, saved_model, tmp_path):
    export = tmp_path / "export"
    shutil.copytree(saved_model, export)
    rewrite_file(export / "variables" / "variables.index")
    model = tfbundle.saved_model.open(export)
    assert "serving_default" in model.signatures
    assert_matches_tensorflow(tf, export / "variables" / "variables")
    loaded = tf.saved_model.load(str(export))  # TensorFlow serves it as it is
    for key in model.variables.keys():
        if key.startswith("_"):
            continue
        assert_same_array(
            model.variables.get_tensor(key),
            tf.train.load_checkpoint(str(export / "variables" / "variables")).get_tensor(key),
            key,
        )
    assert loaded is not None
    shown = subprocess.run(
        [sys.executable, "-m", "tfbundle", "saved-model", "show", str(export), "--all"], capture_output=True, text=True
    )
    assert shown.returncode == 0
    assert "serving_default" in shown.stdout


def test_edit_convert_and_copy_write_uncompressed_tables_tf_restores(tf, tf1_saver, tmp_path):
    source = snappy_copy(tfbundle.latest_checkpoint(tf1_saver), tmp_path / "s")
    edited = str(tmp_path / "edited")
    tfbundle.edit.transform(source, edited, drop=["Adam"])
    converted = tfbundle.convert.convert(source, str(tmp_path / "converted" / "ckpt"))
    copied = str(tmp_path / "copied")
    with tfbundle.open(source) as r, tfbundle.Writer(copied) as w:
        for key in r.keys():
            w.copy_from(r, key)
    theirs = tf.train.load_checkpoint(source)
    for out in (edited, converted, copied):
        assert block_types(Path(out + ".index").read_bytes()) == {0}, out
        reader = tf.train.load_checkpoint(out)
        for key in reader.get_variable_to_shape_map():
            assert_same_array(reader.get_tensor(key), theirs.get_tensor(key), key)
    # A TF1 Saver restores the rewritten checkpoint into the original graph.
    v1 = tf.compat.v1
    g = tf.Graph()
    with g.as_default():
        kernel = v1.get_variable("dense/kernel", [4, 3])
        step = v1.train.get_or_create_global_step()
        with v1.Session(graph=g) as sess:
            v1.train.Saver([kernel, step]).restore(sess, copied)
            assert_same_array(sess.run(kernel), theirs.get_tensor("dense/kernel"))
            assert sess.run(step) == 3


# -- damage ---------------------------------------------------------------------------


def _damage_first_block(path: str, undecodable: bool) -> None:
    """Flips a byte of a compressed table's first data block (the checksum
    then fails), or replaces its first element by a copy reaching before the
    start of the output and fixes the checksum (decompression then fails)."""
    original = Path(path).read_bytes()
    _meta, index = footer_handles(original)
    index_contents = _core.snappy_decompress(original[index[0] : index[0] + index[1]])
    offset, size = handle(block_entries(index_contents)[0][1])
    data = bytearray(original)
    if undecodable:
        stream = bytearray(data[offset : offset + size])
        _length, start = read_varint(bytes(stream), 0)
        stream[start : start + 3] = b"\x02\xff\xff"  # copy 1 byte from 65535 bytes back
        block = bytes(stream) + b"\x01"
        data[offset : offset + size + 5] = block + struct.pack("<I", masked_crc(block))
    else:
        data[offset + size // 2] ^= 0x40
    Path(path).write_bytes(bytes(data))


@pytest.mark.parametrize("corrupt_payload", [False, True], ids=["checksum", "decompression"])
def test_damaged_compressed_block_names_file_and_offset(tf1_saver, tmp_path, corrupt_payload):
    copy = snappy_copy(tfbundle.latest_checkpoint(tf1_saver), tmp_path / "bad")
    _damage_first_block(copy + ".index", corrupt_payload)
    with pytest.raises(tfbundle.DataLossError) as info:
        tfbundle.open(copy)
    message = str(info.value)
    assert copy + ".index" in message
    assert "block at offset 0" in message
    assert ("checksum mismatch" in message) != corrupt_payload
    assert ("snappy" in message) == corrupt_payload


def test_hostile_uncompressed_length_does_not_allocate(tmp_path):
    """A block declaring 4 GiB of output from a few bytes fails before any
    allocation (run under a 1 GiB address-space limit; under ASan, whose
    shadow memory needs terabytes of address space, its allocator aborts on
    a huge allocation instead)."""
    stream = varint(0xFFFFFFF0) + b"\x00a"
    block = stream + b"\x01"
    table = bytearray(block + struct.pack("<I", masked_crc(block)))
    index_block_contents = (
        varint(0)
        + varint(1)
        + varint(2)
        + b"l"
        + varint(0)
        + varint(len(stream))
        + struct.pack("<I", 0)
        + struct.pack("<I", 1)
    )
    index_offset = len(table)
    table += index_block_contents + b"\x00" + struct.pack("<I", masked_crc(index_block_contents + b"\x00"))
    meta = b"\x00\x00\x00\x00\x01\x00\x00\x00"
    meta_offset = len(table)
    table += meta + b"\x00" + struct.pack("<I", masked_crc(meta + b"\x00"))
    handles = varint(meta_offset) + varint(len(meta)) + varint(index_offset) + varint(len(index_block_contents))
    table += handles + b"\0" * (40 - len(handles)) + struct.pack("<Q", MAGIC)
    path = tmp_path / "hostile.index"
    path.write_bytes(bytes(table))
    code = (
        "import os, resource, sys\n"
        "if not os.environ.get('TFBUNDLE_SANITIZED'):\n"
        "    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
        "import tfbundle\n"
        "try:\n    tfbundle.open(sys.argv[1])\n"
        "except tfbundle.DataLossError as e:\n    print('DataLoss', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "hostile")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("DataLoss")
    assert "hostile.index" in out.stdout
    assert "more than" in out.stdout
