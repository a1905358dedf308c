"""Stereo lip-sync: both eyes follow the dub and stay a valid stereo pair (consistent vs independent)."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

from lipsync_studio.cli import main
from lipsync_studio.engine.sync_job import StereoOptions, SyncOptions, SyncRequest, run_sync
from lipsync_studio.errors import MediaError, OptionError
from lipsync_studio.media.audio_writer import write_audio
from lipsync_studio.media.video import probe_video
from lipsync_studio.media.writer import VideoFormat, VideoWriter
from lipsync_studio.samples import random_syllables, stereo_talking_frames, synth_speech
from lipsync_studio.stereo.layout import join
from lipsync_studio.stereo.metrics import evaluate_stereo


@pytest.fixture(scope="module")
def stereo_clip(tmp_path_factory):
    """A 2.5 s full-SBS talking clip (256 px eyes) with known disparity, and a dub with another rhythm."""
    folder = tmp_path_factory.mktemp("stereo")
    own = synth_speech(random_syllables(8, 11), seed=11)
    write_audio(folder / "own.wav", own.audio, own.sr)
    n = int(np.ceil(own.duration * 25))
    opening = own.mouth_opening(np.arange(n) / 25)
    clip = folder / "talk_SBS.mp4"
    with VideoWriter(clip, Fraction(25), 512, 256, fmt=VideoFormat(crf=12, preset="veryfast"),
                     audio=folder / "own.wav", audio_seconds=n / 25) as w:
        for left, right, _ in stereo_talking_frames(opening, size=256, seed=11):
            w.write(join(left, right, "sbs"))
    dub_speech = synth_speech(random_syllables(7, 4), seed=4, f0=200.0, rate=3.2, pause_every=4, lead_silence=0.5)
    dub = write_audio(folder / "dub.wav", dub_speech.audio, dub_speech.sr)
    return clip, dub, dub_speech.duration


def stereo(clip, dub, out, measure: bool = False, face: int | None = None, **kw):
    """Run the one sync job on a stereo clip."""
    return run_sync(SyncRequest(clip, dub, out, SyncOptions(measure=measure, face=face), stereo=StereoOptions(**kw)))


def test_consistent_mode_keeps_the_mouth_at_its_depth_and_measures_both_eyes(stereo_clip, tmp_path):
    clip, dub, dub_s = stereo_clip
    result = stereo(clip, dub, tmp_path / "out.mp4", measure=True, mode="consistent")
    assert result.outputs == (tmp_path / "out.mp4",) and result.output == tmp_path / "out.mp4"  # -o is exact
    assert result.mode == "consistent" and result.layout == "sbs" and result.engine == "builtin"
    # Measured like a 2D result, each eye on its own: both mouths follow the dub.
    for score in (result.sync, result.sync_right):
        assert score is not None and score.confidence > 0.2 and abs(score.offset_frames) <= 2, score
    assert set(result.timings) >= {"open", "faces", "render", "measure"}
    out = result.output
    info = probe_video(out)
    assert (info.width, info.height) == (512, 256) and abs(info.duration - dub_s) <= 1 / 25
    score = evaluate_stereo(out, reference=clip)
    assert score.disparity_change_mouth is not None and score.disparity_change_mouth <= 0.5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]  # no per-eye files left
    # Each eye synced on its own moves the mouth's depth more than carrying the left eye's change across.
    ind = stereo(clip, dub, tmp_path / "ind.mp4", mode="independent").output
    ind_score = evaluate_stereo(ind, reference=clip)
    # Measured here: 0.09 vs 0.33 px over the mouth, and the mouth as a whole moved 0.03 vs 0.10 px in depth.
    assert score.disparity_change_mouth < 0.5 * ind_score.disparity_change_mouth
    assert score.mouth_shift < 0.5 * ind_score.mouth_shift


def test_the_carried_change_lands_where_the_known_disparity_puts_it():
    """The lower face's disparity, fitted to sparse matches and corrected per pixel, is within a fraction of a
    pixel of the truth, and a change made to the left eye appears in the right eye moved by it."""
    from lipsync_studio.stereo.right_eye import carry_change
    from lipsync_studio.samples.stereo_pair import face_box
    from lipsync_studio.stereo.carry import fit_smooth_disparity, refine_disparity

    size = 320
    x0, y0, x1, y1 = (int(v) for v in face_box(size))
    box = (x0 + (x1 - x0) // 5, y0 + (y1 - y0) // 2, x1 - (x1 - x0) // 5, y1)
    errors, refined = [], []
    for left, right, truth in stereo_talking_frames(np.abs(np.sin(np.arange(6) / 2.0)), size=size, seed=3):
        fit = fit_smooth_disparity(left, right, box, 64)
        assert fit is not None
        ys, xs = np.mgrid[box[1]:box[3], box[0]:box[2]]
        errors.append(np.abs(fit(xs.astype(float), ys.astype(float)) - truth[ys, xs]).mean())
        refined.append(np.abs(refine_disparity(fit, left, right, box)[0] - truth[ys, xs]).mean())
    assert np.mean(errors) < 0.2  # a dense matcher (SGBM, half size) is off by ~0.2 px here
    assert np.mean(refined) < 0.7 * np.mean(errors), (refined, errors)  # the jaw line bends faster than a cubic

    # An open mouth pasted into the left eye of a closed-mouth pair: the right eye gets it where the true right
    # view of the open mouth has it.
    import cv2

    (closed_l, closed_r, d), (open_l, open_r, _) = stereo_talking_frames(np.array([0.05, 0.9]), size=size, seed=3,
                                                                        head_motion=0.0)
    lower = np.zeros((size, size), bool)
    lower[box[1]:box[3], box[0]:box[2]] = True
    change = lower & np.any(np.abs(open_l.astype(int) - closed_l) > 12, axis=2)
    change = cv2.dilate(change.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    edited = closed_l.copy()
    edited[change] = open_l[change]
    new_right = carry_change(closed_l, edited, closed_r)
    ys, xs = np.nonzero(cv2.erode(change.astype(np.uint8), np.ones((9, 9), np.uint8)))
    xr = np.round(xs - d[ys, xs]).astype(int)  # where the right eye sees those points
    carried = np.abs(new_right[ys, xr].astype(float) - open_r[ys, xr]).mean()
    untouched = np.abs(closed_r[ys, xr].astype(float) - open_r[ys, xr]).mean()
    assert carried < 0.35 * untouched, (carried, untouched)
    far = np.ones((size, size), bool)
    far[max(0, box[1] - 16):box[3] + 16, max(0, box[0] - 80):box[2] + 16] = False
    assert np.array_equal(new_right[far], closed_r[far])  # nothing else touched


def test_engine_none_re_times_a_stereo_clip_without_syncing_it(stereo_clip, tmp_path):
    """``--engine none`` re-times (and re-packs) both eyes and changes no mouth: it ran the built-in engine's whole
    sync before. Written in its own packing at the clip's own encoding, the frames are the clip's as decoded."""
    import av

    clip, dub, dub_s = stereo_clip
    fmt = VideoFormat(crf=0, preset="ultrafast")
    result = run_sync(SyncRequest(clip, dub, tmp_path / "same.mp4", SyncOptions(engine="none", measure=False, fmt=fmt),
                                  stereo=StereoOptions()))
    assert result.engine == "none" and set(result.timings) == {"open", "eyes", "render"}, result.timings
    assert not any("unchanged" in w for w in result.warnings), result.warnings
    assert result.frames == round(dub_s * 25) or abs(result.frames - dub_s * 25) <= 1

    def planes(path, n):
        with av.open(str(path)) as c:
            return [f.to_ndarray() for f, _ in zip(c.decode(video=0), range(n))]

    n = probe_video(clip).n_frames
    assert all(np.array_equal(a, b) for a, b in zip(planes(tmp_path / "same.mp4", n), planes(clip, n)))
    # Re-packed as an anaglyph: written, nothing to measure or sync.
    anaglyph = run_sync(SyncRequest(clip, dub, tmp_path / "ana.mp4", SyncOptions(engine="none", measure=False),
                                    stereo=StereoOptions(out_layout="anaglyph")))
    assert anaglyph.engine == "none" and anaglyph.outputs == (tmp_path / "ana.mp4",)


def test_independent_mode_is_the_baseline_and_a_2d_clip_is_refused(stereo_clip, tmp_path, capsys):
    clip, dub, _ = stereo_clip
    assert main(["sync", str(clip), str(dub), "-o", str(tmp_path / "ind.mp4"), "--stereo-mode",
                 "independent", "--out-layout", "half-sbs", "--no-measure", "--json", "-q"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["mode"] == "independent" and result["layout"] == "half-sbs"
    assert result["outputs"] == [str(tmp_path / "ind.mp4")]
    assert probe_video(tmp_path / "ind.mp4").width == 256  # half SBS: two eyes squeezed into one width
    flat = tmp_path / "flat.mp4"
    with VideoWriter(flat, Fraction(25), 256, 256) as w:
        for _ in range(5):
            w.write(np.full((256, 256, 3), 90, np.uint8))
    with pytest.raises(MediaError, match="not a stereo clip"):
        stereo(flat, dub, tmp_path / "x.mp4", layout="mono")


def test_a_face_that_is_not_there_is_refused_on_a_stereo_clip_as_in_2d(stereo_clip, tmp_path, capsys):
    clip, dub, _ = stereo_clip
    with pytest.raises(OptionError, match="there is no face 7 in the left eye"):
        stereo(clip, dub, tmp_path / "x.mp4", face=7)
    assert main(["sync", str(clip), str(dub), "-o", str(tmp_path / "x.mp4"), "--face", "7", "-q"]) == 2
    assert "no face 7" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing written, no partial left


def test_cycle_mode_runs_the_trained_model_once_it_is_installed(stereo_clip, tmp_path, monkeypatch):
    import torch

    from lipsync_studio.sync.stereo_cycle.model import StereoCycleConfig, StereoCycleModel
    from lipsync_studio.train.stereo_cycle.train import export

    clip, dub, _ = stereo_clip
    monkeypatch.setenv("LIPSYNC_STUDIO_MODELS_DIR", str(tmp_path / "models"))
    with pytest.raises(OptionError, match="needs the stereo cycle model"):
        stereo(clip, dub, tmp_path / "c.mp4", mode="cycle")
    (tmp_path / "models").mkdir()
    torch.manual_seed(0)
    export(StereoCycleModel(StereoCycleConfig(generator="wav2lip")).eval(), tmp_path / "models" / "stereo_cycle.pt")
    result = stereo(clip, dub, tmp_path / "c.mp4", mode="cycle", out_layout="tb")
    (out,) = result.outputs
    info = probe_video(out)
    assert (info.width, info.height) == (256, 512) and result.mode == "cycle"


def test_the_eyes_colour_difference_is_read_from_the_original_pair_not_the_new_mouth():
    """A right camera 10 % brighter with a +6 offset in blue is recovered from corresponding pixels, and an eye
    pair with the same colours gives the identity (so a carried mouth keeps its own colours)."""
    from lipsync_studio.samples import render_face
    from lipsync_studio.stereo.carry import eye_colour

    left = render_face(0.3, size=200)
    right = np.clip(left * np.array([1.1, 1.1, 1.1]) + np.array([0, 0, 6.0]), 0, 255).astype(np.uint8)
    where = np.ones(left.shape[:2], bool)
    c = eye_colour(left, right, where)
    assert np.allclose(c[:3], 1.1, atol=0.02) and abs(c[5] - 6.0) < 1.5
    same = eye_colour(left, left, where)
    assert np.allclose(same, [1, 1, 1, 0, 0, 0], atol=1e-6)


def test_the_carrier_reuses_its_fit_between_frames_and_refits_after_a_cut():
    """Between refits the per-pixel correction follows the head; a cut to a nearer face (3 px more disparity)
    makes the old fit stale, so it is measured again at once and the disparity is right on that frame."""
    from lipsync_studio.samples.stereo_pair import face_box
    from lipsync_studio.stereo.carry import Carrier

    size = 320
    x0, y0, x1, y1 = (int(v) for v in face_box(size))
    box = (x0 + (x1 - x0) // 5, y0 + (y1 - y0) // 2, x1 - (x1 - x0) // 5, y1)
    where = np.zeros((size, size), bool)
    where[box[1]:box[3], box[0]:box[2]] = True
    near = stereo_talking_frames(np.full(3, 0.3), size=size, seed=3)
    nearer = stereo_talking_frames(np.full(1, 0.3), size=size, seed=3, background=7.0, face_near=15.0)
    carrier = Carrier(64, refit_every=100)
    errors = []
    for key, (left, right, truth) in enumerate([*near, *nearer]):
        dense = carrier.disparity(left, right, where, box, box, key)
        errors.append(np.abs(dense - truth[box[1]:box[3], box[0]:box[2]]).mean())
        assert carrier.fits == (1 if key < 3 else 2), key
    assert max(errors) < 0.15, errors
    assert carrier.disparity(left, right, where, box, box, 3) is dense  # the same frame again: remembered


def test_a_damaged_stereo_clip_is_synced_with_a_warning_in_the_result(stereo_clip, tmp_path):
    """As for a 2D clip: the media warning is collected into the result (the app and --json show it)."""
    clip, dub, _ = stereo_clip
    cut = tmp_path / "cut_SBS.mp4"
    data = clip.read_bytes()
    cut.write_bytes(data[: len(data) * 6 // 10])
    result = stereo(cut, dub, tmp_path / "out.mp4", layout="sbs")
    assert any("cut off" in w and "cut_SBS.mp4" in w for w in result.warnings), result.warnings
    assert result.outputs == (tmp_path / "out.mp4",) and result.output.exists()
