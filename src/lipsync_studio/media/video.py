"""Reading video: frames streamed on a constant-rate timeline, random access for scrubbing.

A :class:`VideoReader` never holds the clip in memory. It scans the packet index once (no decoding) to know
the exact frame count, the frame times and whether the file is damaged, then decodes on demand:
sequentially for processing, or seeking to the keyframe before a frame for scrubbing, with a small cache.
Rotation metadata (phone videos) is applied, so frames come out the way a player shows them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import MediaError
from .container import check_readable, open_input, picture_stream
from .colourspace import PLAIN, Colour
from .exif import ORIENTATIONS, jpeg_orientation
from .fields import PROGRESSIVE, field_order_of, is_interlaced, unweave
from .picture import PictureFormat
from .mvhevc import ask_for_all_views, eye_order, pair_views
from .timeline import Timeline
from .warnings import warn_media


#: FFmpeg's scaler on one thread for every conversion (PyAV's default is its own threads, "auto"): a conversion object
#: that the child of a fork frees - Python drops the other threads' objects there - waits forever for scaler threads the
#: child does not have. Ray's start forked the app and ran Python code in the child (preexec_fn): the batch window's
#: Ray start hung so in CI, thumbnails being converted beside it (gdb on the child: sws_freeContext ->
#: avpriv_slicethread_free -> pthread_cond_destroy). The private Ray's head is a process of its own now
#: (batch.ray_head); this stays for any library that forks so. Our conversions run in threads of their own already.
SWS_ONE_THREAD = {"threads": 1}
#: The decoders of still images, and what their formats are called.
PHOTO_CODECS = {"mjpeg": "JPEG", "png": "PNG", "webp": "WebP", "bmp": "BMP", "tiff": "TIFF", "heic": "HEIC",
                "heif": "HEIF", "avif": "AVIF"}


@dataclass(frozen=True)
class VideoInfo:
    """What the app sees in a video stream.

    Attributes
    ----------
    path: the file.
    width, height: frame size in pixels as displayed (after rotation).
    fps: timeline frame rate (exact fraction).
    n_frames: frames on the constant-rate timeline.
    duration: seconds (``n_frames / fps``).
    rotation: degrees counter-clockwise the player turns the stored picture (0, 90, 180, 270).
    codec: decoder name (h264, hevc, vp9, prores, ...).
    pix_fmt: stored pixel format.
    vfr: True when the source frames are unevenly spaced and were mapped onto the timeline.
    source_frames: frames actually stored (and readable) in the file.
    damaged_at: seconds into the clip where the file is cut off or damaged, else None.
    stream_index: index of the video stream in the container.
    views: 2 for two views in one stream (MV-HEVC, spatial video): frames are then both views side by side,
        left eye first (``width`` is both), see :mod:`.mvhevc`; else 1.
    eyes_reversed: for two views, True when the file says the base view is the right eye.
    colour: the stream's declared YUV matrix, primaries, transfer, range and bit depth (:mod:`.colourspace`): what
        is written from this clip's pictures declares and converts with the same.
    sample_aspect: the shape of one pixel as displayed (width / height; 1 for square pixels): anamorphic video
        (PAL/NTSC 16:9 at 720 wide, HDV's 1440 x 1080) is shown wider than it is stored.
    timecode: the first frame's SMPTE time code as the file says it (``HH:MM:SS:FF``, ``;`` for drop-frame), or
        None (see :mod:`.timecode`).
    field_order: ``progressive``, or for interlaced video which field a player shows first, ``tff`` or ``bff``
        (:mod:`.fields`): the pictures read from such a clip are its first fields' moments, what is written from
        it keeps both fields where nothing was drawn and declares the same order.
    mirrored: the stored picture is shown mirrored left to right, before :attr:`rotation` turns it (a photo's EXIF
        orientation 2, 4, 5 or 7, :mod:`.exif`).
    transparent: a picture with transparent pixels: a still photo cut out of its background (PNG, WebP, TIFF,
        HEIC), or a video keyed out of its own (ProRes 4444 or VP9 with alpha, as compositing delivers), judged by
        its first picture; the frames are its colours as stored, alpha left out: a photo's alpha (a video's first
        picture's) is :meth:`VideoReader.alpha`, a video's each frame's the :attr:`DecodedFrame.alpha` of
        ``iter_frames(planes=True)``.
    """

    path: Path
    width: int
    height: int
    fps: Fraction
    n_frames: int
    duration: float
    rotation: int
    codec: str
    pix_fmt: str
    vfr: bool
    source_frames: int
    damaged_at: float | None
    stream_index: int
    views: int = 1
    eyes_reversed: bool = False
    colour: Colour = PLAIN
    sample_aspect: Fraction = Fraction(1)
    timecode: str | None = None
    field_order: str = PROGRESSIVE
    mirrored: bool = False
    transparent: bool = False

    @property
    def picture(self) -> PictureFormat:
        """What a result written from this clip's pictures keeps of it (colour, pixel shape, fields, time code)."""
        return PictureFormat(self.colour, self.sample_aspect, self.field_order, self.timecode)

    @property
    def photo(self) -> str | None:
        """The image format's name (``"JPEG"``, ``"PNG"``, ...) where the clip is a still photo, else None."""
        return PHOTO_CODECS.get(self.codec) if self.n_frames == 1 else None

    @property
    def interlaced(self) -> bool:
        """Whether each frame holds two fields taken half a frame apart (:attr:`field_order`)."""
        return is_interlaced(self.field_order)

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) as a player shows the picture: the stored width scaled by the pixel shape."""
        return int(round(self.width * self.sample_aspect)), self.height

    @property
    def timeline(self) -> Timeline:
        """The clip's constant-rate timeline."""
        return Timeline(fps=self.fps, n_frames=self.n_frames, vfr=self.vfr)


#: Colour matrices of frames whose planes may go to our 4:2:0 encoder as decoded: the RGB they decode to is converted
#: back with the same matrix (:func:`~.writer.rgb_to_i420`), so a box redrawn in RGB matches the planes around it.
#: H.273 codes: 1 BT.709, 2 unspecified (read as BT.601), 5 BT.470BG, 6 SMPTE 170M, 9 BT.2020 (non-constant).
_OWN_MATRICES = (1, 2, 5, 6, 9)


class PartialRGB(np.ndarray):
    """An (H, W, 3) uint8 RGB frame of which only the ``valid`` box (``x0, y0, x1, y1``) holds the picture's
    pixels (:meth:`DecodedFrame.rgb_within`); the rest is undefined. Views and copies keep the box."""

    valid: tuple[int, int, int, int] = (0, 0, 0, 0)

    def __array_finalize__(self, obj) -> None:
        self.valid = getattr(obj, "valid", (0, 0, 0, 0))

    def holds(self, box: tuple[int, int, int, int]) -> bool:
        """Whether the pixels of ``box`` (``x0, y0, x1, y1``, cut to the frame) are all valid, with the pixel
        around it that a 4:2:0 writer converts too (:func:`converted_box`)."""
        h, w = self.shape[:2]
        x0, y0, x1, y1 = converted_box(box, w, h)
        vx0, vy0, vx1, vy1 = self.valid
        return x0 >= vx0 and y0 >= vy0 and x1 <= vx1 and y1 <= vy1


def converted_box(box: tuple[int, int, int, int], width: int, height: int) -> tuple[int, int, int, int]:
    """``box`` (``x0, y0, x1, y1``) and the pixels around it, cut to a ``width`` x ``height`` frame: what a 4:2:0
    writer converts of a frame redrawn in ``box`` (it widens the box to even columns, and to even rows, or for an
    interlaced picture to rows in fours: each field's chroma rows alternate)."""
    x0, y0, x1, y1 = box
    return max(x0 - 1, 0), max(y0 - 3, 0), min(x1 + 1, width), min(y1 + 3, height)


def blank_i420(width: int, height: int):
    """A new ``av.VideoFrame`` (``yuv420p``, even sizes, its pixels undefined) and numpy views of its Y, U and V
    planes ((H, W), (H/2, W/2), (H/2, W/2) uint8) to write into."""
    import av

    vf = av.VideoFrame(width, height, "yuv420p")
    views = []
    for k, (pw, ph) in enumerate(((width, height), (width // 2, height // 2), (width // 2, height // 2))):
        plane = vf.planes[k]
        views.append(np.frombuffer(plane, np.uint8).reshape(ph, plane.line_size)[:, :pw])
    return vf, views


def i420_frame(planes: np.ndarray):
    """An ``av.VideoFrame`` (``yuv420p``) holding a copy of ``planes`` ((H * 3/2, W) uint8 planar 4:2:0, even
    sizes), and numpy views of its Y, U and V planes (:func:`blank_i420`).

    The planes are copied once, straight into the frame's own buffers (``from_ndarray`` costs a third more: 1.97
    against 1.46 ms to convert a 1080p frame to RGB through it).
    """
    h, w = planes.shape[0] * 2 // 3, planes.shape[1]
    vf, views = blank_i420(w, h)
    y, u, v = yuv_views(planes)
    views[0][:], views[1][:], views[2][:] = y, u, v
    return vf, views


def yuv_views(planes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The Y, U and V planes of (H * 3/2, W) uint8 planar 4:2:0 (views where ``planes`` is contiguous)."""
    h, w = planes.shape[0] * 2 // 3, planes.shape[1]
    flat, q = planes.reshape(-1), (h // 2) * (w // 2)
    return (planes[:h], flat[h * w:h * w + q].reshape(h // 2, w // 2),
            flat[h * w + q:h * w + 2 * q].reshape(h // 2, w // 2))


def _i420_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray, matrix: int, fields: bool = False) -> np.ndarray:
    """(H, W, 3) uint8 RGB of 4:2:0 planes ((H, W), (H/2, W/2) twice) in the YUV ``matrix``. With ``fields`` (an
    interlaced picture, H a multiple of 4) each field is converted alone, as its own chroma rows belong to it
    (alternate chroma rows are alternate fields'): converted as one picture, each row's colour mixed the two
    moments, up to 40 levels off where something moved."""
    h, w = y.shape
    if fields and h % 4 == 0:
        out = np.empty((h, w, 3), np.uint8)
        for first in (0, 1):
            out[first::2] = _i420_rgb(y[first::2], u[first::2], v[first::2], matrix)
        return out
    vf, (py, pu, pv) = blank_i420(w, h)
    py[:], pu[:], pv[:] = y, u, v
    vf.colorspace = matrix
    return vf.to_ndarray(format="rgb24", **SWS_ONE_THREAD)


class DecodedFrame:
    """One decoded picture: its RGB, and the decoder's own 4:2:0 planes where they can be written as they are.

    Parameters
    ----------
    planes : ndarray or None
        (H * 3/2, W) uint8 planar 4:2:0 (Y, then U, then V), exactly as decoded: 8-bit limited range, neither
        rotated nor two views, even sizes; None for any other picture (its RGB is then all there is).
    rgb : ndarray or None
        (H, W, 3) uint8 RGB; None: converted from ``planes`` when first asked for (as the decoder would have).
    matrix : int
        The planes' YUV matrix (H.273 code: 1 BT.709, 2 unspecified as BT.601, 5/6 BT.601, 9 BT.2020).
    fields : str or None
        The field order of an interlaced picture (:mod:`.fields`): its :attr:`rgb` is then the first field's moment
        and ``rgb`` (given) or :attr:`woven` the picture as decoded.

    A writer taking 4:2:0 (:meth:`~.writer.VideoWriter.write`) passes the planes of an unchanged frame to the
    encoder untouched and converts only the changed box of a redrawn one: at 1080p a whole frame's RGB to 4:2:0
    costs ~3.5 ms of CPU, and every such round trip moves colours by a level or two.
    """

    __slots__ = ("planes", "_rgb", "matrix", "fields", "_woven", "alpha")

    def __init__(self, planes: np.ndarray | None, rgb: np.ndarray | None = None, matrix: int = 2,
                 fields: str | None = None, alpha: np.ndarray | None = None) -> None:
        if planes is None and rgb is None:
            raise ValueError("a decoded frame needs its planes or its RGB")
        self.planes = planes
        #: (H, W) uint8, a transparent video's alpha for this picture (255 opaque); None: no alpha read (a photo's
        #: one alpha is :meth:`VideoReader.alpha`).
        self.alpha = alpha
        self.matrix = matrix
        #: The clip's field order where the picture is interlaced (:mod:`.fields`), else None.
        self.fields = fields if is_interlaced(fields) else None
        # For an interlaced picture ``rgb`` is as decoded (both fields); what is looked at is its first field's moment.
        self._woven = rgb if self.fields else None
        self._rgb = None if self.fields else rgb

    def _converted(self) -> np.ndarray:
        y, u, v = yuv_views(self.planes)
        return _i420_rgb(y, u, v, self.matrix, self.fields is not None)

    @property
    def rgb(self) -> np.ndarray:
        """(H, W, 3) uint8 RGB of the picture (of an interlaced one, its first field's moment: :func:`.fields.unweave`)."""
        if self._rgb is None:
            self._rgb = unweave(self.woven, self.fields) if self.fields else self._converted()
        return self._rgb

    def one_moment(self) -> "DecodedFrame":
        """This picture as one moment (its first field's, :attr:`rgb`) and no fields: what is written of an interlaced
        frame shown out of its order (held, or played backwards), whose second field would otherwise move against
        the play."""
        return DecodedFrame(None, self.rgb, alpha=self.alpha) if self.fields else self

    @property
    def woven(self) -> np.ndarray:
        """(H, W, 3) uint8 RGB as decoded: for an interlaced picture both fields, woven (what a writer in its field
        order encodes where nothing was drawn); else :attr:`rgb`."""
        if self.fields is None:
            return self.rgb
        if self._woven is None:
            self._woven = self._converted()
        return self._woven

    def rgb_within(self, box: tuple[int, int, int, int]) -> np.ndarray:
        """A :class:`PartialRGB` whose pixels inside ``box`` (``x0, y0, x1, y1``; its ``valid`` box, that widened)
        are the picture's RGB, exactly as :attr:`rgb` has them, converted from the planes there alone; the pixels
        outside are undefined. The whole :attr:`rgb` where it is already there (or there are no planes).

        An engine that reads and redraws only a box around the face (``BuiltinEngine.reads``) needs no more: at
        1080p a whole frame's conversion costs ~4 ms of CPU, a face's box a few tenths. The box is widened to even
        columns and a multiple of four rows (a chroma sample covers 2x2 pixels); converted so, it is identical to
        the whole frame's conversion there (of an interlaced picture, the box's own rows are unwoven).
        """
        if self._rgb is not None or self.planes is None:
            return self.rgb
        h, w = self.planes.shape[0] * 2 // 3, self.planes.shape[1]
        x0, y0, x1, y1 = (int(v) for v in box)
        x0, y0 = max(0, x0 - x0 % 2), max(0, y0 - y0 % (4 if self.fields else 2))  # fields: chroma rows alternate
        x1, y1 = min(w, x1 + x1 % 2), min(h, y1 + (-(y1 - y0)) % 4)
        y0 = max(0, y0 - (y1 - y0) % 4)  # at the bottom edge: four rows at a time upward instead
        out = np.empty((h, w, 3), np.uint8).view(PartialRGB)
        n, m = y1 - y0, x1 - x0
        if n <= 0 or m <= 0 or n % 4 or (self.fields and y0 % 4):  # fields: a box from a chroma row of each field
            return self.rgb if n > 0 and m > 0 else out
        y, u, v = yuv_views(self.planes)
        part = _i420_rgb(y[y0:y1, x0:x1], u[y0 // 2:y1 // 2, x0 // 2:x1 // 2], v[y0 // 2:y1 // 2, x0 // 2:x1 // 2],
                         self.matrix, self.fields is not None)
        out[y0:y1, x0:x1] = unweave(part, self.fields, first_row=y0) if self.fields else part
        out.valid = (x0, y0, x1, y1)
        return out

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(height, width, 3)``, as the RGB's."""
        if self._rgb is not None or self._woven is not None:
            return (self._rgb if self._rgb is not None else self._woven).shape
        h, w = self.planes.shape
        return h * 2 // 3, w, 3


def changed_pixels(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """(H, W) bool: the pixels where two (H, W, C) pictures differ in any channel (``np.any(after != before,
    axis=2)``, at a tenth of its cost: a reduction over a short last axis is numpy's slow path, 4.5 ms for a
    640 x 640 view)."""
    diff = after != before
    if diff.ndim == 2:
        return diff
    out = diff[..., 0].copy()
    for c in range(1, diff.shape[2]):
        out |= diff[..., c]
    return out


def _planes_of(frame) -> np.ndarray | None:
    """A decoded av frame's 4:2:0 planes when they are 8-bit limited-range with even sizes in a matrix we convert
    with ourselves (:data:`_OWN_MATRICES`), else None."""
    if (getattr(frame, "format", None) is None or frame.format.name != "yuv420p" or frame.width % 2
            or frame.height % 2 or frame.colorspace not in _OWN_MATRICES or frame.color_range not in (0, 1)):
        return None
    return frame.to_ndarray()


def frame_rgb(frame) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a decoded av frame (or :class:`.mvhevc.ViewPair`), in its own YUV matrix.

    A picture of more than 8 bits (10-bit HDR) goes through 16-bit RGB, rounded: FFmpeg's direct conversion of
    10-bit 4:2:0 to 8-bit RGB came out 2-3 levels dark (a flat (30, 23, 18) read back as (27, 20, 16)).
    """
    fmt = getattr(frame, "format", None)
    deep = fmt is not None and fmt.name.startswith(("yuv", "p0")) and any(c.bits > 8 for c in fmt.components)
    if not deep:
        return frame.to_ndarray(format="rgb24", **SWS_ONE_THREAD)
    wide = frame.to_ndarray(format="rgb48le", **SWS_ONE_THREAD).astype(np.uint32)
    return ((wide * 255 + 32767) // 65535).astype(np.uint8)


def _rotate(img: np.ndarray, rotation: int, mirrored: bool = False) -> np.ndarray:
    """The stored picture ``img`` as shown: mirrored left to right if ``mirrored``, then turned ``rotation`` degrees
    counter-clockwise."""
    k = (rotation // 90) % 4
    if mirrored:
        img = img[:, ::-1]
    return np.ascontiguousarray(np.rot90(img, k=k)) if k or mirrored else img


#: What :func:`_scan` found, by file (path as given, device, inode, size and modification time): one sync opens its
#: clip four or five times (layout, probe, tracking, drawing, measure), 20-80 ms each at 720p.
_SCANS: dict[tuple, tuple[VideoInfo, int]] = {}
_SCANS_LOCK = threading.Lock()


def _scan(path: Path) -> tuple[VideoInfo, int]:
    """Read the stream's packet timing without decoding pictures; return the info and the origin pts (each file once
    while it is unchanged)."""
    st = check_readable(path).stat()
    key = (str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    with _SCANS_LOCK:
        found = _SCANS.get(key)
    if found is None:
        found = _scan_file(path, st.st_size)
        with _SCANS_LOCK:
            if len(_SCANS) >= 64:
                _SCANS.pop(next(iter(_SCANS)))
            _SCANS[key] = found
    return found


def _scan_file(path: Path, file_size: int) -> tuple[VideoInfo, int]:
    """:func:`_scan` of a file not seen before."""
    import av

    from .stills import still_format

    with open_input(path) as container:
        stream = picture_stream(container)
        if stream is None:
            raise MediaError("has no video stream", path=path, hint="choose a video file for the clip")
        tb = stream.time_base
        damaged_at: float | None = None
        entries = stream.index_entries
        if stream.frames > 0 and len(entries) == stream.frames:
            # MP4/MOV: the sample table lists every frame; samples past the end of the file are lost.
            ts = np.fromiter((e.timestamp for e in entries), dtype=np.int64, count=len(entries))
            ends = np.fromiter((e.pos + e.size for e in entries), dtype=np.int64, count=len(entries))
            lost = ends > file_size
            if lost.any():
                first_lost = int(np.argmax(lost))
                damaged_at = float((ts[first_lost] - ts.min()) * tb)
                ts = ts[:first_lost]
        else:
            pts = []
            try:
                for packet in container.demux(stream):
                    if packet.size and packet.pts is not None:
                        pts.append(packet.pts)
            except av.error.FFmpegError:
                damaged_at = float((max(pts) - min(pts)) * tb) if pts else 0.0
            ts = np.asarray(pts, dtype=np.int64)
        if len(ts) == 0:
            raise MediaError("contains no readable video frames", path=path, hint="the file is damaged or empty")
        origin = int(stream.start_time) if stream.start_time is not None else int(ts.min())
        times = (ts - ts.min()).astype(np.float64) * float(tb)
        rate_hint = stream.average_rate or stream.guessed_rate
        timeline = Timeline.from_frame_times(times, Fraction(rate_hint) if rate_hint else None)

        # Rotation is only known reliably from a decoded frame's display matrix; the views of the first access
        # unit (two frames at one time for MV-HEVC) tell how many eyes the stream holds.
        rotation, views, first = 0, 1, None
        try:
            container.seek(0)
            ask_for_all_views(stream)
            for frame in container.decode(stream):
                if first is None:
                    rotation, first = int(round(frame.rotation or 0)) % 360, frame
                    if frame.pts is not None and stream.codec_context.name == "hevc":
                        continue
                elif frame.pts == first.pts:
                    views = 2
                break
        except av.error.FFmpegError as exc:
            raise MediaError("its video cannot be decoded", path=path, hint=str(exc)) from exc
        cc = stream.codec_context
        # A photo: turned as its EXIF says (a phone's portrait photo). FFmpeg's display matrix from the EXIF drops
        # its mirror (and its first frame after the seek above does not always come back: a photo read on its side).
        mirrored = False
        orientation = jpeg_orientation(path) if cc.name == "mjpeg" else 1
        if orientation != 1:
            rotation, mirrored = ORIENTATIONS[orientation]
        w, h = cc.width * views, cc.height
        if rotation in (90, 270):
            w, h = h, w
        transparent = ((_has_alpha(cc.pix_fmt) or _vp9_with_alpha(stream))
                       and _still_alpha(container, stream) is not None)
        still = still_format(path)  # a HEIC/AVIF photo, read from the TIFF it was decoded into: named as itself
        info = VideoInfo(
            path=path, width=w, height=h, fps=timeline.fps, n_frames=timeline.n_frames,
            duration=timeline.duration, rotation=rotation, codec=still.lower() if still else cc.name,
            pix_fmt=cc.pix_fmt or "?",
            vfr=timeline.vfr, source_frames=len(ts), damaged_at=damaged_at, stream_index=stream.index,
            views=views, eyes_reversed=views == 2 and _eyes_reversed(path), colour=Colour.of_stream(cc),
            sample_aspect=_sample_aspect(stream, rotation), timecode=_timecode(container, stream),
            field_order=field_order_of(cc.field_order, bool(first is not None and first.interlaced_frame), cc.name,
                                       cc.height), mirrored=mirrored, transparent=transparent,
        )
    return info, origin


def _has_alpha(pix_fmt: str | None) -> bool:
    """Whether pixels stored as ``pix_fmt`` carry an alpha component (rgba, ya8, yuva420p, gbrap, ...)."""
    import av

    try:
        return any(c.is_alpha for c in av.VideoFormat(pix_fmt).components) if pix_fmt else False
    except (ValueError, av.error.FFmpegError):
        return False


def _vp9_with_alpha(stream) -> bool:
    """A VP9 stream whose alpha rides beside each frame (WebM's ``alpha_mode``): FFmpeg's own VP9 decoder drops it."""
    return stream.codec_context.name == "vp9" and str((stream.metadata or {}).get("alpha_mode", "")).strip() == "1"


def decode_pictures(container, stream) -> Iterator:
    """The stream's decoded pictures (``container.decode(stream)``); a VP9 stream with alpha through libvpx, which
    reads the alpha (a keyed WebM came in opaque). From where the container stands (after a seek: from there)."""
    if not _vp9_with_alpha(stream):
        return container.decode(stream)
    import av

    def with_alpha() -> Iterator:
        dec = av.CodecContext.create("libvpx-vp9", "r")
        if stream.codec_context.extradata:
            dec.extradata = stream.codec_context.extradata
        for packet in container.demux(stream):
            yield from dec.decode(packet if packet.size else None)

    return with_alpha()


def _still_alpha(container, stream) -> np.ndarray | None:
    """The alpha plane (H, W) uint8 of a still's picture as stored, or None where every pixel is opaque (an RGBA
    PNG that covers its whole frame is no cut-out)."""
    import av

    try:
        container.seek(0)
        frame = next(iter(decode_pictures(container, stream)), None)
    except av.error.FFmpegError:
        return None
    if frame is None:
        return None
    alpha = _alpha_of(frame)
    return alpha if int(alpha.min()) < 255 else None


def _alpha_of(frame) -> np.ndarray:
    """(H, W) uint8: a decoded picture's alpha plane as stored (255 opaque)."""
    return np.ascontiguousarray(frame.to_ndarray(format="rgba", **SWS_ONE_THREAD)[..., 3])


def _sample_aspect(stream, rotation: int) -> Fraction:
    """The shape of a displayed pixel (width / height) the stream declares (container first, then the codec's);
    1 where none or nonsense is declared. A picture turned by a quarter turns its pixels too."""
    for sar in (stream.sample_aspect_ratio, stream.codec_context.sample_aspect_ratio):
        if sar is not None and sar.numerator > 0 and sar.denominator > 0 and 0.2 <= sar <= 5:
            sar = Fraction(sar.numerator, sar.denominator)
            return 1 / sar if rotation in (90, 270) else sar
    return Fraction(1)


def _timecode(container, stream) -> str | None:
    """The start time code the file declares: on the picture's stream, on a time-code track (MOV/MP4 ``tmcd``), or
    on the file (MXF, Matroska)."""
    for md in [stream.metadata] + [s.metadata for s in container.streams if s.type == "data"] + [container.metadata]:
        tc = (md or {}).get("timecode")
        if tc:
            return str(tc).strip()
    return None


def _eyes_reversed(path: Path) -> bool:
    """True when an MV-HEVC file's ``vexu`` box says its base view is the right eye."""
    from .vrmeta import read_vr_metadata

    return bool(eye_order(read_vr_metadata(path, side_data=False).entry_boxes).get("reversed"))


def probe_video(path: str | Path) -> VideoInfo:
    """Describe the first video stream of ``path`` (exact frame count, rate, rotation, damage).

    Raises
    ------
    MediaError
        The file is unreadable or has no video stream.
    """
    return _scan(Path(path))[0]


class VideoReader:
    """Frames of a clip on its constant-rate timeline, streamed or by index.

    Parameters
    ----------
    path:
        The video file.
    cache_frames:
        How many decoded frames random access keeps (a scrubbing cache).

    Frames are ``(height, width, 3) uint8 RGB`` arrays, rotated as a player shows them.
    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, path: str | Path, cache_frames: int = 32) -> None:
        self.info, self._origin = _scan(Path(path))
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_frames = cache_frames
        self._container = None
        self._cursor: Iterator[tuple[int, np.ndarray]] | None = None
        self._cursor_next = -1
        self._warned = False
        self._last_key = -1  # timeline index of the last keyframe decoded
        self._key_interval = 0  # the longest run between consecutive keyframes seen (frames; 0: none yet)
        self._planar: bool | None = None  # frames as DecodedFrame (True: their RGB converted at once), or arrays

    # -- lifetime ---------------------------------------------------------------------------------------
    def close(self) -> None:
        """Release the decoder."""
        self._cursor = None
        if self._container is not None:
            self._container.close()
            self._container = None

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self.info.n_frames

    # -- decoding ---------------------------------------------------------------------------------------
    def _open(self):
        if self._container is None:
            self._container = open_input(self.info.path)
            stream = self._container.streams[self.info.stream_index]
            stream.thread_type = "AUTO"
            if self.info.views > 1:
                ask_for_all_views(stream)
        return self._container

    def _warn_damage(self, seconds: float) -> None:
        if not self._warned:
            self._warned = True
            warn_media(f"{self.info.path}: the video is damaged or cut off at {seconds:.2f} s; "
                       "it was read up to there and the last good frame is held after it", stacklevel=3)

    def _decode_from(self, start: int, wanted: Collection[int] | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(index, frame)`` for timeline frames ``start, start+1, ...`` to the end (only those in
        ``wanted``, when given: the others are decoded but not converted, and decoding stops after the last)."""
        import av

        info = self.info
        n = info.n_frames
        if start >= n:
            return
        if info.damaged_at is not None:
            self._warn_damage(info.damaged_at)
        fps = float(info.fps)
        half = 0.5 / fps
        # Seek a little before the wanted time so the keyframe found is at or before it.
        back = 1.0 / fps
        container, stream, from_top = self._seek(start / fps - back)
        tb = float(stream.time_base)

        i = start
        prev = None  # (time, av frame) of the last decoded frame that starts no later than t_i + half
        last_img = None
        last_wanted = max(wanted) if wanted else n - 1
        prev_key = -1
        frames = self._frames(container, stream)
        while i < n:
            try:
                frame = next(frames)
            except StopIteration:
                if prev is None and not from_top:  # the seek found no keyframe at or after its target
                    back *= 8
                    container, stream, from_top = self._seek(start / fps - back)
                    frames = self._frames(container, stream)
                    continue
                break
            except av.error.FFmpegError:
                self._warn_damage(prev[0] if prev else 0.0)
                break
            if frame.pts is None:
                continue
            t = (frame.pts - self._origin) * tb
            if getattr(frame, "key_frame", False):
                k = int(round(t * fps))
                if prev_key >= 0 and k > prev_key:
                    self._key_interval = max(self._key_interval, k - prev_key)
                prev_key = self._last_key = k
            if prev is None and t > i / fps + half and not from_top:
                # The seek landed after the wanted frame (a sparse index; an MPEG transport stream's seek lands at
                # the first keyframe after its target): seek farther back, at last from the top.
                back *= 8
                container, stream, from_top = self._seek(start / fps - back)
                frames = self._frames(container, stream)
                continue
            while i < n and t > i / fps + half:
                if prev is None:  # nothing before the first frame: it covers the start
                    prev = (t, frame)
                if wanted is None or i in wanted:
                    if last_img is None or last_img[0] is not prev[1]:
                        last_img = (prev[1], self._to_rgb(prev[1]))
                    yield i, last_img[1]
                i += 1
            if i > last_wanted:
                return
            prev = (t, frame)
        # The stream ended (or broke): the last frame covers the rest of the timeline.
        if prev is not None and i < n:
            img = last_img[1] if last_img is not None and last_img[0] is prev[1] else self._to_rgb(prev[1])
            if info.damaged_at is None and i < n - 1:
                self._warn_damage(i / fps)
            while i <= last_wanted:
                if wanted is None or i in wanted:
                    yield i, img
                i += 1

    def _seek(self, t: float):
        """``(container, stream, from_top)`` positioned at or before clip time ``t`` (s), as far as the container's
        seek goes; from the file's first packet (a fresh demuxer: no seek, which in an MPEG transport stream lands
        after the first keyframe) where ``t`` lies at or before the start."""
        if t <= 0:
            if self._container is not None:
                self._container.close()
                self._container = None
            container = self._open()
            return container, container.streams[self.info.stream_index], True
        container = self._open()
        stream = container.streams[self.info.stream_index]
        container.seek(self._origin + int(t / float(stream.time_base)), backward=True, stream=stream)
        return container, stream, False

    def _frames(self, container, stream) -> Iterator:
        """The decoder's pictures: av frames, or for two views one :class:`.mvhevc.ViewPair` per time."""
        frames = decode_pictures(container, stream)
        return pair_views(frames, self.info.eyes_reversed) if self.info.views > 1 else frames

    def _to_rgb(self, frame):
        """The picture of a decoded av frame: its RGB array, or (``iter_frames(planes=True)``) a DecodedFrame."""
        if self._planar is not None:
            upright = self.info.rotation == 0 and not self.info.mirrored
            planes = _planes_of(frame) if upright and self.info.views == 1 else None
            fields = self.info.field_order if self.info.interlaced and upright else None
            alpha = None
            if self.info.transparent and self.info.n_frames > 1:  # a keyed video's matte moves with its subject
                alpha = _rotate(_alpha_of(frame), self.info.rotation, self.info.mirrored)
            if planes is not None:
                rgb = frame.to_ndarray(format="rgb24", **SWS_ONE_THREAD) if self._planar else None
                decoded = DecodedFrame(planes, rgb, frame.colorspace, fields, alpha)
            else:
                decoded = DecodedFrame(None, _rotate(frame_rgb(frame), self.info.rotation, self.info.mirrored),
                                       fields=fields, alpha=alpha)
            if self._planar and fields:
                decoded.rgb  # noqa: B018 - unwoven here, on the reading thread, as the RGB was converted
            return decoded
        return _rotate(unweave(frame_rgb(frame), self.info.field_order), self.info.rotation, self.info.mirrored)

    def _independent(self) -> "VideoReader":
        """A reader of the same clip with its own decoder (so that scrubbing is not disturbed) and no cache."""
        reader = VideoReader.__new__(VideoReader)
        reader.__dict__.update(info=self.info, _origin=self._origin, _cache=OrderedDict(), _cache_frames=0,
                               _container=None, _cursor=None, _cursor_next=-1, _warned=self._warned,
                               _last_key=-1, _key_interval=0, _planar=None)
        return reader

    def iter_frames(self, start: int = 0, stop: int | None = None, *, planes: bool = False,
                    rgb: bool = True) -> Iterator[tuple[int, np.ndarray]]:
        """Stream ``(index, frame)`` for timeline frames ``start <= index < stop`` in order.

        Memory stays bounded: one decoded frame at a time (plus the decoder's own buffers).

        With ``planes``, each frame is a :class:`DecodedFrame` that keeps the decoder's 4:2:0 planes where a
        writer can take them as they are; ``rgb`` False leaves its RGB to be converted only if asked for (a
        frame passed on unchanged never needs it).
        """
        stop = self.info.n_frames if stop is None else min(stop, self.info.n_frames)
        if start >= stop:
            return
        reader = self._independent()
        if planes:
            reader._planar = rgb
        try:
            for i, img in reader._decode_from(start):
                if i >= stop:
                    break
                yield i, img
        finally:
            self._warned = self._warned or reader._warned
            reader.close()

    def frames_at(self, indices: Iterable[int]) -> Iterator[tuple[int, np.ndarray]]:
        """``(index, frame)`` for each of ``indices`` (timeline frames), in increasing order, each once.

        Frames spread through a clip (samples for a measure) are decoded in one forward pass while the next one
        lies before the keyframe expected after the last one decoded (the longest keyframe interval seen so
        far, 250 frames, x264's default, until two were seen); a farther one seeks. ``frame(i)`` for each would
        seek every time and decode again from the keyframe before it: nine frames spread through an 8 s 1080p
        clip with one keyframe cost 4.3 CPU seconds that way, 1.6 in one pass.

        Raises
        ------
        IndexError
            An index outside the clip.
        """
        n = self.info.n_frames
        picks = sorted(set(int(i) for i in indices))
        for i in picks:
            if not 0 <= i < n:
                raise IndexError(f"frame {i} is outside the clip (0..{n - 1})")
        reader = self._independent()
        try:
            cursor = None
            at = -1
            for k, q in enumerate(picks):
                interval = reader._key_interval or 250
                if cursor is None or not (at < q < reader._last_key + interval):
                    cursor = reader._decode_from(q, wanted=set(picks[k:]))
                for i, img in cursor:
                    at = i
                    if i == q:
                        yield q, img
                        break
                else:  # pragma: no cover - the timeline always covers every index
                    raise MediaError(f"frame {q} could not be decoded", path=self.info.path)
        finally:
            self._warned = self._warned or reader._warned
            reader.close()

    def alpha(self) -> np.ndarray | None:
        """(H, W) uint8: a transparent clip's alpha plane (255 opaque; a video's first picture's), turned as its
        frames are; None for any other clip (:attr:`VideoInfo.transparent`)."""
        if not self.info.transparent:
            return None
        with open_input(self.info.path) as container:
            plane = _still_alpha(container, container.streams[self.info.stream_index])
        if plane is None:  # pragma: no cover - probed transparent
            return None
        return _rotate(plane, self.info.rotation, self.info.mirrored)

    def frame(self, index: int) -> np.ndarray:
        """Timeline frame ``index`` (random access for scrubbing).

        Reading the next frame after the last one asked for continues decoding; any other jump seeks to
        the keyframe before it. Recent frames are cached.
        """
        n = self.info.n_frames
        if not 0 <= index < n:
            raise IndexError(f"frame {index} is outside the clip (0..{n - 1})")
        cached = self._cache.get(index)
        if cached is not None:
            self._cache.move_to_end(index)
            return cached
        if self._cursor is None or not (self._cursor_next <= index <= self._cursor_next + 8):
            self._cursor = self._decode_from(index)
        img = None
        for i, img_i in self._cursor:
            self._remember(i, img_i)
            self._cursor_next = i + 1
            if i == index:
                img = img_i
                break
        if img is None:  # pragma: no cover - the timeline always covers index
            raise MediaError(f"frame {index} could not be decoded", path=self.info.path)
        return img

    def _remember(self, index: int, img: np.ndarray) -> None:
        if self._cache_frames <= 0:
            return
        self._cache[index] = img
        self._cache.move_to_end(index)
        while len(self._cache) > self._cache_frames:
            self._cache.popitem(last=False)
