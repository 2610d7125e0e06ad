"""Rewrites a TensorFlow table (a V2 ``.index`` or a V1 checkpoint file) with
every block Snappy-compressed, as tables written with the table's default
options are. Written from the format, independently of the code under test;
the compression itself is cramjam's.

Keys, values and block boundaries stay as they were: only each block's
stored bytes, its type byte (1) and checksum change, and the index block is
rebuilt with the new block handles.
"""

from __future__ import annotations

import struct

import crc32c

from tests.helpers import varint

MAGIC = 0xDB4775248B80FB57


def masked_crc(data: bytes) -> int:
    crc = crc32c.crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def footer_handles(data: bytes) -> tuple[tuple[int, int], tuple[int, int]]:
    """((offset, size) of the metaindex block, (offset, size) of the index block)."""
    footer = data[-48:]
    values, pos = [], 0
    for _ in range(4):
        value, pos = read_varint(footer, pos)
        values.append(value)
    return (values[0], values[1]), (values[2], values[3])


def handle(value: bytes) -> tuple[int, int]:
    """(offset, size) of a block handle."""
    offset, pos = read_varint(value, 0)
    size, _ = read_varint(value, pos)
    return offset, size


def data_blocks(data: bytes) -> list[tuple[int, int]]:
    """(offset, size) of every data block of an uncompressed-index table."""
    _meta, (index_offset, index_size) = footer_handles(data)
    return [handle(v) for _k, v in block_entries(data[index_offset : index_offset + index_size])]


def block_types(table: bytes) -> set:
    """The type byte of every block of a table (data, metaindex and index),
    read independently of the code under test."""
    import cramjam

    meta, (index_offset, index_size) = footer_handles(table)
    index_type = table[index_offset + index_size]
    contents = table[index_offset : index_offset + index_size]
    if index_type == 1:
        contents = bytes(cramjam.snappy.decompress_raw(contents))
    types = {table[meta[0] + meta[1]], index_type}
    for _key, value in block_entries(contents):
        offset, size = handle(value)
        types.add(table[offset + size])
    return types


def _block(data: bytes, offset: int, size: int) -> bytes:
    assert data[offset + size] == 0, "the source table must be uncompressed"
    return data[offset : offset + size]


def block_entries(contents: bytes) -> list[tuple[bytes, bytes]]:
    (num_restarts,) = struct.unpack_from("<I", contents, len(contents) - 4)
    end = len(contents) - 4 - 4 * num_restarts
    pos, key, out = 0, b"", []
    while pos < end:
        shared, pos = read_varint(contents, pos)
        unshared, pos = read_varint(contents, pos)
        value_len, pos = read_varint(contents, pos)
        key = key[:shared] + contents[pos : pos + unshared]
        pos += unshared
        out.append((key, contents[pos : pos + value_len]))
        pos += value_len
    return out


def _plain_block(entries: list[tuple[bytes, bytes]]) -> bytes:
    """A block with every entry a restart point (no shared key prefixes)."""
    body, restarts = bytearray(), []
    for key, value in entries:
        restarts.append(len(body))
        body += varint(0) + varint(len(key)) + varint(len(value)) + key + value
    for r in restarts or [0]:
        body += struct.pack("<I", r)
    return bytes(body + struct.pack("<I", len(restarts or [0])))


def compress(contents: bytes) -> bytes:
    import cramjam

    return bytes(cramjam.snappy.compress_raw(contents))


def snappy_table(data: bytes) -> bytes:
    """``data`` (an uncompressed table) with every block stored Snappy-compressed."""
    assert struct.unpack_from("<Q", data, len(data) - 8)[0] == MAGIC
    (meta_offset, meta_size), (index_offset, index_size) = footer_handles(data)
    out = bytearray()

    def put(contents: bytes) -> bytes:
        stored = compress(contents) + b"\x01"
        handle = varint(len(out)) + varint(len(stored) - 1)
        out.extend(stored + struct.pack("<I", masked_crc(stored)))
        return handle

    new_index = []
    for key, value in block_entries(_block(data, index_offset, index_size)):
        new_index.append((key, put(_block(data, *handle(value)))))
    meta_handle = put(_block(data, meta_offset, meta_size))
    index_handle = put(_plain_block(new_index))
    handles = meta_handle + index_handle
    out += handles + b"\0" * (40 - len(handles)) + struct.pack("<Q", MAGIC)
    return bytes(out)


def rewrite_file(path) -> None:
    """Replaces the table at ``path`` by its Snappy-compressed twin."""
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(snappy_table(data))
