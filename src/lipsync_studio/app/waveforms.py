"""Waveform envelopes for the timeline (no Qt): the min/max of the sound in evenly spaced buckets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Sample rate the envelope is computed from (enough for a picture of speech; fast to decode).
_SR = 8000


@dataclass(frozen=True)
class Waveform:
    """A sound's envelope.

    Attributes
    ----------
    path: the file it came from.
    duration_s: length of the sound in seconds.
    lo, hi: ``(n,) float32`` minimum and maximum sample of each of ``n`` equal buckets over the duration,
        in [-1, 1].
    peak: the largest absolute sample (for normalising the drawing).
    """

    path: Path
    duration_s: float
    lo: np.ndarray
    hi: np.ndarray
    peak: float

    @property
    def times(self) -> np.ndarray:
        """``(n,)`` start time of each bucket in seconds."""
        n = len(self.lo)
        return np.arange(n, dtype=np.float64) * (self.duration_s / max(1, n))


def waveform_of(path: str | Path, buckets: int = 3000, at_picture: bool = False,
                stream_index: int | None = None, channels: tuple[int, ...] | None = None) -> Waveform:
    """The envelope of ``path``'s sound (an audio file or a video's sound track; ``at_picture``: a clip's own
    sound, drawn from its first frame as the engine hears it: see :func:`~..media.audio.load_audio`;
    ``stream_index``: that audio stream of the file, None: its main one; ``channels``: only these of it, from 1).

    Raises
    ------
    MediaError
        The file has no sound or cannot be read.
    """
    from ..media.audio import load_audio

    from ..media.warnings import collecting_media_warnings

    with collecting_media_warnings():  # a damaged track still draws up to the damage (not thread-global)
        wav = load_audio(path, sr=_SR, mono=True, at_picture=at_picture, stream_index=stream_index, channels=channels)
    n = len(wav)
    buckets = int(max(1, min(buckets, n)))
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    lo = np.minimum.reduceat(wav, edges[:-1]).astype(np.float32)
    hi = np.maximum.reduceat(wav, edges[:-1]).astype(np.float32)
    peak = float(max(1e-4, np.max(np.abs(wav)))) if n else 1e-4
    return Waveform(Path(path), n / _SR, lo, hi, peak)
