"""Stereo consistency (``eval --stereo``): an untouched pair measures unchanged, a mouth moved in one eye does not."""

from __future__ import annotations

import argparse
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from lipsync_studio.errors import MediaError
from lipsync_studio.media.writer import VideoFormat, VideoWriter
from lipsync_studio.samples import stereo_talking_frames
from lipsync_studio.samples.face_clip import CROP
from lipsync_studio.stereo.cli import add_eval_stereo_options, cmd_eval_stereo
from lipsync_studio.stereo.metrics import StereoEvalOptions, evaluate_stereo, ssim_map
from lipsync_studio.stereo.writer import StereoWriter

EYE = 256
N = 16
FAST = VideoFormat(preset="veryfast", crf=12)
OPTS = StereoEvalOptions(frames=5)


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LIPSYNC_STUDIO_CACHE_DIR", str(tmp_path / "cache"))


def _write(path: Path, pairs) -> Path:
    with StereoWriter(path, Fraction(25), EYE, EYE, layout="sbs", fmt=FAST, vr_name=False) as w:
        for left, right in pairs:
            w.write(left, right)
    return w.path


def _shift_mouth(right: np.ndarray, px: int) -> np.ndarray:
    """The right eye with the region around the mouth moved ``px`` to the right (its disparity drops by px)."""
    x0, y0, x1, y1 = _mouth_box()
    out = right.copy()
    out[y0:y1, x0 + px:x1] = right[y0:y1, x0:x1 - px]
    return out


def _mouth_box() -> tuple[int, int, int, int]:
    s = EYE / CROP[2]
    return (int((190 - CROP[0]) * s) - 16, int((125 - CROP[1]) * s), int((255 - CROP[0]) * s),
            int((170 - CROP[1]) * s))


@pytest.fixture(scope="module")
def truths():
    opening = 0.45 + 0.4 * np.sin(np.arange(N) / 1.7)
    return list(stereo_talking_frames(opening, size=EYE, seed=3))


@pytest.fixture(scope="module")
def pairs(truths):
    return [(left, right) for left, right, _ in truths]


@pytest.fixture(scope="module")
def reference(pairs, tmp_path_factory) -> Path:
    return _write(tmp_path_factory.mktemp("ref") / "input.mp4", pairs)


def test_an_untouched_pair_shows_no_disparity_change(pairs, reference, tmp_path):
    same = _write(tmp_path / "same.mp4", pairs)
    result = evaluate_stereo(same, reference, OPTS)
    assert result.frames == 5 and result.frames_without_face == 0
    assert result.disparity_change_mouth < 0.05 and result.disparity_change_face < 0.05
    assert result.mouth.l1 == pytest.approx(result.reference_mouth.l1, abs=0.05)
    assert result.lr_pass_face > 0.8 and result.lr_pass_face == pytest.approx(result.reference_lr_pass_face)
    assert result.mouth.ssim > 0.8 and result.outside.ssim > 0.8
    assert result.notes == ()


def test_a_mouth_moved_in_one_eye_shows_up_in_the_mouth_not_elsewhere(pairs, reference, tmp_path):
    moved = _write(tmp_path / "moved.mp4", [(left, _shift_mouth(right, 3)) for left, right in pairs])
    result = evaluate_stereo(moved, reference, OPTS)
    assert result.disparity_change_mouth > 1.5
    assert result.bad1_mouth > 0.5
    assert result.disparity_change_face < 0.6 * result.disparity_change_mouth
    # The warp through the input's disparity no longer lines the mouths up; outside the mouth little changes.
    assert result.mouth.l1 > 1.5 * result.reference_mouth.l1
    assert result.mouth.ssim < result.reference_mouth.ssim - 0.05
    assert result.outside.l1 < result.mouth.l1
    text = result.summary()
    assert "disparity change  mouth" in text and "moved.mp4" in text


def test_a_mouth_moved_half_a_pixel_in_depth_measures_half_a_pixel(truths, reference, tmp_path):
    """Sub-pixel: the right eye re-rendered with the mouth's disparity 0.5 px smaller (smoothly, as a surface
    would move); the block matcher's 1/16-px steps and noise alone would blur this."""
    import cv2

    from lipsync_studio.samples.stereo_pair import synthesize_right_view

    x0, y0, x1, y1 = _mouth_box()
    bump = np.zeros((EYE, EYE), np.float32)
    bump[y0 - 6:y1 + 6, x0 - 6:x1 + 6] = 1.0
    bump = cv2.GaussianBlur(bump, (0, 0), 4)
    moved = _write(tmp_path / "deeper.mp4", [(left, synthesize_right_view(left, d - 0.5 * bump)[0])
                                             for left, _, d in truths])
    result = evaluate_stereo(moved, reference, OPTS)
    assert 0.35 < result.mouth_shift < 0.65, result.mouth_shift
    assert result.disparity_change_face < result.disparity_change_mouth
    assert result.as_dict()["disparity_change"]["mouth_shift_px"] == pytest.approx(result.mouth_shift, abs=1e-4)


def test_a_retimed_output_is_compared_with_the_reference_frames_it_shows(pairs, reference, tmp_path):
    retimed = _write(tmp_path / "retimed.mp4", list(reversed(pairs)) + pairs[:4])
    result = evaluate_stereo(retimed, reference, OPTS)
    assert result.disparity_change_mouth < 0.3  # re-encoded in another order: the codec's noise only
    frames, ref_frames = result.per_frame["frame"], result.per_frame["ref_frame"]
    expected = [N - 1 - i if i < N else i - N for i in frames]
    assert ref_frames == expected
    assert any("most like it" in n for n in result.notes)


def test_without_a_reference_the_output_is_measured_against_its_own_disparity(pairs, reference):
    result = evaluate_stereo(reference, None, OPTS)
    assert result.reference is None and result.disparity_change_face is None
    assert result.mouth.l1 < 6 and result.as_dict()["disparity_change"] is None


def test_a_2d_output_is_refused_with_a_hint(pairs, tmp_path):
    flat = tmp_path / "flat.mp4"
    with VideoWriter(flat, Fraction(25), EYE, EYE, fmt=FAST) as w:
        for left, _ in pairs[:4]:
            w.write(left)
    with pytest.raises(MediaError, match="flat.mp4: looks like a 2D video.*--layout"):
        evaluate_stereo(flat, None, OPTS)


def test_ssim_of_an_image_with_itself_is_one():
    img = np.random.default_rng(0).integers(0, 255, (32, 32)).astype(np.float32)
    assert np.allclose(ssim_map(img, img), 1.0, atol=1e-4)
    assert ssim_map(img, 255 - img).mean() < 0


def test_eval_stereo_from_the_command_line_prints_json(pairs, reference, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    parser.add_argument("video", type=Path)
    parser.add_argument("--dub", type=Path)
    parser.add_argument("--json", action="store_true")
    add_eval_stereo_options(parser)
    args = parser.parse_args([str(reference), "--stereo", "--reference", str(reference), "--frames", "3",
                              "--layout", "sbs", "--json"])
    assert args.stereo and cmd_eval_stereo(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["frames"] == 3 and report["disparity_change"]["mouth_px"] == 0.0
