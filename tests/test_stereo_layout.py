"""Stereo layouts: packing and unpacking, detection from the picture and the name, reading packed and two-file clips."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from lipsync_studio.errors import MediaError, OptionError
from lipsync_studio.media.video import probe_video
from lipsync_studio.media.writer import VideoFormat, VideoWriter
from lipsync_studio.samples import render_face, stereo_talking_frames
from lipsync_studio.stereo.layout import (
    LayoutEvidence,
    NameHint,
    StereoLayout,
    StereoReader,
    decide_layout,
    detect_layout,
    join,
    layout_from_name,
    split,
)
from lipsync_studio.stereo.writer import StereoWriter

EYE = 192
N = 10
FAST = VideoFormat(preset="veryfast", crf=14)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.fixture(scope="module")
def pairs() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Talking astronaut stereo pairs (left, right, disparity) with the face nearer than the wall."""
    opening = 0.5 + 0.4 * np.sin(np.arange(N) / 2.0)
    return list(stereo_talking_frames(opening, size=EYE, seed=2))


@pytest.fixture(scope="module")
def clips(pairs, tmp_path_factory) -> dict[StereoLayout, Path]:
    """One real video file per layout (mono: the left eye alone)."""
    folder = tmp_path_factory.mktemp("layouts")
    out: dict[StereoLayout, Path] = {}
    for k, layout in enumerate(StereoLayout):
        path = folder / f"clip{k}.mp4"  # a neutral name: the picture alone decides
        if layout.is_stereo:
            with StereoWriter(path, Fraction(25), EYE, EYE, layout=layout.value, fmt=FAST, vr_name=False) as w:
                for left, right, _ in pairs:
                    w.write(left, right)
        else:
            with VideoWriter(path, Fraction(25), EYE, EYE, fmt=FAST) as w:
                for left, _, _ in pairs:
                    w.write(left)
        out[layout] = path
    return out


# --- packing ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", [v for v in StereoLayout if v.is_stereo and not v.half])
def test_full_layouts_split_what_join_packed_exactly(layout, pairs):
    left, right, _ = pairs[0]
    packed = join(left, right, layout)
    assert packed.shape[:2][::-1] == layout.packed_size(EYE, EYE)
    a, b = split(packed, layout)
    assert np.array_equal(a, left) and np.array_equal(b, right)


@pytest.mark.parametrize("layout", [v for v in StereoLayout if v.half])
def test_half_layouts_round_trip_closely_and_keep_the_eyes_in_place(layout, pairs):
    left, right, _ = pairs[0]
    packed = join(left, right, layout)
    assert packed.shape == (EYE, EYE, 3)
    a, b = split(packed, layout)
    assert a.shape == b.shape == (EYE, EYE, 3)
    assert _psnr(a, left) > 26 and _psnr(b, right) > 26
    assert _psnr(a, left) > _psnr(a, right) + 3  # the left eye came back as the left eye
    again = join(a, b, layout)
    assert _psnr(again, packed) > 38


def test_layout_names_and_aliases_parse_and_describe_themselves():
    assert StereoLayout.parse("LR") is StereoLayout.SBS
    assert StereoLayout.parse("ou") is StereoLayout.TB
    assert StereoLayout.parse("bt") is StereoLayout.TB_RL
    assert StereoLayout.parse("half_sbs") is StereoLayout.HALF_SBS
    assert StereoLayout.parse("2d") is StereoLayout.MONO
    assert StereoLayout.HALF_TB_RL.half and StereoLayout.HALF_TB_RL.top_bottom and StereoLayout.HALF_TB_RL.right_first
    assert StereoLayout.SBS.eye_size(3840, 1080) == (1920, 1080)
    assert StereoLayout.HALF_SBS.eye_size(1920, 1080) == (1920, 1080)
    assert StereoLayout.HALF_TB.packed_size(1920, 1080) == (1920, 1080)
    with pytest.raises(OptionError, match="unknown stereo layout 'sideways'.*sbs"):
        StereoLayout.parse("sideways")


# --- detection ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", list(StereoLayout))
def test_detection_finds_the_layout_each_file_was_written_in(layout, clips):
    found, confidence = detect_layout(clips[layout], samples=4)
    assert found is layout
    assert confidence >= 0.6


def test_a_2d_clip_of_another_picture_is_mono(tmp_path):
    path = tmp_path / "flat.mp4"
    with VideoWriter(path, Fraction(25), 320, 192, fmt=FAST) as w:
        for k in range(4):
            w.write(np.ascontiguousarray(render_face(0.3 + 0.1 * k, size=320)[64:256]))
    assert detect_layout(path, samples=4)[0] is StereoLayout.MONO


def test_file_names_are_read_as_hints():
    assert layout_from_name("talk_LRF_Full_SBS.mp4") == NameHint(stereo=True, top_bottom=False, half=False,
                                                                   right_first=False)
    assert layout_from_name("movie_3dh_.mkv") == NameHint(stereo=True, top_bottom=False, half=True)
    assert layout_from_name("clip-half-OU.mp4") == NameHint(stereo=True, top_bottom=True, half=True)
    assert layout_from_name("clip_TB.mp4").top_bottom is True
    assert layout_from_name("cross_RL.mp4").right_first is True
    assert layout_from_name("holiday_2D.mp4").stereo is False
    assert layout_from_name("interview.mp4") == NameHint()


def test_the_name_decides_full_vs_half_where_the_shape_cannot(clips, tmp_path):
    # A square-eyed full SBS frame and a 16:9 half SBS frame have similar shapes; the name settles it.
    ev = LayoutEvidence(0.8, 0.1, 3.0, 0.0, 4, layout_from_name("x_LRF_Full_SBS.mp4"), 1920, 1080)
    assert decide_layout(ev)[0] is StereoLayout.SBS
    ev = LayoutEvidence(0.8, 0.1, 3.0, 0.0, 4, NameHint(), 1920, 1080)
    assert decide_layout(ev)[0] is StereoLayout.HALF_SBS
    # The picture overrules a name it clearly contradicts.
    ev = LayoutEvidence(0.05, 0.8, 0.0, 3.0, 4, layout_from_name("x_SBS.mp4"), 640, 1280)
    assert decide_layout(ev)[0] is StereoLayout.TB


# --- reading ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", [StereoLayout.SBS, StereoLayout.TB_RL, StereoLayout.HALF_SBS])
def test_a_packed_clip_reads_back_as_its_two_eyes(layout, clips, pairs):
    with StereoReader(clips[layout]) as reader:
        assert reader.layout is layout and reader.info.is_stereo
        assert (reader.info.eye_width, reader.info.eye_height) == (EYE, EYE)
        got = list(reader.iter_pairs(0, 3))
        assert [i for i, _, _ in got] == [0, 1, 2]
        floor = 24 if layout.half else 32
        for (i, left, right), (l_true, r_true, _) in zip(got, pairs):
            assert _psnr(left, l_true) > floor and _psnr(right, r_true) > floor
            assert _psnr(left, l_true) > _psnr(left, r_true)
        left, right = reader.pair(2)
        assert np.array_equal(left, got[2][1])


def test_two_files_read_as_one_stereo_clip(clips, pairs, tmp_path):
    base = tmp_path / "eyes.mp4"
    with StereoWriter(base, Fraction(25), EYE, EYE, layout="separate", fmt=FAST) as w:
        for left, right, _ in pairs:
            w.write(left, right)
    left_file, right_file = w.paths
    assert left_file.name == "eyes_L.mp4" and right_file.name == "eyes_R.mp4"
    with StereoReader(left_file, right=right_file) as reader:
        assert reader.info.is_stereo and reader.info.right_path == right_file
        i, left, right = next(iter(reader))
        assert _psnr(left, pairs[0][0]) > 32 and _psnr(right, pairs[0][1]) > 32


def test_bars_around_the_picture_do_not_make_a_flat_clip_stereo_nor_hide_a_stereo_one(pairs, tmp_path):
    # A flat portrait pillarboxed into 16:9 (a 4:3 interview in a 16:9 delivery): the bars' straight edges are the
    # same in the top and bottom halves at any shift, and the clip used to be taken for half top-bottom stereo.
    canvas = np.full((180, 320, 3), 38, np.uint8)
    frames = []
    for k in range(4):
        canvas[:, 70:250] = cv2.resize(render_face(0.3 + 0.15 * k, size=240), (180, 180))
        frames.append(canvas.copy())
    assert detect_layout(_write_mono(tmp_path / "pillarboxed.mp4", frames), samples=4)[0] is StereoLayout.MONO
    # A top-bottom pair whose eyes are each pillarboxed the same way is still found.
    packed = []
    for left, right, _ in pairs[:4]:
        eye = np.full((EYE, EYE + 2 * (EYE // 4), 3), 38, np.uint8)
        both = []
        for view in (left, right):
            eye[:, EYE // 4:EYE // 4 + EYE] = view
            both.append(eye.copy())
        packed.append(np.concatenate(both, axis=0))
    found, _ = detect_layout(_write_mono(tmp_path / "pair_tb.mp4", packed), samples=4)
    assert found.is_stereo and found.value.endswith("tb")


def _write_mono(path: Path, frames, fps=25, size=None) -> Path:
    frames = list(frames)
    h, w = frames[0].shape[:2]
    with VideoWriter(path, Fraction(fps), w, h, fmt=FAST) as out:
        for f in frames:
            out.write(f)
    return path


def test_two_files_that_do_not_match_frame_for_frame_are_refused_clearly(pairs, tmp_path):
    left = _write_mono(tmp_path / "L.mp4", (p[0] for p in pairs))
    short = _write_mono(tmp_path / "R_short.mp4", (p[1] for p in pairs[:-2]))
    with pytest.raises(MediaError) as err:
        StereoReader(left, right=short)
    text = str(err.value)
    assert "R_short.mp4" in text and "L.mp4" in text and f"{N - 2} frames" in text and f"{N} frames" in text
    assert "frame for frame" in text
    fast = _write_mono(tmp_path / "R_30fps.mp4", (p[1] for p in pairs), fps=30)
    with pytest.raises(MediaError, match=r"R_30fps.mp4: has 10 frames at 30 fps, but the left eye L.mp4 has "
                                         r"10 frames at 25 fps"):
        StereoReader(left, right=fast)
    small = _write_mono(tmp_path / "R_small.mp4", (p[1][:96] for p in pairs))
    with pytest.raises(MediaError, match="is 192x96, but the left eye L.mp4 is 192x192"):
        StereoReader(left, right=small)
    with pytest.raises(OptionError, match="cannot be sbs"):
        StereoReader(left, "sbs", right=short)


def test_an_explicit_layout_overrides_detection(clips):
    with StereoReader(clips[StereoLayout.SBS], layout="mono") as reader:
        assert reader.layout is StereoLayout.MONO and not reader.info.is_stereo
        assert reader.info.eye_width == 2 * EYE
    info = probe_video(clips[StereoLayout.SBS])
    assert (info.width, info.height) == (2 * EYE, EYE)
