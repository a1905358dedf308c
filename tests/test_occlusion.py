"""Something in front of the mouth (a hand microphone): those frames are left as they are and never lent.

Before, the engine drew a mouth over the microphone and lent frames whose "mouth" was the microphone to others:
pieces of it were pasted into later frames.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from lipsync_studio.engine.sync_job import SyncRequest, run_sync
from lipsync_studio.media.video import VideoReader
from lipsync_studio.sync.builtin.occlusion import covered_frames, covered_spans, drawing_weight

MIC = (38, 38, 44)  # a dark grey microphone head
COVERED = range(30, 46)


@pytest.fixture(scope="module")
def mic_clip(tmp_path_factory) -> dict:
    """A talking face (its own sound) with a microphone held in front of its lips in frames 30-45."""
    import cv2

    from lipsync_studio.demo import make_dub, make_talking_clip
    from lipsync_studio.face.analysis import analyse_faces
    from lipsync_studio.media.writer import VideoFormat, VideoWriter

    folder = tmp_path_factory.mktemp("mic")
    made = make_talking_clip(folder / "clean.mp4", syllables=8, size=256)
    faces = analyse_faces(made["path"])
    faces.choose_speaker(None)
    track = faces.speaker_track()
    clip = folder / "mic.mp4"
    with VideoReader(made["path"]) as r, VideoWriter(clip, Fraction(25), 256, 256, fmt=VideoFormat(crf=12),
                                                     audio=made["sound"], audio_seconds=made["frames"] / 25) as w:
        for t, img in r.iter_frames():
            img = img.copy()
            if t in COVERED:
                cx, cy = track.raw[t][[13, 14], :2].mean(axis=0)
                cv2.ellipse(img, (int(cx), int(cy) + 6), (30, 34), 0, 0, 360, MIC, -1)
                cv2.rectangle(img, (int(cx) - 9, int(cy) + 30), (int(cx) + 9, 256), (24, 24, 28), -1)
            w.write(img)
    return {"clip": clip, "clean": made["path"], "dub": make_dub(folder / "dub.wav", syllables=10)["path"],
            "frames": made["frames"]}


def _frames(path: Path) -> list[np.ndarray]:
    with VideoReader(path) as r:
        return [img for _, img in r.iter_frames()]


def _mic_pixels(img: np.ndarray) -> int:
    """Pixels of the microphone's colour about the mouth (the photo has dark greys of its own elsewhere)."""
    return int((np.abs(img[96:210, 70:186].astype(int) - MIC).max(axis=2) <= 6).sum())


def test_frames_whose_mouth_is_covered_are_left_as_they_are_and_lend_nothing(mic_clip, tmp_path):
    result = run_sync(SyncRequest(mic_clip["clip"], mic_clip["dub"], tmp_path / "out.mp4"))
    notes = [n for n in result.warnings if "mouth is covered" in n]
    assert len(notes) == 1 and "left as they are" in notes[0]
    # For a pipeline: the clip frames left as they are, with the approach around the covered ones.
    spans = result.engine_info["covered_spans"]
    assert len(spans) == 1 and spans[0][0] <= COVERED.start and spans[0][1] >= COVERED.stop - 1
    assert json.loads(json.dumps(result.to_dict()))["engine_info"]["covered_spans"] == spans
    src, out = _frames(mic_clip["clip"]), _frames(result.output)
    n = min(len(src), mic_clip["frames"])
    for k in COVERED:  # the microphone is all there, and so is the face around it
        assert _mic_pixels(out[k]) > 0.9 * _mic_pixels(src[k])
        assert np.abs(out[k].astype(int) - src[k]).mean() < 2.0
    # No piece of the microphone anywhere it was not (a covered frame lent as a donor pasted pieces of it).
    for k in range(n):
        if k not in COVERED:
            assert _mic_pixels(out[k]) <= _mic_pixels(src[k]) + 5, k
    # Away from the microphone the mouth is synced.
    far = [k for k in range(n) if min(abs(k - c) for c in COVERED) > 12]
    changed = [k for k in far if np.abs(out[k].astype(int) - src[k]).mean() > 0.3]
    assert len(changed) > len(far) // 2


def test_an_uncovered_clip_has_no_covered_frames(mic_clip, tmp_path):
    result = run_sync(SyncRequest(mic_clip["clean"], mic_clip["dub"], tmp_path / "clean_out.mp4"))
    assert not any("mouth is covered" in n for n in result.warnings)


def test_covered_runs_take_in_the_approach_and_short_gaps_and_the_drawing_fades_around_them():
    fps = 25.0
    redder = np.full(100, 20.0)
    lighter = np.full(100, -40.0)
    redder[40:50] = -5.0  # covered
    redder[53:56] = -5.0  # again after a 3-frame peek
    lighter[80] = 30.0  # a hand over dark lips: lighter than the skin around
    redder[90] = np.nan
    covered = covered_frames(redder, lighter, fps)
    assert covered_spans(covered) == [(34, 61), (74, 86)]  # 6 frames (0.25 s) of approach each side, gap bridged
    w = drawing_weight(covered)
    assert w[40] == 0 and w[33] == pytest.approx(0.25) and w[30] == 1 and w[62] == pytest.approx(0.25)
    # A fade to black shrinks Lab's differences with the light (k^(1/3) at k times darker): scaled back by the skin's
    # lightness, a face at a twentieth of its light is still seen; without, it read as covered.
    k = np.ones(100)
    k[20:30] = 0.05
    dim = np.cbrt(k)
    skin = (180 + 40.8) * dim - 40.8
    assert covered_frames(20 * dim, -40 * dim, fps).any()
    assert not covered_frames(20 * dim, -40 * dim, fps, skin=skin).any()
    # Lips that vary as speech makes them do are never covered; a dark open mouth is no microphone.
    rng = np.random.default_rng(0)
    natural = covered_frames(20 + 3 * rng.standard_normal(200), -40 + 10 * rng.standard_normal(200) - 40 * (
        rng.random(200) < 0.05), fps)
    assert not natural.any()


CUT = range(30, 46)


def test_frames_whose_lips_the_picture_edge_cuts_are_left_as_they_are(mic_clip, tmp_path):
    """The head dips so the picture's bottom edge cuts through the lips (frames 30-45): drawn there, a mouth came
    out as a pale sliver at the edge. Those frames are left as they are, lend nothing, and the user is told."""
    from lipsync_studio.media.writer import VideoFormat, VideoWriter

    clip = tmp_path / "dip.mp4"  # framed close: the lips' lower edge 15-20 px above the picture's
    with VideoReader(mic_clip["clean"]) as r, VideoWriter(clip, Fraction(25), 256, 160, fmt=VideoFormat(crf=12),
                                                          audio=mic_clip["clean"], audio_at_picture=True) as w:
        for t, img in r.iter_frames():
            if t in CUT:  # the picture moves down 25 px: the lower lip beyond the bottom edge
                img = np.concatenate([np.repeat(img[:1], 15, axis=0), img[:145]])
            else:
                img = img[10:170]
            w.write(np.ascontiguousarray(img))
    from lipsync_studio.engine.sync_job import SyncOptions

    result = run_sync(SyncRequest(clip, mic_clip["dub"], tmp_path / "out.mp4",
                                  SyncOptions(measure=False, fmt=VideoFormat(crf=6))))
    notes = [n for n in result.warnings if "edge cuts the lips" in n]
    assert len(notes) == 1 and "left as they are" in notes[0]
    spans = result.engine_info["cut_by_edge_spans"]
    assert spans and all(CUT.start <= a <= b < CUT.stop for a, b in spans)
    left = [k for a, b in spans for k in range(a, b + 1)]
    assert len(left) >= 12
    src, out = _frames(clip), _frames(result.output)

    def mouth_change(k: int) -> float:  # about the lips, which lie 100-160 px down, 80-176 across
        return float(np.abs(out[k][100:, 80:176].astype(int) - src[k][100:, 80:176]).mean())

    assert max(mouth_change(k) for k in left) < 1.5  # the coding alone (drawn there: 1.8-2.7)
    n = min(len(src), mic_clip["frames"])
    far = [k for k in range(n) if min(abs(k - c) for c in CUT) > 6]
    assert sum(mouth_change(k) > 1.5 for k in far) > len(far) // 2


def test_lips_are_cut_by_the_edge_when_any_of_their_outline_is_at_or_beyond_it():
    from lipsync_studio.face.track import LIPS_OUTER
    from lipsync_studio.sync.builtin.occlusion import outside_picture

    lm = np.full((4, 478, 2), 50.0)
    ring = np.stack([np.cos(np.linspace(0, 2 * np.pi, 20)), np.sin(np.linspace(0, 2 * np.pi, 20))], 1)
    for t, cy in enumerate((60.0, 90.0, 99.0, 120.0)):
        lm[t, list(LIPS_OUTER)] = [50.0, cy] + 10 * ring  # lips 20 px tall, the picture 100 px tall
    lm[3] = np.nan  # no face: not cut
    assert outside_picture(lm, 100, 100).tolist() == [False, True, True, False]
