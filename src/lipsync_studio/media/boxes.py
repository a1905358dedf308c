"""The ISO base media file (MP4/MOV) box tree: reading it, and rewriting the ``moov`` with boxes added.

Only the structure is handled here (sizes, types, nesting, chunk offsets); what the VR boxes mean is in
:mod:`.vrmeta`. Reading never loads the media data: the top level is walked with seeks and only ``moov`` is
read. A box whose size runs past its parent or the file raises :class:`~lipsync_studio.errors.MediaError`
naming the box and the byte offset (a cut-off ``mdat`` at the end of a file is left to the decoder).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import MediaError

#: Boxes that hold only other boxes (the ones the VR metadata lives under).
CONTAINER_BOXES = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"udta", b"edts", b"dinf", b"sv3d",
                             b"proj", b"vexu", b"eyes", b"cams"})
#: Sample entries of video codecs whose children (codec config, st3d, sv3d, ...) follow a 78-byte header.
VISUAL_SAMPLE_ENTRIES = frozenset({b"avc1", b"avc3", b"hvc1", b"hev1", b"dvh1", b"dvhe", b"mp4v", b"vp09",
                                   b"av01", b"apcn", b"apch", b"apcs", b"apco", b"ap4h", b"ap4x", b"encv",
                                   b"jpeg", b"mjpa", b"mjpb"})
VISUAL_SAMPLE_ENTRY_HEADER = 78
#: The largest ``moov`` we read into memory (real ones are kilobytes to a few megabytes).
MAX_MOOV_BYTES = 256 << 20


@dataclass
class Box:
    """One box: its type, the bytes between its header and its children (or all its payload), its children.

    Attributes
    ----------
    type: four bytes, e.g. ``b"st3d"``.
    head: payload bytes before the first child (a FullBox's version/flags, a sample entry's 78 bytes, the
        entry count of ``stsd``); for a leaf box, its whole payload.
    children: the child boxes (empty for a leaf).
    offset: where the box started in the file (bytes), for messages.
    """

    type: bytes
    head: bytes = b""
    children: list["Box"] = field(default_factory=list)
    offset: int = 0

    @property
    def name(self) -> str:
        """The type as text (``'st3d'``)."""
        return self.type.decode("latin-1")

    def child(self, kind: bytes) -> "Box | None":
        """The first child of this type, or None."""
        return next((c for c in self.children if c.type == kind), None)

    def serialize(self) -> bytes:
        """The box as bytes (size recomputed from its contents)."""
        body = self.head + b"".join(c.serialize() for c in self.children)
        size = 8 + len(body)
        if size > 0xFFFFFFFF:
            return struct.pack(">I4sQ", 1, self.type, size + 8) + body
        return struct.pack(">I4s", size, self.type) + body


def _header_len(kind: bytes, parent: bytes | None) -> int | None:
    """Payload bytes before the children of a box that has children, or None for a leaf."""
    if kind in CONTAINER_BOXES:
        return 0
    if kind == b"stsd":
        return 8  # FullBox version/flags + entry count
    if kind in VISUAL_SAMPLE_ENTRIES and parent == b"stsd":
        return VISUAL_SAMPLE_ENTRY_HEADER
    return None


def parse_boxes(data: bytes, start: int = 0, end: int | None = None, parent: bytes | None = None,
                base: int = 0, path: Path | None = None) -> list[Box]:
    """Parse the boxes in ``data[start:end]`` (recursively into known containers).

    Parameters
    ----------
    data: the bytes; base: their offset in the file (for messages); parent: the enclosing box's type.

    Raises
    ------
    MediaError
        A box header is cut off, or a box claims more bytes than its parent holds.
    """
    end = len(data) if end is None else end
    out: list[Box] = []
    pos = start
    where = parent.decode("latin-1") if parent else "the file"
    while pos < end:
        if end - pos < 8:
            raise MediaError(f"damaged MP4 structure: {end - pos} stray bytes at byte {base + pos} inside '{where}'",
                             path=path, hint="the file is damaged; re-export it")
        size, kind = struct.unpack_from(">I4s", data, pos)
        hdr = 8
        if size == 1:
            if end - pos < 16:
                raise MediaError(f"damaged MP4 structure: box '{kind.decode('latin-1')}' at byte {base + pos} "
                                 "is cut off in its header", path=path)
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            hdr = 16
        elif size == 0:
            size = end - pos
        if size < hdr or pos + size > end:
            raise MediaError(f"damaged MP4 structure: box '{kind.decode('latin-1', 'replace')}' at byte {base + pos} "
                             f"claims {size} bytes but '{where}' has {end - pos} left", path=path,
                             hint="the file is damaged or was cut off; re-export it")
        box = Box(kind, offset=base + pos)
        body0, body1 = pos + hdr, pos + size
        head = _header_len(kind, parent)
        if head is None or body1 - body0 < head:
            box.head = bytes(data[body0:body1])
        else:
            box.head = bytes(data[body0:body0 + head])
            box.children = parse_boxes(data, body0 + head, body1, kind, base, path)
        out.append(box)
        pos += size
    return out


@dataclass(frozen=True)
class TopBox:
    """A top-level box: type, where it starts, its total size (bytes)."""

    type: bytes
    offset: int
    size: int


def top_level(path: str | Path) -> list[TopBox]:
    """The top-level boxes of an MP4/MOV file, found by seeking (no media data is read).

    A box cut off at the end of the file is listed with the size that is really there.

    Raises
    ------
    MediaError
        The file does not start like an MP4/MOV, or ``moov`` itself is cut off.
    """
    p = Path(path)
    total = p.stat().st_size
    out: list[TopBox] = []
    with open(p, "rb") as f:
        pos = 0
        while pos + 8 <= total:
            f.seek(pos)
            hdr = f.read(16)
            size, kind = struct.unpack_from(">I4s", hdr)
            if size == 1 and len(hdr) >= 16:
                size = struct.unpack_from(">Q", hdr, 8)[0]
            elif size == 0:
                size = total - pos
            if not pos and not (kind.isalnum() or kind in (b"ftyp", b"free", b"skip", b"wide")):
                raise MediaError("is not an MP4/MOV file (no box structure)", path=p)
            if size < 8:
                raise MediaError(f"damaged MP4 structure: top-level box at byte {pos} has size {size}", path=p)
            if pos + size > total:
                if kind == b"moov":
                    raise MediaError(f"the 'moov' box at byte {pos} claims {size} bytes but the file ends after "
                                     f"{total - pos}", path=p, hint="the file was cut off; re-export it")
                out.append(TopBox(kind, pos, total - pos))
                break
            out.append(TopBox(kind, pos, size))
            pos += size
    return out


def read_moov(path: str | Path) -> tuple[TopBox, list[Box]] | None:
    """The ``moov`` box of an MP4/MOV file as a tree, or None when the file has none."""
    p = Path(path)
    moov = next((b for b in top_level(p) if b.type == b"moov"), None)
    if moov is None:
        return None
    if moov.size > MAX_MOOV_BYTES:
        raise MediaError(f"the 'moov' box is {moov.size >> 20} MB, more than this app reads", path=p)
    with open(p, "rb") as f:
        f.seek(moov.offset)
        data = f.read(moov.size)
    return moov, parse_boxes(data, 0, len(data), None, moov.offset, p)


def video_tracks(moov: Box) -> list[tuple[Box, Box]]:
    """``(trak, sample entry)`` of each video track (handler ``vide``) in a parsed ``moov``."""
    out = []
    for trak in (c for c in moov.children if c.type == b"trak"):
        mdia = trak.child(b"mdia")
        hdlr = mdia.child(b"hdlr") if mdia else None
        if hdlr is None or hdlr.head[8:12] != b"vide":
            continue
        stbl = mdia.child(b"minf").child(b"stbl") if mdia.child(b"minf") else None
        stsd = stbl.child(b"stsd") if stbl else None
        if stsd is None or not stsd.children:
            continue
        out.append((trak, stsd.children[0]))
    return out


def _shift_chunk_offsets(box: Box, delta: int) -> None:
    """Move every ``stco``/``co64`` chunk offset under ``box`` by ``delta`` bytes."""
    for c in box.children:
        _shift_chunk_offsets(c, delta)
    if box.type == b"stco":
        n = struct.unpack_from(">I", box.head, 4)[0]
        offs = struct.unpack_from(f">{n}I", box.head, 8)
        if max(offs, default=0) + delta > 0xFFFFFFFF:
            raise MediaError("the file is too large to add metadata to without 64-bit chunk offsets")
        box.head = box.head[:8] + struct.pack(f">{n}I", *(o + delta for o in offs))
    elif box.type == b"co64":
        n = struct.unpack_from(">I", box.head, 4)[0]
        offs = struct.unpack_from(f">{n}Q", box.head, 8)
        box.head = box.head[:8] + struct.pack(f">{n}Q", *(o + delta for o in offs))


def rewrite_moov(path: str | Path, moov_box: Box, moov_at: TopBox, out: str | Path) -> None:
    """Write ``path`` to ``out`` with its ``moov`` replaced by ``moov_box`` (chunk offsets fixed).

    When ``moov`` comes before the media data (``+faststart``), a larger ``moov`` moves every sample, so the
    chunk offsets grow by the difference; when it comes after, nothing moves.
    """
    p = Path(path)
    new = moov_box.serialize()
    delta = len(new) - moov_at.size
    tops = top_level(p)
    if delta and any(t.type == b"mdat" and t.offset > moov_at.offset for t in tops):
        _shift_chunk_offsets(moov_box, delta)
        new = moov_box.serialize()
        if len(new) - moov_at.size != delta:  # the offsets table changed size (32 -> 64 bit): not handled
            raise MediaError("the chunk offsets changed size while adding metadata", path=p)
    with open(p, "rb") as src, open(out, "wb") as dst:
        _copy(src, dst, 0, moov_at.offset)
        dst.write(new)
        src.seek(moov_at.offset + moov_at.size)
        while True:
            chunk = src.read(8 << 20)
            if not chunk:
                break
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())


def _copy(src, dst, start: int, stop: int) -> None:
    src.seek(start)
    left = stop - start
    while left > 0:
        chunk = src.read(min(left, 8 << 20))
        if not chunk:
            break
        dst.write(chunk)
        left -= len(chunk)
