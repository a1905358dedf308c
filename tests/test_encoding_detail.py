"""The default encoding keeps a picture's fine detail: a synced mouth must not go soft in the file it is written to."""

from fractions import Fraction

import av
import cv2
import numpy as np

from lipsync_studio.media.writer import VideoFormat, VideoWriter


def _grainy_frames(n: int = 24, h: int = 240, w: int = 320) -> list[np.ndarray]:
    """A slowly panning picture with sensor-like grain (sigma 3 levels) and a moving red disc."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([120 + 60 * np.sin(xx / 40.0), 100 + 40 * np.cos(yy / 30.0), 90 + 0 * xx], -1)
    frames = []
    for k in range(n):
        img = np.roll(base, k, axis=1) + rng.normal(0, 3.0, (h, w, 1))
        cv2.circle(img, (100 + 2 * k, 120), 30, (200, 60, 70), -1)
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    return frames


def _detail(path) -> float:
    """Mean variance of the grey Laplacian over a file's decoded frames."""
    with av.open(str(path)) as c:
        return float(np.mean([cv2.Laplacian(cv2.cvtColor(f.to_ndarray(format="rgb24"), cv2.COLOR_RGB2GRAY)
                                            .astype(np.float32), cv2.CV_32F).var() for f in c.decode(video=0)]))


def _usual_x264(path, frames, crf: int, preset: str, params: dict) -> None:
    """``frames`` encoded by x264 with its own defaults beside ``params``."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as c:
        st = c.add_stream("libx264", rate=25, options={"crf": str(crf), "preset": preset, **params})
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            vf.pts = i
            for p in st.encode(vf):
                c.mux(p)
        for p in st.encode():
            c.mux(p)


def test_the_default_encoding_keeps_the_grain_x264s_usual_settings_drop_at_no_more_bytes(tmp_path):
    """x264 at ``veryfast`` drops detail under its deadzones; re-encoded that way a real talking head's mouth kept
    0.88-0.95 of its detail, and a synced one read as softer than the frames around it. The default keeps more of a
    grainy picture's detail than x264's usual visually lossless setting (CRF 16, its own deadzones), in no more bytes."""
    frames = _grainy_frames()
    ours, usual = tmp_path / "ours.mp4", tmp_path / "usual.mp4"
    assert VideoFormat().preset == "veryfast"
    with VideoWriter(ours, Fraction(25), 320, 240) as w:
        for f in frames:
            w.write(f)
    _usual_x264(usual, frames, 16, "veryfast", {"x264-params": "me=dia"})  # x264's own deadzones, the same search
    grey = [cv2.Laplacian(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F).var() for f in frames]
    source = float(np.mean(grey))
    assert _detail(ours) >= 1.15 * _detail(usual)
    assert _detail(ours) >= 0.75 * source
    assert ours.stat().st_size <= 1.05 * usual.stat().st_size


def test_the_apps_export_preset_keeps_the_grain_too():
    """The app exports at ``medium`` (trellis on, where deadzones do not apply): its default keeps more of a grainy
    picture's detail than x264's usual CRF 16 there, in about the same bytes."""
    import tempfile
    from pathlib import Path

    from lipsync_studio.settings import ExportSettings

    frames = _grainy_frames()
    e = ExportSettings()
    with tempfile.TemporaryDirectory() as tmp:
        ours, usual = Path(tmp) / "ours.mp4", Path(tmp) / "usual.mp4"
        with VideoWriter(ours, Fraction(25), 320, 240, fmt=VideoFormat(crf=e.crf, preset=e.preset)) as w:
            for f in frames:
                w.write(f)
        _usual_x264(usual, frames, 16, e.preset, {})
        assert _detail(ours) >= 1.1 * _detail(usual)
        assert ours.stat().st_size <= 1.15 * usual.stat().st_size


def test_an_encoder_beside_a_busy_engine_writes_the_same_picture_with_fewer_threads(tmp_path):
    """A sync leaves one core to the engine drawing the frames (``threads_beside_one_busy``): the encoder then runs
    fewer threads, never none, and the file holds every frame at the same detail and size as with x264's own
    choice of threads."""
    import os

    from lipsync_studio.media.writer import threads_beside_one_busy

    cores = len(os.sched_getaffinity(0))
    assert threads_beside_one_busy() == max(1, cores - 1)
    frames = _grainy_frames()
    paths, running = {}, {}
    for threads in (None, 1):
        paths[threads] = tmp_path / f"threads_{threads}.mp4"
        with VideoWriter(paths[threads], Fraction(25), 320, 240, encoder_threads=threads, background=False) as w:
            for k, f in enumerate(frames):
                w.write(f)
                if k == len(frames) // 2:  # the encoder is open, its threads started
                    running[threads] = len(os.listdir("/proc/self/task"))
    if cores > 1:  # x264's own choice: frame threads and a lookahead beside the caller
        assert running[1] < running[None]
    with av.open(str(paths[1])) as c:
        assert c.streams.video[0].codec_context.name == "h264"
        assert sum(1 for _ in c.decode(video=0)) == len(frames)
    assert abs(_detail(paths[1]) / _detail(paths[None]) - 1) < 0.03
    assert abs(paths[1].stat().st_size / paths[None].stat().st_size - 1) < 0.05


_ENCODE_NOISE = """
import sys
from fractions import Fraction
import numpy as np
from lipsync_studio.media.writer import VideoWriter
rng = np.random.default_rng(1)
base = (rng.random((144, 176, 3)) * 255).astype(np.uint8)
with VideoWriter(sys.argv[1], Fraction(25), 176, 144, encoder_threads=1, background=False) as vw:
    for k in range(20):
        vw.write(np.roll(base, 3 * k, axis=1))
"""


def test_the_same_frames_make_the_same_file_whatever_lies_in_uninitialised_memory(tmp_path):
    """A pipeline re-running a job gets the very same file. x264's AVX-512 code reads past its rows' right edge,
    where its buffers hold whatever the allocator left there: with glibc's ``MALLOC_PERTURB_`` filling fresh memory
    with one byte or another, the same 176 px frames gave different files on an AVX-512 machine (on other machines
    this holds anyway)."""
    import os
    import subprocess
    import sys

    digests = []
    for k, byte in enumerate(("1", "77")):
        out = tmp_path / f"run{k}.mp4"
        env = dict(os.environ, MALLOC_PERTURB_=byte)
        subprocess.run([sys.executable, "-c", _ENCODE_NOISE, str(out)], env=env, check=True, timeout=120)
        digests.append(out.read_bytes())
    assert digests[0] == digests[1]


def test_x264_is_given_the_cpus_simd_levels_but_avx512():
    from lipsync_studio.media.writer import x264_simd_without_avx512

    modern = "processor\t: 0\nflags\t\t: fpu sse sse2 pni ssse3 sse4_1 sse4_2 avx fma bmi1 bmi2 avx2 abm avx512f avx512bw\n"
    got = x264_simd_without_avx512(modern)
    assert got == "MMX2,SSE,SSE2,LZCNT,SSE3,SSSE3,SSE4.1,SSE4.2,AVX,FMA3,BMI1,BMI2,AVX2"
    # Only levels the CPU reports: one without BMI2 and LZCNT does not get them.
    assert x264_simd_without_avx512(modern.replace(" bmi2", "").replace(" abm", "")) == \
        "MMX2,SSE,SSE2,SSE3,SSSE3,SSE4.1,SSE4.2,AVX,FMA3,BMI1,AVX2"
    # No AVX-512, or nothing to read: x264 chooses for itself.
    assert x264_simd_without_avx512(modern.replace(" avx512f avx512bw", "")) is None
    assert x264_simd_without_avx512("") is None
