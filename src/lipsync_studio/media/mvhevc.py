"""Two views in one HEVC stream (MV-HEVC: Apple spatial video, x265 ``--multiview-config``), read as two eyes.

FFmpeg's HEVC decoder gives the base view only, unless asked for all views (its ``view_ids`` option, -1);
then every access unit comes out as two frames with the same time, the base view (layer 0) first. The app
shows such a clip as what it is: a stereo pair, which :class:`ViewPair` packs side by side (full width, the left
eye on the left, as :mod:`lipsync_studio.stereo.layout` calls ``sbs``), so every reader of frames (tracking,
syncing, the viewer) sees two eyes without knowing where they came from.

Which view is the left eye: the base view, as Apple's "HEVC Stereo Video" profile and x265's 3D reference
displays SEI (left view id 0) both have it, unless the file's ``vexu`` box says the eye views are reversed
(:func:`eye_order`). (FFmpeg also tags each frame with its view, but PyAV 18 cannot read that side data type.)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

#: The decoder option that makes FFmpeg's HEVC decoder output every view of a multiview stream.
ALL_VIEWS = {"view_ids": "-1"}


def ask_for_all_views(stream) -> bool:
    """Ask a PyAV video stream's decoder for every view (before its first decode); True when it is HEVC (the only
    codec with views here), else nothing is changed."""
    cc = stream.codec_context
    if cc.name != "hevc":
        return False
    cc.options = {**cc.options, **ALL_VIEWS}
    return True


def count_views(path: str | Path) -> int:
    """How many views the first video stream of ``path`` decodes to: 2 for MV-HEVC, else 1.

    Decodes the first access unit with every view asked for (a few frames at most).
    """
    import av

    from ..errors import MediaError
    from .container import open_input, picture_stream

    first_pts, views = None, 0
    try:
        with open_input(Path(path)) as c:
            picture = picture_stream(c)
            if picture is None or not ask_for_all_views(picture):
                return 1
            for frame in c.decode(picture):
                if views and frame.pts != first_pts:
                    break
                first_pts, views = frame.pts, views + 1
                if frame.pts is None or views > 2:
                    break
    except (av.error.FFmpegError, MediaError):
        return 1
    return views if views == 2 else 1


class ViewPair:
    """The two views of one access unit, as one frame for the readers: ``to_ndarray`` gives the left view and the
    right view side by side, ``(H, 2W, 3)``; ``pts`` and ``rotation`` are the base view's."""

    __slots__ = ("left", "right")

    def __init__(self, left, right) -> None:
        self.left, self.right = left, right

    @property
    def pts(self):
        """Presentation time of the access unit (stream time base)."""
        return self.left.pts

    @property
    def rotation(self) -> float:
        """Display rotation of the base view (degrees)."""
        return self.left.rotation

    @property
    def width(self) -> int:
        """Width of the packed picture (both views), px."""
        return 2 * self.left.width

    @property
    def height(self) -> int:
        """Height of one view, px."""
        return self.left.height

    @property
    def format(self):
        """The base view's pixel format (``av.VideoFormat``)."""
        return self.left.format

    def to_ndarray(self, **kw) -> np.ndarray:
        """Both views side by side (left eye first), converted as PyAV's ``VideoFrame.to_ndarray(**kw)`` does."""
        a, b = self.left.to_ndarray(**kw), self.right.to_ndarray(**kw)
        if a.shape != b.shape:  # a broken second layer: its eye repeats the other rather than misaligning rows
            b = a
        return np.ascontiguousarray(np.concatenate([a, b], axis=1))


def pair_views(frames: Iterable, reversed_eyes: bool = False) -> Iterator[ViewPair]:
    """Group a multiview decoder's frames into :class:`ViewPair` (base view first, unless ``reversed_eyes``).

    An access unit that decoded to one view only (a damaged second layer) repeats that view for both eyes
    rather than pairing views of different times.
    """
    pending = None
    for frame in frames:
        if pending is None:
            pending = frame
            continue
        if frame.pts == pending.pts:
            yield ViewPair(frame, pending) if reversed_eyes else ViewPair(pending, frame)
            pending = None
        else:
            yield ViewPair(pending, pending)
            pending = frame
    if pending is not None:
        yield ViewPair(pending, pending)


def eye_order(entry_boxes: Iterable[tuple[bytes, bytes]]) -> dict[str, object]:
    """What Apple's ``vexu`` box says of the eyes (from :attr:`~.vrmeta.VRMetadata.entry_boxes`).

    Returns
    -------
    dict
        ``left``/``right`` (bool: the stream holds that eye's view), ``reversed`` (bool: the base view is the
        right eye), ``hero`` (``left``/``right``/None), ``baseline_mm`` (float or None), ``projection``
        (the ``prji`` kind, e.g. ``rect``, or None). Empty when there is no ``vexu``.
    """
    from .boxes import parse_boxes

    raw = dict(entry_boxes).get(b"vexu")
    if raw is None:
        return {}
    out: dict[str, object] = {"left": None, "right": None, "reversed": False, "hero": None, "baseline_mm": None,
                              "projection": None}
    vexu = parse_boxes(raw)[0]
    eyes = vexu.child(b"eyes")
    if eyes is not None:
        stri = eyes.child(b"stri")
        if stri is not None and len(stri.head) >= 5:  # FullBox: version/flags, then one byte of flags
            bits = stri.head[4]
            out.update(left=bool(bits & 1), right=bool(bits & 2), reversed=bool(bits & 8))
        hero = eyes.child(b"hero")
        if hero is not None and len(hero.head) >= 5:
            out["hero"] = {1: "left", 2: "right"}.get(hero.head[4])
    cams = vexu.child(b"cams")
    blin = cams.child(b"blin") if cams is not None else None
    if blin is not None and len(blin.head) >= 8:  # micrometres
        out["baseline_mm"] = int.from_bytes(blin.head[4:8], "big") / 1000.0
    proj = vexu.child(b"proj")
    prji = proj.child(b"prji") if proj is not None else None
    if prji is not None and len(prji.head) >= 8:
        out["projection"] = prji.head[4:8].decode("latin-1")
    return out


def vexu_box(*, reversed_eyes: bool = False, hero: str | None = "left", baseline_mm: float | None = None) -> bytes:
    """A ``vexu`` box declaring a stereo pair (both eye views present), as Apple's spatial video carries it."""
    import struct

    def box(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I4s", 8 + len(body), kind) + body

    full = b"\0\0\0\0"
    eyes = box(b"stri", full + bytes([3 | (8 if reversed_eyes else 0)]))
    if hero is not None:
        eyes += box(b"hero", full + bytes([{"left": 1, "right": 2}[hero]]))
    body = box(b"eyes", eyes)
    if baseline_mm is not None:
        body += box(b"cams", box(b"blin", full + struct.pack(">I", int(round(baseline_mm * 1000)))))
    return box(b"vexu", body)
