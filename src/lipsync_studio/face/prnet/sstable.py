"""The sorted-string table that holds a TensorFlow checkpoint's ``.index`` file: reader and writer.

The format is LevelDB's table format without filter blocks (TensorFlow's ``core/lib/io/table_format.txt``)::

    [data block 1] … [data block n] [metaindex block] [index block] [footer, 48 bytes]

- A **block** is a run of entries, then an array of little-endian uint32 *restart* offsets and their count.
  Each entry is ``varint32 shared, varint32 non_shared, varint32 value_length, key[shared:], value``: a key shares
  ``shared`` leading bytes with the key before it, except at a restart point (every 16th entry) where
  ``shared == 0``.
- Every stored block is followed by a 5-byte **trailer**: the compression type (0 = none, 1 = Snappy) and the masked
  CRC-32C of the block bytes plus that type byte.
- The **index block** has one entry per data block: a key ≥ every key in that block and < every key in the next,
  whose value is the block's handle (``varint64 offset, varint64 size``, the size without the trailer).
- The **footer** holds the metaindex handle and the index handle, zero-padded to 40 bytes, then the magic number
  ``0xdb4775248b80fb57`` as two little-endian uint32 (low word first).

TensorFlow writes checkpoint index tables uncompressed; Snappy blocks (possible in other tables) are decoded too.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator

from lipsync_studio.face.prnet.crc32c import crc32c, mask, unmask

MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
TRAILER_SIZE = 5
NO_COMPRESSION = 0
SNAPPY_COMPRESSION = 1
RESTART_INTERVAL = 16
BLOCK_SIZE = 262144
"""TensorFlow's default target size of a data block (bytes, before the trailer)."""


class TableFormatError(ValueError):
    """The bytes are not a valid sorted-string table; the message says which part is wrong."""


# --- varints ---------------------------------------------------------------------------------------------------------

def encode_varint(value: int) -> bytes:
    """Unsigned LEB128 (protobuf varint) encoding of ``value`` ≥ 0."""
    if value < 0:
        raise ValueError(f"varint of a negative number {value}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_varint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    """Decode a varint at ``buf[pos]``; returns ``(value, position after it)``."""
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise TableFormatError("a number runs past the end of its record")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise TableFormatError("a number is longer than 10 bytes")


# --- blocks ----------------------------------------------------------------------------------------------------------

def build_block(entries: list[tuple[bytes, bytes]], restart_interval: int = RESTART_INTERVAL) -> bytes:
    """Encode sorted ``(key, value)`` pairs as one block (without trailer)."""
    out = bytearray()
    restarts = [0]
    previous = b""
    for i, (key, value) in enumerate(entries):
        shared = 0
        if i % restart_interval == 0:
            if i:
                restarts.append(len(out))
        else:
            limit = min(len(previous), len(key))
            while shared < limit and previous[shared] == key[shared]:
                shared += 1
        out += encode_varint(shared) + encode_varint(len(key) - shared) + encode_varint(len(value))
        out += key[shared:] + value
        previous = key
    for offset in restarts:
        out += struct.pack("<I", offset)
    out += struct.pack("<I", len(restarts))
    return bytes(out)


def parse_block(block: bytes) -> list[tuple[bytes, bytes]]:
    """Decode one (uncompressed) block into its ``(key, value)`` pairs."""
    if len(block) < 4:
        raise TableFormatError("a block is shorter than its restart count")
    (num_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    end = len(block) - 4 - 4 * num_restarts
    if num_restarts == 0 or end < 0:
        raise TableFormatError(f"a block claims {num_restarts} restart points, which do not fit in it")
    entries = []
    pos = 0
    key = b""
    view = memoryview(block)
    while pos < end:
        shared, pos = decode_varint(view, pos)
        non_shared, pos = decode_varint(view, pos)
        value_len, pos = decode_varint(view, pos)
        if shared > len(key) or pos + non_shared + value_len > end:
            raise TableFormatError("a block entry runs past the end of its block")
        key = key[:shared] + bytes(view[pos:pos + non_shared])
        pos += non_shared
        entries.append((key, bytes(view[pos:pos + value_len])))
        pos += value_len
    return entries


def snappy_decompress(data: bytes) -> bytes:
    """Decode a raw Snappy stream (the compression TensorFlow tables may use for a block)."""
    length, pos = decode_varint(data, 0)
    out = bytearray()
    n = len(data)
    while pos < n:
        tag = data[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:  # literal
            size = tag >> 2
            if size >= 60:
                extra = size - 59
                size = int.from_bytes(data[pos:pos + extra], "little")
                pos += extra
            size += 1
            if pos + size > n:
                raise TableFormatError("a compressed block's literal runs past its end")
            out += data[pos:pos + size]
            pos += size
            continue
        if kind == 1:
            size = ((tag >> 2) & 7) + 4
            offset = ((tag >> 5) << 8) | data[pos]
            pos += 1
        elif kind == 2:
            size = (tag >> 2) + 1
            offset = int.from_bytes(data[pos:pos + 2], "little")
            pos += 2
        else:
            size = (tag >> 2) + 1
            offset = int.from_bytes(data[pos:pos + 4], "little")
            pos += 4
        if offset == 0 or offset > len(out):
            raise TableFormatError("a compressed block refers to bytes before its start")
        for _ in range(size):  # copies may overlap their own output
            out.append(out[-offset])
    if len(out) != length:
        raise TableFormatError(f"a compressed block decodes to {len(out)} bytes, not the {length} it announces")
    return bytes(out)


def _read_block(data: bytes, offset: int, size: int, what: str) -> bytes:
    if offset + size + TRAILER_SIZE > len(data):
        raise TableFormatError(f"the {what} block lies past the end of the file (the file is truncated)")
    contents = data[offset:offset + size]
    kind = data[offset + size]
    (stored,) = struct.unpack_from("<I", data, offset + size + 1)
    if unmask(stored) != crc32c(data[offset:offset + size + 1]):
        raise TableFormatError(f"the {what} block fails its checksum (the file is damaged)")
    if kind == NO_COMPRESSION:
        return contents
    if kind == SNAPPY_COMPRESSION:
        return snappy_decompress(contents)
    raise TableFormatError(f"the {what} block has an unknown compression type {kind}")


def _decode_handle(value: bytes) -> tuple[int, int]:
    offset, pos = decode_varint(value, 0)
    size, _ = decode_varint(value, pos)
    return offset, size


def read_table(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Yield every ``(key, value)`` of a table held in ``data``, in key order.

    Raises
    ------
    TableFormatError
        When the footer's magic number is wrong (not a table), a block is truncated or fails its checksum.
    """
    if len(data) < FOOTER_SIZE:
        raise TableFormatError(f"the file has {len(data)} bytes, fewer than a table's {FOOTER_SIZE}-byte footer")
    footer = data[-FOOTER_SIZE:]
    low, high = struct.unpack_from("<II", footer, FOOTER_SIZE - 8)
    if (high << 32) | low != MAGIC:
        raise TableFormatError("it does not end with the table magic number (not a TensorFlow checkpoint index, "
                               "or truncated)")
    _, pos = decode_varint(footer, 0)  # metaindex offset
    _, pos = decode_varint(footer, pos)  # metaindex size
    index_offset, pos = decode_varint(footer, pos)
    index_size, _ = decode_varint(footer, pos)
    index = parse_block(_read_block(data, index_offset, index_size, "index"))
    for i, (_, handle) in enumerate(index):
        offset, size = _decode_handle(handle)
        yield from parse_block(_read_block(data, offset, size, f"data #{i}"))


def _shortest_separator(start: bytes, limit: bytes) -> bytes:
    """A short key k with start ≤ k < limit (TensorFlow's FindShortestSeparator)."""
    n = min(len(start), len(limit))
    i = 0
    while i < n and start[i] == limit[i]:
        i += 1
    if i < n and start[i] < 0xFF and start[i] + 1 < limit[i]:
        return start[:i] + bytes([start[i] + 1])
    return start


def _short_successor(key: bytes) -> bytes:
    """A short key ≥ ``key`` (TensorFlow's FindShortSuccessor)."""
    for i, byte in enumerate(key):
        if byte != 0xFF:
            return key[:i] + bytes([byte + 1])
    return key


def build_table(entries: Iterable[tuple[bytes, bytes]], block_size: int = BLOCK_SIZE) -> bytes:
    """Encode ``(key, value)`` pairs, which must be in strictly increasing byte order, as an uncompressed table.

    Blocks are cut as TensorFlow's ``TableBuilder`` cuts them (a block is closed once it reaches ``block_size``
    bytes); index keys are the same shortest separators, so a checkpoint written here matches one from TensorFlow.
    """
    out = bytearray()

    def write_block(block: bytes) -> bytes:
        offset = len(out)
        trailer = bytes([NO_COMPRESSION])
        out.extend(block + trailer + struct.pack("<I", mask(crc32c(block + trailer))))
        return encode_varint(offset) + encode_varint(len(block))

    index: list[tuple[bytes, bytes]] = []
    current: list[tuple[bytes, bytes]] = []
    current_size = 0
    pending: tuple[bytes, bytes] | None = None  # (last key of the written block, its handle)
    last: bytes | None = None
    for key, value in entries:
        if last is not None and key <= last:
            raise ValueError(f"table keys must be strictly increasing: {key!r} after {last!r}")
        if pending is not None:
            index.append((_shortest_separator(pending[0], key), pending[1]))
            pending = None
        current.append((key, value))
        current_size += len(key) + len(value) + 3
        last = key
        if current_size >= block_size:
            pending = (key, write_block(build_block(current)))
            current, current_size = [], 0
    if current:
        pending = (last or b"", write_block(build_block(current)))
    meta_handle = write_block(build_block([]))
    if pending is not None:
        index.append((_short_successor(pending[0]), pending[1]))
    index_handle = write_block(build_block(index, restart_interval=1))
    footer = (meta_handle + index_handle).ljust(FOOTER_SIZE - 8, b"\0")
    out += footer + struct.pack("<II", MAGIC & 0xFFFFFFFF, MAGIC >> 32)
    return bytes(out)
