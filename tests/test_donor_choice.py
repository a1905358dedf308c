"""Donor choice by how a mouth will be drawn: where shapes tie, a sharp donor beats a motion-blurred copy and
a donor turned like the output frame's head beats a turned one."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from lipsync_studio.face.analysis import analyse_faces
from lipsync_studio.media.writer import VideoFormat, VideoWriter
from lipsync_studio.samples import render_face
from lipsync_studio.sync.builtin.crops import FaceCrops
from lipsync_studio.sync.builtin.planner import OWN, Targets, relative_detail, schedule_donors
from lipsync_studio.sync.mouth import MouthSpace, head_turn

OPENINGS = (0.05, 0.5, 0.95)


def _motion_blur(img: np.ndarray, length: int = 9) -> np.ndarray:
    import cv2

    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0 / length  # a horizontal streak: the head moving sideways during the exposure
    return cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_REFLECT)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """Frames 0-2: three mouth shapes, sharp; 3-5: the same frames motion-blurred; 6: a middle shape (the
    output frames' own). Tracked once, with the tracker's crops keeping every mouth's detail."""
    sharp = [render_face(o, size=320) for o in OPENINGS]
    frames = sharp + [_motion_blur(f) for f in sharp] + [render_face(0.3, size=320)]
    path = tmp_path_factory.mktemp("donors") / "clip.mp4"
    with VideoWriter(path, Fraction(25), 320, 320, fmt=VideoFormat(preset="veryfast", crf=12)) as vw:
        for f in frames:
            vw.write(f)
    crops = FaceCrops()
    faces = analyse_faces(path, use_cache=False, keep=crops.keep)
    track = faces.speaker_track()
    assert track.present.all()
    detail = np.array([crops.detail(t, track.raw[t]) for t in range(len(frames))])
    return {"track": track, "detail": detail, "space": MouthSpace.from_track(track)}


def test_a_motion_blurred_mouth_measures_softer_than_the_same_mouth_sharp(clip):
    d = clip["detail"]
    assert np.isfinite(d).all()
    assert (d[3:6] < 0.7 * d[0:3]).all(), d
    feats = clip["space"].features()
    rel = relative_detail(np.tile(d, 2), np.tile(feats[:, 0], 2))  # (8 frames at least to fit the shape trend)
    assert (rel[3:6] < rel[0:3] - 0.3).all(), rel


def _tied_schedule(features, bank, near, **kw):
    """Three output frames (all shown over frame 6) whose targets are the bank's shapes, with the frames in
    ``near`` a little closer to them in shape than their twins."""
    f = features.copy()
    targets = Targets(gap=f[list(near), 0].astype(np.float32), width=f[list(near), 1].astype(np.float32),
                      calibrated_on_clip=False, gain=0.3, offset=0.0)
    return schedule_donors(targets, np.full(3, 6), f, np.asarray(bank), **kw)


def test_the_planner_picks_the_sharp_donor_over_its_blurred_duplicate(clip):
    d = clip["detail"]
    feats = clip["space"].features().astype(np.float64)
    # Shapes tie: each blurred frame has its sharp twin's shape, nudged a third of a sigma towards the target.
    feats[3:6] = feats[0:3]
    feats[0:3, 0] += 0.01
    rel = relative_detail(np.tile(d, 2), np.tile(feats[:, 0], 2))[:7]
    # The own frame (6) is far from the targets, so a bank frame lends every mouth.
    feats[6] = feats[0:3].mean(0) + [0.3, 0.2]
    blind = _tied_schedule(feats, range(6), (3, 4, 5))
    assert set(blind.tolist()) <= {3, 4, 5}  # without the measure, the closer shape wins: the blurred copy
    seeing = _tied_schedule(feats, range(6), (3, 4, 5), detail=rel)
    assert seeing.tolist() == [0, 1, 2]


def _turned(landmarks: np.ndarray, degrees: float) -> np.ndarray:
    """(468, 2) the landmarks of the same face turned about the vertical axis (orthographic view)."""
    a = np.radians(degrees)
    p = landmarks[:468].astype(np.float64)
    c = p[:, :2].mean(0)
    x, z = p[:, 0] - c[0], p[:, 2] - np.mean(p[:, 2])
    out = p[:, :2].copy()
    out[:, 0] = c[0] + x * np.cos(a) + z * np.sin(a)
    return out


def test_a_turned_head_donor_loses_to_a_frontal_one_of_the_same_shape(clip):
    raw = clip["track"].raw[1]
    shapes = np.stack([_turned(raw, 0.0), _turned(raw, 20.0), _turned(raw, -20.0)])
    turn = head_turn(shapes)
    # The proxy sees the turn, in both directions, by about 0.013 per degree.
    assert abs(turn[0]) < 0.05
    assert 0.1 < abs(turn[1] - turn[0]) < 0.3 and np.sign(turn[1] - turn[0]) == -np.sign(turn[2] - turn[0])
    # Bank frames 0-2 frontal, 3-5 their turned twins (a little closer in shape); the output frames' own (6)
    # frontal and far from the targets.
    feats = clip["space"].features().astype(np.float64)
    feats[3:6] = feats[0:3]
    feats[0:3, 0] += 0.01
    feats[6] = feats[0:3].mean(0) + [0.3, 0.2]
    per_frame = np.array([turn[0]] * 3 + [turn[1]] * 3 + [turn[0]])
    blind = _tied_schedule(feats, range(6), (3, 4, 5))
    assert set(blind.tolist()) <= {3, 4, 5}
    seeing = _tied_schedule(feats, range(6), (3, 4, 5), turn=per_frame)
    assert seeing.tolist() == [0, 1, 2]
    assert OWN not in seeing.tolist()


def test_a_donor_turned_far_from_the_frame_loses_even_to_a_clearly_worse_shape(clip):
    """A gentle price for a turn lets a better shape win over a few degrees; beyond about 11 degrees the price
    climbs steeply: a donor turned 23 degrees away (twisted mouth, its far cheek folded over the face) loses to a
    frontal one whose opening is off by two sigmas."""
    feats = clip["space"].features().astype(np.float64)
    feats[3:6] = feats[0:3]
    # The frontal frames: two sigmas off in opening (the planner's sigma: 0.01 where the target shuts the lips).
    gaps = feats[3:6, 0]
    shut = gaps <= np.percentile(gaps, 5) + 0.005
    feats[0:3, 0] += np.where(shut, 0.02, 0.06)
    feats[6] = feats[0:3].mean(0) + [0.3, 0.2]
    per_frame = np.array([0.0] * 3 + [0.3] * 3 + [0.0])
    gentle = _tied_schedule(feats, range(6), (3, 4, 5), turn=per_frame, turn_free=float("inf"))
    assert set(gentle.tolist()) <= {3, 4, 5}
    steep = _tied_schedule(feats, range(6), (3, 4, 5), turn=per_frame)
    assert set(steep.tolist()) <= {0, 1, 2}
    # A few degrees (0.1) still cost only gently: the better shape wins.
    near = _tied_schedule(feats, range(6), (3, 4, 5), turn=np.array([0.0] * 3 + [0.1] * 3 + [0.0]))
    assert set(near.tolist()) <= {3, 4, 5}


def test_a_shut_target_takes_a_donor_whose_lips_meet_over_a_nearly_shut_one_of_its_width():
    """Lips the dub shuts are drawn from a frame where they really meet, even when a nearly shut frame matches
    the width better (pressed together by the warp, those lips leave a hair of a gap and look squeezed); an open
    target still takes the shape that matches it best."""
    features = np.array([[0.0, 0.71], [0.012, 0.70], [0.20, 0.72], [0.21, 0.70]])
    bank = np.arange(4)
    targets = Targets(gap=np.array([0.0, 0.0, 0.205], np.float32), width=np.array([0.70, 0.70, 0.70], np.float32),
                      calibrated_on_clip=False, gain=1.0, offset=0.0)
    donors = schedule_donors(targets, np.array([2, 2, 2]), features, bank, own_bonus=-10.0, jump_cost=0.0)
    assert donors[:2].tolist() == [0, 0] and donors[2] == 3


def test_a_shut_target_before_a_rounded_vowel_takes_shut_lips_over_pouted_parted_ones_of_its_width():
    """An m before "oo" is planned shut and narrow. The clip has shut lips only at their relaxed width, and
    pouted lips of the target's width that stay parted: the lips must meet (the width is the warp's to move), or
    the frame shows parted lips and teeth where the dub says m."""
    features = np.array([[0.0, 0.72], [0.03, 0.64], [0.20, 0.70]])
    bank = np.arange(3)
    targets = Targets(gap=np.array([0.0, 0.0, 0.20], np.float32), width=np.array([0.64, 0.64, 0.70], np.float32),
                      calibrated_on_clip=False, gain=1.0, offset=0.0)
    donors = schedule_donors(targets, np.array([2, 2, 2]), features, bank, own_bonus=-10.0, jump_cost=0.0)
    assert donors[:2].tolist() == [0, 0] and donors[2] == 2
    # Where the target is open, width still weighs as before: the pouted frame matches a narrow open target.
    open_targets = Targets(gap=np.array([0.0, 0.03, 0.03], np.float32), width=np.array([0.72, 0.64, 0.64], np.float32),
                           calibrated_on_clip=False, gain=1.0, offset=0.0)
    assert schedule_donors(open_targets, np.array([2, 2, 2]), features, bank, own_bonus=-10.0,
                           jump_cost=0.0)[1:].tolist() == [1, 1]


def _lips_image(teeth_rows: int, highlight: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A 200 px mouth (eyes 100 px apart) whose tracked inner lips lie 2 px apart at y 120/122, and its landmarks:
    red lips meeting at a dark crease, with ``teeth_rows`` rows of teeth showing between them, and optionally a
    light gloss on the lower lip's body."""
    img = np.zeros((200, 200, 3), np.uint8)
    img[:] = (225, 180, 160)  # skin
    img[107:121, 66:134] = (170, 40, 50)  # upper lip
    img[121:137, 66:134] = (190, 60, 70)  # lower lip
    img[120:122, 70:130] = (90, 20, 30)  # where the lips meet
    if teeth_rows:
        top = 121 - teeth_rows // 2
        img[top:top + teeth_rows, 90:111] = (235, 232, 222)  # half the mouth's middle (x 80-120)
    if highlight:
        img[129:132, 85:115] = (245, 205, 205)
    lm = np.full((478, 3), 100.0)
    lm[33, :2], lm[263, :2] = (50, 60), (150, 60)
    for k, (u, lo) in enumerate(zip((81, 82, 13, 312, 311), (178, 87, 14, 317, 402))):
        lm[u, :2], lm[lo, :2] = (80 + 10 * k, 120), (80 + 10 * k, 122)
    lm[0, :2], lm[17, :2] = (100, 108), (100, 136)
    return img, lm


def test_teeth_between_lips_the_tracker_reads_as_nearly_shut_are_measured():
    """The tracker can lay its inner lip contours over the teeth's edges, so parted lips read nearly shut: the
    teeth showing where the lips meet are measured (in eye distances), shut lips and a gloss on the lip measure
    nothing."""
    from lipsync_studio.sync.builtin.crops import teeth_between_lips

    shut = teeth_between_lips(*_lips_image(0))
    glossy = teeth_between_lips(*_lips_image(0, highlight=True))
    parted = teeth_between_lips(*_lips_image(4))
    assert shut == 0.0 and glossy == 0.0
    # 4 rows over 21 of the 41 columns measured (the middle of the mouth), in eye distances of 100 px
    assert parted == pytest.approx(4 * 21 / 41 / 100, rel=0.1), parted
    crops = FaceCrops()
    img, lm = _lips_image(4)
    crops.keep(0, img, [lm])
    assert crops.measures(0, lm)[1] == pytest.approx(parted)


def test_a_shut_target_takes_lips_that_meet_over_a_frame_showing_teeth_the_tracker_reads_as_shut():
    """For a p, b or m, a frame whose lips the tracker reads as shut but with a band of teeth showing between them
    loses to one whose lips meet, even of a slightly worse width; open targets are not judged by the teeth."""
    features = np.array([[0.002, 0.70], [0.003, 0.73], [0.20, 0.70]])
    bank = np.arange(3)
    teeth = np.array([0.03, 0.0, 0.1])
    targets = Targets(gap=np.array([0.0, 0.0, 0.20], np.float32), width=np.array([0.70, 0.70, 0.70], np.float32),
                      calibrated_on_clip=False, gain=1.0, offset=0.0)
    kw = dict(own_bonus=-10.0, jump_cost=0.0)
    assert schedule_donors(targets, np.array([2, 2, 2]), features, bank, **kw)[:2].tolist() == [0, 0]
    donors = schedule_donors(targets, np.array([2, 2, 2]), features, bank, teeth=teeth, **kw)
    assert donors[:2].tolist() == [1, 1] and donors[2] == 2


def test_a_donor_whose_chin_sits_elsewhere_loses_to_a_slightly_worse_shape_whose_chin_matches(clip):
    """The drawing keeps the frame's own jaw outline and stretches the lent chin to it: a donor whose chin sits a
    tenth of an eye distance away from the frame's (its head pitched otherwise) loses to one a sigma worse in
    shape whose chin sits like the frame's; without the measure the better shape wins."""
    feats = clip["space"].features().astype(np.float64)
    feats[3:6] = feats[0:3]
    gaps = feats[3:6, 0]
    shut = gaps <= np.percentile(gaps, 5) + 0.005
    feats[0:3, 0] += np.where(shut, 0.01, 0.03)  # a sigma off in opening
    feats[6] = feats[0:3].mean(0) + [0.3, 0.2]
    chin = np.array([0.0] * 3 + [0.1] * 3 + [0.0])
    assert set(_tied_schedule(feats, range(6), (3, 4, 5)).tolist()) <= {3, 4, 5}
    assert set(_tied_schedule(feats, range(6), (3, 4, 5), chin=chin).tolist()) <= {0, 1, 2}


def test_a_change_of_donor_goes_to_a_mouth_that_looks_like_the_one_before():
    """Two clip frames fit the dub's next shape; the one whose mouth looks like the donor before it (the same
    smile, the same light) is drawn, even when the other fits the shape a little better: a change between unlike
    mouths reads as a jump. Without the looks the better shape wins; the frame's own mouth is not held to it."""
    features = np.array([[0.10, 0.60], [0.40, 0.90], [0.40, 0.90], [0.20, 0.66], [0.40, 0.90], [0.20, 0.65],
                         [0.50, 0.95]])
    bank = np.arange(6)
    targets = Targets(gap=np.array([0.10, 0.10, 0.10, 0.20, 0.20, 0.20], np.float32),
                      width=np.array([0.60, 0.60, 0.60, 0.65, 0.65, 0.65], np.float32),
                      calibrated_on_clip=False, gain=1.0, offset=0.0)
    looks = np.full((7, 24 * 16), 100.0, np.float32)
    looks[5] = 130.0  # a smile with teeth showing where the others are closed-lipped
    sources = np.full(6, 6)  # the frames' own mouths fit nothing
    plain = schedule_donors(targets, sources, features, bank)
    assert plain.tolist() == [0, 0, 0, 5, 5, 5]
    assert schedule_donors(targets, sources, features, bank, looks=looks).tolist() == [0, 0, 0, 3, 3, 3]
    # A frame's own mouth may still follow a lent one that looks unlike it.
    own_fits = features.copy()
    own_fits[6] = [0.20, 0.65]
    looks[6] = 160.0
    assert schedule_donors(targets, sources, own_fits, bank, looks=looks)[3:].tolist() == [OWN] * 3


def test_a_close_up_takes_a_close_up_donor_over_a_wide_shot_one_of_its_shape(tmp_path):
    """Two cameras: a close-up and a wide shot of one face. Measured per pixel, the wide shot's small mouths read
    sharper; drawn into a close-up they are magnified and come out soft. Compared at one face size, a close-up
    frame takes the close-up's mouth of the shape it needs."""
    import cv2

    from lipsync_studio.sync.builtin.planner import detail_at_one_scale

    close = [render_face(o, size=320) for o in OPENINGS]
    wide = [cv2.copyMakeBorder(render_face(o, size=192), 64, 64, 64, 64, cv2.BORDER_REPLICATE) for o in OPENINGS]
    frames = close + wide + [render_face(0.3, size=320)]
    path = tmp_path / "two_cameras.mp4"
    with VideoWriter(path, Fraction(25), 320, 320, fmt=VideoFormat(preset="veryfast", crf=12)) as vw:
        for f in frames:
            vw.write(f)
    crops = FaceCrops()
    track = analyse_faces(path, use_cache=False, keep=crops.keep).speaker_track()
    assert track.present.all()
    detail = np.array([crops.detail(t, track.raw[t]) for t in range(len(frames))])
    space = MouthSpace.from_track(track)
    feats = space.features().astype(np.float64)
    feats[3:6] = feats[0:3]  # shapes tie, the wide shot's a little closer to the targets
    feats[0:3, 0] += 0.01
    feats[6] = feats[0:3].mean(0) + [0.3, 0.2]
    rel = relative_detail(np.tile(detail, 2), np.tile(feats[:, 0], 2))[:7]
    assert (rel[3:6] > rel[0:3]).all(), rel  # per pixel, the small mouths read sharper
    scale = np.hypot(space.pose[:, 0, 0], space.pose[:, 1, 0])
    assert np.allclose(scale[3:6] / scale[0:3], 0.6, atol=0.05)
    per_pixel = _tied_schedule(feats, range(6), (3, 4, 5), detail=rel)
    assert set(per_pixel.tolist()) <= {3, 4, 5}
    at_one_size = _tied_schedule(feats, range(6), (3, 4, 5), detail=detail_at_one_scale(rel, scale))
    assert at_one_size.tolist() == [0, 1, 2]
