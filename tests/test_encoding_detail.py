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
