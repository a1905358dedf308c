"""A result keeps its clip's picture format: the same YUV matrix, declared colour and bit depth (HDR), the same
pixel shape (anamorphic video) and the clip's time code."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
from conftest import write_clip, write_tone

from lipsync_studio.engine.sync_job import SyncOptions, SyncRequest, run_sync
from lipsync_studio.media.probe import format_probe, probe
from lipsync_studio.media.video import VideoReader, frame_rgb
from lipsync_studio.media.writer import VideoFormat

#: Saturated patches (a green screen, a red shirt, a blue sky) and skin: where BT.601 and BT.709 part most.
PATCHES = ((40, 200, 60), (210, 40, 30), (40, 80, 220), (205, 150, 120))


def _camera_clip(path: Path, size: tuple[int, int], codec: str, pix_fmt: str, tags: tuple[int, int, int],
                 params: dict, n: int = 12) -> Path:
    """A clip as a camera writes it (PyAV directly, not the app's writer): four colour patches, tagged
    ``tags`` = (matrix, primaries, transfer), converted to YUV with that matrix."""
    import av

    w, h = size
    img = np.zeros((h, w, 3), np.uint8)
    for k, colour in enumerate(PATCHES):
        img[:, k * w // 4:(k + 1) * w // 4] = colour
    matrix, primaries, transfer = tags
    with av.open(str(path), "w") as c:
        vs = c.add_stream(codec, rate=25, options=params)
        vs.width, vs.height, vs.pix_fmt = w, h, pix_fmt
        cc = vs.codec_context
        cc.colorspace, cc.color_primaries, cc.color_trc, cc.color_range = matrix, primaries, transfer, 1
        for i in range(n):
            f = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format=pix_fmt, dst_colorspace=matrix,
                                                                          dst_color_range=1)
            f.colorspace, f.color_range = matrix, 1
            f.pts, f.time_base = i, Fraction(1, 25)
            for p in vs.encode(f):
                c.mux(p)
        for p in vs.encode(None):
            c.mux(p)
    return path


def _colours(path: Path) -> tuple[np.ndarray, object]:
    """The middle of each patch in the middle frame, as a player reads the file (its own tags), and the stream's
    codec context."""
    import av

    with av.open(str(path)) as c:
        frames = [frame_rgb(f) for f in c.decode(video=0)]
        cc = c.streams.video[0].codec_context
        img = frames[len(frames) // 2]
        h, w = img.shape[:2]
        return np.array([img[h // 2, (2 * k + 1) * w // 8] for k in range(4)], int), cc


def test_an_hd_camera_clip_in_bt709_keeps_its_colours_in_the_result(tmp_path):
    """A 720p camera clip is BT.709; the result was converted with BT.601 and said nothing, so players (which take
    BT.709 for HD) showed it shifted in colour against the clip (the green patch 8 levels off in green)."""
    clip = _camera_clip(tmp_path / "camera.mp4", (1280, 720), "libx264", "yuv420p", (1, 1, 1),
                        {"preset": "ultrafast", "crf": "12"})
    out = tmp_path / "out.mp4"
    run_sync(SyncRequest(clip, write_tone(tmp_path / "dub.wav", 0.4), out, SyncOptions(engine="none")))
    want, _ = _colours(clip)
    got, cc = _colours(out)
    assert (cc.colorspace, cc.color_primaries, cc.color_trc) == (1, 1, 1)
    assert np.abs(got - want).max() <= 2, (got, want)
    assert np.abs(want - np.array(PATCHES)).max() <= 3  # the clip itself reads as it was made


def test_a_10_bit_hdr_clip_stays_10_bit_hdr(tmp_path):
    """An HDR phone clip (HEVC, 10-bit, HLG in BT.2020) gives a 10-bit result declaring HLG and BT.2020 (before: 8-bit
    and nothing declared, so players showed it as SDR, washed out), with its colours; ``probe`` names it."""
    clip = _camera_clip(tmp_path / "phone.mp4", (256, 144), "libx265", "yuv420p10le", (9, 9, 18),
                        {"crf": "12", "x265-params": "log-level=error"})
    with VideoReader(clip) as r:
        assert (r.info.colour.bits, r.info.colour.hdr) == (10, True)
        first = r.frame(0)
    # 10-bit pictures read at their level (FFmpeg's direct 10-bit to 8-bit RGB conversion read them 1-3 levels dark).
    h, w = first.shape[:2]
    read = np.array([first[h // 2, (2 * k + 1) * w // 8] for k in range(4)], int)
    assert np.abs(read - np.array(PATCHES)).max() <= 1, read
    out = tmp_path / "out.mp4"
    run_sync(SyncRequest(clip, write_tone(tmp_path / "dub.wav", 0.4), out, SyncOptions(engine="none")))
    want, _ = _colours(clip)
    got, cc = _colours(out)
    assert cc.pix_fmt == "yuv420p10le"
    assert (cc.colorspace, cc.color_primaries, cc.color_trc) == (9, 9, 18)
    assert np.abs(got - want).max() <= 2, (got, want)
    assert "HDR HLG, BT.2020, 10-bit" in format_probe(probe(out))


def test_a_10_bit_sdr_master_gives_the_h264_that_plays_everywhere_in_its_colours(tmp_path):
    """A ProRes master (10-bit 4:2:2, BT.709, not HDR) synced to the default H.264 stays 8-bit (High 10 plays in few
    players), declaring BT.709; asked for HEVC, it stays 10-bit."""
    clip = _camera_clip(tmp_path / "master.mov", (320, 180), "prores_ks", "yuv422p10le", (1, 1, 1), {"profile": "3"})
    want, _ = _colours(clip)
    for name, fmt, pix in (("web.mp4", VideoFormat(), "yuv420p"), ("deep.mp4", VideoFormat(codec="hevc"),
                                                                       "yuv420p10le")):
        out = tmp_path / name
        run_sync(SyncRequest(clip, write_tone(tmp_path / "dub.wav", 0.4), out, SyncOptions(engine="none", fmt=fmt)))
        got, cc = _colours(out)
        assert cc.pix_fmt == pix and cc.colorspace == 1
        assert np.abs(got - want).max() <= 2, (name, got, want)


def test_an_anamorphic_clip_gives_a_result_shown_as_wide(tmp_path):
    """A 16:9 PAL clip is stored 720 x 576 with pixels 64:45 wide; the result said nothing of its pixels and played
    at 5:4, everyone in it squeezed thin."""
    import av

    clip = write_clip(tmp_path / "pal.mp4", 10, size=(720, 576), sample_aspect=Fraction(64, 45))
    out = tmp_path / "out.mp4"
    run_sync(SyncRequest(clip, write_tone(tmp_path / "dub.wav", 0.4), out, SyncOptions(engine="none")))
    with av.open(str(out)) as c:
        assert c.streams.video[0].sample_aspect_ratio == Fraction(64, 45)
    assert "pixels 64:45, shown 1024x576" in format_probe(probe(out))


def test_a_clips_time_code_is_kept_and_a_range_written_alone_starts_at_its_own():
    """Editing software conforms a shot by its time code: the result starts where the clip does (10:00:00:00), a
    range written alone at its own first frame, drop-frame counted as such."""
    from lipsync_studio.media.timecode import timecode_after, timecode_frames

    assert timecode_after("10:00:00:00", 20, 25) == "10:00:00:20"
    assert timecode_after("00:00:59;29", 1, Fraction(30000, 1001)) == "00:01:00;02"  # ;00 and ;01 are skipped
    assert timecode_after("00:09:59;29", 1, Fraction(30000, 1001)) == "00:10:00;00"  # but not at the tenth minute
    assert timecode_frames("00:10:00;00", Fraction(30000, 1001)) == 17982
    assert timecode_after("23:59:59:24", 1, 25) == "00:00:00:00" and timecode_after("nonsense", 1, 25) is None


def test_a_synced_camera_clip_and_its_range_keep_the_time_code(tmp_path):
    import av

    from lipsync_studio.app.range_export import sync_range_only

    clip = write_clip(tmp_path / "camera.mov", 50, audio_seconds=2.0, timecode="10:00:00:00")
    dub = write_tone(tmp_path / "dub.wav", 2.0)
    whole, part = tmp_path / "whole.mov", tmp_path / "part.mp4"
    run_sync(SyncRequest(clip, dub, whole, SyncOptions(engine="none")))
    sync_range_only(SyncRequest(clip, dub, part, SyncOptions(engine="none", start_s=0.8, end_s=1.6)))
    for path, want in ((whole, "10:00:00:00"), (part, "10:00:00:20")):
        with av.open(str(path)) as c:
            assert c.streams.video[0].metadata.get("timecode") == want
        with VideoReader(path) as r:
            assert r.info.timecode == want
    assert "time code 10:00:00:20" in format_probe(probe(part))
