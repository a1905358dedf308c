"""Faces through the projection: a talking head placed off-centre in VR180 (fisheye mesh) and 360 (equirectangular)
stereo frames with known geometry is found, synced in a flat view, carried to the other eye through the known
disparity, and put back into the projection with nothing outside the face changed."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from lipsync_studio.engine.sync_job import StereoOptions, SyncRequest, run_sync
from lipsync_studio.stereo.right_eye import carry_change
from lipsync_studio.engine.sync_job import SyncOptions
from lipsync_studio.media.audio_writer import write_audio
from lipsync_studio.media.video import VideoReader
from lipsync_studio.media.vrmeta import read_vr_metadata
from lipsync_studio.media.writer import VideoFormat, VideoWriter
from lipsync_studio.samples import random_syllables, synth_speech, talking_face_frames
from lipsync_studio.samples.vr_scene import VRTalkingScene
from lipsync_studio.stereo.layout import join
from lipsync_studio.stereo.projected import ProjectedFaces
from lipsync_studio.stereo.projection import Equirectangular, PerspectiveView, dir_to_lonlat


def test_a_view_maps_back_onto_itself_and_a_paste_touches_only_what_changed():
    eq = Equirectangular(360, 180)
    ys, xs = np.mgrid[5:175:17, 3:357:23].astype(float)
    px, py = eq.to_pixel(eq.to_direction(xs, ys))
    np.testing.assert_allclose(px, xs, atol=1e-6)
    np.testing.assert_allclose(py, ys, atol=1e-6)
    view = PerspectiveView(math.radians(100), math.radians(-30), math.radians(60), 120, zoom=1.1, shift=(3.0, -2.0))
    vx, vy = view.project(view.rays(xs[:4, :4] * 0.3, ys[:4, :4] * 0.5))
    np.testing.assert_allclose(vx, xs[:4, :4] * 0.3, atol=1e-6)
    np.testing.assert_allclose(vy, ys[:4, :4] * 0.5, atol=1e-6)
    rng = np.random.default_rng(0)
    eye = rng.integers(0, 255, (180, 360, 3), dtype=np.uint8)
    before = view.render(eye, eq)
    after = before.copy()
    changed = np.zeros((120, 120), bool)
    changed[50:70, 40:80] = True
    after[changed] = (255, 0, 0)
    out = view.paste(eye, eq, after, changed)
    moved = np.any(out != eye, axis=2)
    assert moved.sum() > 100
    # Every changed eye pixel looks into the changed patch of the view, grown by the feather (2 view px) and the
    # reach of one eye pixel (here ~1.7 view px): nothing farther moved.
    ys2, xs2 = np.nonzero(moved)
    vx, vy = view.project(eq.to_direction(xs2.astype(float), ys2.astype(float)))
    assert np.all((vx > 40 - 5) & (vx < 79 + 5) & (vy > 50 - 5) & (vy < 69 + 5))
    # and the patch's middle came back red
    cx, cy = eq.to_pixel(view.rays(np.array(60.0), np.array(60.0)))
    assert tuple(out[int(round(float(cy))), int(round(float(cx)))]) == (255, 0, 0)


def test_cubemap_faces_sit_where_the_spherical_video_rfc_puts_them():
    from lipsync_studio.stereo.projection import Cubemap

    cube = Cubemap(300, 200, padding=2)
    rng = np.random.default_rng(1)
    d = rng.normal(size=(500, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    x, y = cube.to_pixel(d)
    np.testing.assert_allclose(cube.to_direction(x, y), d, atol=1e-9)
    # Forward is the middle of the bottom row's centre cell; right is the top-left cell; up the top-right one.
    (fx, fy), (rx, ry), (ux, uy) = (cube.to_pixel(np.array(v, float)) for v in ((0, 0, 1), (1, 0, 0), (0, -1, 0)))
    assert (fx, fy) == pytest.approx((149.5, 149.5)) and (rx, ry) == pytest.approx((49.5, 49.5))
    assert (ux, uy) == pytest.approx((249.5, 49.5))
    # Side faces upright, right to the right; the up face's top towards the front.
    assert cube.to_pixel(np.array([0.1, 0, 1]))[0] > fx and cube.to_pixel(np.array([0, -0.1, 1]))[1] < fy
    assert cube.to_pixel(np.array([0, -1, 0.1]))[1] < uy
    # Neighbouring pixels across the front/right edge look in neighbouring directions.
    a = cube.to_direction(np.array(100.0 + 2 + 96), np.array(150.0))  # front face, last column
    b = cube.to_direction(np.array(0.0 + 2), np.array(50.0))  # right face, first column
    assert np.degrees(np.arccos(np.clip(a @ b, -1, 1))) < 3


def test_a_view_across_the_360_seam_reads_and_writes_both_ends():
    eq = Equirectangular(360, 180)
    eye = np.zeros((180, 360, 3), np.uint8)
    eye[:, :180] = (200, 50, 50)  # the left half red, the right half blue: the seam at the back is red | blue
    eye[:, 180:] = (50, 50, 200)
    view = PerspectiveView(math.pi, 0.0, math.radians(60), 120)
    img = view.render(eye, eq)
    # Looking back: the right edge of the picture (blue) is on the view's left, its left edge (red) on the right,
    # with no black seam between them.
    assert tuple(img[60, 20]) == (50, 50, 200) and tuple(img[60, 100]) == (200, 50, 50)
    assert img[55:65].max(axis=2).min() >= 150  # (a black seam would be dark in every channel)
    after = img.copy()
    changed = np.zeros((120, 120), bool)
    changed[50:70, 40:80] = True
    after[changed] = (0, 255, 0)
    out = view.paste(eye, eq, after, changed)
    cols = np.nonzero(np.any(out != eye, axis=2).any(axis=0))[0]
    assert cols.min() == 0 and cols.max() == 359 and len(cols) < 40  # both ends of the picture, nothing between
    assert not np.any(out[:, 40:320] != eye[:, 40:320])


@pytest.mark.parametrize("kind,yaw,pitch", [("360", 110.0, -20.0), ("360", 178.0, 5.0), ("vr180", -40.0, 15.0)])
def test_the_face_is_found_off_centre_and_its_views_are_a_rectified_pair(kind, yaw, pitch):
    """Found within a degree or two of where it stands; in the two views a point of the face lies on the same row,
    and a change made to the left view is carried into the right view where the true right view has it."""
    scene = VRTalkingScene(kind, 400, yaw, pitch)
    closed, open_ = talking_face_frames(np.array([0.1, 0.9]), size=320, head_motion=0)
    l0, r0 = scene.eyes(closed)
    l1, r1 = scene.eyes(open_)
    pf = ProjectedFaces(*scene.projections)
    face = pf.find([(l0, r0)])
    lon, lat = np.degrees(dir_to_lonlat(face.direction))
    assert abs((lon - yaw + 180) % 360 - 180) < 3 and abs(lat - pitch) < 3, (lon, lat)
    scale, offset = pf.rectify(l0, r0, rounds=1)  # already rectified: nothing left to remove
    assert abs(scale - 1) < 0.005 and abs(offset) < 0.3
    v0, v1 = pf.views(l0, r0), pf.views(l1, r1)
    mouth = np.any(np.abs(v0[0].astype(int) - v1[0].astype(int)) > 8, axis=2)
    new_left = v0[0].copy()
    new_left[mouth] = v1[0][mouth]
    new_right = carry_change(v0[0], new_left, v0[1], 48, {}, 0)
    truth = np.any(np.abs(v0[1].astype(int) - v1[1].astype(int)) > 8, axis=2)
    err = np.abs(new_right.astype(int) - v1[1].astype(int)).max(axis=2)
    moved = np.any(new_right != v0[1], axis=2)
    assert truth.sum() > 500
    # Measured: ~8 grey levels off over the true right mouth (a hard paste of the true left mouth, resampled);
    # a copy of the change without the disparity is off by ~40.
    assert err[truth].mean() < 14, err[truth].mean()
    ys, xs = np.nonzero(moved)
    yt, xt = np.nonzero(truth)
    assert abs(xs.mean() - xt.mean()) < 2 and abs(ys.mean() - yt.mean()) < 2


@pytest.mark.parametrize("pix_fmt", ["yuv444p", "yuv420p"])
def test_a_vr180_clip_is_synced_through_its_projection_and_keeps_its_format(tmp_path, pix_fmt):
    """``yuv420p``: the frames go from decoder to encoder as they are, but for the boxes each eye's view changed
    (converted from RGB alone): outside the face the output is the input to the bit."""
    scene = VRTalkingScene("vr180", 400, 45.0, 10.0)
    fmt = VideoFormat(crf=0, pix_fmt=pix_fmt)
    own = synth_speech(random_syllables(4, 11), seed=11)
    write_audio(tmp_path / "own.wav", own.audio, own.sr)
    n = int(np.ceil(own.duration * 25))
    clip = tmp_path / "vr180.mp4"
    with VideoWriter(clip, Fraction(25), scene.eye_w, 2 * scene.eye_h, fmt=fmt, audio=tmp_path / "own.wav",
                     audio_seconds=n / 25) as w:
        w.vr_metadata = scene.metadata()
        for f in talking_face_frames(own.mouth_opening(np.arange(n) / 25), size=320, seed=11):
            w.write(join(*scene.eyes(f), "tb"))
    dub_speech = synth_speech(random_syllables(4, 4), seed=4, f0=200.0, rate=3.2, lead_silence=0.3)
    dub = write_audio(tmp_path / "dub.wav", dub_speech.audio, dub_speech.sr)
    opts = SyncOptions(fmt=fmt, shorten="trim-picture", extend="trim-audio", measure=False)
    result = run_sync(SyncRequest(clip, dub, tmp_path / "out.mp4", opts, stereo=StereoOptions()))
    (out,) = result.outputs
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dub.wav", "out.mp4", "own.wav", "vr180.mp4"]
    meta_in, meta_out = read_vr_metadata(clip), read_vr_metadata(out)
    assert meta_out.layout == "tb" and meta_out.projection == "mesh"
    assert meta_out.entry_boxes == meta_in.entry_boxes
    with VideoReader(out) as ro, VideoReader(clip) as ri:
        assert (ro.info.width, ro.info.height) == (ri.info.width, ri.info.height)
    change = scene.stereo_change(clip, out, 320)
    synced, outside = change.changed, change.outside
    assert synced >= 0.6 * n, (synced, n)
    # Nothing outside the face changes (lossless in and out): 4:4:4 goes through RGB (its colour round trip),
    # 4:2:0 as decoded.
    assert outside <= (2 if pix_fmt == "yuv444p" else 0), outside
    errs = change.right_eye_error  # the right eye's change where the geometry puts the left eye's
    assert errs[0] < 2.0 and errs[1] < 2.0, errs


def test_the_viewers_window_looks_where_it_is_dragged():
    from lipsync_studio.stereo.views import SphereWindow, anaglyph_view

    scene = VRTalkingScene("360", 200, 60.0, 0.0)
    left, right = scene.eyes(next(talking_face_frames(np.array([0.5]), size=160, head_motion=0)))
    window = SphereWindow(_equi_meta(), 400, 200)
    window.look(0.0, 0.0, 60.0)
    away, _ = window.views(left, right, 120)
    window.drag(-120, 0, 120)  # the pointer moves left by a window's width: turn right by its field of view
    assert window.yaw == pytest.approx(60.0)
    at, at_r = window.views(left, right, 120)
    # The head is in the middle of the turned window, and was not in the first one.
    assert window._view.project(scene.face_direction) == pytest.approx((59.5, 59.5), abs=1e-6)
    assert np.abs(at[40:80, 40:80].astype(int) - away[40:80, 40:80].astype(int)).mean() > 20
    assert anaglyph_view(at, at_r).shape == (120, 120, 3)


def _equi_meta():
    from lipsync_studio.media.vrmeta import VRMetadata

    return VRMetadata(stereo="top-bottom", projection="equirectangular", equi_bounds=(0.0, 0.0, 0.0, 0.0))
