"""How a synced mouth is drawn: detail kept, colour true, the face's edge respected, a real interior lent; and the
looks measure (`eval --reference`) that reports it."""

from __future__ import annotations

import json
from fractions import Fraction

import cv2
import numpy as np
import pytest

from lipsync_studio.cli import main
from lipsync_studio.demo import make_dub, make_talking_clip
from lipsync_studio.face.analysis import analyse_faces
from lipsync_studio.face.track import LIPS_INNER, LIPS_OUTER
from lipsync_studio.media.timeline import plan_output
from lipsync_studio.media.video import VideoReader
from lipsync_studio.media.writer import VideoFormat, VideoWriter
from lipsync_studio.metrics.looks import evaluate_looks, lip_band, mouth_box, sharpness
from lipsync_studio.sync.builtin.colour import ColourMatch
from lipsync_studio.sync.builtin.engine import BuiltinEngine
from lipsync_studio.sync.builtin.interior import lend_interior
from lipsync_studio.sync.builtin.masks import beside_mouth_not_skin, hair_reach_cut
from lipsync_studio.sync.builtin.render import piecewise_warp
from lipsync_studio.sync.wav2lip.engine import FACE_OVAL

FPS = Fraction(25)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("looks")
    clip = make_talking_clip(folder / "clip.mp4", syllables=8, size=288, seed=5)
    dub = make_dub(folder / "dub.wav", syllables=8, seed=9)
    return {"clip": clip["path"], "sound": clip["sound"], "dub": dub["path"], "folder": folder}


def _rewrite(src, dst, edit):
    """Write ``dst``: every frame of ``src`` passed through ``edit(index, frame)``."""
    with VideoReader(src) as r, VideoWriter(dst, r.info.fps, r.info.width, r.info.height,
                                            fmt=VideoFormat(crf=12, preset="veryfast")) as w:
        for i, f in r.iter_frames():
            w.write(edit(i, f.copy()))
    return dst


def _mouth_blur(clip):
    """A frame edit that blurs the mouth box of ``clip``'s speaker (sigma 1.6 px): a soft mouth in a sharp face."""
    track = analyse_faces(clip).speaker_track()

    def blur(i, f):
        box = mouth_box(track.landmarks[i], f.shape[1], f.shape[0])
        if box is not None:
            x0, y0, x1, y1 = box
            f[y0:y1, x0:x1] = cv2.GaussianBlur(f[y0:y1, x0:x1], (0, 0), 1.6)
        return f

    return blur


def test_the_looks_measure_ranks_a_blurred_or_recoloured_mouth_below_the_clip_itself(media, tmp_path, capsys):
    track = analyse_faces(media["clip"]).speaker_track()
    blur = _mouth_blur(media["clip"])

    def paint_lips(i, f):
        box = mouth_box(track.landmarks[i], f.shape[1], f.shape[0])
        if box is not None:
            x0, y0, x1, y1 = box
            band = lip_band(track.landmarks[i], box)
            patch = f[y0:y1, x0:x1].astype(np.int16)
            patch[band] += np.array([40, -25, -15], np.int16)  # glossy, saturated red
            f[y0:y1, x0:x1] = np.clip(patch, 0, 255).astype(np.uint8)
        return f

    same = evaluate_looks(_rewrite(media["clip"], tmp_path / "same.mp4", lambda i, f: f), media["clip"])
    painted = evaluate_looks(_rewrite(media["clip"], tmp_path / "painted.mp4", paint_lips), media["clip"])
    blurred_path = _rewrite(media["clip"], tmp_path / "blurred.mp4", blur)
    args = ["-q", "eval", str(blurred_path), "--dub", str(media["sound"]), "--reference", str(media["clip"])]
    assert main([*args, "--json"]) == 0
    blurred = json.loads(capsys.readouterr().out)["looks"]

    assert same.sharpness_median > 0.85 and same.verdicts()["sharpness"] and same.verdicts()["colour"]
    assert blurred["sharpness_median"] < 0.5 and blurred["sharpness_worst_tenth"] < same.sharpness_worst_tenth
    assert not blurred["verdicts"]["sharpness"] and blurred["softest_frames"]
    # The worst tenth is judged against the clip's own natural change, plainly and at the same opening: the clip
    # itself is within it, a blurred mouth is not.
    assert same.verdicts()["sharpness_worst_tenth"] and same.verdicts()["same_shape_worst_tenth"]
    assert not blurred["verdicts"]["sharpness_worst_tenth"] and not blurred["verdicts"]["same_shape_worst_tenth"]
    assert painted.colour_de > same.colour_de + 5 and not painted.verdicts()["colour"]
    assert abs(painted.sharpness_median - same.sharpness_median) < 0.3  # a colour change is not a blur
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "mouth sharpness" in text and "softest frames" in text and "lip colour dE" in text


def test_a_donor_warped_once_keeps_detail_that_a_bank_and_a_second_bilinear_resampling_lost():
    """The mouth is drawn with one bicubic resampling from the donor's own pixels (alignment and shape change in
    one map); it used to be resampled twice with a bilinear filter, once into a smaller bank."""
    from skimage.data import astronaut

    img = np.ascontiguousarray(astronaut()[40:240, 140:340])
    pts = np.array([[10, 10], [190, 10], [190, 190], [10, 190], [100, 100]], float)
    tris = np.array([[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]])
    src_pts = pts + [0.4, 0.3]  # the donor sits a fraction of a pixel away: every pixel is interpolated
    box = (20, 20, 180, 180)
    once, _ = piecewise_warp(img, src_pts, pts, tris, box)
    bank = cv2.warpAffine(img, np.float32([[0.8, 0, 0], [0, 0.8, 0]]), (160, 160), flags=cv2.INTER_LINEAR)
    twice, _ = piecewise_warp(bank, src_pts * 0.8, pts, tris, box, interpolation=cv2.INTER_LINEAR)

    def grey_sharpness(a):
        return sharpness(cv2.cvtColor(a, cv2.COLOR_RGB2GRAY))

    ref = grey_sharpness(img[20:180, 20:180])
    assert grey_sharpness(once) > 0.6 * ref
    assert grey_sharpness(once) > 2 * grey_sharpness(twice)


def _ellipse_band(shape, centre, axes, thickness):
    outer = np.zeros(shape, np.uint8)
    cv2.ellipse(outer, centre, axes, 0, 0, 360, 1, -1)
    inner = np.zeros(shape, np.uint8)
    cv2.ellipse(inner, centre, (axes[0] - thickness, axes[1] - thickness), 0, 0, 360, 1, -1)
    return (outer > 0) & (inner == 0)


def _lab_of(pixels):
    return cv2.cvtColor(pixels.reshape(1, -1, 3).astype(np.float32) / 255, cv2.COLOR_RGB2Lab).reshape(-1, 3)


def test_a_tinted_donor_with_glossy_red_lips_gets_the_frames_skin_and_pale_lips_back_in_lab():
    from skimage.data import astronaut

    target = np.ascontiguousarray(astronaut()[100:260, 150:310])
    h, w = target.shape[:2]
    lips = _ellipse_band((h, w), (80, 110), (34, 16), 9)
    # The target's lips: pale (little red); the donor: the same face, warmer light, glossy saturated lips.
    lab = cv2.cvtColor(target.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    lab[lips, 1] = 12 + 0.3 * (lab[lips, 1] - lab[lips, 1].mean())
    target = np.clip(cv2.cvtColor(lab, cv2.COLOR_Lab2RGB) * 255 + 0.5, 0, 255).astype(np.uint8)
    dl = cv2.cvtColor(target.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    dl[lips, 1] += 22
    dl[lips, 0] = dl[lips, 0].mean() + 1.8 * (dl[lips, 0] - dl[lips, 0].mean())
    donor = np.clip(cv2.cvtColor(dl, cv2.COLOR_Lab2RGB) * 255 * [1.1, 1.0, 0.9] + 0.5, 0, 255).astype(np.uint8)
    skin = np.zeros((h, w), bool)
    skin[20:70, 20:140] = True

    for memory in (0.0,):
        out = ColourMatch(memory=memory).apply(donor, target, skin, lips.astype(np.float32), lips)
        skin_de = np.linalg.norm(_lab_of(out[skin]).mean(0) - _lab_of(target[skin]).mean(0))
        lips_de = np.linalg.norm(_lab_of(out[lips]).mean(0) - _lab_of(target[lips]).mean(0))
        before = np.linalg.norm(_lab_of(donor[lips]).mean(0) - _lab_of(target[lips]).mean(0))
        assert skin_de < 1.5 and lips_de < 2.0 < before / 5, (skin_de, lips_de, before)
        # The gloss: the lips' lightness spread is no stronger than the frame's own.
        assert _lab_of(out[lips])[:, 0].std() < 1.1 * _lab_of(target[lips])[:, 0].std()
    # A donor that already matches comes back unchanged.
    same = ColourMatch(memory=0.0).apply(target, target, skin, lips.astype(np.float32), lips)
    assert np.abs(same.astype(int) - target).max() <= 1


def test_a_new_donor_is_lit_like_the_frame_at_once_and_one_donors_run_stays_smoothed():
    """The colour correction is smoothed over the frames one donor lends (its run through its clip), not across a
    change of donor: a donor 12 % darker than the one before is drawn at the frame's lightness from its first frame,
    where the last donor's correction carried over left it visibly darker for several frames."""
    from skimage.data import astronaut

    target = np.ascontiguousarray(astronaut()[100:260, 150:310])
    h, w = target.shape[:2]
    lips = _ellipse_band((h, w), (80, 110), (34, 16), 9)
    skin = np.zeros((h, w), bool)
    skin[20:70, 20:140] = True
    darker = np.clip(target * 0.88 + 0.5, 0, 255).astype(np.uint8)

    def lightness(img):
        return float(_lab_of(img[skin])[:, 0].mean())

    want = lightness(target)
    match = ColourMatch()
    for k in range(10):  # donor 40 and the frames after it: already like the frame
        match.apply(target, target, skin, lips.astype(np.float32), lips, source=40 + k)
    out = match.apply(darker, target, skin, lips.astype(np.float32), lips, source=7)  # another donor
    assert abs(lightness(out) - want) < 1.0 < abs(lightness(darker) - want) / 4
    # The same donor's next frame, a little brighter by noise: the correction moves only part of the way.
    brighter = np.clip(target * 0.95 + 0.5, 0, 255).astype(np.uint8)
    out = match.apply(brighter, target, skin, lips.astype(np.float32), lips, source=8)
    assert lightness(out) > want + 1.0


def test_the_grain_added_restarts_with_a_new_donor():
    """A smooth donor gets grain to match a grainy frame; the next donor, as grainy as the frame, gets none from its
    first frame on (the last donor's strength is not carried over), while the same donor's run stays smoothed."""
    from lipsync_studio.sync.builtin.grain import GrainMatch

    rng = np.random.default_rng(4)
    frame = np.clip(150 + rng.normal(0, 4, (120, 160, 3)), 0, 255).astype(np.uint8)
    smooth = np.full_like(frame, 150)
    skin = np.ones(frame.shape[:2], bool)
    grain = GrainMatch()
    for k in range(10):
        grain.apply(smooth, frame, skin, source=20 + k)
    assert grain.sigma > 2.0
    noisy = np.clip(150 + rng.normal(0, 4, frame.shape), 0, 255).astype(np.uint8)
    assert np.array_equal(grain.apply(noisy, frame, skin, source=3), noisy)
    grain.apply(smooth, frame, skin, source=60)
    first = grain.sigma
    grain.apply(noisy, frame, skin, source=61)  # the same donor's next frame, grainier: eased, not jumped
    assert first > 2.0 and 0.5 * first < grain.sigma < first


def test_a_real_interior_is_scaled_onto_the_new_lips_and_nothing_outside_them_changes():
    rng = np.random.default_rng(3)
    donor = cv2.resize((rng.random((30, 40, 3)) * 255).astype(np.uint8), (160, 120), interpolation=cv2.INTER_CUBIC)
    t = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    src_inner = np.stack([80 + 40 * np.cos(t), 60 + 22 * np.sin(t)], 1)
    # The new lips: the same mouth 0.8x as wide, 1.3x as open, elsewhere in the frame.
    a = np.array([[0.8, 0.0, 30.0], [0.0, 1.3, 20.0]])
    dst_inner = src_inner @ a[:, :2].T + a[:, 2]
    frame = np.full((140, 160, 3), 90, np.uint8)
    out = frame.copy()
    assert lend_interior(out, dst_inner, donor, src_inner)
    inside = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(inside, [np.round(dst_inner).astype(np.int32)], 1)
    deep = cv2.erode(inside, np.ones((5, 5), np.uint8)).astype(bool)
    want = cv2.warpAffine(donor, a, (160, 140), flags=cv2.INTER_CUBIC)
    assert np.abs(out[deep].astype(int) - want[deep]).mean() < 3
    near = cv2.dilate(inside, np.ones((5, 5), np.uint8)).astype(bool)
    assert np.array_equal(out[~near], frame[~near])


def test_the_blend_never_pulls_background_into_the_face_and_leaves_it_alone_beside_the_face(media, tmp_path):
    """Behind the head, even frames are green and odd frames magenta: a donor from the other kind of frame must
    bring none of its background along."""
    track = analyse_faces(media["clip"]).speaker_track()
    colours = np.array([[0, 200, 0], [200, 0, 200]], np.uint8)

    def backdrop(i, f):
        face = np.zeros(f.shape[:2], np.uint8)
        cv2.fillPoly(face, [np.round(track.landmarks[i][list(FACE_OVAL), :2]).astype(np.int32)], 1)
        face = cv2.dilate(face, np.ones((7, 7), np.uint8))
        f[face == 0] = colours[i % 2]
        return f

    clip = _rewrite(media["clip"], tmp_path / "backdrop.mp4", backdrop)
    faces = analyse_faces(clip)
    tr = faces.speaker_track()
    engine = BuiltinEngine()
    with VideoReader(clip) as r:
        plan = plan_output(r.info.n_frames, r.info.fps, r.info.n_frames / float(r.info.fps))
        engine.prepare(clip, media["dub"], faces, plan)
        lent = 0
        for k in range(plan.n_out):
            j = plan.source_index(k)
            src = r.frame(j)
            out = engine.render(k, j, src)
            lent += int(engine.donors[k] >= 0 and engine.donors[k] % 2 != j % 2)
            lm = tr.landmarks[j]
            oval = np.zeros(src.shape[:2], np.uint8)
            cv2.fillPoly(oval, [np.round(lm[list(FACE_OVAL), :2]).astype(np.int32)], 1)
            # The face: no pixel turned toward the other frames' backdrop (lips, teeth and skin change colour
            # far less than that).
            inside = cv2.erode(oval, np.ones((5, 5), np.uint8)).astype(bool)
            d = out.astype(int) - src.astype(int)
            green = d[..., 1] - (d[..., 0] + d[..., 2]) / 2
            assert np.abs(green[inside]).max() < 90, k
            # Beside the face, above the mouth corners: the frame's own pixels (below them an opened mouth drops
            # the chin, and the jaw line beside it moves out over what was background).
            beside = ~cv2.dilate(oval, np.ones((5, 5), np.uint8)).astype(bool)
            beside[int(min(lm[61, 1], lm[291, 1])):] = False
            assert np.abs(d[beside]).max() <= 2, k  # (a level or two where the anti-aliased jaw line ends)
    assert lent > plan.n_out // 10  # donors from the other backdrop were really used


#: A lent face's area for the not-skin guard's tests: its size, an eye distance (px), and the lips' outer contour
#: (corners at x 105 and 215, bottom at y 138).
_H, _W, _UNIT = 240, 320, 150.0
_OUTER = np.stack([160 + 55 * np.cos(np.linspace(0, 2 * np.pi, 20, endpoint=False)),
                   120 + 18 * np.sin(np.linspace(0, 2 * np.pi, 20, endpoint=False))], 1)


def _grainy_face_with_lips(seed: int) -> tuple[np.random.Generator, np.ndarray, np.ndarray]:
    """(rng, a grainy skin-coloured (H, W, 3) face with lips filled in, the lips' mask)."""
    rng = np.random.default_rng(seed)
    face = np.clip(rng.normal([205, 150, 128], 6, (_H, _W, 3)), 0, 255).astype(np.uint8)
    cv2.fillPoly(face, [np.round(_OUTER).astype(np.int32)], (150, 60, 70))
    lips = np.zeros((_H, _W), np.uint8)
    cv2.fillPoly(lips, [np.round(_OUTER).astype(np.int32)], 1)
    return rng, face, lips.astype(bool)


def _hair(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    return rng.normal([70, 50, 35], 8, (h, w, 3)).clip(0, 255).astype(np.uint8)


def test_beside_the_mouth_what_of_a_lent_face_is_not_skin_gives_way_and_the_rest_stays():
    """A lent face whose cheek beside the mouth corner holds its hair (a turned donor put in the frame's turn) loses
    that hair to the frame's own pixels; its lips, its skin (grain and all) and a dark chin shadow stay lent."""
    rng, face, lips = _grainy_face_with_lips(3)
    outer, unit = _OUTER, _UNIT
    away = np.ones((_H, _W), np.uint8)  # the skin: all but the lips and a margin around them
    cv2.fillPoly(away, [np.round(outer * [1.3, 1.6] - [48, 72]).astype(np.int32)], 0)
    skin = away.astype(bool)
    assert beside_mouth_not_skin(face, skin, outer, unit) is None  # all skin: nothing to do
    lent = face.copy()
    lent[60:125, 275:315] = _hair(rng, 65, 40)
    lent[200:235, 120:200] = [120, 80, 70]  # the shadow under the chin
    weight = beside_mouth_not_skin(lent, skin & (lent[..., 0] > 150), outer, unit)
    assert weight is not None and weight.shape == (_H, _W)
    assert weight[70:115, 285:310].mean() > 0.95  # the hair beside the corner
    assert weight[lips].max() == 0.0
    assert weight[200:235, 120:200].max() == 0.0  # below the mouth: left alone
    assert weight[20:60, 20:90].max() < 0.01  # plain skin beside the mouth, with its grain


def test_a_strongly_turned_lent_faces_far_cheek_edge_below_the_mouth_gives_way_with_its_blended_edge():
    """A donor turned much further than its frame shows its far cheek ending a few pixels beyond the mouth corner,
    with its hair beyond, down to the jaw: that edge was drawn as a dark stroke along the frame's cheek (Radio2
    A->B 43-45, KatieHill B->A 95-98). Below the mouth the hair gives way from right beside the corner down to the
    jaw, the edge's blended pixels too; the skin there stays lent, and so does the chin between the corners."""
    rng, face, _ = _grainy_face_with_lips(5)
    outer, unit = _OUTER, _UNIT
    skin = np.ones((_H, _W), bool)
    skin[90:150, 95:225] = False
    lent = face.copy()
    lent[150:215, 221:320] = _hair(rng, 65, 99)
    lent[150:215, 219:221] = (0.5 * face[150:215, 219:221] + 0.5 * np.array([70, 50, 35])).astype(np.uint8)  # edge
    lent[200:235, 120:200] = [120, 80, 70]  # the chin's shadow
    weight = beside_mouth_not_skin(lent, skin & (lent[..., 0] > 150), outer, unit)
    assert weight is not None
    assert weight[160:205, 223:300].min() > 0.9  # the hair, from 8 px beyond the corner, down to 0.45 eye distances
    assert weight[160:205, 219:221].min() > 0.5  # the blended edge
    assert weight[160:205, 200:212].max() < 0.05  # the lent cheek's skin inside its edge stays
    assert weight[200:235, 120:200].max() == 0.0  # the chin


def test_hair_reaching_in_from_a_far_turned_donors_outline_is_cut_along_a_smooth_line_and_nothing_else():
    """A donor turned further away than the frame shows its hair inside the frame's face at the far outline, in
    strands of every depth; the not-skin guard took out the strands it could tell from skin and left a notch with
    pale strands in the jaw (Radio2 A->B 74, 82, 91). The lent face now ends along a smooth line a margin inside
    the deepest reach, so the frame's own pixels fill in; a spot inside the face, what lies under the chin and what
    reaches in on the near side are left to the guard alone."""
    unit = _UNIT
    s = np.linspace(0, 2 * np.pi, 72, endpoint=False)
    oval = np.stack([160 + 140 * np.cos(s), 120 + 95 * np.sin(s)], 1)
    rows = np.arange(_H)
    half_width = 140 * np.sqrt(np.clip(1 - ((rows - 120) / 95.0) ** 2, 0, 1))
    edge_right, edge_left = 160 + half_width, 160 - half_width
    not_skin = np.zeros((_H, _W), np.float32)
    reach = np.where(np.arange(_H) % 6 < 3, 18.0, 4.0)  # strands: 18 px deep, then 4, every three rows
    for y in range(100, 160):
        not_skin[y, int(edge_right[y] - reach[y]):int(edge_right[y]) + 1] = 1.0
    not_skin[90:100, 150:170] = 1.0  # a dark spot inside the face
    not_skin[208:216, 150:175] = 1.0  # under the chin, at the outline
    for y in range(100, 160):  # on the near side
        not_skin[y, int(edge_left[y]):int(edge_left[y] + 15)] = 1.0
    assert hair_reach_cut(np.zeros((_H, _W), np.float32), oval, unit, 215.0, 1) is None
    cut = hair_reach_cut(not_skin, oval, unit, 215.0, 1)
    assert cut is not None and cut.shape == (_H, _W)
    for y in range(105, 155):
        x = int(edge_right[y])
        assert cut[y, x - 18:x].max() < 0.1  # every strand, deep or shallow
        assert cut[y, x - 20] < 0.2  # and inside the deepest, fading out over a margin (0.04 eye distances) more
        assert cut[y, x - 36] > 0.95  # the lent face further in stays
    # A smooth line, not the strands' comb: where it crosses 0.5 moves by at most a pixel or two from row to row.
    crossing = np.array([np.flatnonzero(cut[y, 200:] < 0.5)[0] for y in range(105, 155)])
    assert np.abs(np.diff(crossing)).max() <= 2
    assert cut[90:100, 150:170].min() > 0.99  # the spot inside
    assert cut[200:216, 150:175].min() > 0.99  # under the chin (the lent neck there stays)
    assert cut[100:160, :60].min() > 0.99  # the near side


def test_a_turned_jaws_hair_under_the_mouth_gives_way_along_the_lent_outline_and_the_chin_stays():
    """A turned face's far jaw curves in under the mouth, between the corners, and the donor's hair at its edge was
    drawn there as a dark patch (Radio2 A->B 6): along the lent face's outline it gives way; a shadow on the chin
    away from the outline stays lent."""
    rng, face, lips = _grainy_face_with_lips(7)
    outer, unit = _OUTER, _UNIT
    s = np.linspace(0, 2 * np.pi, 36, endpoint=False)
    oval = np.stack([160 + 150 * np.cos(s), 120 + 95 * np.sin(s)], 1)  # the lent outline: 211 px down at x 200
    skin = np.ones((_H, _W), bool)
    skin[90:150, 95:225] = False
    lent = face.copy()
    lent[186:207, 180:212] = _hair(rng, 21, 32)
    lent[160:175, 140:180] = [120, 80, 70]  # a shadow on the chin, 40 px inside the outline
    ref = skin & (lent[..., 0] > 150)
    without = beside_mouth_not_skin(lent, ref, outer, unit)
    assert without is None or without[186:207, 180:212].max() == 0.0  # between the corners: the chin's, untouched
    weight = beside_mouth_not_skin(lent, ref, outer, unit, oval)
    assert weight[196:205, 186:206].min() > 0.9  # within 0.1 eye distances of the outline
    assert weight[160:175, 140:180].max() < 0.01
    assert weight[lips].max() == 0.0


def test_a_clip_that_opens_lends_its_most_open_mouth(media):
    faces = analyse_faces(media["clip"])
    engine = BuiltinEngine()
    with VideoReader(media["clip"]) as r:
        plan = plan_output(r.info.n_frames, r.info.fps, 3.0)
    engine.prepare(media["clip"], media["dub"], faces, plan)
    gaps = engine.space.features()[:, 0]
    assert engine.open_donor is not None and engine.open_donor in engine.bank
    assert gaps[engine.open_donor] >= np.nanpercentile(gaps, 98) - 1e-6


def test_a_donor_smoothed_by_resampling_gets_the_frames_grain_back_and_a_grainy_one_is_left_alone():
    from skimage.data import astronaut

    from lipsync_studio.sync.builtin.grain import GrainMatch, skin_detail

    rng = np.random.default_rng(0)
    clean = cv2.GaussianBlur(np.ascontiguousarray(astronaut()[60:220, 160:320]), (0, 0), 1.0)
    target = np.clip(clean + rng.normal(0, 3.0, clean.shape[:2])[..., None] + 0.5, 0, 255).astype(np.uint8)
    skin = np.zeros(target.shape[:2], bool)
    skin[10:150, 10:150] = True
    smooth = cv2.GaussianBlur(target, (0, 0), 0.7)  # the grain averaged away, as a sub-pixel resampling does
    grained = GrainMatch(memory=0.0).apply(smooth, target, skin)
    assert skin_detail(smooth, skin) < 0.5 * skin_detail(target, skin)
    assert 0.8 * skin_detail(target, skin) < skin_detail(grained, skin) < 1.2 * skin_detail(target, skin)
    assert abs(grained.astype(float).mean() - smooth.astype(float).mean()) < 0.5  # grain, not a colour change
    assert GrainMatch(memory=0.0).apply(target, target, skin) is target


def _turned(lm: np.ndarray, degrees: float) -> np.ndarray:
    """(478, 3) landmarks of the same face turned ``degrees`` about its vertical axis (seen orthographically)."""
    c = np.nanmean(lm[:468], axis=0)
    a = np.radians(degrees)
    out = lm.copy()
    x, z = lm[:, 0] - c[0], lm[:, 2] - c[2]
    out[:, 0] = c[0] + x * np.cos(a) + z * np.sin(a)
    out[:, 2] = c[2] - x * np.sin(a) + z * np.cos(a)
    return out


def test_a_donor_turned_away_gets_the_frames_head_turn_and_keeps_its_mouth_shape(media):
    """The same mouth seen on heads turned up to 20 degrees: put in the frontal frame's turn, a turned donor's lips
    land where the frontal frame's are (the similarity alone leaves them off-centre by several pixels)."""
    from lipsync_studio.face.track import FaceTrack
    from lipsync_studio.sync.mouth import MouthSpace

    real = analyse_faces(media["clip"]).speaker_track()
    lm = real.landmarks[int(np.nanargmax(real.mouth_gap()))].astype(np.float64)  # an open mouth
    angles = np.array([0.0, 20.0, -20.0, 12.0, -12.0, 6.0, -6.0, 0.0] * 3)
    frames = np.stack([_turned(lm, a) for a in angles]).astype(np.float32)
    space = MouthSpace.from_track(FaceTrack(0, frames, frames.copy(), np.ones(len(angles), bool)))
    lips = list(LIPS_OUTER) + list(LIPS_INNER)
    target = space.normalized[0][lips]
    for donor in (1, 2, 3, 4):
        before = np.linalg.norm(space.normalized[donor][lips] - target, axis=1).mean()
        after = np.linalg.norm(space.turned_shape(donor, 0)[lips] - target, axis=1).mean()
        assert after < 0.1 * before and after < 0.3, (angles[donor], before, after)
        # the opening and width are the frontal frame's (the same mouth), within a hundredth of their own
        turned = space.turned_shape(donor, 0)
        assert abs(space.gap(turned) - space.gap(space.normalized[0])) < 0.01 * space.gap(space.normalized[0])
        assert abs(space.width(turned) - space.width(space.normalized[0])) < 0.01 * space.width(space.normalized[0])
    # Turned toward itself it stays where it was.
    assert np.allclose(space.turned_shape(5, 5), space.normalized[5], atol=1e-6)


def test_the_interior_comes_whole_from_the_open_mouth_nearest_the_opening_asked():
    from lipsync_studio.sync.builtin.interior import interior_donors, pick_interior

    gaps = np.array([0.0, 0.02, 0.30, 0.29, 0.185, 0.175, 0.125, 0.115, np.nan, 0.062])
    sharp = np.array([0, 0, 0, 0, -0.5, 0.4, 0.3, -0.3, 0, 0])  # log sharpness against the clip's
    frames = np.arange(len(gaps))
    chosen = interior_donors(gaps, frames, sharp, open_enough=0.06, levels=5)
    assert chosen[0] == 2  # the widest first
    assert 5 in chosen and 4 not in chosen  # near a level the sharper mouth lends
    assert 6 in chosen and 7 not in chosen
    assert 9 in chosen  # a barely open mouth too: a narrow opening is not filled from a wide one
    assert not ({0, 1, 8} & set(chosen.tolist()))  # shut, barely parted or unmeasured mouths lend nothing
    assert len(interior_donors(np.array([0.01, 0.02]), np.arange(2))) == 0
    g = gaps[chosen]
    # The smallest opening that needs little stretching; the widest when none is wide enough; none beyond 2x.
    assert g[pick_interior(0.2, g)] == pytest.approx(0.175)
    assert g[pick_interior(0.14, g)] == pytest.approx(0.125)
    assert g[pick_interior(0.45, g)] == pytest.approx(0.30)
    assert g[pick_interior(0.07, g)] == pytest.approx(0.062)
    assert pick_interior(0.7, g) is None and pick_interior(0.1, np.zeros(0)) is None


def test_the_same_shape_sharpness_forgives_a_real_mouth_of_another_opening_but_not_a_blur(media, tmp_path):
    """Real frames of the clip shown in each other's place: an open mouth has more edges than a shut one, so the
    plain ratio of a shut mouth drawn where the source was open is low; over what the clip itself shows between
    those openings it is not. A blurred mouth stays low either way."""
    from lipsync_studio.metrics.looks import compare_looks, video_looks

    clip = video_looks(media["clip"])
    n = clip.n_frames
    other = compare_looks(clip, clip, (np.arange(n) + n // 2) % n, real_shift=n // 2)
    spread = np.nanpercentile(np.log(clip.sharpness), 90) - np.nanpercentile(np.log(clip.sharpness), 10)
    assert spread > 0.3  # the clip's mouths do differ in detail
    assert other.same_shape_worst_tenth > other.sharpness_worst_tenth + 0.1
    # Real frames in each other's place are as sharp as real frames are: no verdict calls them soft.
    assert other.verdicts()["sharpness_worst_tenth"] and other.verdicts()["same_shape_worst_tenth"]
    assert abs(np.log(other.same_shape_median)) < 0.15
    blur = _mouth_blur(media["clip"])

    blurred = compare_looks(video_looks(_rewrite(media["clip"], tmp_path / "blurred.mp4", blur)), clip)
    assert blurred.same_shape_median < 0.5 and blurred.same_shape_worst_tenth < 0.5
    assert "same-shape sharpness" in blurred.summary() and "same_shape_median" in blurred.as_dict()


def _ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 36) -> np.ndarray:
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + rx * np.cos(a), cy + ry * np.sin(a)], 1)


def test_a_donors_hair_beside_its_face_stays_out_but_its_dropped_chin_comes_in():
    """The donor's face drawn narrower on one side (hair over its jaw there) and with the chin lower (the mouth
    opened): beside the mouth only what both faces cover is lent; across the chin, either."""
    from lipsync_studio.sync.builtin.masks import lent_face_mask

    own = _ellipse(100, 100, 60, 80)
    lent = _ellipse(110, 110, 50, 80)  # its left edge 20 px further in, its chin 10 px lower
    m = lent_face_mask(own, lent, (220, 220), 0.0, chin_x=100, chin_half=25)
    assert m[100, 50] < 0.05  # beside the mouth, inside the own face only: the frame keeps its pixels
    assert m[100, 100] > 0.99 and m[60, 120] > 0.99  # inside both
    assert m[185, 105] > 0.99  # the dropped chin, below the own chin, is lent
    assert m[8, 100] < 0.05 and m[100, 200] < 0.05  # outside both: nothing


def test_the_redrawn_region_reaches_up_to_just_under_the_nose(media):
    """Its top edge (where the blend fades out) lies just under the nose above the mouth's middle, as far from the
    upper lip as the face allows, so a wide smile of the frame's own does not show through above a new mouth."""
    from lipsync_studio.sync.mouth import SUBNASALE, MouthSpace

    space = MouthSpace.from_track(analyse_faces(media["clip"]).speaker_track())
    ref = space.reference
    mid = np.abs(ref[space.region, 0] - ref[0, 0]) < 0.1 * space.eye_dist
    top = ref[space.region[mid], 1].min()
    assert 0 < (top - ref[SUBNASALE, 1]) / space.eye_dist < 0.045
    # and no margin point above the upper lip (they would reach into the nose)
    margin = space.region_points(ref)[len(space.region):]
    assert (margin[:, 1] > ref[0, 1] - 0.01 * space.eye_dist).all()


def test_lips_shut_from_a_wide_opening_meet_in_a_dark_seam_not_a_bar_of_squeezed_teeth():
    from lipsync_studio.sync.builtin.masks import lip_band_mask
    from lipsync_studio.sync.builtin.render import close_seam

    img = np.full((60, 100, 3), (200, 160, 140), np.uint8)  # skin
    outer = _ellipse(50, 30, 30, 12, 20)
    inner = _ellipse(50, 30, 24, 1.5, 20)  # a hair of an opening
    lips = lip_band_mask(outer, inner, img.shape[:2])
    img[lips > 0.5] = (170, 60, 70)
    bar = np.zeros(img.shape[:2], np.uint8)
    cv2.fillPoly(bar, [np.round(inner).astype(np.int32)], 1)
    img[bar > 0] = (235, 235, 225)  # the squeezed teeth
    before = img.copy()
    close_seam(img, inner, lips)
    assert img[bar > 0].mean(axis=0).max() < 90  # the bar is gone: darker than the lips
    far = cv2.dilate(np.uint8(lips > 0.01) | bar, np.ones((7, 7), np.uint8)) == 0
    assert np.array_equal(img[far], before[far])  # nothing else changes


def test_folded_triangles_leave_no_hole_in_the_drawn_area():
    """Thin triangles that overlap where the warp folds (along pressed lips, under the nose) are all drawn: one
    fill over all of them by parity left their overlap out, and the frame's own pixels showed through there as a
    line across the new mouth."""
    img = np.full((60, 60, 3), 200, np.uint8)
    pts = np.array([[5, 5], [55, 5], [55, 55], [40, 20]], float)
    tris = np.array([[0, 1, 2], [0, 2, 3]])  # the last point moved across the diagonal: the second turns over
    _, cover = piecewise_warp(img, pts, pts, tris, (0, 0, 60, 60))
    union = np.zeros((60, 60), np.uint8)
    for t in tris:
        cv2.fillConvexPoly(union, np.round(pts[t] * 16).astype(np.int32), 1, cv2.LINE_8, shift=4)
    np.testing.assert_array_equal(cover, union.astype(bool))


def test_a_lent_face_meets_the_frames_own_under_the_nose_and_keeps_its_mouth(media):
    """A donor sitting lower under the frame's nose (another pitch) is drawn with its skin just under the nose on
    the frame's own, fading to none at the upper lip: the frame's upper lip no longer peeks out above the new one,
    and the new lips stay where the donor's are."""
    from lipsync_studio.sync.builtin.engine import pin_to_nose
    from lipsync_studio.sync.mouth import SUBNASALE, MouthSpace

    space = MouthSpace.from_track(analyse_faces(media["clip"]).speaker_track())
    own = space.reference.copy()
    donor = own + [0.0, 0.06 * space.eye_dist]  # the whole lower face a little lower
    pinned = pin_to_nose(space, donor, own)
    ref = space.reference
    region = space.region
    nose = region[ref[region, 1] <= ref[SUBNASALE, 1] + 0.04 * space.eye_dist]
    lips = list(LIPS_OUTER) + list(LIPS_INNER)
    assert len(nose) and np.abs(pinned[nose] - own[nose]).max() < 0.35 * 0.06 * space.eye_dist  # most of the way
    np.testing.assert_array_equal(pinned[lips], donor[lips])
    outside = np.setdiff1d(np.arange(len(own)), region)
    np.testing.assert_array_equal(pinned[outside], donor[outside])


def test_a_blend_across_the_mouth_keeps_the_grain_of_both_images_at_full_strength():
    """Half of each of two grainy images keeps ~half the grain's Laplacian variance; the mouth's blend keeps all of
    it, changes nothing where either image is taken whole, and leaves a plain gradient as the plain blend has it."""
    from lipsync_studio.sync.builtin.render import blend_keeping_grain

    rng = np.random.default_rng(3)
    a = np.clip(128 + rng.normal(0, 6, (80, 120, 3)), 0, 255).astype(np.uint8)
    b = np.clip(120 + rng.normal(0, 6, (80, 120, 3)), 0, 255).astype(np.uint8)
    alpha = np.zeros((80, 120), np.float32)
    alpha[:, 40:80] = 0.5
    alpha[:, 80:] = 1.0
    plain = cv2.blendLinear(a, b, alpha, 1 - alpha)
    kept = blend_keeping_grain(a, b, alpha)

    def grain(img):
        return sharpness(cv2.cvtColor(np.ascontiguousarray(img[8:-8, 48:72]), cv2.COLOR_RGB2GRAY))

    whole = sharpness(cv2.cvtColor(np.ascontiguousarray(a[8:-8, 8:32]), cv2.COLOR_RGB2GRAY))
    assert grain(plain) < 0.65 * whole and grain(kept) > 0.85 * whole
    np.testing.assert_array_equal(kept[:, :30], plain[:, :30])
    np.testing.assert_array_equal(kept[:, 90:], plain[:, 90:])
    assert abs(float(kept[:, 48:72].mean()) - float(plain[:, 48:72].mean())) < 0.5
    # only inside the box
    boxed = blend_keeping_grain(a, b, alpha, box=(0, 0, 60, 80))
    np.testing.assert_array_equal(boxed[:, 60:], plain[:, 60:])
    ramp = np.tile(np.linspace(60, 200, 120, dtype=np.float32), (80, 1))
    smooth = cv2.merge([ramp.astype(np.uint8)] * 3)
    np.testing.assert_allclose(blend_keeping_grain(smooth, smooth, alpha).astype(int), smooth.astype(int), atol=1)


def test_what_lies_beyond_the_donors_frame_is_not_drawn_as_streaks_of_its_edge():
    """A donor's chin reaching past the bottom of its frame: the pixels that would read beyond the donor's edge are
    left out of the drawn area (the remap repeated the edge's last row there, a block of streaks over the collar)."""
    img = np.zeros((60, 80, 3), np.uint8)
    img[:, :, 0] = np.arange(80, dtype=np.uint8)[None, :] * 3
    dst = np.array([[0, 0], [80, 0], [80, 80], [0, 80]], float)
    src = dst.copy()  # the drawn square is 80 tall, the donor only 60
    tris = np.array([[0, 1, 2], [0, 2, 3]])
    warped, cover = piecewise_warp(img, src, dst, tris, (0, 0, 80, 80))
    assert cover[:58].all() and not cover[62:].any()
    np.testing.assert_array_equal(warped[:50, 5:75], img[:50, 5:75])


def test_the_edge_of_a_lent_face_inside_the_frames_own_fades_in_instead_of_cutting_a_line():
    """A turned donor's face edge lying inside the frame's face (its oval can be a few pixels off its real outline,
    where its jaw line, shadow or hair is): the donor fades in over ``soft`` px from its edge, not in one pixel."""
    from lipsync_studio.sync.builtin.masks import lent_face_mask

    own = _ellipse(100, 100, 60, 80)
    lent = _ellipse(110, 100, 50, 80)  # its left edge at x = 60, 20 px inside the frame's face
    hard = lent_face_mask(own, lent, (220, 220), 0.0, chin_x=100, chin_half=25)
    soft = lent_face_mask(own, lent, (220, 220), 0.0, chin_x=100, chin_half=25, soft=8.0)
    assert hard[100, 61] > 0.99 and soft[100, 61] < 0.7  # just inside the donor's edge (x = 60)
    assert soft[100, 61] < soft[100, 63] < soft[100, 65] < 0.97 <= soft[100, 68]  # rising over 8 px
    assert soft[100, 100] > 0.99
    assert (soft <= hard + 1e-6).all()  # never more of the donor than before


def test_the_drawn_area_fades_out_shortly_before_the_donors_frame_ends():
    """With ``split_cover`` the warp says apart where its triangles reach and where the donor's frame holds pixels,
    so the engine fades out over a short distance before the donor's edge, not over the region's wide feather."""
    img = np.full((60, 80, 3), 90, np.uint8)
    dst = np.array([[0, 0], [80, 0], [80, 80], [0, 80]], float)
    tris = np.array([[0, 1, 2], [0, 2, 3]])
    warped, cover, inside = piecewise_warp(img, dst, dst, tris, (0, 0, 80, 80), split_cover=True)
    assert cover[70:].all() and inside[:58].all() and not inside[62:].any()
    _, joint = piecewise_warp(img, dst, dst, tris, (0, 0, 80, 80))
    np.testing.assert_array_equal(joint, cover & inside)


def test_a_donors_own_real_teeth_stay_when_the_clip_has_no_wider_interior_to_lend():
    """The widest interior the clip has is the donor's own: its real teeth, stretched a little, stay (a drawn grey
    band flashed in for a frame, BobMenendez); a wider one is lent; a clip that never opens gets a drawn one; a
    squeezed donor never does."""
    from lipsync_studio.sync.builtin.interior import interior_choice

    gaps = np.array([0.157, 0.14, 0.112, 0.078, 0.062])
    assert interior_choice(0.208, 0.155, gaps, False) == (None, False)
    assert interior_choice(0.15, 0.09, gaps, False)[0] == 1  # the narrowest wide enough, wider than the donor's
    assert interior_choice(0.12, 0.0, np.zeros(0), False) == (None, True)  # never opens: drawn
    assert interior_choice(0.12, 0.0, gaps, False) == (2, True)  # shut donor: lent (drawn if that fails)
    assert interior_choice(0.03, 0.12, gaps, True)[1] is False


def test_the_interior_a_mouth_shows_is_decided_over_the_frames_and_does_not_flash_in_for_one():
    """Where the target's opening hovers about the point where a lent interior takes over from the donor's own, the
    teeth of another moment flashed in for a single frame (lp_d20 A->B 73, KatieHill A->B 15): a lone lent frame
    whose donor's own interior serves keeps it, a frame between two runs of one lent interior lends it too, and
    where the donor has no interior to stretch (shut, or far too narrow) the frame still gets a real one."""
    from lipsync_studio.sync.builtin.interior import interior_choice, needs_interior, plan_interiors

    gaps = np.array([0.30, 0.24, 0.18, 0.12, 0.07])
    # One frame past the takeover point (donor 0.185 of a target 0.249: 0.74 of it), its neighbours short of it.
    tg = np.array([0.19, 0.236, 0.249, 0.223, 0.171])
    dg = np.full(5, 0.185)
    assert [needs_interior(t, d) for t, d in zip(tg, dg)] == [False, False, True, False, False]
    pick, paint = plan_interiors(tg, dg, gaps)
    assert (pick == -1).all() and not paint.any()  # the donor's own teeth, throughout
    # A hole between two runs of the same lent interior (its donor opened 0.8 of the target there) lends it too.
    tg = np.array([0.05, 0.2, 0.2, 0.2, 0.19, 0.2, 0.2, 0.05])
    dg = np.array([0.05, 0.1, 0.1, 0.1, 0.155, 0.1, 0.1, 0.05])
    pick, _ = plan_interiors(tg, dg, gaps)
    assert needs_interior(0.2, 0.1) and not needs_interior(0.19, 0.155)
    assert list(pick) == [-1, 2, 2, 2, 2, 2, 2, -1]
    # A lone frame whose donor is shut (nothing of its own to stretch) still lends a real interior.
    tg = np.array([0.02, 0.12, 0.02])
    dg = np.array([0.0, 0.0, 0.0])
    pick, paint = plan_interiors(tg, dg, gaps)
    assert list(pick) == [-1, interior_choice(0.12, 0.0, gaps, False)[0], -1] and not paint.any()
    # A clip that never opens: the lone frame is drawn, as before.
    pick, paint = plan_interiors(tg, dg, np.zeros(0))
    assert list(pick) == [-1, -1, -1] and list(paint) == [False, True, False]


def test_under_a_risen_chin_the_lent_neck_covers_the_frames_own_chin_edge_and_fades_out():
    """Across the chin the frame's own face reaches ``reach`` px further down, fading out: where the drawn chin
    rises above the frame's own, the frame's own chin edge (left alone, a second chin line under the new one) is
    covered by the lent neck. Beside the face nothing changes, nor above the lower outline (the face mask's)."""
    from lipsync_studio.sync.builtin.masks import under_the_chin

    own = _ellipse(100, 100, 60, 80)  # its chin at y = 180
    m = under_the_chin(own, (220, 220), 12.0, chin_x=100, chin_half=25)
    assert m[178, 100] > 0.99 and m[182, 100] > 0.9  # the chin's edge, just past it
    assert 0.05 < m[186, 100] < 0.95 and m[186, 100] > m[189, 100]  # fading out
    assert m[194, 100] < 0.01  # beyond the reach
    assert m[100, 30:36].max() < 0.01 and m[100, 165:171].max() < 0.01  # beside the face, at the cheeks
    assert m[:120].max() == 0.0  # inside the face above the lower outline
    assert (under_the_chin(own, (220, 220), 0.0, 100, 25) == 0).all()


def test_a_chin_drawn_higher_than_the_frames_own_leaves_no_second_chin_line(media):
    """Where the dub closes the mouth on a frame whose own is open, the drawn chin rises: the frame's own chin edge
    below it is drawn over (it stayed as a pale strip and a dark line under the new chin), not left as it was."""
    from lipsync_studio.sync.mouth import CHIN

    faces = analyse_faces(media["clip"])
    track = faces.speaker_track()
    engine = BuiltinEngine()
    with VideoReader(media["clip"]) as r:
        plan = plan_output(r.info.n_frames, r.info.fps, r.info.n_frames / float(r.info.fps))
        engine.prepare(media["clip"], media["dub"], faces, plan)
        sp = engine.space
        changed = []
        for k in range(plan.n_out):
            j = plan.source_index(k)
            if not sp.present[j] or engine.targets.gap[k] > float(sp.gap(sp.normalized[j])) - 0.05:
                continue  # only frames whose mouth the dub closes by much (the chin rises)
            src = r.frame(j)
            out = engine.render(k, j, src)
            x, y = np.round(track.landmarks[j][CHIN, :2]).astype(int)
            patch = (slice(y, y + 3), slice(x - 2, x + 3))  # the frame's own chin edge
            changed.append(float(np.abs(out[patch].astype(int) - src[patch].astype(int)).mean()))
    assert len(changed) >= 3
    assert np.median(changed) > 8, changed
