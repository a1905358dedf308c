"""Shared fixtures: clips whose every frame carries its own index as a barcode, dubs of known content.

The barcode lets a test read back which source frame a decoded or written frame is, through lossy codecs.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

BITS = 12
CELL = 8


@pytest.fixture(scope="module")
def one_torch_thread():
    """Torch on one intra-op thread for a module's tests (``pytestmark = pytest.mark.usefixtures(...)``): on a
    shared 2-core runner its OpenMP workers spin against the other jobs and a 0.5 s training step becomes
    5-10 s; one thread keeps it ~1 s whatever else runs (and bit-for-bit checks stable)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def coded_frame(index: int, width: int = 160, height: int = 96) -> np.ndarray:
    """A (height, width, 3) uint8 RGB frame with ``index`` written as a 12-bit barcode along the top row."""
    img = np.full((height, width, 3), 64, np.uint8)
    img[CELL * 2:, :, 1] = (np.arange(width) * 255 // max(1, width - 1)).astype(np.uint8)[None, :]
    for b in range(BITS):
        on = (index >> b) & 1
        img[0:CELL * 2, b * CELL:(b + 1) * CELL] = 255 if on else 0
    # An asymmetric marker (top-right bright) so rotation can be checked.
    img[CELL * 2:CELL * 4, -CELL * 2:] = (255, 0, 0)
    return img


def read_code(img: np.ndarray) -> int:
    """Read back the index written by :func:`coded_frame`."""
    value = 0
    for b in range(BITS):
        cell = img[CELL // 2:CELL + CELL // 2, b * CELL + 2:(b + 1) * CELL - 2]
        if cell.mean() > 127:
            value |= 1 << b
    return value


def weave(first: np.ndarray, second: np.ndarray, order: str) -> np.ndarray:
    """A frame of two moments: ``first``'s rows for the field shown first, ``second``'s for the other."""
    out = first.copy()
    rows = slice(1, None, 2) if order == "tff" else slice(0, None, 2)
    out[rows] = second[rows]
    return out


def comb_energy(img: np.ndarray) -> float:
    """Mean row-to-row alternation of a picture's luma (levels): how combed it looks: a
    woven frame of something moving scores several times what either of its fields' moments does."""
    x = img.astype(np.float32)
    luma = x if x.ndim == 2 else x.mean(axis=2)
    if luma.shape[0] < 3:
        return 0.0
    c, up, dn = luma[1:-1], luma[:-2], luma[2:]
    return float(np.mean(np.maximum((c - up) * (c - dn), 0.0)) ** 0.5)


def field_mismatch(img: np.ndarray) -> float:
    """How far a picture's second-field rows lie from its first field's rows around them (mean levels): what
    combing is; a picture of one moment scores its own vertical detail only."""
    luma = img.astype(np.float32).mean(axis=2)
    top, bottom = luma[0::2], luma[1::2]
    n = min(len(top), len(bottom)) - 1
    return float(np.abs(bottom[:n] - 0.5 * (top[:n] + top[1:n + 1])).mean())


def write_interlaced_talking(path: Path, order: str = "tff", size: int = 192) -> Path:
    """A talking face coded interlaced (x264, PyAV directly) with its own sound: each frame's second field is two
    frames on (the head sways quickly)."""
    import av
    import soundfile as sf

    from lipsync_studio.samples import random_syllables, synth_speech, talking_clip

    speech = synth_speech(random_syllables(6, 3), seed=3)
    frames, n = talking_clip(speech, fps=25.0, size=size, seed=3, head_motion=8.0)
    frames = list(frames)
    sound = path.with_suffix(".wav")
    sf.write(sound, speech.audio, speech.sr)
    with av.open(str(path), "w") as c:
        vs = c.add_stream("libx264", rate=25, options={"crf": "12", "x264-params": f"interlaced=1:{order}=1"})
        vs.width = vs.height = size
        vs.pix_fmt = "yuv420p"
        vs.codec_context.field_order = 2 if order == "tff" else 3
        aus = c.add_stream("pcm_s16le", rate=speech.sr)
        aus.codec_context.layout = "mono"
        for k in range(n):
            vf = av.VideoFrame.from_ndarray(weave(frames[k], frames[min(k + 2, n - 1)], order), format="rgb24")
            vf.pts, vf.time_base = k, Fraction(1, 25)
            for p in vs.encode(vf):
                c.mux(p)
        for p in vs.encode(None):
            c.mux(p)
        pcm = (np.clip(speech.audio, -1, 1) * 32767).astype(np.int16)[None, :]
        af = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        af.sample_rate, af.pts = speech.sr, 0
        for p in aus.encode(af):
            c.mux(p)
        for p in aus.encode(None):
            c.mux(p)
    return path


def write_clip(path: Path, n: int, *, fps: Fraction | int = 25, codec: str = "libx264", size=(160, 96),
               pix_fmt: str = "yuv420p", rotation: int | None = None, times: np.ndarray | None = None,
               audio_seconds: float | None = None, options: dict | None = None, gop: int | None = None,
               timecode: str | None = None, sample_aspect: Fraction | None = None) -> Path:
    """Write ``n`` coded frames with PyAV directly (independent of the app's writer).

    ``times`` (seconds, one per frame) makes a variable-frame-rate clip; ``audio_seconds`` adds a 220 Hz tone;
    ``timecode`` gives it a start time code (MOV/MP4: a ``tmcd`` track), as a camera does; ``sample_aspect`` a
    pixel shape (anamorphic video: 64:45 for 16:9 PAL at 720 x 576).
    """
    import av

    container_opts = {"movflags": "+faststart"} if path.suffix in (".mp4", ".mov") else {}
    with av.open(str(path), "w", options=container_opts) as c:
        opts = dict(options or {})
        if gop:
            opts["g"] = str(gop)
        vs = c.add_stream(codec, rate=Fraction(fps), options=opts)
        vs.width, vs.height = size
        vs.pix_fmt = pix_fmt
        if timecode is not None:
            vs.metadata["timecode"] = timecode
        if sample_aspect is not None:
            vs.codec_context.sample_aspect_ratio = sample_aspect
        if times is not None:
            vs.time_base = Fraction(1, 1000)
            vs.codec_context.time_base = Fraction(1, 1000)
        if rotation is not None:
            vs.set_display_rotation(rotation)
        aus = None
        if audio_seconds:
            aus = c.add_stream("aac", rate=48000)
            aus.codec_context.layout = "mono"
        for i in range(n):
            f = av.VideoFrame.from_ndarray(coded_frame(i, *size), format="rgb24")
            if times is not None:
                f.pts = int(round(times[i] * 1000))
                f.time_base = Fraction(1, 1000)
            else:
                f.pts = i
                f.time_base = 1 / Fraction(fps)
            for p in vs.encode(f):
                c.mux(p)
        for p in vs.encode(None):
            c.mux(p)
        if aus is not None:
            sr = 48000
            t = np.arange(int(audio_seconds * sr)) / sr
            x = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)[None, :]
            for k in range(0, x.shape[1], 4800):
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(x[:, k:k + 4800]), format="fltp", layout="mono")
                af.sample_rate = sr
                af.pts = k
                for p in aus.encode(af):
                    c.mux(p)
            for p in aus.encode(None):
                c.mux(p)
    return path


def write_jpeg(path: Path, img: np.ndarray, orientation: int | None = None, big_endian: bool = False) -> Path:
    """``img`` (RGB) as a JPEG, with an EXIF block holding ``orientation`` (Motorola or Intel byte order)."""
    import struct

    import cv2

    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(img[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 95])
    data = data.tobytes()
    if orientation is not None:
        e = ">" if big_endian else "<"
        tiff = (b"MM" if big_endian else b"II") + struct.pack(e + "HI", 42, 8) + struct.pack(e + "H", 2)
        tiff += struct.pack(e + "HHI4s", 0x010F, 2, 4, b"cam\0")  # Make, then Orientation (a SHORT)
        tiff += struct.pack(e + "HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(e + "I", 0)
        app1 = b"Exif\x00\x00" + tiff
        data = data[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + data[2:]
    path.write_bytes(data)
    return path


def write_tone(path: Path, seconds: float, *, freq: float = 440.0, sr: int = 16000) -> Path:
    """A mono sine ``freq`` Hz of ``seconds`` at ``sr``, written with the app's audio writer."""
    from lipsync_studio.media.audio_writer import write_audio

    t = np.arange(int(round(seconds * sr))) / sr
    return write_audio(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), sr)


def write_audio_streams(path: Path, signals: list[np.ndarray], sr: int = 48000,
                        titles: tuple[str, ...] = ()) -> Path:
    """A delivery holding each signal ((n,) float32) as its own mono 16-bit PCM audio stream, in order, titled
    ``titles`` (Matroska keeps a stream's title)."""
    import av

    with av.open(str(path), "w") as out:
        streams = []
        for k in range(len(signals)):
            st = out.add_stream("pcm_s16le", rate=sr)
            st.layout = "mono"
            if k < len(titles):
                st.metadata["title"] = titles[k]
            streams.append(st)
        for i in range(0, max(len(x) for x in signals), 1024):
            for st, sig in zip(streams, signals):
                chunk = np.clip(np.asarray(sig[i:i + 1024], np.float32), -1, 1)
                if not len(chunk):
                    continue
                frame = av.AudioFrame.from_ndarray((chunk * 32767).astype(np.int16)[None], format="s16",
                                                   layout="mono")
                frame.sample_rate = sr
                for packet in st.encode(frame):
                    out.mux(packet)
        for st in streams:
            for packet in st.encode(None):
                out.mux(packet)
    return path


def write_two_shot_clip(path: Path) -> Path:
    """100 frames (640 x 360, 25 fps): a face (frames 0-29), a cutaway with nobody (30-69), then the face alone,
    without the photo's hair and backdrop, before another backdrop (70-99): two faces to the tracker."""
    import cv2

    from lipsync_studio.media.writer import VideoWriter
    from lipsync_studio.samples import PHOTO_OPENING, render_face

    rng = np.random.default_rng(3)
    face = render_face(PHOTO_OPENING, size=200)
    other = cv2.resize(rng.integers(40, 200, (9, 16, 3), dtype=np.uint8), (640, 360), interpolation=cv2.INTER_CUBIC)
    with VideoWriter(path, 25, 640, 360) as w:
        for k in range(100):
            f = np.full((360, 640, 3), 120, np.uint8)
            if k < 30:
                f[80:280, 220:420] = face
            elif k >= 70:
                f = other.copy()
                f[110:245, 265:375] = face[30:165, 45:155]
            w.write(f)
    return path


@pytest.fixture(scope="session", autouse=True)
def _crash_trace(request: pytest.FixtureRequest) -> None:
    """A crash in native code prints every thread's Python stack where pytest's own crash trace goes, also after a
    batch test's Ray took the crash signals and let them go (the suite's rare segmentation fault printed none)."""
    try:
        from _pytest.faulthandler import fault_handler_stderr_fd_key
    except ImportError:  # another pytest: its own trace stands
        return
    fd = request.config.stash.get(fault_handler_stderr_fd_key, None)
    if fd is not None:
        from lipsync_studio.errors import trace_crashes

        trace_crashes(fd)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own analysis cache: none reads or fills the user's."""
    # Beside tmp_path, not in it: tests that list their folder see only what they made.
    monkeypatch.setenv("LIPSYNC_STUDIO_CACHE_DIR", str(tmp_path.parent / f"{tmp_path.name}-analysis-cache"))


@pytest.fixture()
def clip50(tmp_path: Path) -> Path:
    """50 coded frames at 25 fps (2 s), H.264 in MP4, with a 2 s tone as its own sound."""
    return write_clip(tmp_path / "clip50.mp4", 50, audio_seconds=2.0, gop=12)


@pytest.fixture()
def dub3s(tmp_path: Path) -> Path:
    """A 3.0 s 440 Hz dub (WAV, 16 kHz mono)."""
    return write_tone(tmp_path / "dub3s.wav", 3.0)
