"""The per-speaker model learns a speaker's mouth from the clip's own sound, and knows how far to trust it."""

from __future__ import annotations

import numpy as np

from lipsync_studio.samples import random_syllables, synth_speech
from lipsync_studio.sync.builtin.speaker_model import fit_speaker_model, mel_features


def _speech_and_mouth(seed: int, n_syl: int):
    s = synth_speech(random_syllables(n_syl, seed), seed=seed)
    fps = 25.0
    n = int(s.duration * fps)
    gap = 0.02 + 0.25 * s.mouth_opening(np.arange(n) / fps)
    width = 0.7 - 0.05 * s.mouth_opening(np.arange(n) / fps)
    return s, np.stack([gap, width], 1), fps, n


def test_a_long_clip_teaches_the_mouth_and_the_model_predicts_new_speech():
    s, shapes, fps, n = _speech_and_mouth(1, 80)  # ~20 s of speech
    model = fit_speaker_model(mel_features(s.audio, fps, n), shapes)
    assert model is not None and model.validation_r > 0.6 and model.weight > 0.4
    other, truth, _, m = _speech_and_mouth(2, 20)
    pred = model.predict(mel_features(other.audio, fps, m))
    assert np.corrcoef(pred[:, 0], truth[:, 0])[0, 1] > 0.6


def test_too_little_clip_gives_no_model_and_a_nonsense_mouth_is_not_trusted():
    s, shapes, fps, n = _speech_and_mouth(3, 12)  # ~3 s: too short
    assert fit_speaker_model(mel_features(s.audio, fps, n), shapes) is None
    s, shapes, fps, n = _speech_and_mouth(4, 80)
    rng = np.random.default_rng(0)
    noise = np.stack([rng.uniform(0, 0.3, n), rng.uniform(0.6, 0.8, n)], 1)
    model = fit_speaker_model(mel_features(s.audio, fps, n), noise)
    assert model is not None and model.weight == 0.0
