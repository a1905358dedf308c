"""The project's own test media: synthetic speech, the talking astronaut, stereo pairs."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
from scipy import signal

from lipsync_studio.samples import (
    PHOTO_OPENING,
    SpeechSample,
    espeak_speech,
    face_box,
    face_disparity,
    head_poses,
    render_face,
    stereo_talking_frames,
    synth_speech,
    synthesize_right_view,
    talking_clip,
    talking_face_frames,
)
from lipsync_studio.samples.face_clip import CROP, astronaut
from lipsync_studio.samples.speech_sample import MOUTH_LEAD_S


@pytest.fixture(scope="module")
def speech() -> SpeechSample:
    return synth_speech()


def _band_energy_db(audio: np.ndarray, sr: int, band: tuple[float, float],
                    hop_s: float = 0.0025) -> tuple[np.ndarray, float]:
    """Energy (dB) of `band` in 10 ms windows every `hop_s` seconds; returns (curve, hop_s)."""
    sos = signal.butter(4, [band[0] / (sr / 2), band[1] / (sr / 2)], "bandpass", output="sos")
    power = signal.sosfiltfilt(sos, audio.astype(np.float64)) ** 2
    window = int(0.01 * sr)
    smooth = np.convolve(power, np.ones(window) / window, mode="same")
    hop = int(hop_s * sr)
    return 10 * np.log10(smooth[::hop] + 1e-10), hop / sr


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _photo_crop(size: int) -> np.ndarray:
    x0, y0, side = (int(v) for v in CROP)
    return cv2.resize(astronaut()[y0:y0 + side, x0:x0 + side], (size, size),
                      interpolation=cv2.INTER_LINEAR)


# --- speech ---------------------------------------------------------------------------------

def test_default_speech_is_three_seconds_of_syllables_with_one_pause(speech: SpeechSample) -> None:
    assert speech.audio.dtype == np.float32 and speech.audio.ndim == 1
    assert speech.sr == 16000 and np.abs(speech.audio).max() <= 1.0
    assert len(speech.syllables) == 12
    assert 3.3 < speech.duration < 4.5
    assert np.all(speech.starts <= speech.onsets) and np.all(speech.onsets < speech.offsets)
    assert np.all(speech.offsets[:-1] <= speech.starts[1:] + 1e-9)
    assert speech.onsets[0] >= 0.3 - 1e-9 and speech.offsets[-1] <= speech.duration - 0.3 + 1e-3
    gaps = speech.starts[1:] - speech.offsets[:-1]
    assert np.sum(gaps > 0.2) == 1
    assert not speech.estimated


def test_synth_speech_is_deterministic_for_a_seed() -> None:
    a, b, c = synth_speech(seed=3), synth_speech(seed=3), synth_speech(seed=4)
    assert np.array_equal(a.audio, b.audio) and np.array_equal(a.onsets, b.onsets)
    assert a.syllables == b.syllables
    assert a.syllables != c.syllables


@pytest.mark.parametrize("seed", [0, 1])
def test_vowel_onsets_are_where_the_voiced_energy_rises(seed: int) -> None:
    sample = synth_speech(seed=seed)
    db, hop = _band_energy_db(sample.audio, sample.sr, (80.0, 1000.0))
    amplitude = 10 ** (db / 20)
    rise = np.gradient(amplitude)
    for onset in sample.onsets:
        lo, hi = int((onset - 0.05) / hop), int((onset + 0.05) / hop)
        steepest = (lo + int(np.argmax(rise[lo:hi]))) * hop
        assert abs(steepest - onset) <= 0.02, (onset, steepest)
        # the vowel is clearly louder than what precedes it
        assert db[int((onset + 0.04) / hop)] - db[int((onset - 0.02) / hop)] > 6.0


def _vowel_window(sample: SpeechSample, i: int, length: float = 0.08) -> np.ndarray:
    centre = 0.5 * (sample.onsets[i] + sample.offsets[i])
    a = int((centre - length / 2) * sample.sr)
    return sample.audio[a:a + int(length * sample.sr)].astype(np.float64)


def test_speech_is_harmonic_at_f0_with_vowel_formants() -> None:
    sample = synth_speech(["ta", "ti"], f0=120.0, pause_every=None, seed=1)
    sr = sample.sr
    spectra = []
    for i in range(2):
        x = _vowel_window(sample, i) * np.hanning(int(0.08 * sr))
        ac = np.correlate(x, x, "full")[len(x) - 1:]
        lags = np.arange(int(sr / 200), int(sr / 80))
        f0 = sr / lags[np.argmax(ac[lags])]
        assert 0.8 * 120 < f0 < 1.35 * 120
        assert ac[lags].max() / ac[0] > 0.6  # strongly periodic: voiced, not noise
        n_fft = 8192
        mag = 20 * np.log10(np.abs(np.fft.rfft(x, n_fft)) + 1e-9)
        freqs = np.fft.rfftfreq(n_fft, 1 / sr)

        def level(f: float, reach: float, pick: object) -> float:
            near = np.abs(freqs - f) <= reach * f0
            return float(pick(mag[near]))  # type: ignore[operator]

        contrast = [level(k * f0, 0.2, np.max) - level((k + 0.5) * f0, 0.15, np.min)
                    for k in range(1, 11)]
        assert np.mean(contrast) > 10.0  # peaks at the harmonics, valleys between them
        spectra.append((freqs, mag))
    (freqs, mag_a), (_, mag_i) = spectra

    def strongest(mag: np.ndarray, lo: float, hi: float) -> float:
        band = (freqs > lo) & (freqs < hi)
        return float(freqs[band][np.argmax(mag[band])])

    assert 600 < strongest(mag_a, 100, 900) < 850  # /a/: F1 730 Hz
    assert 950 < strongest(mag_a, 900, 1500) < 1250  # /a/: F2 1090 Hz
    assert strongest(mag_i, 100, 900) < 400  # /i/: F1 280 Hz
    assert 2050 < strongest(mag_i, 1500, 2700) < 2450  # /i/: F2 2250 Hz
    assert 2800 < strongest(mag_i, 2700, 3500) < 3200  # /i/: F3 3000 Hz


def test_mouth_opening_follows_the_syllables_and_leads_the_sound(speech: SpeechSample) -> None:
    t = np.arange(0, speech.duration, 0.005)
    opening = speech.mouth_opening(t)
    assert opening.shape == t.shape and opening.min() >= 0 and opening.max() <= 1
    assert np.all(opening[t < speech.starts[0] - 0.15] == 0)
    assert np.all(opening[t > speech.offsets[-1] + 0.1] == 0)
    for syl, start, on, off in zip(speech.syllables, speech.starts, speech.onsets, speech.offsets):
        middle = speech.mouth_opening(np.array([0.5 * (on + off) - MOUTH_LEAD_S]))[0]
        assert middle > (0.8 if syl.endswith("a") else 0.3)
        if syl[0] in "pbm":  # lips closed from the consonant until its release
            closed = (t > start - MOUTH_LEAD_S + 0.005) & (t < on - MOUTH_LEAD_S - 0.005)
            assert np.all(opening[closed] == 0), syl
    # Cross-correlating with the loudness, the mouth leads by about one 25 fps frame.
    db, hop = _band_energy_db(speech.audio, speech.sr, (80.0, 4000.0), hop_s=0.005)
    loud = np.clip(db - db.max() + 50, 0, None)
    n = min(len(loud), len(opening))
    lags = np.arange(-20, 21)
    corr = [np.corrcoef(opening[max(0, -k):n - max(0, k)], loud[max(0, k):n - max(0, -k)])[0, 1]
            for k in lags]
    best_lead = lags[int(np.argmax(corr))] * 0.005
    assert 0.0 <= best_lead <= 0.08 and max(corr) > 0.6


def test_speech_sample_checks_its_shapes_and_is_read_only(speech: SpeechSample) -> None:
    with pytest.raises(ValueError, match="onsets"):
        SpeechSample(audio=np.zeros(10), sr=16000, syllables=("ba",), onsets=np.zeros(2),
                     offsets=np.zeros(1), starts=np.zeros(1))
    with pytest.raises(ValueError):
        speech.onsets[0] = 1.0
    with pytest.raises(ValueError, match="vowel"):
        synth_speech(["bx"])


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_espeak_speech_estimates_syllables_from_loudness() -> None:
    sample = espeak_speech("The quick brown fox jumps over the lazy dog.")
    assert sample is not None and sample.estimated and sample.sr == 16000
    assert 1.5 < sample.duration < 4.5
    assert 8 <= len(sample.onsets) <= 15  # 11 spoken syllables
    assert np.all(np.diff(sample.onsets) > 0) and np.all(sample.onsets < sample.offsets)
    assert sample.offsets[-1] <= sample.duration
    assert sample.mouth_opening(sample.onsets).max() > 0.5


# --- talking face ---------------------------------------------------------------------------

def test_talking_face_frames_are_rgb_uint8_one_per_opening() -> None:
    frames = list(talking_face_frames(np.linspace(0, 1, 5), size=240))
    assert len(frames) == 5
    assert all(f.shape == (240, 240, 3) and f.dtype == np.uint8 for f in frames)
    with pytest.raises(ValueError, match="even"):
        render_face(0.5, size=241)


def test_photo_opening_without_motion_is_the_photo() -> None:
    assert _psnr(render_face(PHOTO_OPENING, size=360), _photo_crop(360)) > 40.0


def test_closed_mouth_frame_looks_like_the_photo_and_changes_only_the_mouth() -> None:
    closed, photo = render_face(0.0, size=360), _photo_crop(360)
    assert _psnr(closed, photo) > 35.0
    still = render_face(PHOTO_OPENING, size=360)
    changed = np.nonzero(np.abs(closed.astype(int) - still.astype(int)).max(axis=2) > 2)
    scale = 360 / CROP[2]
    # everything that changed lies on the lower face: mouth, chin, jaw line
    rows, cols = changed[0] / scale + CROP[1], changed[1] / scale + CROP[0]  # photo pixels
    assert rows.min() >= 135 and rows.max() <= 185  # lips to chin
    assert cols.min() >= 195 and cols.max() <= 252  # mouth corner to mouth corner


def test_head_motion_is_slight_smooth_and_deterministic() -> None:
    poses = head_poses(250, amount=1.0, seed=5)
    assert np.abs(poses[:, :2]).max() < 4.0 and np.abs(poses[:, 2]).max() <= 2.0
    assert np.abs(np.diff(poses, axis=0)).max() < 0.4  # px or degrees per 25 fps frame
    assert np.array_equal(poses, head_poses(250, amount=1.0, seed=5))
    assert np.all(head_poses(10, amount=0.0) == 0)
    a = list(talking_face_frames(np.array([0.4, 0.4]), size=120, seed=2))
    b = list(talking_face_frames(np.array([0.4, 0.4]), size=120, seed=2))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_talking_clip_has_a_frame_for_every_video_frame_of_the_speech() -> None:
    sample = synth_speech(["ma", "pa"], pause_every=None)
    frames, n = talking_clip(sample, fps=25.0, size=120)
    assert n == int(np.ceil(sample.duration * 25))
    assert sum(1 for _ in frames) == n


def test_mediapipe_finds_the_face_and_its_lip_gap_grows_with_the_opening() -> None:
    mp = pytest.importorskip("mediapipe")
    openings = [0.0, 0.33, 0.66, 1.0]
    poses = head_poses(4, amount=1.0, seed=0, fps=2.0)  # well-spread poses
    gaps = []
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True) as mesh:
        for opening, pose in zip(openings, poses):
            frame = render_face(opening, size=360, pose=tuple(pose))
            result = mesh.process(frame)
            assert result.multi_face_landmarks, f"no face found at opening {opening}"
            lm = result.multi_face_landmarks[0].landmark
            gaps.append((lm[14].y - lm[13].y) * 360)
    assert np.all(np.diff(gaps) > 0.5), gaps
    assert gaps[0] < 1.5 and gaps[-1] > 12.0, gaps


# --- stereo ---------------------------------------------------------------------------------

def test_constant_disparity_shifts_by_exactly_d_pixels() -> None:
    left = render_face(0.5, size=120)
    right, valid = synthesize_right_view(left, np.full((120, 120), 3.0, np.float32))
    assert np.array_equal(right[:, :-3], left[:, 3:])
    assert valid[:, :-3].all() and not valid[:, -3:].any()
    half, _ = synthesize_right_view(left, np.full((120, 120), 2.5, np.float32))
    between = 0.5 * (left[:, 2:-1].astype(float) + left[:, 3:])
    assert np.abs(half[:, :-3] - between).max() <= 0.5 + 1e-9


def test_right_view_warped_back_with_the_disparity_gives_the_left_view() -> None:
    left = render_face(0.7, size=240)
    disparity = face_disparity(240, 240, face_box(240))
    right, valid = synthesize_right_view(left, disparity)
    xx, yy = np.meshgrid(np.arange(240, dtype=np.float32), np.arange(240, dtype=np.float32))
    back = cv2.remap(right, xx - disparity, yy, cv2.INTER_LINEAR)
    seen = cv2.remap(valid.astype(np.uint8), xx - disparity, yy, cv2.INTER_NEAREST).astype(bool)
    seen &= xx - disparity >= 0
    assert seen.mean() > 0.9
    error = np.abs(back.astype(float) - left.astype(float)).mean(axis=2)
    assert error[seen].mean() < 2.0


def test_near_object_occludes_and_disocclusions_fill_from_the_background() -> None:
    rng = np.random.default_rng(0)
    left = rng.integers(0, 255, (40, 80, 3), dtype=np.uint8)
    disparity = np.full((40, 80), 2.0, np.float32)
    disparity[10:30, 30:50] = 10.0  # a near square
    right, valid = synthesize_right_view(left, disparity)
    assert np.array_equal(right[10:30, 20:40], left[10:30, 30:50])  # the square won the z-buffer
    hole = ~valid[10:30, :78]  # (the last 2 columns see nothing: beyond the left view's edge)
    assert np.array_equal(np.nonzero(hole.any(axis=0))[0], np.arange(40, 48))  # revealed strip
    assert np.all(right[10:30, 40:48] == right[10:30, 48:49])  # copied from the background side
    assert valid[:10, :78].all() and valid[30:, :78].all()


def test_face_disparity_is_a_smooth_head_in_front_of_a_wall() -> None:
    box = face_box(240)
    d = face_disparity(240, 240, box, background=4.0, face_near=12.0)
    assert d.dtype == np.float32 and d.shape == (240, 240)
    assert abs(d[5, 5] - 4.0) < 1.0 and abs(d.max() - 12.0) < 1.2
    peak_y, peak_x = np.unravel_index(np.argmax(d), d.shape)
    assert box[0] < peak_x < box[2] and box[1] < peak_y < box[3]
    assert np.abs(np.diff(d, axis=1)).max() < 1.0 and np.abs(np.diff(d, axis=0)).max() < 1.0


def test_stereo_talking_frames_yield_consistent_pairs() -> None:
    out = list(stereo_talking_frames(np.array([0.0, 1.0]), size=120, seed=1))
    assert len(out) == 2
    for left, right, disparity in out:
        assert left.shape == right.shape == (120, 120, 3) and right.dtype == np.uint8
        assert disparity.shape == (120, 120) and disparity.dtype == np.float32
        assert not np.array_equal(left, right)
        assert np.array_equal(right, synthesize_right_view(left, disparity)[0])
