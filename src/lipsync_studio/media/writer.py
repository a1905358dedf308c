"""Writing video: H.264 (or HEVC, VP9, ProRes) with the dub muxed as the audio track.

The picture is encoded at a constant frame rate; the audio is streamed from the dub file, trimmed or padded
with silence to the picture's length, and interleaved with the picture as it is written, so memory stays
bounded however long the clip. The file is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import OutputError
from .audio_writer import AUDIO_ENCODER_OPTIONS
from .colourspace import PLAIN, UNSPECIFIED, same_conversion, yuv_from_rgb
from .fields import FFMPEG_CODE, PROGRESSIVE, TOP_FIRST, describe, is_interlaced
from .picture import PLAIN_PICTURE, PictureFormat
from .container import open_input
from .output import os_error_to_output_error, temporary_sibling
from .prefetch import InOrder
from .video import SWS_ONE_THREAD, DecodedFrame, i420_frame, yuv_views
from .warnings import warn_media

#: Containers we write, and the codecs each takes.
CONTAINERS: dict[str, tuple[str, ...]] = {
    ".mp4": ("h264", "hevc"),
    ".mov": ("h264", "hevc", "prores", "dnxhr"),
    ".mkv": ("h264", "hevc", "vp9"),
    ".webm": ("vp9",),
}
_ENCODERS = {"h264": "libx264", "hevc": "libx265", "vp9": "libvpx-vp9", "prores": "prores_ks", "dnxhr": "dnxhd"}
#: Codecs editing software masters in: their sound is PCM by default (the dub exactly as delivered).
MASTER_CODECS = frozenset({"prores", "dnxhr"})
#: Codecs that keep a picture's transparency: ProRes 4444 (in .mov) and VP9 (in .webm/.mkv: browsers show it).
ALPHA_CODECS = frozenset({"prores", "vp9"})
#: DNxHR's smallest frame (FFmpeg's encoder refuses smaller).
DNXHR_MIN_SIZE = (256, 120)
#: Codecs we code interlaced pictures in, as interlaced (x264's MBAFF; ProRes's two-field frames).
FIELD_CODECS = frozenset({"h264", "prores"})
#: x264's settings beside the preset at ``veryfast``. The diamond motion search (``me=dia``): see
#: :class:`VideoFormat`. Deadzones of 6 (x264's are 21 between frames, 11 within; they apply where trellis is off, as
#: at ``veryfast``; ``--tune grain`` uses 6 too): x264 drops detail under its deadzone "without attempting to
#: preserve it", and on real talking heads that was the frame's grain and the mouth's fine texture. Re-encoding three
#: real heads (HDTF, 4 s each): CRF 16 with x264's deadzones kept 0.88-0.95 of the mouth's detail (Laplacian variance
#: in the mouth box, the looks measure); CRF 18 with these the same bytes (+0-1 %), 0.15-0.2 dB more PSNR and
#: 0.95-1.0 of the detail; CRF 16 with these 1.6-1.8 dB more PSNR for 30 % more bytes. Synced results of six heads
#: (looks, same halves): mouth sharpness against the source, median, 0.940 -> 1.008 (real frames 1.002).
X264_VERYFAST_PARAMS = "me=dia:deadzone-inter=6:deadzone-intra=6"
#: x264's presets with trellis quantisation on (no deadzones): there ``--tune grain`` keeps the fine detail instead.
#: Two real heads at ``medium``: CRF 16 kept 0.91-0.94 of the mouth's detail; CRF 18 with ``tune grain`` 0.98-1.02
#: in 3-7 % more bytes at equal or better PSNR (+0.0-0.5 dB).
X264_TRELLIS_PRESETS = ("faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")


#: x264's names of the SIMD levels below AVX-512, each with the Linux ``/proc/cpuinfo`` flag that says the CPU (and
#: the kernel) has it; in the order of x264's own list.
_X264_LEVELS = (("sse", "MMX2"), ("sse", "SSE"), ("sse2", "SSE2"), ("abm", "LZCNT"), ("pni", "SSE3"),
                ("ssse3", "SSSE3"), ("sse4_1", "SSE4.1"), ("sse4_2", "SSE4.2"), ("avx", "AVX"), ("fma", "FMA3"),
                ("bmi1", "BMI1"), ("bmi2", "BMI2"), ("avx2", "AVX2"))


def x264_simd_without_avx512(cpuinfo: str | None = None) -> str | None:
    """x264's ``asm`` setting for this CPU: every SIMD level it has but AVX-512; None (x264 detects its own) where
    the CPU has no AVX-512 or its flags cannot be read (other systems than Linux on x86-64).

    x264's AVX-512 code reads past the right edge of a picture's rows, where its buffers are not initialised, and
    what it finds there changes its choices: the same frames gave a different stream from one run to the next (a
    real 480 px clip synced five times on two cores: three different files; encoding the same frames with the
    allocator's fresh memory filled with one byte or another, ``MALLOC_PERTURB_``: a different file for each,
    unless the width is a multiple of 128). Without AVX-512, the stream depends on the pictures alone, and x264 was
    as fast (720p, 250 frames: 3.1-3.4 CPU-s either way). x264 takes the list as given, so only levels the CPU
    reports are named.

    Parameters
    ----------
    cpuinfo: the text of ``/proc/cpuinfo`` (read when None).
    """
    if cpuinfo is None:
        return _this_cpus_x264_simd()
    flags = next((set(line.split(":", 1)[1].split()) for line in cpuinfo.splitlines()
                  if line.startswith("flags") and ":" in line), set())
    if "avx512f" not in flags or "avx2" not in flags:
        return None
    return ",".join(name for flag, name in _X264_LEVELS if flag in flags)


@functools.lru_cache(maxsize=1)
def _this_cpus_x264_simd() -> str | None:
    """:func:`x264_simd_without_avx512` of this machine's ``/proc/cpuinfo``, read once a process (a batch or a stereo
    sync opens many writers)."""
    import platform
    import sys

    if not sys.platform.startswith("linux") or platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    try:
        return x264_simd_without_avx512(Path("/proc/cpuinfo").read_text())
    except OSError:
        return None


def threads_beside_one_busy() -> int:
    """Encoder threads for a writer fed by a thread that keeps a core busy itself: the cores this process may use,
    less that one (at least one thread).

    x264 on its own runs about 1.5 threads per core (frame threads and a lookahead); beside an engine drawing every
    frame on its own thread, the extra threads only add the cost of their hand-overs. On two cores, the built-in
    engine's 720p sync (``lipsync-studio bench``, four alternating runs of each): end to end 5.63 -> 5.24 s, CPU
    9.99 -> 9.45 s; 1080p30 no slower (9.6 s both); the same picture (a single-threaded x264 is, if anything, a
    little better at the same quality setting)."""
    import os

    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, cores - 1)


@dataclass(frozen=True)
class VideoFormat:
    """How the picture is encoded.

    Attributes
    ----------
    codec: ``h264`` (default), ``hevc``, ``vp9``, ``prores`` (ProRes 422 HQ) or ``dnxhr`` (Avid's DNxHR HQ, 8-bit
        4:2:2; HQX, 10-bit, for a deeper clip; MOV only, frames at least 256 x 120).
    crf: constant quality; lower is better. 18 by default: x264 keeps the fine detail its usual settings drop (at
        ``veryfast`` :data:`X264_VERYFAST_PARAMS`, at the presets with trellis ``tune grain``), and 18 then costs
        about what its usual 16 (visually lossless) did, closer to the source.
    preset: x264/x265 speed preset (``ultrafast`` … ``veryslow``). ``veryfast`` by default: on a 720p talking
        head at CRF 16 it encodes 1.6-1.9x faster than ``faster`` at the same size (PSNR within 0.25 dB, even
        with film grain); the CRF sets the quality, slower presets make smaller files. With ``veryfast`` H.264
        searches motion with the diamond (``me=dia``), not the hexagon: 12-18 % less encoder time on talking heads
        (four real clips, a VR180 one among them, and the bench's clip) at the same size (within 1.3 %) and PSNR
        (within 0.07 dB): a talking head's slow motion needs no wider search.
    pix_fmt: ``yuv420p`` (plays everywhere) or ``yuv444p`` (full colour, e.g. for anaglyphs).
    audio_bitrate: bits per second for the audio track (AAC, Opus).
    audio: the sound's codec: ``aac``, ``pcm`` (uncompressed 24-bit, in MOV and Matroska: what a master takes, the
        dub exactly as delivered) or ``auto``: PCM beside ProRes and DNxHR (mastering formats: an AAC sound in a
        master re-encodes the very dub the result exists for), Opus in WebM, else AAC.
    """

    codec: str = "h264"
    crf: int = 18
    preset: str = "veryfast"
    pix_fmt: str = "yuv420p"
    audio_bitrate: int = 192_000
    audio: str = "auto"

    def audio_codec(self, suffix: str) -> str:
        """The sound's encoder for a file of this type (see ``audio``)."""
        if suffix.lower() == ".webm":
            return "libopus"
        if self.audio == "pcm" or (self.audio == "auto" and self.codec in MASTER_CODECS):
            return "pcm_s24le"
        return "aac"

    def for_container(self, suffix: str) -> "VideoFormat":
        """Check that this format fits a container; VP9 is the only choice for WebM."""
        allowed = CONTAINERS.get(suffix.lower())
        if allowed is None:
            raise OutputError(f"unsupported output type '{suffix}'", hint="use " + ", ".join(CONTAINERS))
        if self.audio == "pcm" and suffix.lower() not in (".mov", ".mkv"):
            raise OutputError(f"PCM sound cannot go in a {suffix} file", hint="write a .mov or .mkv, or --audio aac")
        if self.codec not in allowed:
            if suffix.lower() == ".webm":
                return replace(self, codec="vp9", crf=self.crf + 15)
            raise OutputError(f"codec {self.codec} cannot go in a {suffix} file", hint="use " + ", ".join(allowed))
        return self


def keeps_alpha(fmt: VideoFormat) -> bool:
    """Whether pictures written in ``fmt`` keep a transparent photo's alpha (:data:`ALPHA_CODECS`)."""
    return fmt.codec in ALPHA_CODECS


def _format_converter(fmt: str, layout: str, rate: int):
    """An ``av.AudioResampler`` to ``fmt`` (same layout and rate: a change of sample format only)."""
    import av

    return av.AudioResampler(format=fmt, layout=layout, rate=rate)


class _DubAudio:
    """Streams the dub's audio into the output's audio stream: decode, resample, trim/pad, encode."""

    def __init__(self, dub: Path, container, codec: str, rate: int, channels: int | None, bit_rate: int,
                 total_seconds: float | None, at_picture: bool = False) -> None:
        from .audio import iter_resampled, pick_audio_stream, sound_late_s

        self.dub = dub
        self._src = open_input(dub)
        try:
            stream = pick_audio_stream(self._src, dub, None)
            source = stream.codec_context.layout
            # A master's PCM carries a surround dub as delivered (its 5.1 or 7.1, channel for channel); otherwise
            # the dub's own channels: mono stays mono, more than two are mixed to stereo.
            keep = channels is None and codec.startswith("pcm_") and source.nb_channels > 2
            if channels is None:
                channels = 1 if stream.codec_context.channels == 1 else 2
            self.out = container.add_stream(codec, rate=rate, options=AUDIO_ENCODER_OPTIONS.get(codec))
            self.out.codec_context.layout = source.name if keep else "stereo" if channels >= 2 else "mono"
            self.out.codec_context.bit_rate = bit_rate
        except BaseException:
            self._src.close()
            raise
        self.rate = self.out.codec_context.sample_rate
        self.layout = self.out.codec_context.layout.name
        # The encoder's own sample format (PCM: packed integers), converted from our float planes.
        fmt = self.out.codec_context.format.name if self.out.codec_context.format is not None else "fltp"
        self._convert = None if fmt == "fltp" else _format_converter(fmt, self.layout, self.rate)
        # Total is set at close when not given; pumping never runs past it.
        self.total = int(round((total_seconds if total_seconds is not None else 1e9) * rate))
        self.written = 0
        self._status: dict = {}
        self._chunks = iter_resampled(self._src, stream, self.rate, mono=False, layout=self.layout,
                                      status=self._status)
        self._pending: np.ndarray | None = None
        self._ended = False
        # A video's own sound kept with its picture: silence before a sound that starts after the first frame,
        # and what comes before the first frame skipped.
        late = int(round(sound_late_s(dub) * self.rate)) if at_picture else 0
        if late > 0:
            self._pending = np.zeros((self.out.codec_context.layout.nb_channels, late), np.float32)
        self._skip = max(-late, 0)

    def _next_chunk(self) -> np.ndarray | None:
        """The next resampled (C, n) chunk of the dub, or None once it has ended."""
        if self._pending is not None:
            chunk, self._pending = self._pending, None
            return chunk
        if self._ended:
            return None
        chunk = next(self._chunks, None)
        while chunk is not None and self._skip:
            cut = min(self._skip, chunk.shape[1])
            self._skip -= cut
            chunk = chunk[:, cut:] if cut < chunk.shape[1] else next(self._chunks, None)
        if chunk is None:
            self._ended = True
            if self._status.get("stopped_by"):
                warn_media(
                    f"{self.dub}: the audio is damaged or cut off at {self.written / self.rate:.2f} s; "
                    "silence follows", stacklevel=4)
        return chunk

    def _emit(self, samples: np.ndarray, mux) -> None:
        import av

        if samples.shape[0] <= 2:
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples), format="fltp", layout=self.layout)
        else:  # packed: PyAV's planar frames of eight channels (7.1) or more fail (see media.audio.iter_resampled)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples.T).reshape(1, -1), format="flt",
                                               layout=self.layout)
        frame.sample_rate = self.rate
        frame.pts = self.written
        frame.time_base = Fraction(1, self.rate)
        self.written += samples.shape[1]
        for f in (self._convert.resample(frame) if self._convert is not None else [frame]):
            for packet in self.out.encode(f):
                mux(packet)

    def pump_until(self, seconds: float, mux) -> None:
        """Encode the dub up to ``seconds`` of output (never past the planned length)."""
        target = min(self.total, int(round(seconds * self.rate)))
        channels = self.out.codec_context.layout.nb_channels
        while self.written < target:
            chunk = self._next_chunk()
            if chunk is None:  # the dub ended: pad with silence
                chunk = np.zeros((channels, min(target - self.written, self.rate)), np.float32)
            need = target - self.written
            if chunk.shape[1] > need:
                self._pending = chunk[:, need:]
                chunk = chunk[:, :need]
            self._emit(chunk, mux)

    def finish(self, mux) -> None:
        """Write the rest of the planned length and flush the encoder."""
        self.pump_until(self.total / self.rate, mux)
        for f in self._convert.resample(None) if self._convert is not None else ():
            for packet in self.out.encode(f):
                mux(packet)
        for packet in self.out.encode(None):
            mux(packet)
        self._src.close()


@functools.lru_cache(maxsize=8)
def _yuv_rows(matrix: int) -> tuple[np.ndarray, np.ndarray]:
    """(1, 4) Y and (2, 4) U, V rows of :func:`~.colourspace.yuv_from_rgb` for ``matrix``."""
    m = yuv_from_rgb(matrix)
    return m[:1].copy(), m[1:].copy()


def rgb_to_i420(frame: np.ndarray, matrix: int = UNSPECIFIED, fields: bool = False) -> np.ndarray:
    """(H * 3/2, W) uint8 planar 4:2:0 (Y, then U, then V) of ``frame`` ((H, W, 3) uint8 RGB, even sizes).

    ``fields``: an interlaced picture (H a multiple of 4): each field is converted alone and its chroma rows woven
    back (alternate chroma rows are alternate fields', as a decoder reads them).

    Limited range in ``matrix`` (H.273 code; unspecified is BT.601, as FFmpeg converts by default); each chroma
    sample is the mean of its 2x2 pixels (OpenCV's own RGB to I420 takes the top-left pixel's colour only, which
    drops a thin colour edge on odd rows and columns; FFmpeg filters a little more vertically: within 3 levels of
    it on real pictures). At 1080p ~3.7 ms of CPU a frame in BT.601, where FFmpeg's scaler (rgb24 has no fast path
    there) took ~7 ms.
    """
    import cv2

    h, w = frame.shape[:2]
    if fields and h % 4 == 0:
        out = np.empty((h * 3 // 2, w), np.uint8)
        planes = yuv_views(out)
        for first in (0, 1):
            for plane, field in zip(planes, yuv_views(rgb_to_i420(np.ascontiguousarray(frame[first::2]), matrix))):
                plane[first::2] = field
        return out
    y_row, uv_rows = _yuv_rows(matrix)
    if np.array_equal(y_row, _yuv_rows(UNSPECIFIED)[0]):
        out = cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420)  # its luma is BT.601's
    else:  # another matrix's luma
        out = np.empty((h * 3 // 2, w), np.uint8)
        out[:h] = cv2.transform(frame, y_row).reshape(h, w)
    flat, y, q = out.reshape(-1), h * w, (h // 2) * (w // 2)
    uv = cv2.transform(cv2.resize(frame, (w // 2, h // 2), interpolation=cv2.INTER_AREA), uv_rows)
    flat[y:y + q] = uv[..., 0].reshape(-1)
    flat[y + q:] = uv[..., 1].reshape(-1)
    return out


def paste_rgb(planes: list[np.ndarray], frame: np.ndarray, box: tuple[int, int, int, int],
              matrix: int = UNSPECIFIED, fields: bool = False) -> None:
    """Write ``frame``'s ``box`` into ``planes`` (the Y, U and V planes of a 4:2:0 picture: (H, W), (H/2, W/2) and
    (H/2, W/2) uint8, even sizes), converted (in place).

    Parameters
    ----------
    planes : list of ndarray
        The picture's three planes.
    frame : ndarray
        (H, W, 3) uint8 RGB of the whole picture, equal to what ``planes`` decode to outside ``box``.
    box : tuple of int
        ``x0, y0, x1, y1``, pixels; widened to even edges (a chroma sample covers 2x2 pixels).
    matrix : int
        The planes' YUV matrix (:func:`rgb_to_i420`).
    fields : bool
        The picture is interlaced: the box is widened to rows in fours and converted field by field.

    Inside the widened box the planes become exactly :func:`rgb_to_i420` of the whole ``frame`` there; outside it
    they keep their own values.
    """
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = box
    x0, y0 = max(0, x0 - x0 % 2), max(0, y0 - y0 % 2)
    x1, y1 = min(w, x1 + x1 % 2), min(h, y1 + y1 % 2)
    if fields and h % 4 == 0:
        y0, y1 = y0 - y0 % 4, min(h, y1 + (-y1) % 4)
    if x1 <= x0 or y1 <= y0:
        return
    y, u, v = yuv_views(rgb_to_i420(np.ascontiguousarray(frame[y0:y1, x0:x1]), matrix, fields))
    planes[0][y0:y1, x0:x1] = y
    planes[1][y0 // 2:y1 // 2, x0 // 2:x1 // 2] = u
    planes[2][y0 // 2:y1 // 2, x0 // 2:x1 // 2] = v


def _drawn_over(woven: np.ndarray, drawn: np.ndarray,
                box: tuple[int, int, int, int] | list[tuple[int, int, int, int]] | None) -> np.ndarray:
    """An interlaced frame as decoded (``woven``) with ``drawn``'s pixels inside ``box`` (a box, a list of them,
    or None: all of ``drawn``)."""
    if box is None:
        return drawn
    out = woven.copy()
    h, w = out.shape[:2]
    for x0, y0, x1, y1 in box if isinstance(box, list) else [box]:
        x0, y0, x1, y1 = max(int(x0), 0), max(int(y0), 0), min(int(x1), w), min(int(y1), h)
        if x1 > x0 and y1 > y0:
            out[y0:y1, x0:x1] = drawn[y0:y1, x0:x1]
    return out


class _FieldFlags:
    """Marks each frame's first field for encoders that read it from the frame (ProRes: without the mark every
    frame is coded bottom field first). PyAV cannot set the flag itself: FFmpeg's ``setfield`` filter does."""

    def __init__(self, order: str) -> None:
        self.order = order
        self._graph = None

    def __call__(self, vf):
        import av

        if self._graph is None:
            g = av.filter.Graph()
            src = g.add_buffer(width=vf.width, height=vf.height, format=vf.format.name, time_base=vf.time_base)
            mark = g.add("setfield", "tff" if self.order == TOP_FIRST else "bff")
            src.link_to(mark)
            mark.link_to(g.add("buffersink"))
            g.configure()
            self._graph = g
        self._graph.push(vf)
        return self._graph.pull()


def _to_video_frame(frame: np.ndarray, pix_fmt: str, matrix: int = UNSPECIFIED, fields: bool = False,
                    alpha: np.ndarray | None = None):
    """An ``av.VideoFrame`` of ``frame`` ((H, W, 3) uint8 RGB, even sizes) for an encoder taking ``pix_fmt``, in
    the YUV ``matrix``: 8-bit 4:2:0 converted here (:func:`rgb_to_i420`, field by field for an interlaced picture),
    other formats by FFmpeg; with ``alpha`` ((H, W) uint8) as its alpha plane (``pix_fmt`` one with alpha)."""
    import av

    if alpha is not None:
        vf = av.VideoFrame.from_ndarray(np.dstack([frame, alpha]), format="rgba").reformat(
            format=pix_fmt, dst_colorspace=matrix, dst_color_range=1, **SWS_ONE_THREAD)
    elif pix_fmt == "yuv420p":
        vf = i420_frame(rgb_to_i420(frame, matrix, fields))[0]
    else:
        vf = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(
            format=pix_fmt, dst_colorspace=matrix, dst_color_range=1, **SWS_ONE_THREAD)
    return vf


class VideoWriter:
    """Write frames to a video file, with the dub as its audio track.

    Parameters
    ----------
    path:
        Final output file (``.mp4``, ``.mov``, ``.mkv`` or ``.webm``). Nothing appears under this name
        until :meth:`close` succeeds.
    fps:
        Frame rate (exact fraction, e.g. ``Fraction(30000, 1001)``).
    width, height:
        Frame size in pixels; odd sizes are padded by one pixel (4:2:0 needs even sizes).
    fmt:
        Codec and quality.
    audio:
        The dub (any audio file, or a video whose sound is used), or None for a silent video.
    audio_at_picture:
        ``audio`` is a video whose own sound goes with these frames (a clip re-encoded, its views): its sound is
        kept at its place against that video's first frame (see :func:`~.audio.load_audio`'s ``at_picture``);
        otherwise it starts with its first sample, as a dub does.
    audio_seconds:
        Length of the audio track; the dub is trimmed or padded with silence to it. Defaults to the
        picture's length when closing.
    audio_rate, audio_channels:
        The audio track's sample rate, and its channels: by default the dub's own (a mono dub stays mono: made
        stereo, its AAC cost twice the CPU, a tenth of the encoder thread's time in a 720p sync, for the same sound
        in both speakers; more than two channels are mixed to stereo).
    encoder_threads:
        Threads the encoder may use (default: its own choice, about 1.5 per core). Where the caller keeps a core
        busy itself (an engine drawing every frame), :func:`threads_beside_one_busy` leaves that core alone.
    picture:
        What the file declares of its pictures, and how they are written (a clip's
        :attr:`~.video.VideoInfo.picture`, or :meth:`~.picture.PictureFormat.from_frame` it for a range):

        - its **colour**: the pictures are converted with its YUV matrix and the file declares its matrix,
          primaries and transfer, so players show the result in the clip's colours; a clip of more than 8 bits is
          written at 10 bits in HEVC, and in H.264 where it is HDR. By default BT.601 and nothing declared
          (pictures we made ourselves);
        - its **pixel shape**, declared: an anamorphic clip's result is shown as wide as the clip (without it a
          16:9 PAL clip played as 5:4, its people squeezed thin);
        - its **field order**: an interlaced clip's result is coded interlaced in the same order (H.264, ProRes),
          an unchanged decoded frame's two fields passed on as they are and a redrawn frame's fields kept outside
          what was drawn. HEVC and VP9 are written progressive (the first fields' moments, :mod:`.fields`), and say
          so in a warning: x265 codes fields only as separate pictures, which players do not weave back;
        - its **time code**: the first frame's, written as the file's time code (a MOV/MP4 ``tmcd`` track):
          editing software conforms the result by it.

    Frames are ``(height, width, 3) uint8 RGB``. Use as a context manager: leaving it with an exception
    removes the partial file.
    """

    def __init__(self, path: str | Path, fps: Fraction | float, width: int, height: int, *,
                 fmt: VideoFormat = VideoFormat(), audio: str | Path | None = None,
                 audio_seconds: float | None = None, audio_rate: int = 48_000, audio_channels: int | None = None,
                 background: bool = True, encoder_threads: int | None = None,
                 audio_at_picture: bool = False, picture: PictureFormat = PLAIN_PICTURE,
                 alpha: np.ndarray | None = None) -> None:
        import av

        self.path = Path(path)
        self.fmt = fmt.for_container(self.path.suffix)
        if alpha is not None and not keeps_alpha(self.fmt):
            raise ValueError(f"{self.fmt.codec} keeps no transparency (ProRes and VP9 do)")
        if alpha is not None and alpha.shape != (height, width):
            raise ValueError(f"expected a ({height}, {width}) alpha plane, got {alpha.shape}")
        self.fps = Fraction(fps).limit_denominator(1001) if not isinstance(fps, Fraction) else fps
        self.width, self.height = width, height
        self._w, self._h = width + width % 2, height + height % 2
        #: Every frame's alpha plane (a transparent photo's), padded as the frames are; None: opaque pictures.
        self.alpha = None if alpha is None else np.pad(alpha, ((0, self._h - height), (0, self._w - width)), mode="edge")
        self.tmp = temporary_sibling(self.path)
        self.frames_written = 0
        self._closed = False
        self._encoder_threads = encoder_threads
        self.colour = picture.colour.written()
        self.sample_aspect = Fraction(picture.sample_aspect)
        self.timecode = picture.timecode
        #: The field order written: the picture's where this codec codes fields, else progressive.
        self.field_order = picture.field_order if self.fmt.codec in FIELD_CODECS else PROGRESSIVE
        if is_interlaced(picture.field_order) and not is_interlaced(self.field_order):
            warn_media(f"{self.path.name}: the clip is {describe(picture.field_order)}; {self.fmt.codec.upper()} is "
                       "written progressive here (each frame its first field's moment): choose H.264 or ProRes "
                       "to keep the fields", stacklevel=2)
        self._field_flags = None
        # Encoding in a thread of its own (started with the first frame: the encoder opens, and x264 starts its
        # threads, on that thread): the caller prepares the next frame while x264 encodes this one (PyAV and x264
        # release the GIL). It holds a few frames; an error there is raised here (media.prefetch.InOrder, which also
        # ends when stopped whatever its queue does: a stop signal can lose a queue's wake-up).
        self._background = background
        self._encoder: InOrder | None = None
        self._container = None
        self._audio: _DubAudio | None = None
        self._audio_seconds = audio_seconds
        #: Stereo/VR boxes (:class:`~.vrmeta.VRMetadata`) put into the file before it gets its final name.
        self.vr_metadata = None
        options = {"movflags": "+faststart"} if self.path.suffix.lower() in (".mp4", ".mov") else {}
        if self.fmt.codec == "dnxhr" and (self._w < DNXHR_MIN_SIZE[0] or self._h < DNXHR_MIN_SIZE[1]):
            raise OutputError(f"DNxHR needs frames at least {DNXHR_MIN_SIZE[0]} x {DNXHR_MIN_SIZE[1]}; these are "
                              f"{width} x {height}", path=self.path, hint="choose ProRes or H.264")
        try:
            self._container = av.open(str(self.tmp), mode="w", options=options)
        except (OSError, av.error.FFmpegError) as exc:
            raise OutputError(f"cannot be created ({exc})", path=self.path) from exc
        try:
            self._video = self._add_video_stream()
            if audio is not None:
                acodec = self.fmt.audio_codec(self.path.suffix)
                self._audio = _DubAudio(Path(audio), self._container, acodec, audio_rate, audio_channels,
                                        fmt.audio_bitrate, audio_seconds, audio_at_picture)
        except BaseException:
            self.abort()
            raise

    def _add_video_stream(self):
        f = self.fmt
        opts: dict[str, str] = {}
        if f.codec in ("h264", "hevc"):
            opts = {"crf": str(f.crf), "preset": f.preset}
            params = []
            if f.codec == "h264" and f.preset == "veryfast":
                params.append(X264_VERYFAST_PARAMS)
            elif f.codec == "h264" and f.preset in X264_TRELLIS_PRESETS and f.crf > 0:
                opts["tune"] = "grain"
            simd = x264_simd_without_avx512() if f.codec == "h264" else None
            if simd:
                params.append(f"asm={simd}")
            if f.codec == "h264" and is_interlaced(self.field_order):
                params.append("interlaced=1:" + ("tff=1" if self.field_order == TOP_FIRST else "bff=1"))
            if params:
                opts["x264-params"] = ":".join(params)
            if f.codec == "hevc":
                opts["x265-params"] = "log-level=error"
        elif f.codec == "vp9":
            opts = {"crf": str(f.crf), "b": "0", "row-mt": "1", "deadline": "good", "cpu-used": "4"}
        elif f.codec == "prores":
            opts = {"profile": "4" if self.alpha is not None else "3"}  # 4444 with its alpha, else 422 HQ
        elif f.codec == "dnxhr":
            opts = {"profile": "dnxhr_hqx" if self.colour.bits > 8 else "dnxhr_hq"}
        stream = self._container.add_stream(_ENCODERS[f.codec], rate=self.fps, options=opts)
        stream.width, stream.height = self._w, self._h
        if self._encoder_threads:
            stream.codec_context.thread_count = self._encoder_threads
        stream.pix_fmt = ("yuv422p10le" if f.codec == "prores" or (f.codec == "dnxhr" and self.colour.bits > 8)
                          else "yuv422p" if f.codec == "dnxhr" else f.pix_fmt)
        if self.alpha is not None:
            stream.pix_fmt = "yuva444p10le" if f.codec == "prores" else "yuva420p"
        c = self.colour
        self._declares = c != PLAIN.written()
        # A deeper clip stays deep where the result's codec plays so: HEVC (Main 10), and H.264 for HDR only (High 10
        # plays in few players, QuickTime and browsers not, so a 10-bit SDR master, ProRes say, still gives the
        # 8-bit H.264 that plays everywhere; HDR in 8 bits bands). This libvpx is 8-bit only.
        if c.bits > 8 and stream.pix_fmt == "yuv420p" and (f.codec == "hevc" or (f.codec == "h264" and c.hdr)):
            stream.pix_fmt = "yuv420p10le"
        if self.timecode:
            stream.metadata["timecode"] = self.timecode
        if is_interlaced(self.field_order):
            import av

            stream.codec_context.field_order = FFMPEG_CODE[self.field_order]
            if f.codec == "prores":  # two pictures a frame; which comes first is each frame's flag (_FieldFlags)
                stream.codec_context.flags |= av.codec.context.Flags.interlaced_dct
                self._field_flags = _FieldFlags(self.field_order)
        if self.sample_aspect != 1:
            stream.codec_context.sample_aspect_ratio = self.sample_aspect
        if self._declares:
            cc = stream.codec_context
            cc.colorspace, cc.color_primaries, cc.color_trc, cc.color_range = c.matrix, c.primaries, c.transfer, 1
        if f.codec == "hevc":
            stream.codec_tag = "hvc1"  # what Apple players need to play HEVC in MP4/MOV
        return stream

    def _mux(self, packet) -> None:
        try:
            self._container.mux(packet)
        except OSError as exc:
            raise os_error_to_output_error(exc, self.path) from exc

    def write(self, frame: np.ndarray | DecodedFrame, *, base: DecodedFrame | None = None,
              box: tuple[int, int, int, int] | None = None, owned: bool = False,
              alpha: np.ndarray | None = None) -> None:
        """Append one frame: ``(height, width, 3) uint8 RGB``, or a :class:`~.video.DecodedFrame` (unchanged).

        ``base``, ``box``: ``frame`` is the decoded ``base`` with at most the pixels in ``box`` (``x0, y0, x1, y1``,
        or a list of such boxes) changed. Where this writer encodes 4:2:0 and ``base`` kept its planes, only the
        box is converted and every pixel outside it goes to the encoder as decoded (an unchanged DecodedFrame: all
        of them); otherwise the whole RGB frame is converted.

        ``owned``: the caller hands ``frame`` over and never writes into it again (a frame it made for this call);
        the conversion to the encoder's format then runs on the encoder's thread, off the caller's. Otherwise it is
        converted here, before the call returns (the caller may reuse its array).

        ``alpha``: this frame's alpha plane ((height, width) uint8) in place of the writer's own (a transparent
        photo's face drawn with its jaw lower); only for a writer made with ``alpha``. Else the decoded frame's own
        (:attr:`~.video.DecodedFrame.alpha`, a keyed video's), where the writer keeps alpha.
        """
        if alpha is None and self.alpha is not None:
            own = frame if isinstance(frame, DecodedFrame) else base
            alpha = getattr(own, "alpha", None)
        if alpha is not None:
            if self.alpha is None:
                raise ValueError("this writer holds no alpha (it was made without one)")
            if alpha.shape != (self.height, self.width):
                raise ValueError(f"expected a ({self.height}, {self.width}) alpha plane, got {alpha.shape}")
            alpha = np.pad(alpha, ((0, self._h - self.height), (0, self._w - self.width)), mode="edge")
        frame_alpha = self.alpha if alpha is None else alpha
        if isinstance(frame, DecodedFrame):
            base, box, frame = frame, (0, 0, 0, 0), None
        planes = None
        pasted = False
        if base is not None and box is not None and self.takes_planes(base):
            if frame is None:
                planes = base.planes
            else:
                self._check(frame)
                planes, pasted = base.planes, True
        if self._closed:
            raise ValueError("the writer is closed")
        if planes is None:
            if base is not None and base.fields is not None and base.fields == self.field_order:
                # Both fields as decoded, but where the frame was redrawn (drawn from the first field's moment).
                frame = base.woven if frame is None else _drawn_over(base.woven, frame, box)
            frame = base.rgb if frame is None else frame
            self._check(frame)
        pts = self.frames_written
        self.frames_written += 1

        def video_frame():
            if planes is not None:
                # A copy: the planes may be written again (a source frame shown twice).
                vf, views = i420_frame(planes)
                for b in (box if isinstance(box, list) else [box]) if pasted else ():
                    paste_rgb(views, frame, b, self.colour.matrix, is_interlaced(self.field_order))
            else:
                rgb = frame
                if (self._w, self._h) != (self.width, self.height):
                    rgb = np.pad(rgb, ((0, self._h - self.height), (0, self._w - self.width), (0, 0)), mode="edge")
                vf = _to_video_frame(rgb, self._video.pix_fmt, self.colour.matrix,  # a copy: the caller may reuse it
                                     is_interlaced(self.field_order), frame_alpha)
            if self._declares:  # on every frame too: some encoders (ProRes) take the colour from the frames
                c = self.colour
                vf.colorspace, vf.color_primaries, vf.color_trc, vf.color_range = c.matrix, c.primaries, c.transfer, 1
            vf.pts = pts
            vf.time_base = 1 / self.fps
            return vf

        if not self._background:
            self._encode(video_frame())
            return
        if self._encoder is None:
            self._encoder = InOrder(self._encode_item, depth=4, name="encoder")
        self._encoder.put(video_frame if owned else video_frame())

    def _check(self, frame: np.ndarray) -> None:
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(f"expected a ({self.height}, {self.width}, 3) uint8 frame, got {frame.shape} {frame.dtype}")

    def takes_planes(self, decoded: DecodedFrame) -> bool:
        """Whether a decoded frame's 4:2:0 planes can be encoded as they are (it kept them, in this writer's format,
        size and YUV matrix): then a frame redrawn in a box is written with only that box converted (:meth:`write`'s
        ``base`` and ``box``), and the rest of its RGB is never read."""
        return (decoded.planes is not None and self._video.pix_fmt == "yuv420p"
                and decoded.fields in (None, self.field_order)  # fields only to a writer of the same order
                and (self._w, self._h) == (self.width, self.height)
                and decoded.planes.shape == (self.height * 3 // 2, self.width)
                and same_conversion(decoded.matrix, self.colour.matrix))

    def _encode(self, vf) -> None:
        if self._field_flags is not None:
            vf = self._field_flags(vf)
        for packet in self._video.encode(vf):
            self._mux(packet)
        if self._audio is not None:
            self._audio.pump_until(float((vf.pts + 1) / self.fps), self._mux)

    def _encode_item(self, item) -> None:
        """Encode one queued frame: a VideoFrame, or an owned frame's conversion to one (made here)."""
        self._encode(item() if callable(item) else item)

    def _end_encoder(self, stop: bool) -> None:
        """Let the encoder thread finish what it has queued and raise its error (``stop``: drop what it has not
        started, raise nothing) and end."""
        encoder, self._encoder = self._encoder, None
        if encoder is None:
            return
        if stop:
            encoder.abandon()
        else:
            encoder.finish()

    def close(self) -> Path:
        """Finish the file and move it to its final name; return that name."""
        if self._closed:
            return self.path
        try:
            self._end_encoder(stop=False)
            for packet in self._video.encode(None):
                self._mux(packet)
            if self._audio is not None:
                if self._audio_seconds is None:
                    self._audio.total = int(round(float(self.frames_written / self.fps) * self._audio.rate))
                self._audio.finish(self._mux)
            self._container.close()
            self._closed = True
            if self.vr_metadata is not None and (self.vr_metadata.entry_boxes or self.vr_metadata.track_boxes):
                self._put_vr_metadata()
            self.tmp.replace(self.path)
        except OSError as exc:
            self.abort()
            raise os_error_to_output_error(exc, self.path) from exc
        except BaseException:
            self.abort()
            raise
        return self.path

    def _put_vr_metadata(self) -> None:
        """Write the stereo/VR boxes into the finished temporary file (MP4/MOV only; others are warned about)."""
        if self.path.suffix.lower() not in (".mp4", ".mov"):
            warn_media(f"{self.path}: the stereo/VR metadata ({self.vr_metadata.summary()}) can only "
                       "be written into .mp4/.mov; this file goes without it", stacklevel=3)
            return
        from .vrmeta import write_vr_metadata

        write_vr_metadata(self.tmp, self.vr_metadata)

    def abort(self) -> None:
        """Stop writing and remove the partial file; the final name is left untouched."""
        if not self._closed:
            self._closed = True
            self._end_encoder(stop=True)
            try:
                if self._container is not None:
                    self._container.close()
            except Exception:  # noqa: BLE001 - closing a broken muxer may fail; the file goes anyway
                pass
            if self._audio is not None:
                self._audio._src.close()
        try:
            self.tmp.unlink()
        except OSError:
            pass

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
