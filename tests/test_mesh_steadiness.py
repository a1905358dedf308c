"""The exported face is steadier than raw FaceMesh without delaying the mouth (measured on a tracked clip)."""

from __future__ import annotations

import numpy as np
import pytest

from lipsync_studio.face.steady import SteadySettings, steady_landmarks, zero_phase_lowpass
from lipsync_studio.metrics.steadiness import correlation, jitter, lag_frames, lip_gap, lip_gap_range


@pytest.fixture(scope="module")
def tracked():
    """A 3 s synthetic talking head (slight head motion, camera noise) tracked by FaceMesh: (raw, present, truth)."""
    from lipsync_studio.face.tracker import track_faces
    from lipsync_studio.samples import random_syllables, synth_speech, talking_face_frames

    speech = synth_speech(random_syllables(10, 5), seed=5)
    n = 75
    opening = speech.mouth_opening(np.arange(n) / 25.0)
    rng = np.random.default_rng(1)
    frames = ((i, np.clip(f + rng.normal(0, 4, f.shape), 0, 255).astype(np.uint8))
              for i, f in enumerate(talking_face_frames(opening, size=256, seed=3)))
    faces = track_faces(frames, n, 25.0, 256, 256)
    track = faces.speaker_track()
    assert track is not None and track.coverage > 0.9
    return track.raw, track.present, opening


def test_steady_landmarks_halve_jitter_and_keep_the_mouth_in_time(tracked):
    raw, present, truth = tracked
    steady = steady_landmarks(raw, present, 25.0)
    assert steady.shape == raw.shape and not np.isnan(steady).any()
    ratio = jitter(steady, present).face / jitter(raw, present).face
    assert ratio < 0.5
    raw_gap, gap = lip_gap(raw, 2), lip_gap(steady, 2)
    assert abs(lag_frames(gap, raw_gap)) < 0.25
    assert abs(lag_frames(gap, truth)) < 0.5 + abs(lag_frames(raw_gap, truth))  # no later than FaceMesh itself
    assert correlation(gap, truth) > 0.9
    assert lip_gap_range(gap) > 0.8 * lip_gap_range(raw_gap)


def test_zero_phase_lowpass_delays_nothing_and_keeps_slow_motion():
    t = np.arange(200) / 25.0
    slow = np.sin(2 * np.pi * 1.0 * t)
    noise = np.random.default_rng(0).normal(0, 0.2, len(t))
    out = zero_phase_lowpass(slow + noise, 4.0, 25.0)
    assert abs(lag_frames(out, slow)) < 0.05
    assert np.abs(out - slow)[10:-10].std() < 0.35 * noise.std()


def test_gaps_are_filled_and_disabled_smoothing_keeps_the_measurements(tracked):
    raw, present, _ = tracked
    holey = present.copy()
    holey[20:24] = False
    out = steady_landmarks(np.where(holey[:, None, None], raw, np.nan), holey, 25.0, SteadySettings(enabled=False))
    assert np.allclose(out[holey], raw[holey], atol=1e-3)
    mid = out[20:24, 1, 0]
    assert np.all((mid >= min(raw[19, 1, 0], raw[24, 1, 0]) - 1e-3) & (mid <= max(raw[19, 1, 0], raw[24, 1, 0]) + 1e-3))
    with pytest.raises(ValueError, match="no frame with a face"):
        steady_landmarks(raw, np.zeros_like(present), 25.0)
