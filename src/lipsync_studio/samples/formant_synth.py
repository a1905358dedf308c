"""Signal processing of the formant speech synthesiser: glottal source, vocal tract, noise.

A classic source-filter (Klatt-style cascade) design: a glottal pulse train excites a cascade of
second-order resonators, one per formant, whose frequencies may change over time; consonant noises
are band-limited white noise. Everything is numpy/scipy and deterministic for a given generator.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

#: Formant frequencies F1..F4 (Hz) of the vowels, adult male voice (after Peterson & Barney 1952).
VOWEL_FORMANTS: dict[str, tuple[float, float, float, float]] = {
    "a": (730.0, 1090.0, 2440.0, 3400.0),
    "e": (460.0, 1900.0, 2550.0, 3500.0),
    "i": (280.0, 2250.0, 3000.0, 3700.0),
    "o": (500.0, 880.0, 2500.0, 3350.0),
    "u": (310.0, 870.0, 2250.0, 3300.0),
}

#: Formant bandwidths B1..B4 (Hz) of vowels.
VOWEL_BANDWIDTHS = (70.0, 100.0, 150.0, 220.0)

#: Nasal murmur "formants" (Hz) of m and n (a low pole near 250 Hz dominates), their bandwidths.
NASAL_FORMANTS: dict[str, tuple[float, float, float, float]] = {
    "m": (260.0, 1000.0, 2200.0, 3300.0),
    "n": (260.0, 1600.0, 2500.0, 3400.0),
}
NASAL_BANDWIDTHS = (90.0, 350.0, 400.0, 500.0)

#: Voice bar of a voiced stop closure: only low-frequency energy radiates through the closed tract.
VOICE_BAR_FORMANTS = (200.0, 1100.0, 2500.0, 3500.0)
VOICE_BAR_BANDWIDTHS = (80.0, 600.0, 800.0, 900.0)

#: Second-formant locus (Hz) the vowel's F2 starts from after each place of articulation.
F2_LOCUS = {"p": 800.0, "b": 800.0, "m": 900.0, "f": 1100.0,
            "t": 1800.0, "d": 1800.0, "n": 1700.0, "s": 1750.0,
            "k": 1500.0, "g": 1500.0, "": 0.0}

#: Band (Hz) of the release burst / frication noise of each obstruent.
NOISE_BANDS = {"p": (500.0, 3000.0), "b": (500.0, 3000.0),
               "t": (3000.0, 7000.0), "d": (3000.0, 7000.0),
               "k": (1500.0, 3200.0), "g": (1500.0, 3200.0),
               "s": (4000.0, 7500.0), "f": (1200.0, 7500.0)}


def glottal_source(f0: np.ndarray, sr: int, rng: np.random.Generator, *,
                   jitter: float = 0.01, shimmer: float = 0.05,
                   open_quotient: float = 0.6) -> np.ndarray:
    """A Rosenberg glottal pulse train, differentiated to include lip radiation.

    Parameters
    ----------
    f0 : np.ndarray
        (N,) instantaneous fundamental frequency per sample (Hz), the intonation contour.
    sr : int
        Sample rate (Hz).
    rng : np.random.Generator
        Source of the per-period jitter and shimmer.
    jitter : float
        Relative standard deviation of each period's length (0.01 = 1 %).
    shimmer : float
        Relative standard deviation of each period's amplitude.
    open_quotient : float
        Fraction of each period the glottis is open (rising 2/3, closing 1/3 of it).

    Returns
    -------
    np.ndarray
        (N,) float64 excitation, roughly unit peak.
    """
    nominal = np.cumsum(f0 / sr)
    n_periods = int(nominal[-1]) + 2
    period_jitter = 1.0 + jitter * rng.standard_normal(n_periods)
    phase = np.cumsum(f0 * period_jitter[nominal.astype(int)] / sr)
    index = phase.astype(int)
    frac = phase - index
    rise, fall = 2.0 * open_quotient / 3.0, open_quotient / 3.0
    flow = np.where(frac < rise, 0.5 - 0.5 * np.cos(np.pi * frac / rise),
                    np.where(frac < rise + fall, np.cos(0.5 * np.pi * (frac - rise) / fall), 0.0))
    flow *= 1.0 + shimmer * rng.standard_normal(int(index[-1]) + 1)[index]
    excitation = np.diff(flow, prepend=0.0)
    return excitation / (np.abs(excitation).max() + 1e-12)


def cascade_filter(x: np.ndarray, formants: np.ndarray, bandwidths: np.ndarray, sr: int,
                   block: int = 80) -> np.ndarray:
    """Filter through a cascade of time-varying formant resonators.

    The coefficients are updated every `block` samples; each resonator carries its last two
    outputs across blocks, so the output stays continuous while the formants glide.

    Parameters
    ----------
    x : np.ndarray
        (..., N) excitation; several signals sharing one vocal tract are filtered together.
    formants, bandwidths : np.ndarray
        (N, K) formant frequencies and bandwidths (Hz) per sample.
    sr : int
        Sample rate (Hz).
    block : int
        Samples per coefficient update (80 = 5 ms at 16 kHz).

    Returns
    -------
    np.ndarray
        (..., N) float64 filtered signal.
    """
    y = np.array(x, dtype=np.float64)
    n, k = formants.shape
    n_blocks = -(-n // block)
    pad = n_blocks * block - n
    def block_mean(track: np.ndarray) -> np.ndarray:
        padded = np.pad(track, ((0, pad), (0, 0)), mode="edge")
        return padded.reshape(n_blocks, block, k).mean(axis=1)

    f_mean, bw_mean = block_mean(formants), block_mean(bandwidths)
    # Klatt's resonator y[n] = A x[n] + B y[n-1] + C y[n-2], unit gain at 0 Hz.
    c = -np.exp(-2.0 * np.pi * bw_mean / sr)
    b = 2.0 * np.exp(-np.pi * bw_mean / sr) * np.cos(2.0 * np.pi * f_mean / sr)
    gain = 1.0 - b - c
    y1 = np.zeros((k,) + y.shape[:-1])  # last two outputs of each resonator
    y2 = np.zeros_like(y1)
    for i in range(n_blocks):
        lo, hi = i * block, min((i + 1) * block, n)
        seg = y[..., lo:hi]
        for j in range(k):
            a = np.array([1.0, -b[i, j], -c[i, j]])
            # Transposed direct form II state that reproduces the previous two outputs.
            zi = np.stack([b[i, j] * y1[j] + c[i, j] * y2[j], c[i, j] * y1[j]], axis=-1)
            seg, _ = signal.lfilter([gain[i, j]], a, seg, zi=zi)
            if seg.shape[-1] > 1:
                y1[j], y2[j] = seg[..., -1], seg[..., -2]
            else:
                y1[j], y2[j] = seg[..., -1], y1[j]
        y[..., lo:hi] = seg
    return y


def band_noise(n: int, band: tuple[float, float], sr: int, rng: np.random.Generator) -> np.ndarray:
    """White noise band-passed to `band` (Hz), scaled to unit RMS.

    Parameters
    ----------
    n : int
        Number of samples.
    band : tuple of float
        (low, high) pass band in Hz; clipped below the Nyquist frequency.
    sr : int
        Sample rate (Hz).
    rng : np.random.Generator
        Noise source.

    Returns
    -------
    np.ndarray
        (n,) float64 noise.
    """
    if n <= 0:
        return np.zeros(0)
    nyquist = sr / 2.0
    high = min(band[1], 0.95 * nyquist) / nyquist
    low = min(band[0] / nyquist, 0.5 * high)  # keep a valid band at low sample rates
    sos = signal.butter(4, [low, high], btype="bandpass", output="sos")
    pad = 256  # let the filter settle so the noise starts at full level
    noise = signal.sosfilt(sos, rng.standard_normal(n + pad))[pad:]
    return noise / (np.sqrt(np.mean(noise**2)) + 1e-12)


def ramp(n: int, rise: int, fall: int) -> np.ndarray:
    """(n,) amplitude envelope: raised-cosine rise over `rise` samples, fall over `fall`."""
    env = np.ones(n)
    rise, fall = min(rise, n), min(fall, n)
    if rise > 0:
        env[:rise] *= 0.5 - 0.5 * np.cos(np.pi * (np.arange(rise) + 0.5) / rise)
    if fall > 0:
        env[n - fall:] *= 0.5 + 0.5 * np.cos(np.pi * (np.arange(fall) + 0.5) / fall)
    return env
