"""Wav2Lip audio features: parity with an independent from-scratch reference, chunking and loudness."""

from __future__ import annotations

import time
from fractions import Fraction

import librosa.filters
import numpy as np
import pytest
from scipy.signal import chirp, get_window, lfilter

from lipsync_studio.media.mel import (
    frame_loudness,
    mel_window_starts,
    mel_windows,
    preemphasis,
    wav2lip_mel,
)

SR = 16000


def chirp_with_noise(n: int = 20837, seed: int = 0) -> np.ndarray:
    """A 100→4000 Hz chirp plus seeded noise; n is not a multiple of the hop on purpose."""
    t = np.arange(n) / SR
    rng = np.random.default_rng(seed)
    wav = 0.6 * chirp(t, f0=100, t1=t[-1], f1=4000) + 0.02 * rng.standard_normal(n)
    return wav.astype(np.float32)


def reference_mel(wav: np.ndarray, pad_mode: str = "reflect") -> np.ndarray:
    """Wav2Lip's recipe written out step by step, with an explicit DFT matrix instead of an FFT."""
    x = lfilter([1.0, -0.97], [1.0], wav.astype(np.float64))
    x = np.pad(x, 400, mode=pad_mode)
    n_cols = 1 + (len(x) - 800) // 200
    frames = np.stack([x[200 * i : 200 * i + 800] for i in range(n_cols)])  # (T, 800)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(800) / 800)  # periodic Hann
    k = np.arange(401)[:, None]
    dft = np.exp(-2j * np.pi * k * np.arange(800)[None, :] / 800)  # (401, 800)
    magnitude = np.abs(dft @ (frames * window).T)  # (401, T)
    basis = librosa.filters.mel(sr=16000, n_fft=800, n_mels=80, fmin=55, fmax=7600).astype(np.float64)
    mel = basis @ magnitude
    db = 20 * np.log10(np.maximum(1e-5, mel)) - 20
    return np.clip(8 * ((db + 100) / 100) - 4, -4, 4)


def official_chunk_starts(fps: float, n_cols: int) -> list[int]:
    """Wav2Lip inference.py's chunk loop, re-stated: stop at the first overflow, append the final 16."""
    multiplier = 80.0 / fps
    starts = []
    i = 0
    while True:
        start = int(i * multiplier)
        if start + 16 > n_cols:
            starts.append(n_cols - 16)
            return starts
        starts.append(start)
        i += 1


# -- mel spectrogram ----------------------------------------------------------------------------------------


def test_reference_window_is_scipys_periodic_hann() -> None:
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(800) / 800)
    np.testing.assert_allclose(window, get_window("hann", 800, fftbins=True), atol=1e-12)


def test_mel_matches_the_reference_recipe() -> None:
    wav = chirp_with_noise()
    mel = wav2lip_mel(wav)
    assert mel.dtype == np.float32
    assert mel.shape == (80, 1 + len(wav) // 200)
    ref = reference_mel(wav)
    np.testing.assert_allclose(mel, ref, atol=1e-4, rtol=0)
    # The signal spans most of the range without sitting on the clip floor.
    assert mel.min() < -3.0 and mel.max() > 0.5 and (mel > -4).all()


def test_edges_use_reflect_padding_not_librosa_010s_zero_padding() -> None:
    wav = chirp_with_noise()
    mel = wav2lip_mel(wav)
    zero_padded = reference_mel(wav, pad_mode="constant")
    assert np.abs(mel[:, 0] - zero_padded[:, 0]).max() > 0.05
    np.testing.assert_allclose(mel[:, 5:-5], zero_padded[:, 5:-5], atol=1e-4)


@pytest.mark.parametrize("n", [1, 199, 200, 201, 3333, 16000])
def test_mel_has_one_column_per_hop_plus_one(n: int) -> None:
    wav = np.random.default_rng(n).uniform(-0.5, 0.5, n).astype(np.float32)
    assert wav2lip_mel(wav).shape == (80, 1 + n // 200)


def test_silence_is_the_minimum() -> None:
    assert np.all(wav2lip_mel(np.zeros(4000, np.float32)) == -4.0)


def test_preemphasis_is_first_difference_with_coefficient() -> None:
    x = np.array([1.0, 2.0, 4.0, -1.0])
    np.testing.assert_allclose(preemphasis(x), [1.0, 2.0 - 0.97, 4.0 - 1.94, -1.0 - 3.88])
    np.testing.assert_allclose(preemphasis(x, k=0.5), [1.0, 1.5, 3.0, -3.0])


@pytest.mark.parametrize(
    ("wav", "message"),
    [
        (np.array([0.1, np.nan, 0.2] * 300), "NaN"),
        (np.zeros(0), "empty"),
        (np.zeros((2, 800)), "shape"),
    ],
)
def test_bad_audio_is_refused_with_a_clear_message(wav: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        wav2lip_mel(wav)


# -- per-frame windows --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fps", [25, 25.0, Fraction(30000, 1001), 30000 / 1001, 60, Fraction(24000, 1001)])
def test_window_starts_follow_wav2lip_inference(fps: float | Fraction) -> None:
    n_cols = 1 + (7 * SR + 123) // 200  # ~7 s of audio
    official = official_chunk_starts(float(fps), n_cols)
    starts = mel_window_starts(len(official) + 20, fps, n_cols)
    assert starts.dtype == np.int64
    np.testing.assert_array_equal(starts[: len(official)], official)
    # Frames past the audio keep the final window.
    assert np.all(starts[len(official) :] == n_cols - 16)
    assert np.all(starts + 16 <= n_cols)


@pytest.mark.parametrize("fps", [25, 30000 / 1001, 60])
def test_window_starts_equal_int_of_i_times_80_over_fps(fps: float) -> None:
    n = 40_000
    n_cols = 10**9
    expected = [int(i * 80 / fps) for i in range(n)]
    np.testing.assert_array_equal(mel_window_starts(n, fps, n_cols), expected)


def test_window_starts_keep_the_official_float_rounding_at_23_976() -> None:
    # At 24000/1001 fps, Wav2Lip's int(i * (80./fps)) is one column below the exact value at frame 300:
    # 300 * 80 * 1001 / 24000 = 1001 exactly, the float product is 1000.999...
    fps = Fraction(24000, 1001)
    assert int(300 * (80.0 / float(fps))) == 1000
    assert mel_window_starts(301, fps, 10**6)[300] == 1000


def test_mel_windows_cut_16_columns_per_frame() -> None:
    mel = wav2lip_mel(chirp_with_noise())
    windows = mel_windows(mel, 25, 40)
    assert windows.shape == (40, 80, 16)
    assert windows.dtype == np.float32
    assert windows.flags.c_contiguous
    starts = mel_window_starts(40, 25, mel.shape[1])
    for i in (0, 1, 7, 30, 39):
        np.testing.assert_array_equal(windows[i], mel[:, starts[i] : starts[i] + 16])


def test_short_mel_is_padded_with_silence() -> None:
    mel = wav2lip_mel(np.random.default_rng(3).uniform(-0.5, 0.5, 1500).astype(np.float32))  # 8 columns
    windows = mel_windows(mel, 25, 3)
    assert windows.shape == (3, 80, 16)
    for window in windows:
        np.testing.assert_array_equal(window[:, :8], mel)
        assert np.all(window[:, 8:] == -4.0)


# -- loudness -----------------------------------------------------------------------------------------------


def test_silence_reads_minus_100_db() -> None:
    loudness = frame_loudness(np.zeros(2 * SR, np.float32), SR, 25, 50)
    assert loudness.shape == (50,) and loudness.dtype == np.float32
    assert np.all(loudness == -100.0)


def test_full_scale_sine_reads_minus_3_db() -> None:
    t = np.arange(2 * SR) / SR
    wav = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    loudness = frame_loudness(wav, SR, 25, 50)
    np.testing.assert_allclose(loudness, -3.0103, atol=0.05)


@pytest.mark.parametrize("fps", [25, Fraction(30000, 1001), 60])
def test_a_burst_at_one_second_rises_at_that_frame(fps: float | Fraction) -> None:
    wav = np.zeros(2 * SR, np.float32)
    wav[SR : SR + SR // 4] = 0.5 * np.random.default_rng(1).standard_normal(SR // 4)
    n_frames = int(2 * float(fps))
    loudness = frame_loudness(wav, SR, fps, n_frames)
    first_loud = int(np.argmax(loudness > -40))
    assert abs(first_loud - round(float(fps) * 1.0)) <= 1
    assert np.all(loudness[: first_loud - 1] == -100.0)
    assert loudness[first_loud + 2] > -10


def test_frames_past_the_audio_are_silent() -> None:
    wav = np.full(SR, 0.1, np.float32)  # 1 s at -20 dB
    loudness = frame_loudness(wav, SR, 25, 50)
    np.testing.assert_allclose(loudness[:25], -20.0, atol=0.01)
    assert np.all(loudness[26:] == -100.0)
    assert frame_loudness(wav, SR, 25, 0).shape == (0,)


def test_loudness_of_ten_minutes_at_an_ntsc_rate_is_right_on_every_frame() -> None:
    # Its speed is measured by bench/loudness.py (speed lives in benchmarks, not in test assertions).
    wav = np.random.default_rng(0).uniform(-1, 1, 600 * SR).astype(np.float32)
    loudness = frame_loudness(wav, SR, Fraction(30000, 1001), 17982)
    assert loudness.shape == (17982,)
    # Uniform noise has power 1/3 (-4.77 dB); ~530-sample windows scatter by about 0.2 dB.
    assert np.median(loudness) == pytest.approx(10 * np.log10(1 / 3), abs=0.05)
    assert np.all(np.abs(loudness - 10 * np.log10(1 / 3)) < 1.5)


def test_own_filter_bank_window_and_preemphasis_equal_librosa_and_scipy_bit_for_bit() -> None:
    """The numbers Wav2Lip's checkpoints were trained on, without importing scipy.signal/librosa at run time."""
    from lipsync_studio.media.mel import _hann_window, slaney_mel_basis

    for sr, n_fft, n_mels, lo, hi in [(16000, 800, 80, 55.0, 7600.0), (22050, 2048, 128, 0.0, 11025.0),
                                      (44100, 1024, 64, 300.0, 16000.0)]:
        ours = slaney_mel_basis(sr, n_fft, n_mels, lo, hi)
        theirs = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=lo, fmax=hi)
        assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs)
    assert np.array_equal(_hann_window(), get_window("hann", 800, fftbins=True))
    rng = np.random.default_rng(1)
    for dtype in (np.float32, np.float64, np.int16):
        x = (rng.standard_normal(3001) * 1000).astype(dtype)
        want = lfilter([1.0, -0.97], [1.0], x)
        got = preemphasis(x)
        assert got.dtype == want.dtype and np.array_equal(got, want)


def test_planning_imports_neither_scipy_signal_nor_librosa() -> None:
    """Importing them costs ~2 s: more than the built-in engine needs to plan a short clip."""
    import subprocess
    import sys

    code = ("import sys; from lipsync_studio.sync.registry import make_engine; make_engine('builtin', 'cpu');"
            "from lipsync_studio.media.mel import wav2lip_mel; import numpy as np; wav2lip_mel(np.zeros(16000));"
            "print(sorted(m for m in ('scipy.signal', 'librosa', 'numba') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
