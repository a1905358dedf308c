"""Writing stereo video: both eyes packed in any layout, an anaglyph, or two separate files.

Naming (:func:`stereo_output_paths`): the file written is the file asked for. A full side-by-side,
left-first file is what VR players expect, and they recognise it by name, so with ``vr_name=True`` (the
user asked for it), unless the name already contains ``LRF_Full_SBS`` (any case), the file gets
``_LRF_Full_SBS`` appended to its stem: ``dub.mp4`` → ``dub_LRF_Full_SBS.mp4``. Separate eyes go to
``<stem>_L<ext>`` and ``<stem>_R<ext>``. Other layouts keep the name as given.

Signalling: half side-by-side and half top-bottom (left first) written as H.264 carry the frame-packing
SEI (x264 ``frame-packing=3`` side by side, ``=4`` top-bottom), which 3D TVs and YouTube read. x264 always
marks the first view as the left one, so the right-first layouts, the full layouts (no player reads the flag
on them) and other codecs are written without it.

Anaglyphs are written 4:4:4 (``yuv444p``) by default: 4:2:0 halves the chroma in which red/cyan detail lives.
"""

from __future__ import annotations

import re
from dataclasses import replace
from enum import Enum
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import OptionError
from ..media.fields import PROGRESSIVE, describe, is_interlaced
from ..media.picture import PLAIN_PICTURE, PictureFormat
from ..media.video import DecodedFrame
from ..media.warnings import warn_media
from ..media.writer import VideoFormat, VideoWriter
from .anaglyph import AnaglyphMethod, anaglyph
from .layout import StereoLayout, join


class OutputLayout(str, Enum):
    """What a stereo output holds: a packing of both eyes, an anaglyph, or the eyes as two files."""

    SBS = "sbs"
    SBS_RL = "sbs-rl"
    HALF_SBS = "half-sbs"
    HALF_SBS_RL = "half-sbs-rl"
    TB = "tb"
    TB_RL = "tb-rl"
    HALF_TB = "half-tb"
    HALF_TB_RL = "half-tb-rl"
    ANAGLYPH = "anaglyph"
    SEPARATE = "separate"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, text: "str | OutputLayout | StereoLayout") -> "OutputLayout":
        """An output layout from its name or any alias :meth:`StereoLayout.parse` knows."""
        if isinstance(text, OutputLayout):
            return text
        key = str(text).strip().lower()
        if key in ("anaglyph", "separate"):
            return cls(key)
        if key in ("two-files", "files", "lr-files"):
            return cls.SEPARATE
        try:
            packing = StereoLayout.parse(key)
        except OptionError:
            packing = None
        if packing is None or not packing.is_stereo:
            raise OptionError(f"'{text}' is not a stereo output layout",
                              hint="use " + ", ".join(v.value for v in cls))
        return cls(packing.value)

    @property
    def packing(self) -> StereoLayout | None:
        """The frame packing, or None for an anaglyph or separate files."""
        return None if self in (OutputLayout.ANAGLYPH, OutputLayout.SEPARATE) else StereoLayout(self.value)

    @property
    def frame_packing_sei(self) -> int | None:
        """x264's ``frame-packing`` value for this layout (3 side by side, 4 top-bottom), or None."""
        if self is OutputLayout.HALF_SBS:
            return 3
        if self is OutputLayout.HALF_TB:
            return 4
        return None


_VR_TAG = "_LRF_Full_SBS"


def stereo_output_paths(path: str | Path, layout: "OutputLayout | str", vr_name: bool = False) -> list[Path]:
    """The file(s) a stereo output of ``layout`` asked for as ``path`` is written to (see the module doc)."""
    p = Path(path)
    layout = OutputLayout.parse(layout)
    if layout is OutputLayout.SEPARATE:
        return [p.with_name(f"{p.stem}_L{p.suffix}"), p.with_name(f"{p.stem}_R{p.suffix}")]
    if layout is OutputLayout.SBS and vr_name and not re.search(r"lrf[_\-. ]full[_\-. ]sbs", p.stem, re.IGNORECASE):
        return [p.with_name(f"{p.stem}{_VR_TAG}{p.suffix}")]
    return [p]


class _FramePackedWriter(VideoWriter):
    """A :class:`VideoWriter` whose H.264 stream carries a frame-packing SEI."""

    def __init__(self, *args, frame_packing: int, **kw) -> None:
        self._frame_packing = frame_packing
        super().__init__(*args, **kw)

    def _add_video_stream(self):
        stream = super()._add_video_stream()
        # The encoder opens at the first frame, so options added here still reach x264.
        opts = dict(stream.codec_context.options)
        params = [p for p in opts.get("x264-params", "").split(":") if p] + [f"frame-packing={self._frame_packing}"]
        stream.codec_context.options = {**opts, "x264-params": ":".join(params)}
        return stream


class StereoWriter:
    """Write a stereo video from pairs of eyes.

    Parameters
    ----------
    path : path
        The output asked for; the file(s) actually written are :attr:`paths` (see :func:`stereo_output_paths`).
    fps : Fraction
        Frame rate.
    eye_width, eye_height : int
        Size of one eye (px).
    layout : OutputLayout or str
        ``sbs`` (default), any other packing, ``anaglyph`` or ``separate``.
    anaglyph_method : AnaglyphMethod or str
        For ``anaglyph``: ``dubois`` (default), ``gray``, ``color``, ``half-color``.
    fmt : VideoFormat
        Codec and quality. For anaglyphs ``pix_fmt`` becomes ``yuv444p`` unless ``anaglyph_444`` is False.
    audio, audio_seconds :
        The sound track, as for :class:`VideoWriter` (both files get it for ``separate``).
    vr_name : bool
        Name full-SBS files the VR way (``*_LRF_Full_SBS``); off by default: the file written is ``path``.
    frame_packing : bool
        Flag half-SBS / half-TB H.264 with the frame-packing SEI.
    encoder_threads : int, optional
        Threads each file's encoder may use (:class:`VideoWriter`'s).
    picture : PictureFormat
        The clip's (:attr:`~lipsync_studio.media.video.VideoInfo.picture`), as for :class:`VideoWriter`: its colour
        and time code are declared; eyes are written progressive with square pixels (a packing has a pixel shape
        of its own, and its rows are not the clip's).

    vr_metadata : VRMetadata, optional
        The input's stereo/VR metadata (:func:`~lipsync_studio.media.vrmeta.read_vr_metadata`): written into a
        packed MP4/MOV output, with ``st3d`` set to the output's packing; dropped (with a warning) where it
        cannot describe the output (an anaglyph, separate files, a mesh pair baked for another packing).

    Frames are ``(eye_height, eye_width, 3) uint8 RGB``. Use as a context manager: leaving it with an
    exception removes every partial file.
    """

    def __init__(self, path: str | Path, fps: Fraction | float, eye_width: int, eye_height: int, *,
                 layout: "OutputLayout | str" = OutputLayout.SBS,
                 anaglyph_method: "AnaglyphMethod | str" = AnaglyphMethod.DUBOIS, fmt: VideoFormat = VideoFormat(),
                 audio: str | Path | None = None, audio_seconds: float | None = None, vr_name: bool = False,
                 frame_packing: bool = True, anaglyph_444: bool = True, vr_metadata=None,
                 encoder_threads: int | None = None, audio_at_picture: bool = False,
                 picture: PictureFormat = PLAIN_PICTURE) -> None:
        self.layout = OutputLayout.parse(layout)
        self.anaglyph_method = AnaglyphMethod.parse(anaglyph_method)
        self.eye_width, self.eye_height = eye_width, eye_height
        self.paths = stereo_output_paths(path, self.layout, vr_name)
        if self.layout is OutputLayout.ANAGLYPH and anaglyph_444 and fmt.codec in ("h264", "hevc", "vp9"):
            fmt = replace(fmt, pix_fmt="yuv444p")
        packing = self.layout.packing
        w, h = packing.packed_size(eye_width, eye_height) if packing is not None else (eye_width, eye_height)
        self.frame_width, self.frame_height = w, h
        sei = self.layout.frame_packing_sei if frame_packing else None
        if sei is not None and fmt.for_container(self.paths[0].suffix).codec != "h264":
            sei = None
        self.frame_packing = sei
        self._writers: list[VideoWriter] = []
        if is_interlaced(picture.field_order):
            warn_media(f"{self.paths[0].name}: the clip is {describe(picture.field_order)}; a stereo result is written "
                       "progressive (each frame its first field's moment: a packing's rows are not the clip's)")
        try:
            for p in self.paths:
                kw = dict(fmt=fmt, audio=audio, audio_seconds=audio_seconds, encoder_threads=encoder_threads,
                          audio_at_picture=audio_at_picture,
                          picture=replace(picture, sample_aspect=Fraction(1), field_order=PROGRESSIVE))
                if sei is not None:
                    self._writers.append(_FramePackedWriter(p, fps, w, h, frame_packing=sei, **kw))
                else:
                    self._writers.append(VideoWriter(p, fps, w, h, **kw))
        except BaseException:
            self.abort()
            raise
        self.fmt = self._writers[0].fmt
        self.frames_written = 0
        self.vr_metadata = self._attach_vr_metadata(vr_metadata)

    def _attach_vr_metadata(self, meta):
        """Give the writer the metadata that describes this output (see the class doc); return it, or None."""
        if meta is None or not (meta.entry_boxes or meta.track_boxes or meta.spherical or meta.views > 1):
            return None  # a flat 3D clip: its packing is the layout itself (and the frame-packing SEI)
        packing = self.layout.packing
        out = meta.for_layout(packing.value) if packing is not None else None
        if out is None:
            warn_media(f"{self.path}: the input's stereo/VR metadata ({meta.summary()}) cannot "
                       f"describe a {self.layout.value} output and is not written", stacklevel=3)
            return None
        self._writers[0].vr_metadata = out
        return out

    @property
    def path(self) -> Path:
        """The (first) file written."""
        return self.paths[0]

    def compose(self, left: np.ndarray, right: np.ndarray) -> list[np.ndarray]:
        """The frame(s) written for one pair (one per output file)."""
        if self.layout is OutputLayout.SEPARATE:
            return [left, right]
        if self.layout is OutputLayout.ANAGLYPH:
            return [anaglyph(left, right, self.anaglyph_method)]
        return [join(left, right, self.layout.packing)]

    def packs_as(self, layout: "StereoLayout | str") -> bool:
        """Whether the output is one file that packs the eyes exactly as ``layout`` does, at full size: then a
        frame of a clip so packed can go to it as decoded but for what changed (:meth:`write_over`)."""
        packing = self.layout.packing
        return (len(self._writers) == 1 and packing is not None and packing is StereoLayout.parse(layout)
                and not packing.half)

    def takes_planes(self, decoded: DecodedFrame) -> bool:
        """Whether a decoded packed frame's 4:2:0 planes can go to the output as they are (:meth:`write_over`)."""
        return len(self._writers) == 1 and self._writers[0].takes_planes(decoded)

    def eye_origin(self, eye: int) -> tuple[int, int]:
        """Where eye ``eye`` (0 left, 1 right) sits in a packed frame (its top-left pixel), for :meth:`packs_as`."""
        packing = self.layout.packing
        slot = 1 - eye if packing.right_first else eye
        return (slot * self.eye_width, 0) if packing.side_by_side else (0, slot * self.eye_height)

    def write_over(self, base, left: np.ndarray, right: np.ndarray,
                   boxes: tuple[tuple[int, int, int, int] | None, tuple[int, int, int, int] | None]) -> None:
        """Append the decoded packed frame ``base`` (a :class:`~lipsync_studio.media.video.DecodedFrame` of a clip
        packed as this output: :meth:`packs_as`) with each eye's ``boxes`` (``x0, y0, x1, y1`` in its own pixels;
        None: unchanged) taken from ``left`` and ``right``, which need hold no more than those boxes (widened to
        even edges). Only the boxes are converted from RGB; the rest goes to the encoder as decoded."""
        writer = self._writers[0]
        h, w = self.eye_height, self.eye_width
        holder = np.empty((self.frame_height, self.frame_width, 3), np.uint8)
        packed_boxes = []
        for eye, img, box in ((0, left, boxes[0]), (1, right, boxes[1])):
            if box is None:
                continue
            ox, oy = self.eye_origin(eye)
            x0, y0, x1, y1 = box
            # Widened to even edges, as a 4:2:0 writer converts it (2 x 2 pixels a colour sample).
            x0, y0, x1, y1 = max(0, x0 - x0 % 2), max(0, y0 - y0 % 2), min(w, x1 + x1 % 2), min(h, y1 + y1 % 2)
            if x1 > x0 and y1 > y0:
                holder[oy + y0:oy + y1, ox + x0:ox + x1] = img[y0:y1, x0:x1]
                packed_boxes.append((ox + x0, oy + y0, ox + x1, oy + y1))
        if packed_boxes:
            writer.write(holder, base=base, box=packed_boxes, owned=True)
        else:
            writer.write(base, owned=True)
        self.frames_written += 1

    def write(self, left: np.ndarray, right: np.ndarray) -> None:
        """Append one pair of ``(eye_height, eye_width, 3) uint8 RGB`` eyes."""
        shape = (self.eye_height, self.eye_width, 3)
        if left.shape != shape or right.shape != shape:
            raise ValueError(f"expected two {shape} eyes, got {left.shape} and {right.shape}")
        for writer, frame in zip(self._writers, self.compose(left, right)):
            # A packed frame or an anaglyph is made here for this call alone: converted on the encoder's thread.
            writer.write(frame, owned=frame is not left and frame is not right)
        self.frames_written += 1

    def close(self) -> Path:
        """Finish every file and move each to its final name; return the (first) path."""
        try:
            for writer in self._writers:
                writer.close()
        except BaseException:
            self.abort()
            raise
        return self.path

    def abort(self) -> None:
        """Stop and remove every partial file."""
        for writer in self._writers:
            writer.abort()

    def __enter__(self) -> "StereoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
