"""Read and write TensorFlow 1 checkpoints (``name.index`` + ``name.data-00000-of-00001``) without TensorFlow.

A checkpoint ("tensor bundle") is a prefix such as ``models/prnet/256_256_resfcn256_weight`` and the files
``<prefix>.index`` and ``<prefix>.data-SSSSS-of-NNNNN`` (one per shard, usually one).

- ``.index`` is a sorted-string table (:mod:`.sstable`) mapping each variable name (UTF-8, byte order) to a
  serialised ``BundleEntryProto``: ``dtype`` (1, enum), ``shape`` (2, ``TensorShapeProto``: repeated ``dim`` (2) of
  ``size`` (1)), ``shard_id`` (3), ``offset`` (4), ``size`` (5), ``crc32c`` (6, fixed32, masked CRC-32C of the
  tensor's bytes) and ``slices`` (7, partitioned variables). The empty key holds a ``BundleHeaderProto``:
  ``num_shards`` (1), ``endianness`` (2; 0 little, 1 big) and ``version`` (3, ``VersionDef``: ``producer`` (1),
  ``min_consumer`` (2)).
- ``.data-*`` holds the tensors' raw bytes back to back, C order, in the header's byte order. String tensors are
  stored as varint64 lengths, a masked CRC of those lengths (as uint32), then the bytes.

The protobuf messages are small and fixed, so they are encoded and decoded by hand (varints and length-delimited
fields) instead of depending on TensorFlow's generated code.
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lipsync_studio.errors import UserError
from lipsync_studio.face.prnet.crc32c import crc32c, mask, unmask
from lipsync_studio.face.prnet.sstable import (
    BLOCK_SIZE,
    TableFormatError,
    build_table,
    decode_varint,
    encode_varint,
    read_table,
)

DT_STRING = 7
DT_BFLOAT16 = 14
_NUMPY_DTYPES: dict[int, np.dtype] = {
    1: np.dtype("float32"), 2: np.dtype("float64"), 3: np.dtype("int32"), 4: np.dtype("uint8"),
    5: np.dtype("int16"), 6: np.dtype("int8"), 8: np.dtype("complex64"), 9: np.dtype("int64"),
    10: np.dtype("bool"), 17: np.dtype("uint16"), 18: np.dtype("complex128"), 19: np.dtype("float16"),
    22: np.dtype("uint32"), 23: np.dtype("uint64"),
}
DTYPE_NAMES: dict[int, str] = {code: dt.name for code, dt in _NUMPY_DTYPES.items()}
DTYPE_NAMES.update({DT_STRING: "string", DT_BFLOAT16: "bfloat16", 11: "qint8", 12: "quint8", 13: "qint32",
                    15: "qint16", 16: "quint16", 20: "resource", 21: "variant"})
_CODES = {dt: code for code, dt in _NUMPY_DTYPES.items()}

BUNDLE_VERSION = 1
"""The ``producer`` version TensorFlow writes (``kTensorBundleVersion``)."""


class TFCheckpointError(UserError):
    """A TensorFlow checkpoint is missing, incomplete, damaged or not a checkpoint."""


@dataclass(frozen=True)
class TensorInfo:
    """Where and what one tensor of a checkpoint is, as its index entry says.

    Attributes
    ----------
    name: variable name, e.g. ``resfcn256/Conv/weights``.
    dtype: TensorFlow dtype name (``float32``, ``string``, ``bfloat16``, …).
    shape: dimensions in TensorFlow's order (a conv kernel is ``[kh, kw, in, out]``).
    shard, offset, size: the bytes ``[offset, offset + size)`` of data shard ``shard``.
    crc32c: the stored (masked) CRC-32C of those bytes.
    sliced: stored as slices of a partitioned variable (not readable here).
    dtype_code: TensorFlow's ``DataType`` number (1 float32, 7 string, …).
    """

    name: str
    dtype: str
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int
    crc32c: int
    sliced: bool = False
    dtype_code: int = 1


@dataclass(frozen=True)
class BundleHeader:
    """The checkpoint's header entry: number of data shards, byte order and format version."""

    num_shards: int
    little_endian: bool
    producer: int
    min_consumer: int


# --- protobuf wire format --------------------------------------------------------------------------------------------

def _signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _parse_message(buf: bytes) -> dict[int, list[int | bytes]]:
    """Decode a protobuf message into ``{field number: [values]}`` (varints as int, fixed as int, bytes as bytes)."""
    fields: dict[int, list[int | bytes]] = {}
    pos = 0
    n = len(buf)
    while pos < n:
        key, pos = decode_varint(buf, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, pos = decode_varint(buf, pos)
        elif wire == 1:
            value = int.from_bytes(buf[pos:pos + 8], "little")
            pos += 8
        elif wire == 2:
            length, pos = decode_varint(buf, pos)
            value = bytes(buf[pos:pos + length])
            pos += length
        elif wire == 5:
            value = int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        else:
            raise TableFormatError(f"an index record uses protobuf wire type {wire}, which checkpoints never use")
        if pos > n:
            raise TableFormatError("an index record is cut short")
        fields.setdefault(number, []).append(value)
    return fields


def _last(fields: dict[int, list[int | bytes]], number: int, default: int | bytes) -> int | bytes:
    values = fields.get(number)
    return values[-1] if values else default


def _varint_field(number: int, value: int) -> bytes:
    """A varint field; proto3 leaves out zeros. Negative values are written as 64-bit two's complement."""
    if value == 0:
        return b""
    return encode_varint(number << 3) + encode_varint(value & ((1 << 64) - 1))


def _bytes_field(number: int, value: bytes) -> bytes:
    return encode_varint((number << 3) | 2) + encode_varint(len(value)) + value


def _fixed32_field(number: int, value: int) -> bytes:
    if value == 0:
        return b""
    return encode_varint((number << 3) | 5) + struct.pack("<I", value)


def _encode_header(num_shards: int = 1) -> bytes:
    version = _varint_field(1, BUNDLE_VERSION)  # producer; min_consumer 0 is left out
    return _varint_field(1, num_shards) + _bytes_field(3, version)  # endianness LITTLE (0) is left out


def _encode_entry(code: int, shape: tuple[int, ...], offset: int, size: int, crc: int) -> bytes:
    shape_msg = b"".join(_bytes_field(2, _varint_field(1, d)) for d in shape)
    return (_varint_field(1, code) + _bytes_field(2, shape_msg) + _varint_field(4, offset)
            + _varint_field(5, size) + _fixed32_field(6, crc))


def _decode_entry(name: str, value: bytes) -> TensorInfo:
    fields = _parse_message(value)
    code = int(_last(fields, 1, 0))
    shape_fields = _parse_message(bytes(_last(fields, 2, b"")))
    if int(_last(shape_fields, 3, 0)):
        raise TableFormatError(f"tensor {name} has an unknown rank")
    shape = tuple(_signed64(int(_last(_parse_message(bytes(d)), 1, 0))) for d in shape_fields.get(2, []))
    if any(d < 0 for d in shape):
        raise TableFormatError(f"tensor {name} has an invalid shape {list(shape)}")
    return TensorInfo(name=name, dtype=DTYPE_NAMES.get(code, f"dtype#{code}"), shape=shape,
                      shard=int(_last(fields, 3, 0)), offset=_signed64(int(_last(fields, 4, 0))),
                      size=_signed64(int(_last(fields, 5, 0))), crc32c=int(_last(fields, 6, 0)),
                      sliced=bool(fields.get(7)), dtype_code=code)


# --- paths -----------------------------------------------------------------------------------------------------------

def checkpoint_prefix(path: str | os.PathLike[str]) -> Path:
    """The checkpoint prefix for a path to its prefix, its ``.index`` file or one of its ``.data-*`` files."""
    p = Path(path)
    name = p.name
    if name.endswith(".index"):
        return p.with_name(name[: -len(".index")])
    if ".data-" in name and "-of-" in name:
        return p.with_name(name[: name.rindex(".data-")])
    return p


def index_path(prefix: str | os.PathLike[str]) -> Path:
    """``<prefix>.index``."""
    p = Path(prefix)
    return p.with_name(p.name + ".index")


def data_path(prefix: str | os.PathLike[str], shard: int = 0, num_shards: int = 1) -> Path:
    """``<prefix>.data-SSSSS-of-NNNNN`` (TensorFlow's shard file naming)."""
    p = Path(prefix)
    return p.with_name(f"{p.name}.data-{shard:05d}-of-{num_shards:05d}")


# --- reader ----------------------------------------------------------------------------------------------------------

class TFCheckpoint:
    """An open TensorFlow checkpoint: its header and the index of its tensors; tensors are read on request.

    Opening reads only the ``.index`` file and checks that every data shard it needs is present and long enough,
    so a missing or truncated download is reported before anything is loaded.

    Parameters
    ----------
    path:
        The checkpoint prefix, its ``.index`` file or its ``.data-*`` file.

    Raises
    ------
    TFCheckpointError
        The index is missing, not a checkpoint index, damaged; or a data shard is missing or truncated.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.prefix = checkpoint_prefix(path)
        self.index_file = index_path(self.prefix)
        if not self.index_file.is_file():
            raise TFCheckpointError("checkpoint index not found", self.index_file,
                                    "a TensorFlow checkpoint is a .index file with a .data-00000-of-00001 file "
                                    "next to it")
        raw = self.index_file.read_bytes()
        try:
            records = list(read_table(raw))
        except TableFormatError as exc:
            raise TFCheckpointError(f"not a readable TensorFlow checkpoint index: {exc}", self.index_file,
                                    "download the checkpoint again") from None
        if not records or records[0][0] != b"":
            raise TFCheckpointError("not a TensorFlow checkpoint index: it has no header entry", self.index_file)
        try:
            head = _parse_message(records[0][1])
            version = _parse_message(bytes(_last(head, 3, b"")))
            self.header = BundleHeader(num_shards=int(_last(head, 1, 0)),
                                       little_endian=int(_last(head, 2, 0)) == 0,
                                       producer=int(_last(version, 1, 0)),
                                       min_consumer=int(_last(version, 2, 0)))
            self.entries: dict[str, TensorInfo] = {}
            for key, value in records[1:]:
                name = key.decode("utf-8", errors="replace")
                self.entries[name] = _decode_entry(name, value)
        except TableFormatError as exc:
            raise TFCheckpointError(f"the checkpoint index is damaged: {exc}", self.index_file,
                                    "download the checkpoint again") from None
        if self.header.num_shards < 1:
            raise TFCheckpointError(f"the checkpoint header names {self.header.num_shards} data files",
                                    self.index_file)
        if self.header.min_consumer > BUNDLE_VERSION:
            raise TFCheckpointError(f"the checkpoint needs a reader of format version {self.header.min_consumer} "
                                    f"or later; this one reads version {BUNDLE_VERSION}", self.index_file,
                                    "save it with TensorFlow 1.x's tf.train.Saver")
        self._check_shards()

    def _check_shards(self) -> None:
        n = self.header.num_shards
        needed: dict[int, int] = {}
        for info in self.entries.values():
            if not info.sliced:
                needed[info.shard] = max(needed.get(info.shard, 0), info.offset + info.size)
        for shard in range(n):
            path = data_path(self.prefix, shard, n)
            if not path.is_file():
                raise TFCheckpointError(f"the checkpoint's data file is missing next to {self.index_file.name}",
                                        path, f"put {path.name} (it holds the weights; the .index only lists "
                                        "them) in the same folder as the .index file")
            size = path.stat().st_size
            if size < needed.get(shard, 0):
                raise TFCheckpointError(f"the checkpoint's data file is truncated: it has {size:,} bytes, its "
                                        f"index needs {needed[shard]:,}", path, "download it again")
        for shard in needed:
            if shard >= n:
                raise TFCheckpointError(f"the checkpoint index refers to data shard {shard} of {n}",
                                        self.index_file)

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def names(self) -> list[str]:
        """Variable names in the checkpoint, in the index's (byte) order."""
        return list(self.entries)

    def read(self, name: str, *, verify: bool = True) -> np.ndarray:
        """Read one tensor as a writable numpy array in TensorFlow's dimension order.

        Parameters
        ----------
        name:
            The variable name.
        verify:
            Check the tensor's bytes against their stored CRC-32C (about 0.01 s per MB).

        Returns
        -------
        numpy.ndarray
            The tensor; ``bfloat16`` comes back as ``float32``, ``string`` as an object array of ``bytes``.
        """
        info = self.entries.get(name)
        if info is None:
            raise TFCheckpointError(f"the checkpoint has no tensor named {name!r}", self.index_file)
        if info.sliced:
            raise TFCheckpointError(f"tensor {name} is stored in slices (a partitioned variable), which this "
                                    "reader does not assemble", self.index_file)
        path = data_path(self.prefix, info.shard, self.header.num_shards)
        buf = bytearray(info.size)
        with open(path, "rb") as f:
            f.seek(info.offset)
            got = f.readinto(buf)
        if got != info.size:
            raise TFCheckpointError(f"the data file ends inside tensor {name}", path, "download it again")
        if verify and unmask(info.crc32c) != crc32c(buf):
            raise TFCheckpointError(f"tensor {name} fails its checksum (the data file is damaged)", path,
                                    "download it again")
        try:
            return self._decode(info, buf)
        except TableFormatError as exc:
            raise TFCheckpointError(f"tensor {name} cannot be decoded: {exc}", path, "download it again") from None

    def _decode(self, info: TensorInfo, buf: bytearray) -> np.ndarray:
        count = int(np.prod(info.shape, dtype=np.int64))
        if info.dtype_code == DT_STRING:
            return _decode_strings(info, bytes(buf), count)
        if info.dtype_code == DT_BFLOAT16:
            dtype = np.dtype("<u2" if self.header.little_endian else ">u2")
        elif info.dtype_code in _NUMPY_DTYPES:
            dtype = _NUMPY_DTYPES[info.dtype_code]
            dtype = dtype.newbyteorder("<" if self.header.little_endian else ">")
        else:
            raise TFCheckpointError(f"tensor {info.name} has type {info.dtype}, which this reader does not read",
                                    self.index_file)
        if info.size != count * dtype.itemsize:
            raise TFCheckpointError(f"tensor {info.name} has {info.size} bytes, but shape {list(info.shape)} of "
                                    f"{info.dtype} needs {count * dtype.itemsize}", self.index_file)
        array = np.frombuffer(buf, dtype=dtype).reshape(info.shape)
        if info.dtype_code == DT_BFLOAT16:
            return (array.astype(np.uint32) << 16).view(np.float32)
        return array if dtype.isnative else array.astype(dtype.newbyteorder("="))

    def read_all(self, names: Iterable[str] | None = None, *, verify: bool = True) -> dict[str, np.ndarray]:
        """Read several tensors (all when ``names`` is None) into ``{name: array}``."""
        return {name: self.read(name, verify=verify) for name in (self.entries if names is None else names)}


def _decode_strings(info: TensorInfo, buf: bytes, count: int) -> np.ndarray:
    pos = 0
    lengths = []
    crc = 0
    for _ in range(count):
        length, pos = decode_varint(buf, pos)
        lengths.append(length)
        crc = crc32c(struct.pack("<I", length) if length <= 0xFFFFFFFF else struct.pack("<Q", length), crc)
    (stored,) = struct.unpack_from("<I", buf, pos)
    if unmask(stored) != crc:
        raise TableFormatError(f"string tensor {info.name}: its lengths fail their checksum")
    pos += 4
    out = np.empty(count, dtype=object)
    for i, length in enumerate(lengths):
        out[i] = buf[pos:pos + length]
        pos += length
    return out.reshape(info.shape)


def read_tf_checkpoint(path: str | os.PathLike[str], names: Iterable[str] | None = None, *,
                       verify: bool = True) -> dict[str, np.ndarray]:
    """Read tensors of a TensorFlow checkpoint (all of them when ``names`` is None) into ``{name: array}``."""
    return TFCheckpoint(path).read_all(names, verify=verify)


# --- writer ----------------------------------------------------------------------------------------------------------

def _tensor_bytes(name: str, value: np.ndarray) -> tuple[int, bytes]:
    if value.dtype.kind in "OSU":
        items = value.reshape(-1).tolist()
        if not all(isinstance(v, bytes | str) for v in items):
            raise ValueError(f"tensor {name}: an object array must hold only bytes or str")
        items = [v.encode("utf-8") if isinstance(v, str) else v for v in items]
        lengths = b"".join(encode_varint(len(v)) for v in items)
        crc = 0
        for v in items:
            crc = crc32c(struct.pack("<I", len(v)), crc)
        return DT_STRING, lengths + struct.pack("<I", mask(crc)) + b"".join(items)
    code = _CODES.get(value.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"tensor {name}: numpy dtype {value.dtype} has no TensorFlow checkpoint type")
    return code, np.ascontiguousarray(value, dtype=value.dtype.newbyteorder("<")).tobytes()


def write_tf_checkpoint(prefix: str | os.PathLike[str], tensors: Mapping[str, np.ndarray], *,
                        block_size: int = BLOCK_SIZE) -> Path:
    """Write ``tensors`` as a TensorFlow 1 checkpoint ``<prefix>.index`` + ``<prefix>.data-00000-of-00001``.

    The layout is TensorFlow's own (one shard, little-endian, format version 1, uncompressed index, tensors in name
    order without padding), so TensorFlow's ``tf.train.load_checkpoint`` and :class:`TFCheckpoint` read it alike.
    Both files are written to temporary names first and renamed at the end: an interrupted write leaves nothing.

    Parameters
    ----------
    prefix:
        The checkpoint prefix (a ``.index`` path is accepted too).
    tensors:
        ``{variable name: array}``; numeric, bool, or bytes/str arrays (written as string tensors).
    block_size:
        Target size of an index data block (TensorFlow's default 256 KiB).

    Returns
    -------
    pathlib.Path
        The ``.index`` file.
    """
    prefix = checkpoint_prefix(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    names = sorted(tensors, key=lambda n: n.encode("utf-8"))
    if "" in tensors:
        raise ValueError("the empty name is reserved for the checkpoint header")
    records = [(b"", _encode_header())]
    final_index, final_data = index_path(prefix), data_path(prefix)
    temps: list[str] = []
    try:
        fd, data_tmp = tempfile.mkstemp(prefix=final_data.name + ".", suffix=".tmp", dir=prefix.parent)
        temps.append(data_tmp)
        offset = 0
        with os.fdopen(fd, "wb") as f:
            for name in names:
                value = np.asarray(tensors[name])
                code, raw = _tensor_bytes(name, value)
                f.write(raw)
                records.append((name.encode("utf-8"),
                                _encode_entry(code, tuple(int(d) for d in value.shape), offset, len(raw),
                                              mask(crc32c(raw)))))
                offset += len(raw)
        fd, index_tmp = tempfile.mkstemp(prefix=final_index.name + ".", suffix=".tmp", dir=prefix.parent)
        temps.append(index_tmp)
        with os.fdopen(fd, "wb") as f:
            f.write(build_table(records, block_size=block_size))
        os.replace(data_tmp, final_data)
        os.replace(index_tmp, final_index)
        temps.clear()
    finally:
        for tmp in temps:
            Path(tmp).unlink(missing_ok=True)
    return final_index
