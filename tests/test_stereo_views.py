"""Stereo views and output: anaglyph matrices, SGBM+WLS disparity, the warp f_w, stereo files with the eyes in place."""

from __future__ import annotations

from fractions import Fraction

import cv2
import numpy as np
import pytest

from lipsync_studio.media.video import VideoReader, probe_video
from lipsync_studio.media.writer import VideoFormat
from lipsync_studio.samples import stereo_talking_frames, synthesize_right_view
from lipsync_studio.stereo.anaglyph import MATRICES, AnaglyphMethod, anaglyph
from lipsync_studio.stereo.disparity import (
    DisparityCache,
    DisparitySettings,
    colorize_disparity,
    estimate_disparity,
)
from lipsync_studio.stereo.layout import StereoLayout, split
from lipsync_studio.stereo.warp import (
    disparity_left_to_right,
    f_w,
    left_right_check,
    occlusion_mask,
    warp_left_to_right,
    warp_right_to_left,
)
from lipsync_studio.stereo.writer import OutputLayout, StereoWriter, stereo_output_paths

FAST = VideoFormat(preset="veryfast", crf=14)


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """(h, w, 3) uint8 multi-scale noise: every block is distinctive, as matching needs."""
    rng = np.random.default_rng(seed)
    t = np.zeros((h, w, 3), np.float32)
    for s in (1.0, 3.0, 8.0):
        t += cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), s) * s
    return cv2.normalize(t, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)


def _srgb(v):
    v = np.clip(v, 0, 1)
    return np.where(v <= 0.0031308, 12.92 * v, 1.055 * v ** (1 / 2.4) - 0.055)


# --- anaglyph -----------------------------------------------------------------------------------------

RED = np.zeros((4, 4, 3), np.uint8)
RED[..., 0] = 255
CYAN = 255 - RED


@pytest.mark.parametrize("method, expected", [
    ("color", (255, 255, 255)),
    ("gray", (76, 179, 179)),  # .299*255 | (.587+.114)*255
    ("half-color", (76, 255, 255)),
    ("dubois", (93, 172, 255)),  # .456*255-(.043*0+.088+.002)*255 | -.040*255+(.734-.018)*255 | clipped
])
def test_a_red_left_eye_and_a_cyan_right_eye_mix_by_the_published_matrices(method, expected):
    out = anaglyph(RED, CYAN, method, linear=False)
    assert tuple(out[0, 0]) == expected


def test_dubois_mixes_in_linear_light_by_default():
    m_l, m_r = MATRICES[AnaglyphMethod.DUBOIS]
    want = np.round(_srgb(m_l @ [1, 0, 0] + m_r @ [0, 1, 1]) * 255)
    assert np.abs(anaglyph(RED, CYAN)[0, 0].astype(int) - want).max() <= 1
    # Each eye reaches only its own filter's colours: a left eye alone is (mostly) red, a right eye cyan.
    black = np.zeros_like(RED)
    assert tuple(anaglyph(RED, black, "color")[0, 0]) == (255, 0, 0)
    assert tuple(anaglyph(black, CYAN, "color")[0, 0]) == (0, 255, 255)
    alone = anaglyph(RED, black)[0, 0].astype(int)
    assert alone[0] > 150 and alone[1] == 0 and alone[2] == 0


def test_colour_anaglyph_takes_red_from_the_left_eye_and_green_blue_from_the_right_exactly():
    left, right = texture(32, 48, 1), texture(32, 48, 2)
    out = anaglyph(left, right, "color")
    assert np.array_equal(out[..., 0], left[..., 0]) and np.array_equal(out[..., 1:], right[..., 1:])


def test_an_anaglyph_video_is_written_444_and_keeps_its_red_detail(tmp_path):
    left = np.zeros((64, 96, 3), np.uint8)
    left[:, ::2, 0] = 255  # one-pixel red stripes: 4:2:0 would smear them
    right = np.zeros_like(left)
    right[..., 1:] = 128
    with StereoWriter(tmp_path / "ana.mp4", Fraction(25), 96, 64, layout="anaglyph", anaglyph_method="color",
                      fmt=FAST) as w:
        for _ in range(3):
            w.write(left, right)
    assert w.fmt.pix_fmt == "yuv444p" and w.path.name == "ana.mp4"
    with VideoReader(w.path) as r:
        assert r.info.pix_fmt == "yuv444p"
        frame = r.frame(0).astype(int)
    assert np.abs(frame[..., 0] - left[..., 0]).mean() < 12
    assert np.abs(frame[..., 1:] - 128).mean() < 8


# --- disparity ----------------------------------------------------------------------------------------

H, W = 192, 256
INNER = np.s_[8:-8, 24:-8]  # away from the borders the matcher cannot see across


@pytest.mark.parametrize("name", ["constant", "plane"])
def test_sgbm_wls_recovers_a_known_disparity_within_a_pixel(name):
    left = texture(H, W, 3)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    truth = np.full((H, W), 7.3, np.float32) if name == "constant" else 2.5 + 6.0 * xx / W + 2.0 * yy / H
    right, _ = synthesize_right_view(left, truth)
    m = estimate_disparity(left, right)
    err = np.abs(m.disparity - truth)[INNER]
    assert err.mean() < 0.4 and np.percentile(err, 95) < 1.0
    assert m.valid[INNER].mean() > 0.9
    assert m.disparity.dtype == np.float32 and m.valid.dtype == bool
    assert np.nanmedian(np.abs(m.right_disparity - truth)[INNER]) < 1.0  # the right view's map, same sign


def test_sgbm_wls_follows_a_talking_head_in_front_of_a_wall():
    left, right, truth = next(stereo_talking_frames(np.array([0.6]), size=256))
    m = estimate_disparity(left, right)
    head = truth > 7.0
    assert np.abs(m.disparity - truth)[head].mean() < 1.0
    assert np.median(m.disparity[head]) > np.median(m.disparity[truth < 4.5]) + 4  # the face comes forward


def test_a_region_of_interest_gives_the_same_disparity_as_the_whole_frame():
    left, right, _ = next(stereo_talking_frames(np.array([0.6]), size=256))
    full = estimate_disparity(left, right)
    box = (70, 40, 190, 200)
    part = estimate_disparity(left, right, roi=box)
    inner = np.s_[50:190, 80:180]
    assert np.abs(part.disparity[inner] - full.disparity[inner]).mean() < 0.3
    assert not part.valid[:, :60].any()


def test_colour_map_shows_near_as_red_and_far_as_blue_and_invalid_as_grey():
    ramp = np.tile(np.linspace(0, 10, 64, dtype=np.float32), (8, 1))
    valid = np.ones_like(ramp, bool)
    valid[:, 30] = False
    rgb = colorize_disparity(ramp, valid)
    assert rgb.shape == (8, 64, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0, 2] > rgb[0, 0, 0] and rgb[0, -1, 0] > rgb[0, -1, 2]
    assert tuple(rgb[0, 30]) == (40, 40, 40)


def test_disparity_is_cached_by_the_pair_content(tmp_path, monkeypatch):
    left, right, _ = next(stereo_talking_frames(np.array([0.6]), size=128))
    cache = DisparityCache(DisparitySettings(), tmp_path / "disp")
    first = cache.get(left, right)
    assert cache.get(left, right) is first and cache.hits == 1
    monkeypatch.setattr("lipsync_studio.stereo.disparity.estimate_disparity",
                        lambda *a, **k: pytest.fail("recomputed a cached pair"))
    again = DisparityCache(DisparitySettings(), tmp_path / "disp").get(left, right)
    assert np.abs(again.disparity - first.disparity).max() <= 1 / 32
    assert np.array_equal(again.valid, first.valid)
    other = right.copy()
    other[0, 0] += 1
    with pytest.raises(pytest.fail.Exception):
        DisparityCache(DisparitySettings(), tmp_path / "disp").get(left, other)


# --- the warp f_w --------------------------------------------------------------------------------------

def test_f_w_samples_horizontally_at_x_plus_d():
    img = texture(16, 40, 4)
    shifted = f_w(np.full((16, 40), 3.0, np.float32), img)
    assert np.array_equal(shifted[:, :-3], img[:, 3:])
    half = f_w(np.full((16, 40), 0.5, np.float32), img.astype(np.float32))
    want = 0.5 * (img[:, :-1].astype(np.float32) + img[:, 1:])
    assert np.abs(half[:, :-1] - want).max() < 0.2


def test_warping_the_right_eye_back_to_the_left_through_the_true_disparity_recovers_it():
    left, right, truth = next(stereo_talking_frames(np.array([0.7]), size=256))
    seen = ~occlusion_mask(truth)
    back = warp_right_to_left(right, truth)
    err = np.abs(back.astype(float) - left).mean(axis=2)
    assert err[seen].mean() < 2.0  # 8-bit levels
    assert np.abs(right.astype(float) - left).mean(axis=2)[seen].mean() > 4 * err[seen].mean()
    d_right, covered = disparity_left_to_right(truth)
    again = warp_left_to_right(left, d_right)
    assert np.abs(again.astype(float) - right)[covered].mean() < 1.5
    assert left_right_check(truth, d_right, 0.5)[seen].mean() > 0.97


def test_occlusions_lie_beside_the_near_side_of_a_depth_step():
    d = np.full((4, 60), 2.0, np.float32)
    d[:, 30:] = 10.0  # nearer on the right half: the right eye sees it 8 px further left, over the wall
    occ = occlusion_mask(d)
    assert occ[0, 23:30].all() and not occ[0, 5:22].any() and not occ[0, 31:50].any()
    d_right, covered = disparity_left_to_right(d)
    assert np.allclose(d_right[0, 22:50], 10.0) and np.allclose(d_right[0, 5:20], 2.0)


# --- stereo files -------------------------------------------------------------------------------------

def _shift_between(a: np.ndarray, b: np.ndarray) -> float:
    """Horizontal offset of b's content relative to a's (phase correlation), px."""
    ga, gb = (cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype(np.float32) for x in (a, b))
    (dx, _), _ = cv2.phaseCorrelate(ga, gb)
    return dx


@pytest.mark.parametrize("layout", ["sbs", "sbs-rl", "half-sbs", "tb", "half-tb"])
def test_the_right_eye_lands_where_the_layout_puts_it(layout, tmp_path):
    left = texture(128, 160, 5)
    right, _ = synthesize_right_view(left, np.full((128, 160), 6.0, np.float32))  # right eye: content 6 px left
    with StereoWriter(tmp_path / "out.mp4", Fraction(25), 160, 128, layout=layout, fmt=FAST) as w:
        for _ in range(2):
            w.write(left, right)
    with VideoReader(w.path) as r:
        packed = r.frame(0)
    if layout == "sbs":
        first, second = packed[:, :160], packed[:, 160:]
    elif layout == "sbs-rl":
        second, first = packed[:, :160], packed[:, 160:]
    elif layout == "tb":
        first, second = packed[:128], packed[128:]
    else:
        first, second = split(packed, StereoLayout(layout))
    # In the slot of the right eye, content sits to the left: positive disparity.
    assert _shift_between(first, second) == pytest.approx(-6.0, abs=0.6)


def _sei_frame_packing(path) -> list[int]:
    """frame_packing_arrangement_type of every frame-packing SEI in the first packet of an H.264 MP4."""
    import av

    found = []
    with av.open(str(path)) as c:
        data = bytes(next(c.demux(c.streams.video[0])))
    i = 0
    while i + 4 <= len(data):
        n = int.from_bytes(data[i:i + 4], "big")
        nal = data[i + 4:i + 4 + n]
        i += 4 + n
        if nal and nal[0] & 0x1F == 6 and nal[1] == 45:  # SEI, payload type 45: frame packing arrangement
            bits = "".join(f"{b:08b}" for b in nal[3:])  # after the size byte
            zeros = bits.index("1")  # ue(v) frame_packing_arrangement_id
            pos = 2 * zeros + 1 + 1  # then the cancel flag
            found.append(int(bits[pos:pos + 7], 2))
    return found


@pytest.mark.parametrize("layout, sei", [("half-sbs", [3]), ("half-tb", [4]), ("sbs", []), ("half-sbs-rl", [])])
def test_half_layouts_carry_the_h264_frame_packing_flag(layout, sei, tmp_path):
    left = texture(64, 96, 6)
    with StereoWriter(tmp_path / "fp.mp4", Fraction(25), 96, 64, layout=layout, fmt=FAST) as w:
        w.write(left, left)
    assert _sei_frame_packing(w.path) == sei
    assert w.frame_packing == (sei[0] if sei else None)


def test_the_file_written_is_the_one_asked_for_and_the_vr_name_only_when_asked(tmp_path):
    assert stereo_output_paths(tmp_path / "dub.mp4", "sbs")[0].name == "dub.mp4"
    assert stereo_output_paths(tmp_path / "dub.mp4", "sbs", vr_name=True)[0].name == "dub_LRF_Full_SBS.mp4"
    assert stereo_output_paths(tmp_path / "dub_lrf_full_sbs.mp4", "sbs", vr_name=True)[0].name == \
        "dub_lrf_full_sbs.mp4"
    assert stereo_output_paths(tmp_path / "dub.mp4", "half-sbs", vr_name=True)[0].name == "dub.mp4"
    assert [p.name for p in stereo_output_paths(tmp_path / "dub.mkv", "separate")] == ["dub_L.mkv", "dub_R.mkv"]
    left = texture(32, 48, 7)
    with StereoWriter(tmp_path / "dub.mp4", Fraction(25), 48, 32, fmt=FAST, vr_name=True) as w:
        w.write(left, left)
    assert w.path.name == "dub_LRF_Full_SBS.mp4" and w.path.exists()
    assert not (tmp_path / "dub.mp4").exists()
    with StereoWriter(tmp_path / "plain.mp4", Fraction(25), 48, 32, fmt=FAST) as w:
        w.write(left, left)
    assert w.path == tmp_path / "plain.mp4" and w.path.exists()
    assert (probe_video(w.path).width, probe_video(w.path).height) == (96, 32)
    assert OutputLayout.parse("LR") is OutputLayout.SBS


def test_a_failed_stereo_write_leaves_no_files(tmp_path):
    left = texture(32, 48, 8)
    with pytest.raises(RuntimeError):
        with StereoWriter(tmp_path / "x.mp4", Fraction(25), 48, 32, layout="separate", fmt=FAST) as w:
            w.write(left, left)
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_the_viewer_pictures_have_the_pair_size_and_the_right_content():
    from lipsync_studio.stereo import anaglyph_view, disparity_view, side_by_side_view

    left, right, truth = next(stereo_talking_frames(np.array([0.6]), size=128))
    assert np.array_equal(side_by_side_view(left, right)[:, :128], left)
    assert np.array_equal(anaglyph_view(left, right), anaglyph(left, right, "dubois"))
    view = disparity_view(left, right, vmin=0, vmax=14)
    assert view.shape == (128, 128, 3)
    face, wall = view[60:70, 60:70].astype(int), view[5:10, 110:120].astype(int)
    assert face[..., 0].mean() > face[..., 2].mean() and wall[..., 2].mean() > wall[..., 0].mean()


def test_the_default_format_keeps_its_encoder_settings_beside_the_frame_packing_flag(tmp_path):
    """x264's own settings note (in the first packet) names the diamond motion search the default format asks
    for, and the half-width layout's frame-packing flag is there too: one option must not replace the other."""
    import av

    left = texture(64, 96, 6)
    with StereoWriter(tmp_path / "fp.mp4", Fraction(25), 96, 64, layout="half-sbs", fmt=VideoFormat()) as w:
        w.write(left, left)
    assert _sei_frame_packing(w.path) == [3]
    with av.open(str(w.path)) as c:
        first = bytes(next(c.demux(c.streams.video[0])))
    assert b" me=dia " in first and b"x264" in first
