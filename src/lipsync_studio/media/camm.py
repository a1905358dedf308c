"""Keeping a clip's camera motion track (``camm``: VR180 cameras' gyroscope, accelerometer, position samples).

FFmpeg reads a ``camm`` track as a data stream with no codec and its MP4 muxer refuses to write one, so a synced
output would lose it. Here the track is carried over at the box level: its samples (the bytes, untouched) are
appended to the output in a new ``mdat``, and a copy of its ``trak`` (sample entry, handler, edit list as they
were) with new sample tables, duration and track id is added to the output's ``moov``. Samples that start after
the output ends are left out. MP4 and MOV outputs only; for others the caller warns that the track is dropped.
"""

from __future__ import annotations

import copy
import itertools
import os
import struct
from pathlib import Path

from ..errors import MediaError
from .boxes import Box, read_moov, rewrite_moov, top_level

#: Sample entry types of the camera motion tracks carried over.
MOTION_ENTRIES = frozenset({b"camm"})


def _stbl(trak: Box) -> Box | None:
    mdia = trak.child(b"mdia")
    minf = mdia.child(b"minf") if mdia is not None else None
    return minf.child(b"stbl") if minf is not None else None


def motion_tracks(path: str | Path) -> list[Box]:
    """The ``camm`` tracks (``trak`` boxes) of an MP4/MOV file; empty for other files or when there are none."""
    try:
        found = read_moov(path)
    except MediaError:
        return []
    if found is None:
        return []
    out = []
    for trak in (c for c in found[1][0].children if c.type == b"trak"):
        stbl = _stbl(trak)
        stsd = stbl.child(b"stsd") if stbl is not None else None
        if stsd is not None and stsd.children and stsd.children[0].type in MOTION_ENTRIES:
            out.append(trak)
    return out


def track_id(trak: Box) -> int:
    """The track's id (its ``tkhd``), as FFmpeg numbers the stream (``stream.id``)."""
    head = trak.child(b"tkhd").head
    return struct.unpack_from(">I", head, 20 if head[0] == 1 else 12)[0]


def _u32s(head: bytes, at: int, n: int) -> tuple[int, ...]:
    return struct.unpack_from(f">{n}I", head, at)


def track_samples(trak: Box, path: Path) -> tuple[list[int], list[int], list[int]]:
    """A track's samples: file offsets, sizes (bytes) and durations (its media time scale), from its sample
    tables (``stsz``, ``stsc``, ``stco``/``co64``, ``stts``).

    Raises
    ------
    MediaError
        A sample table is missing or damaged (named, with its byte offset).
    """
    stbl = _stbl(trak)
    boxes = {c.type: c for c in (stbl.children if stbl is not None else [])}
    try:
        stsz = boxes[b"stsz"].head
        fixed, count = _u32s(stsz, 4, 2)
        sizes = [fixed] * count if fixed else list(_u32s(stsz, 12, count))
        stsc = boxes[b"stsc"].head
        runs = [_u32s(stsc, 8 + 12 * k, 3) for k in range(_u32s(stsc, 4, 1)[0])]
        if b"co64" in boxes:
            co = boxes[b"co64"].head
            chunks = list(struct.unpack_from(f">{_u32s(co, 4, 1)[0]}Q", co, 8))
        else:
            co = boxes[b"stco"].head
            chunks = list(_u32s(co, 8, _u32s(co, 4, 1)[0]))
        stts = boxes[b"stts"].head
        durations: list[int] = []
        for k in range(_u32s(stts, 4, 1)[0]):
            n, delta = _u32s(stts, 8 + 8 * k, 2)
            durations += [delta] * n
    except (KeyError, struct.error) as exc:
        where = f" at byte {stbl.offset}" if stbl is not None else ""
        raise MediaError(f"damaged sample tables in the camera motion track{where} ({exc})", path=path) from None
    offsets: list[int] = []
    for c, start in enumerate(chunks, 1):
        per_chunk = next((r[1] for r in reversed(runs) if r[0] <= c), 0)
        pos = start
        for _ in range(per_chunk):
            if len(offsets) == count:
                break
            offsets.append(pos)
            pos += sizes[len(offsets) - 1]
    if len(offsets) != count or len(durations) < count:
        raise MediaError("the camera motion track's sample tables disagree on its sample count", path=path)
    return offsets, sizes, durations[:count]


def _set_duration(box: Box, at_v0: int, at_v1: int, value: int) -> None:
    """Write a duration field of a v0/v1 FullBox (``mdhd``, ``tkhd``) in place."""
    head = bytearray(box.head)
    if head[0] == 1:
        struct.pack_into(">Q", head, at_v1, value)
    else:
        struct.pack_into(">I", head, at_v0, min(value, 0xFFFFFFFF))
    box.head = bytes(head)


def _carried_trak(trak: Box, sizes: list[int], durations: list[int], chunk_offset: int, track_id: int,
                  movie_timescale: int) -> Box:
    """A copy of ``trak`` whose samples are ``sizes``/``durations``, in one chunk at ``chunk_offset``."""
    new = copy.deepcopy(trak)
    mdia = new.child(b"mdia")
    mdhd = mdia.child(b"mdhd")
    timescale = struct.unpack_from(">I", mdhd.head, 20 if mdhd.head[0] == 1 else 12)[0]
    media_duration = sum(durations)
    _set_duration(mdhd, 16, 24, media_duration)
    movie_duration = int(round(media_duration * movie_timescale / max(timescale, 1)))
    tkhd = new.child(b"tkhd")
    head = bytearray(tkhd.head)
    struct.pack_into(">I", head, 20 if head[0] == 1 else 12, track_id)
    tkhd.head = bytes(head)
    _set_duration(tkhd, 20, 28, movie_duration)
    edts = new.child(b"edts")
    elst = edts.child(b"elst") if edts is not None else None
    if elst is not None:
        v1 = elst.head[0] == 1
        n = struct.unpack_from(">I", elst.head, 4)[0]
        media_time = struct.unpack_from(">q" if v1 else ">i", elst.head, 16 if v1 else 12)[0] if n else -1
        if n == 1 and media_time == 0:  # the whole track from its start: its length follows the new duration
            head = bytearray(elst.head)
            struct.pack_into(">Q" if v1 else ">I", head, 8, movie_duration)
            elst.head = bytes(head)
        else:  # an edit list this app cannot shorten: the samples play from the track's start
            new.children = [c for c in new.children if c.type != b"edts"]
    stbl = _stbl(new)
    runs: list[list[int]] = []
    for d in durations:
        if runs and runs[-1][1] == d:
            runs[-1][0] += 1
        else:
            runs.append([1, d])
    vf = b"\0\0\0\0"
    tables = {
        b"stts": vf + struct.pack(">I", len(runs)) + b"".join(struct.pack(">2I", *r) for r in runs),
        b"stsc": vf + struct.pack(">4I", 1, 1, len(sizes), 1),
        b"stsz": vf + (struct.pack(">2I", sizes[0], len(sizes)) if len(set(sizes)) == 1
                       else struct.pack(">2I", 0, len(sizes)) + struct.pack(f">{len(sizes)}I", *sizes)),
        b"stco": vf + struct.pack(">2I", 1, chunk_offset),
    }
    stbl.children = [stbl.child(b"stsd")] + [Box(kind, head) for kind, head in tables.items()]
    return new


def carry_motion_tracks(source: str | Path, output: str | Path, seconds: float) -> int:
    """Copy the ``camm`` tracks of ``source`` into ``output`` (an MP4/MOV), up to ``seconds`` of them.

    ``output`` is replaced atomically (a temporary sibling, then a rename); its own media data is not moved
    unless its ``moov`` comes first (then the chunk offsets are shifted, as :func:`.boxes.rewrite_moov` does).

    Returns
    -------
    int
        How many tracks were carried (0 when ``source`` has none).

    Raises
    ------
    MediaError
        ``output`` is not an MP4/MOV, or a track's tables are damaged.
    """
    src = Path(source)
    items = []
    with open(src, "rb") as f:
        for trak in motion_tracks(src):
            offsets, sizes, durations = track_samples(trak, src)
            mdhd = trak.child(b"mdia").child(b"mdhd").head
            end = seconds * struct.unpack_from(">I", mdhd, 20 if mdhd[0] == 1 else 12)[0]
            starts = [0, *itertools.accumulate(durations)][:-1]
            keep = [k for k, s0 in enumerate(starts) if s0 < end]
            if not keep:
                continue
            samples = []
            for k in keep:
                f.seek(offsets[k])
                samples.append(f.read(sizes[k]))
            kept = [durations[k] for k in keep]
            kept[-1] = max(0, min(kept[-1], int(round(end - starts[keep[-1]]))))  # ends with the output at most
            items.append((trak, samples, kept))
    return _append_tracks(Path(output), items)


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), kind) + body


def write_motion_track(path: str | Path, samples: list[bytes], durations: list[int], timescale: int) -> int:
    """Add a ``camm`` track to an MP4/MOV (what a VR180 camera writes beside its video), e.g. from a motion log.

    Parameters
    ----------
    samples : list of bytes
        One ``camm`` sample each (little-endian: ``uint16`` reserved, ``uint16`` type, then the type's fields).
    durations : list of int
        Each sample's duration in ``timescale`` units per second.

    Returns
    -------
    int
        1 (the track added).
    """
    vf = b"\0\0\0\0"
    identity = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    tkhd = b"\0\0\0\3" + struct.pack(">5I", 0, 0, 0, 0, 0) + bytes(8) + struct.pack(">4H", 0, 0, 0, 0) \
        + identity + struct.pack(">2I", 0, 0)
    mdhd = vf + struct.pack(">4I2H", 0, 0, timescale, 0, 0x55C4, 0)
    hdlr = vf + struct.pack(">I4s", 0, b"meta") + bytes(12) + b"CameraMetadataMotionHandler\0"
    dref = vf + struct.pack(">I", 1) + _box(b"url ", b"\0\0\0\1")
    entry = _box(b"camm", bytes(6) + struct.pack(">H", 1))
    stbl = _box(b"stbl", _box(b"stsd", vf + struct.pack(">I", 1) + entry))
    minf = _box(b"minf", _box(b"nmhd", vf) + _box(b"dinf", _box(b"dref", dref)) + stbl)
    trak = _box(b"trak", _box(b"tkhd", tkhd) + _box(b"mdia", _box(b"mdhd", mdhd) + _box(b"hdlr", hdlr) + minf))
    from .boxes import parse_boxes

    return _append_tracks(Path(path), [(parse_boxes(trak)[0], list(samples), list(durations))])


def _append_tracks(out: Path, items: list[tuple[Box, list[bytes], list[int]]]) -> int:
    """Add tracks made from ``(trak template, sample bytes, sample durations)`` to ``out`` (see the module doc)."""
    from .output import atomic_output

    if not items:
        return 0
    found = read_moov(out)
    if found is None:
        raise MediaError("has no 'moov' box to add the camera motion track to", path=out,
                         hint="only MP4/MOV files can carry it")
    moov_at, (moov,) = found
    mvhd = moov.child(b"mvhd")
    movie_timescale = struct.unpack_from(">I", mvhd.head, 20 if mvhd.head[0] == 1 else 12)[0]
    used = [track_id(t) for t in moov.children if t.type == b"trak"]
    next_id = max([struct.unpack_from(">I", mvhd.head, len(mvhd.head) - 4)[0], *(u + 1 for u in used)])
    new_traks, starts, payload = [], [], bytearray()
    for k, (trak, samples, durations) in enumerate(items):
        starts.append(len(payload))
        payload += b"".join(samples)
        new_traks.append(_carried_trak(trak, [len(x) for x in samples], durations, 0, next_id + k, movie_timescale))
    at = next((k for k, c in enumerate(moov.children) if c.type not in (b"mvhd", b"trak")), len(moov.children))
    moov.children[at:at] = new_traks
    head = bytearray(mvhd.head)
    struct.pack_into(">I", head, len(head) - 4, next_id + len(new_traks))
    mvhd.head = bytes(head)
    # The new samples go in an mdat after the whole rewritten file: the moov grows by delta (rewrite_moov adds
    # delta to every chunk offset itself when the moov comes before the media data).
    moov_last = not any(t.type == b"mdat" and t.offset > moov_at.offset for t in top_level(out))
    delta = len(moov.serialize()) - moov_at.size
    base = out.stat().st_size + (delta if moov_last else 0) + 8
    if out.stat().st_size + delta + 8 + len(payload) > 0xFFFFFFFF:
        raise MediaError("is too large to add the camera motion track to (it would need 64-bit offsets)", path=out)
    for trak, offset in zip(new_traks, starts):
        stco = _stbl(trak).child(b"stco")
        stco.head = stco.head[:8] + struct.pack(">I", base + offset)
    with atomic_output(out) as tmp:
        rewrite_moov(out, moov, moov_at, tmp)
        with open(tmp, "ab") as f:
            f.write(struct.pack(">I4s", 8 + len(payload), b"mdat"))
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
    return len(new_traks)
