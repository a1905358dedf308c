"""A piece of speech with known syllable timing, and the mouth movement that goes with it.

`SpeechSample` is what the synthetic-media helpers hand to tests and the demo: the audio, where each
syllable's vowel sits in it, and a speaker-independent model of how far the mouth is open at any
time.
The mouth model is deliberately simple and documented, so a test can ask "was the mouth open here?"
without a face tracker.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: How much earlier the mouth moves than the sound it makes (s). Measured on real talking heads the
#: mouth gap leads the speech loudness by about one 25 fps video frame (see DESIGN.md).
MOUTH_LEAD_S = 0.04

#: Peak mouth opening (0..1) reached on each vowel: open /a/, mid /e o/, close /i u/.
VOWEL_OPENING: dict[str, float] = {"a": 1.0, "e": 0.7, "o": 0.75, "i": 0.45, "u": 0.4}

#: Opening used for syllables whose vowel is unknown (estimated syllables, e.g. from espeak-ng).
UNKNOWN_OPENING = 0.75

#: Consonants made with both lips: the mouth is closed until they are released.
BILABIALS = frozenset("pbm")

VOWELS = frozenset(VOWEL_OPENING)


def split_syllable(syllable: str) -> tuple[str, str]:
    """Split a syllable label such as ``"ba"`` into its consonant and vowel.

    Parameters
    ----------
    syllable : str
        Lower-case label: an optional consonant followed by one vowel (``"pa"``, ``"si"``, ``"u"``).
        Labels that do not end in a known vowel (estimated syllables) give an empty vowel.

    Returns
    -------
    consonant, vowel : str, str
        ``("b", "a")`` for ``"ba"``; ``("", "")`` for an unknown label such as ``"?"``.
    """
    if syllable and syllable[-1] in VOWELS:
        return syllable[:-1], syllable[-1]
    return "", ""


def _raised_cosine(x: np.ndarray) -> np.ndarray:
    """0 for x <= 0, 1 for x >= 1, a half cosine in between (smooth, slope 0 at both ends)."""
    x = np.clip(x, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * x)


@dataclass(frozen=True, eq=False)
class SpeechSample:
    """Mono speech with known (or estimated) syllable timing.

    Attributes
    ----------
    audio : np.ndarray
        (N,) float32 samples in [-1, 1].
    sr : int
        Sample rate (Hz).
    syllables : tuple of str
        One label per syllable, e.g. ``("ba", "ti", ...)``; ``"?"`` where the syllable was estimated
        and its sounds are unknown.
    onsets : np.ndarray
        (S,) float64 seconds: where each syllable's **vowel** starts, i.e. the first sample of the
        vowel's voicing ramp. It comes after the consonant: after the burst (and aspiration) of a
        plosive, the hiss of a fricative or the murmur of a nasal. The loudness of the speech band
        rises steeply here.
    offsets : np.ndarray
        (S,) float64 seconds: where each vowel's voicing has faded out (end of its ramp-down).
    starts : np.ndarray
        (S,) float64 seconds: where each syllable's consonant starts (its closure for a plosive);
        equal to the onset for a bare vowel.
    estimated : bool
        True when the timing was estimated from the loudness envelope rather than known by
        construction (espeak-ng speech).
    """

    audio: np.ndarray
    sr: int
    syllables: tuple[str, ...]
    onsets: np.ndarray
    offsets: np.ndarray
    starts: np.ndarray
    estimated: bool = False

    def __post_init__(self) -> None:
        n = len(self.syllables)
        for name in ("onsets", "offsets", "starts"):
            value = np.asarray(getattr(self, name), dtype=np.float64)
            if value.shape != (n,):
                raise ValueError(f"SpeechSample.{name} has shape {value.shape}; expected ({n},)")
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        audio = np.asarray(self.audio, dtype=np.float32)
        if audio.ndim != 1:
            raise ValueError(f"SpeechSample.audio must be mono (N,); got shape {audio.shape}")
        audio.setflags(write=False)
        object.__setattr__(self, "audio", audio)

    @property
    def duration(self) -> float:
        """Length of the audio (s)."""
        return len(self.audio) / float(self.sr)

    def mouth_opening(self, times: np.ndarray) -> np.ndarray:
        """Target mouth opening at the given times.

        A speaker-independent articulation model: on each vowel the mouth opens smoothly to a
        vowel-dependent peak (`VOWEL_OPENING`), holds with a slight decline and closes again;
        neighbouring syllables overlap (coarticulation), so the mouth only half-closes between
        them unless the consonant is bilabial (p, b, m), where it is fully closed from the
        consonant's start until its release. The whole movement runs `MOUTH_LEAD_S` (40 ms, about
        one video frame) ahead of the sound, as real mouths do.

        Parameters
        ----------
        times : np.ndarray
            (T,) seconds (any shape works; the result has the same shape).

        Returns
        -------
        np.ndarray
            Opening in [0, 1] (0 = lips together, 1 = wide open /a/), float64, shape of `times`.
        """
        t = np.asarray(times, dtype=np.float64)
        out = np.zeros_like(t)
        lead = MOUTH_LEAD_S
        for syl, on, off in zip(self.syllables, self.onsets, self.offsets):
            consonant, vowel = split_syllable(syl)
            peak = VOWEL_OPENING.get(vowel, UNKNOWN_OPENING)
            t_on, t_off = on - lead, off - lead
            # Before a bilabial the lips only part at the release; otherwise the jaw starts early.
            rise_start = t_on if consonant in BILABIALS else t_on - 0.05
            rise_end = t_on + min(0.08, 0.4 * max(t_off - t_on, 1e-3))
            fall_start = max(rise_end, t_off - 0.05)
            fall_end = fall_start + 0.1
            rise = _raised_cosine((t - rise_start) / (rise_end - rise_start))
            hold = 1.0 - 0.15 * np.clip((t - rise_end) / max(fall_start - rise_end, 1e-3), 0, 1)
            fall = 1.0 - _raised_cosine((t - fall_start) / (fall_end - fall_start))
            out = np.maximum(out, peak * rise * hold * fall)
        for syl, start, on in zip(self.syllables, self.starts, self.onsets):
            if split_syllable(syl)[0] in BILABIALS:
                closed_from, release = start - lead, on - lead
                closing = 1.0 - _raised_cosine((t - (closed_from - 0.03)) / 0.03)
                out = np.where(t < release, out * closing, out)
        return np.clip(out, 0.0, 1.0)
