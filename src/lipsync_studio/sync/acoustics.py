"""What the mouth does, heard in the audio: a speaker-independent acoustic mapping, per video frame.

From 16 kHz speech, per 10 ms: loudness of the speech band (300–3400 Hz), voicing (low-band share of the
energy), and two formant proxies (spectral centroids of the F1 and F2 regions). Per video frame these give:

- **opening** in [0, 1]: louder voiced sound opens the mouth; a higher F1 (a, ae) opens it wider than a low
  one (i, u); fricatives leave it half open; silence closes it; and just before a sudden onset after a quiet
  gap (a plosive's release, p/b in particular) the lips are closed;
- **spread** in [-1, 1]: a high F2 (i, e) spreads the lips, a low one (o, u) rounds them.

The mouth leads the sound a little in real speech (≈ 40 ms): the features of frame i come from the audio at
``i/fps + lead``. These are the priors that carry short clips (DESIGN.md: "How much a short clip teaches").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SR = 16000
HOP = 160  # 10 ms
NFFT = 512
BLOCK = 512  # STFT columns analysed at once (5 s): ~8 MB of temporaries whatever the length


@dataclass(frozen=True)
class MouthTrackAudio:
    """Per-frame mouth targets heard in the audio.

    Attributes
    ----------
    opening: (T,) float32 in [0, 1], 0 = closed.
    spread: (T,) float32 in [-1, 1], negative = rounded, positive = spread.
    loudness_db: (T,) float32 speech-band loudness (dB, relative to full scale).
    voiced: (T,) bool, frames with voiced speech.
    level: (C,) float32 in [0, 1] per 10 ms column (not per frame): how far into the speech's loudness range.
    """

    opening: np.ndarray
    spread: np.ndarray
    loudness_db: np.ndarray
    voiced: np.ndarray
    level: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))


def _stft_features(wav: np.ndarray) -> dict[str, np.ndarray]:
    """Per 10 ms column: band energies (dB) and spectral centroids (Hz).

    Keys: ``speech`` (300–3400 Hz), ``low`` (80–1000), ``high`` (3000–7500), ``mid`` (700–3500), ``top``
    (3500–8000) energies in dB; ``f1`` (250–1000), ``f2`` (900–2800) and ``fm`` (700–3500) centroids in Hz.
    """
    x = np.asarray(wav, np.float32)
    pad = NFFT // 2
    x = np.pad(x, (pad, pad))
    n_cols = 1 + (len(x) - NFFT) // HOP
    if n_cols <= 0:
        return {k: np.zeros(0) for k in ("speech", "low", "high", "f1", "f2", "mid", "top", "fm")}
    win = np.hanning(NFFT).astype(np.float32)
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("speech", "low", "high", "f1", "f2", "mid", "top", "fm")}
    freqs = np.fft.rfftfreq(NFFT, 1 / SR)

    def band(lo: float, hi: float) -> np.ndarray:
        return (freqs >= lo) & (freqs < hi)

    b_speech, b_low, b_high, b_f1, b_f2 = band(300, 3400), band(80, 1000), band(3000, 7500), band(250, 1000), band(900, 2800)
    b_mid, b_top = band(700, 3500), band(3500, 8000)
    offsets = np.arange(NFFT)[None, :]
    for s in range(0, n_cols, BLOCK):  # blocks bound the memory on long dubs (their sample index too)
        idx = offsets + HOP * np.arange(s, min(s + BLOCK, n_cols))[:, None]
        p = np.abs(np.fft.rfft(x[idx] * win, axis=1)) ** 2
        for name, b in (("speech", b_speech), ("low", b_low), ("high", b_high), ("mid", b_mid), ("top", b_top)):
            out[name].append(10 * np.log10(p[:, b].sum(1) / NFFT + 1e-10))
        for name, b in (("f1", b_f1), ("f2", b_f2), ("fm", b_mid)):
            w = p[:, b]
            out[name].append((w * freqs[b]).sum(1) / (w.sum(1) + 1e-12))
    return {k: np.concatenate(v) for k, v in out.items()}


def _per_frame(col: np.ndarray, n_frames: int, fps: float, lead_s: float) -> np.ndarray:
    """Average the 10 ms columns over each video frame's span (centred on ``i/fps + lead``)."""
    t = (np.arange(n_frames) / fps + lead_s) * (SR / HOP)
    half = 0.5 * SR / HOP / fps
    c = np.concatenate([[0.0], np.cumsum(col)])
    lo = np.clip(np.floor(t - half).astype(int), 0, len(col))
    hi = np.clip(np.ceil(t + half).astype(int), 0, len(col))
    hi = np.maximum(hi, np.minimum(lo + 1, len(col)))
    with np.errstate(invalid="ignore", divide="ignore"):
        v = (c[hi] - c[lo]) / np.maximum(hi - lo, 1)
    v[hi <= lo] = col.min() if len(col) else 0.0
    return v


def mouth_from_audio(wav16k: np.ndarray, fps: float, n_frames: int, lead_s: float = 0.04) -> MouthTrackAudio:
    """Mouth targets for ``n_frames`` video frames at ``fps`` from 16 kHz mono speech.

    Parameters
    ----------
    wav16k: (N,) float32 at 16 kHz.
    lead_s: how far the mouth runs ahead of the sound (s).
    """
    f = _stft_features(wav16k)
    if len(f["speech"]) == 0:
        z = np.zeros(n_frames, np.float32)
        return MouthTrackAudio(z, z, z - 100, np.zeros(n_frames, bool))
    speech = f["speech"]
    peak = float(np.percentile(speech, 97))
    floor = max(float(np.percentile(speech, 10)), peak - 45.0)
    # Per 10 ms: how far into the speech range, how voiced, how open the vowel, how spread.
    level = np.clip((speech - floor) / max(peak - floor, 6.0), 0.0, 1.0)
    voicing = 1.0 / (1.0 + 10 ** ((f["high"] - f["low"]) / 10.0))  # low-band share
    f1n = np.clip((f["f1"] - 350.0) / 400.0, 0.0, 1.0)
    f2n = np.clip((f["f2"] - 1300.0) / 700.0, -1.0, 1.0)
    open_col = level ** 0.8 * (0.5 + 0.5 * f1n) * (0.35 + 0.65 * voicing)
    # Closures: a sudden onset after a quiet gap (a plosive release) → lips closed in the 40 ms before it.
    quiet = speech < floor + 0.25 * (peak - floor)
    rise = np.concatenate([[0.0], np.diff(speech)])
    onsets = np.flatnonzero((rise > 9.0) & np.concatenate([[False], quiet[:-1]]))
    closed = np.zeros(len(speech))
    for o in onsets:
        closed[max(0, o - 5):o] = 1.0
    open_col[closed > 0] = 0.0
    # A closure lasts a few tens of ms: a frame that holds one is a closed frame, not an average.
    opening = _per_frame(open_col, n_frames, fps, lead_s) * (1.0 - np.clip(
        2.0 * _per_frame(closed, n_frames, fps, lead_s), 0.0, 1.0))
    spread = _per_frame(f2n * (voicing > 0.5) * level, n_frames, fps, lead_s)
    loud = _per_frame(speech, n_frames, fps, 0.0)
    voiced = _per_frame((voicing > 0.6) & (level > 0.2), n_frames, fps, lead_s) > 0.5
    return MouthTrackAudio(np.clip(opening, 0, 1).astype(np.float32), np.clip(spread, -1, 1).astype(np.float32),
                           loud.astype(np.float32), voiced, level.astype(np.float32))


def voiced_formants(wav16k: np.ndarray, n_frames: int, fps: float,
                    lead_s: float = 0.04) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per video frame: whether the sound is voiced speech, and its first- and second-formant region centroids.

    Parameters
    ----------
    wav16k: (N,) float32 at 16 kHz; frame i hears it at ``i / fps + lead_s``.

    Returns
    -------
    voiced: (n_frames,) bool, mostly voiced and at least 30 % into the speech's loudness range;
    f1, f2: (n_frames,) float64 spectral centroids (Hz) of the 250–1000 Hz and 900–2800 Hz regions.
    """
    f = _stft_features(wav16k)
    if len(f["speech"]) == 0:
        z = np.zeros(n_frames)
        return z.astype(bool), z, z
    speech = f["speech"]
    peak = float(np.percentile(speech, 97))
    floor = max(float(np.percentile(speech, 10)), peak - 45.0)
    level = np.clip((speech - floor) / max(peak - floor, 6.0), 0.0, 1.0)
    voicing = 1.0 / (1.0 + 10 ** ((f["high"] - f["low"]) / 10.0))
    voiced = _per_frame(((voicing > 0.6) & (level > 0.3)).astype(np.float64), n_frames, fps, lead_s) > 0.5
    return voiced, _per_frame(f["f1"], n_frames, fps, lead_s), _per_frame(f["f2"], n_frames, fps, lead_s)


def formant_deviation(wav16k: np.ndarray, n_frames: int, fps: float, lead_s: float = 0.04,
                      smooth_frames: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Per video frame: how far the voice's first and second formant regions lie above or below their usual
    place in this very sound (z-scores over its voiced frames; 0 where unvoiced), lightly smoothed.

    F1 rises as the jaw opens; F2 rises as the lips spread and the tongue fronts and falls as they round. Scored
    against the sound's own voiced frames, they carry the same meaning for any voice (a child's formants lie
    higher, but rise and fall the same way with the mouth).

    Parameters
    ----------
    wav16k: (N,) float32 at 16 kHz; frame i hears it at ``i / fps + lead_s``.
    smooth_frames: width of the moving average (frames).

    Returns
    -------
    z_f1, z_f2: (n_frames,) float64 in [-2.5, 2.5].
    """
    voiced, f1, f2 = voiced_formants(wav16k, n_frames, fps, lead_s)
    if voiced.sum() < 5:
        z = np.zeros(n_frames)
        return z, z.copy()

    def z(x: np.ndarray) -> np.ndarray:
        v = x[voiced]
        d = np.where(voiced, np.clip((x - np.median(v)) / (np.std(v) + 1e-6), -2.5, 2.5), 0.0)
        k = max(int(smooth_frames), 1)
        return np.convolve(np.pad(d, (k // 2, k - 1 - k // 2), mode="edge"), np.ones(k) / k, mode="valid")

    return z(f1), z(f2)


#: A labial release: the 700–3500 Hz centroid just after the consonant lies at least this far (Hz) below the
#: following vowel's, and the release's energy above 3.5 kHz at least LABIAL_TOP_DB below its 700–3500 Hz energy.
LABIAL_DROP_HZ = 250.0
LABIAL_TOP_DB = 4.0


def labial_releases(wav16k: np.ndarray, spans: np.ndarray) -> np.ndarray:
    """Whether each consonant in ``spans`` is released by the lips, heard in the sound alone.

    Opening the lips lengthens the vocal tract's front cavity least at the start, so every formant rises out of
    a labial (a low "locus"): the spectral centroid of 700–3500 Hz in the 30 ms after the consonant lies well
    below the vowel's 40–80 ms later, where after /t d n/ it is near and after /k g/ above it. A labial burst is
    also weak in the highs (a diffuse, falling spectrum), unlike the high-frequency bursts of /t d/ and the
    frication of /s z/. Both must hold. Speaker-independent (relative measures on each speaker's own vowels).

    Parameters
    ----------
    wav16k: (N,) float32 speech at 16 kHz.
    spans: (K, 2) start and end (s) of consonants, each followed by a vowel.

    Returns
    -------
    (K,) bool.
    """
    spans = np.asarray(spans, np.float64).reshape(-1, 2)
    f = _stft_features(wav16k)
    out = np.zeros(len(spans), bool)
    n = len(f["fm"])
    for k, (_, e) in enumerate(spans):
        b = int(round(e * SR / HOP))
        if b + 8 > n:
            continue
        edge = float(np.mean(f["fm"][b:b + 3]))
        vowel = float(np.mean(f["fm"][b + 4:b + 8]))
        top = float(np.mean(f["top"][b:b + 2] - f["mid"][b:b + 2]))
        out[k] = edge < vowel - LABIAL_DROP_HZ and top < -LABIAL_TOP_DB
    return out
