"""A per-speaker model of the mouth from the sound, fitted on the clip itself (seconds on a CPU).

Where the clip carries its own speech, a ridge regression from log-mel windows around each frame to the
speaker's measured mouth (inner-lip gap and width) learns how this person articulates. It is validated on
the last 30 % of the clip; it is only trusted as far as it predicts that held-out part (on a few seconds of
clip it predicts poorly and the speaker-independent mapping carries the result: DESIGN.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...media.mel import MEL_COLS_PER_SECOND, wav2lip_mel

CONTEXT_S = 0.1  # seconds of sound either side of the frame


def mel_features(wav16k: np.ndarray, fps: float, n_frames: int) -> np.ndarray:
    """(n_frames, 240) features: the mean log-mel (80 bands) over three sub-windows spanning ±0.1 s."""
    mel = wav2lip_mel(np.asarray(wav16k, np.float32))  # (80, C), 80 columns per second
    c = np.concatenate([np.zeros((80, 1), np.float64), np.cumsum(mel, axis=1, dtype=np.float64)], axis=1)
    centre = np.arange(n_frames) / fps * MEL_COLS_PER_SECOND
    half = CONTEXT_S * MEL_COLS_PER_SECOND
    edges = centre[:, None] + np.array([-half, -half / 3, half / 3, half])[None, :]
    edges = np.clip(np.round(edges).astype(int), 0, mel.shape[1])
    parts = []
    for a, b in ((0, 1), (1, 2), (2, 3)):
        lo, hi = edges[:, a], np.maximum(edges[:, b], edges[:, a] + 1)
        hi = np.minimum(hi, mel.shape[1])
        n = np.maximum(hi - lo, 1)
        parts.append(((c[:, hi] - c[:, lo]) / n).T)
    return np.concatenate(parts, axis=1).astype(np.float32)


@dataclass(frozen=True)
class SpeakerModel:
    """Ridge regression from :func:`mel_features` to (gap, width).

    Attributes
    ----------
    mean, scale: feature standardisation; coef: (240, 2); intercept: (2,);
    validation_r: correlation of predicted and measured gap on the held-out 30 %.
    """

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    validation_r: float

    def predict(self, features: np.ndarray) -> np.ndarray:
        """(T, 2) predicted gap and width."""
        return ((features - self.mean) / self.scale) @ self.coef + self.intercept

    @property
    def weight(self) -> float:
        """How much to trust it against the speaker-independent mapping (0 below r = 0.3, at most 0.7)."""
        return float(np.clip((self.validation_r - 0.3) / 0.4, 0.0, 0.7))


def _ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    xm, ym = x.mean(0), y.mean(0)
    xc, yc = x - xm, y - ym
    coef = np.linalg.solve(xc.T @ xc + alpha * np.eye(x.shape[1]), xc.T @ yc)
    return coef, ym - xm @ coef


def fit_speaker_model(features: np.ndarray, shapes: np.ndarray, min_frames: int = 250) -> SpeakerModel | None:
    """Fit on frames where the face was measured; None when there is too little (< ``min_frames``).

    Parameters
    ----------
    features: (T, 240) from :func:`mel_features` of the clip's own sound.
    shapes: (T, 2) measured gap and width (NaN where no face).
    """
    ok = np.isfinite(shapes).all(1)
    idx = np.flatnonzero(ok)
    if len(idx) < min_frames:
        return None
    x, y = features[idx].astype(np.float64), shapes[idx].astype(np.float64)
    mean, scale = x.mean(0), x.std(0) + 1e-6
    x = (x - mean) / scale
    split = int(0.7 * len(idx))  # contiguous split: the held-out part is later speech, not neighbours
    best = None
    for alpha in (10.0, 100.0, 1000.0):
        coef, icpt = _ridge(x[:split], y[:split], alpha)
        pred = x[split:] @ coef + icpt
        r = float(np.corrcoef(pred[:, 0], y[split:, 0])[0, 1]) if pred[:, 0].std() > 1e-9 else 0.0
        if best is None or r > best[0]:
            best = (r, alpha)
    r, alpha = best
    coef, icpt = _ridge(x, y, alpha)  # refit on everything with the chosen strength
    return SpeakerModel(mean, scale, coef, icpt, r if np.isfinite(r) else 0.0)
