"""MFCCs exactly as ``python_speech_features.mfcc`` computes them with its defaults (the front end of SyncNet).

syncnet_python calls ``python_speech_features.mfcc(audio, 16000)`` on the int16 samples ffmpeg wrote, with
the library's defaults, reproduced here with numpy/scipy (no new dependency):

- pre-emphasis ``y = [x0, x[1:] − 0.97·x[:-1]]``;
- frames of 25 ms (400 samples) every 10 ms (160), the last one zero-padded; rectangular window (none);
- power spectrum ``|rfft(frame, 512)|² / 512``; frame energy = its sum (0 replaced by machine epsilon);
- 26 triangular mel filters from 0 Hz to 8 kHz on FFT bins ``floor(513·mel2hz(points)/16000)``
  (``mel = 2595·log10(1 + hz/700)``); filter energies (0 → epsilon), natural log;
- DCT-II, orthonormal, first 13 coefficients; lifter ``1 + 11·sin(πn/22)``; coefficient 0 replaced by
  ``log(frame energy)``.

librosa's MFCC differs in every one of these choices (window, mel scale, dB scaling, no lifter), so it is not
used. The test suite checks this against ``python_speech_features`` itself when that package is installed.
"""

from __future__ import annotations

import decimal
import math
from functools import lru_cache

import numpy as np

SAMPLE_RATE = 16000
WIN_S, STEP_S = 0.025, 0.01
N_FFT, N_FILTERS, N_CEPS, LIFTER, PREEMPH = 512, 26, 13, 22, 0.97
_EPS = np.finfo(float).eps


def _round_half_up(x: float) -> int:
    return int(decimal.Decimal(x).quantize(decimal.Decimal("1"), rounding=decimal.ROUND_HALF_UP))


def _hz_to_mel(hz):
    return 2595 * np.log10(1 + hz / 700.0)


def _mel_to_hz(mel):
    return 700 * (10 ** (mel / 2595.0) - 1)


@lru_cache(maxsize=4)
def _filterbank(sample_rate: int) -> np.ndarray:
    """(26, 257) triangular mel filters, as ``get_filterbanks(26, 512, sample_rate, 0, sample_rate/2)``."""
    points = np.linspace(_hz_to_mel(0), _hz_to_mel(sample_rate / 2), N_FILTERS + 2)
    bins = np.floor((N_FFT + 1) * _mel_to_hz(points) / sample_rate)
    bank = np.zeros([N_FILTERS, N_FFT // 2 + 1])
    for j in range(N_FILTERS):
        for i in range(int(bins[j]), int(bins[j + 1])):
            bank[j, i] = (i - bins[j]) / (bins[j + 1] - bins[j])
        for i in range(int(bins[j + 1]), int(bins[j + 2])):
            bank[j, i] = (bins[j + 2] - i) / (bins[j + 2] - bins[j + 1])
    bank.setflags(write=False)
    return bank


def n_mfcc_frames(n_samples: int, sample_rate: int = SAMPLE_RATE) -> int:
    """How many MFCC rows :func:`mfcc` returns for ``n_samples`` samples."""
    frame_len = _round_half_up(WIN_S * sample_rate)
    step = _round_half_up(STEP_S * sample_rate)
    if n_samples <= frame_len:
        return 1
    return 1 + int(math.ceil((1.0 * n_samples - frame_len) / step))


def mfcc(signal: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``python_speech_features.mfcc(signal, sample_rate)`` with its defaults.

    Parameters
    ----------
    signal:
        (N,) samples; SyncNet uses int16 values (as read from a 16-bit WAV), not [-1, 1] floats — the scale
        changes coefficient 0 (the log energy).
    sample_rate:
        Hz (16000 for SyncNet).

    Returns
    -------
    numpy.ndarray
        (frames, 13) float64, one row per 10 ms (see :func:`n_mfcc_frames`).
    """
    sig = np.asarray(signal)
    if sig.ndim != 1 or sig.size == 0:
        raise ValueError(f"mfcc expects mono samples of shape (N,), N ≥ 1; got {sig.shape}")
    emphasised = np.append(sig[0], sig[1:] - PREEMPH * sig[:-1])
    frame_len = _round_half_up(WIN_S * sample_rate)
    step = _round_half_up(STEP_S * sample_rate)
    n_frames = n_mfcc_frames(len(emphasised), sample_rate)
    pad_len = int((n_frames - 1) * step + frame_len)
    padded = np.concatenate((emphasised, np.zeros((pad_len - len(emphasised),))))
    frames = np.lib.stride_tricks.sliding_window_view(padded, frame_len)[::step][:n_frames]
    power = 1.0 / N_FFT * np.square(np.absolute(np.fft.rfft(frames, N_FFT)))
    energy = np.sum(power, 1)
    energy = np.where(energy == 0, _EPS, energy)
    feat = np.dot(power, _filterbank(sample_rate).T)
    feat = np.where(feat == 0, _EPS, feat)
    from scipy.fftpack import dct

    ceps = dct(np.log(feat), type=2, axis=1, norm="ortho")[:, :N_CEPS]
    lift = 1 + (LIFTER / 2.0) * np.sin(np.pi * np.arange(N_CEPS) / LIFTER)
    ceps = lift * ceps
    ceps[:, 0] = np.log(energy)
    return ceps


def to_int16_scale(wav: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] → the int16 values ffmpeg writes for them (``lrintf(x·32768)``, clipped).

    SyncNet's pipeline extracts audio with ``ffmpeg -acodec pcm_s16le`` and reads the WAV's int16 values.
    """
    return np.clip(np.rint(np.asarray(wav, np.float64) * 32768.0), -32768, 32767).astype(np.int16)
