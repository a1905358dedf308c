"""Speech the project makes for itself: a formant synthesiser with known timing, and espeak-ng.

`synth_speech` strings CV syllables (consonants p b t d k g m n s f, vowels a e i o u) into an
utterance whose every vowel onset is known to the sample, so tests can check audio-visual timing
exactly. `espeak_speech` speaks real sentences where Debian's espeak-ng is installed; its syllable
timing is estimated from the loudness envelope.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import signal
from scipy.io import wavfile

from lipsync_studio.samples import formant_synth as fs
from lipsync_studio.samples.speech_sample import SpeechSample, split_syllable

__all__ = ["SpeechSample", "synth_speech", "espeak_speech", "espeak_words"]

_PLOSIVES, _VOICED_PLOSIVES = frozenset("ptk"), frozenset("bdg")
_NASALS, _FRICATIVES = frozenset("mn"), frozenset("sf")
_CONSONANTS = "pbtdkgmnsf"


def random_syllables(n: int, seed: int = 0) -> list[str]:
    """``n`` random consonant-vowel syllables, e.g. ``["ba", "si", ...]``, deterministic for a seed."""
    return _random_syllables(n, np.random.default_rng(seed))


def _random_syllables(n: int, rng: np.random.Generator) -> list[str]:
    """`n` random CV syllables, e.g. ``["ba", "si", ...]``."""
    return [rng.choice(list(_CONSONANTS)) + rng.choice(list("aeiou")) for _ in range(n)]


def _consonant_plan(c: str, gain: float) -> list[tuple[str, float, float]]:
    """The consonant as (kind, duration s, level relative to a vowel) pieces, in time order."""
    if c in _PLOSIVES:  # silent closure, burst, aspiration
        burst = (0.25 if c == "p" else 0.5) * gain  # lip bursts are the weakest
        return [("silence", 0.065, 0.0), ("burst", 0.012, burst), ("aspiration", 0.035, 0.2 * gain)]
    if c in _VOICED_PLOSIVES:  # closure with a voice bar, weak burst, voicing straight on
        burst = (0.15 if c == "b" else 0.3) * gain
        return [("voicebar", 0.06, 0.25 * gain), ("burst", 0.008, burst)]
    if c in _NASALS:
        return [("murmur", 0.075, 0.3 * gain)]
    if c in _FRICATIVES:
        return [("frication", 0.1, (0.35 if c == "s" else 0.15) * gain)]
    if c == "":  # a bare vowel starts after a glottal stop
        return [("silence", 0.04, 0.0)]
    raise ValueError(f"unknown consonant {c!r}; use one of {_CONSONANTS} or none")


def synth_speech(syllables: Sequence[str] | None = None, *, sr: int = 16000, seed: int = 0,
                 f0: float = 120.0, rate: float = 4.0, pause_every: int | None = 6,
                 pause: float = 0.25, lead_silence: float = 0.3,
                 tail_silence: float = 0.3) -> SpeechSample:
    """Synthesise speech-like audio with known syllable timing (source-filter formant synthesis).

    A Rosenberg glottal pulse train with jitter, shimmer and an intonation contour (declining
    phrase, accents on stressed syllables) excites a cascade of four formant resonators gliding
    from each consonant's locus to the vowel's target. Plosives are a closure (silent, or a voice
    bar for b d g), a noise burst and, for p t k, aspiration; nasals a low murmur; fricatives
    band-passed noise. Stressed syllables are louder and longer, so the loudness envelope has
    clear structure.

    Parameters
    ----------
    syllables : sequence of str, optional
        Labels such as ``["ba", "ti", "su"]`` (optional consonant from p b t d k g m n s f, then a
        vowel from a e i o u). Default: a random sequence of ``round(3 * rate)`` CV syllables
        (about 3 s of speech), deterministic for `seed`.
    sr : int
        Sample rate (Hz).
    seed : int
        Seed of every random choice (sequence, durations, stress, jitter, noise).
    f0 : float
        Mean fundamental frequency (Hz).
    rate : float
        Speaking rate (syllables per second).
    pause_every : int or None
        Insert a pause after every this many syllables (not after the last); None for no pause.
        The default gives the default sequence one pause in the middle.
    pause : float
        Length of each pause (s).
    lead_silence, tail_silence : float
        Silence before the first and after the last syllable (s).

    Returns
    -------
    SpeechSample
        float32 audio peaking at 0.9 and the exact vowel onsets/offsets and consonant starts.
    """
    rng = np.random.default_rng(seed)
    labels = list(syllables) if syllables is not None else _random_syllables(round(3 * rate), rng)
    if not labels:
        raise ValueError("synth_speech needs at least one syllable")
    parsed = [split_syllable(s.lower()) for s in labels]
    for label, (_, vowel) in zip(labels, parsed):
        if not vowel:
            raise ValueError(f"syllable {label!r} does not end in a vowel (a e i o u)")
    stressed = rng.random(len(labels)) < 0.45
    stressed[int(rng.integers(len(labels)))] = True

    # Lay out the pieces on a timeline (seconds) first, then render them sample by sample.
    pieces: list[tuple[str, float, float, float, str]] = []  # kind, start, end, level, syllable
    starts, onsets, offsets = [], [], []
    t = lead_silence
    for i, (consonant, vowel) in enumerate(parsed):
        gain = 1.0 if stressed[i] else 0.55
        starts.append(t)
        for kind, dur, level in _consonant_plan(consonant, gain):
            dur *= 1.0 + 0.1 * rng.uniform(-1, 1)
            pieces.append((kind, t, t + dur, level, consonant + vowel))
            t += dur
        onsets.append(t)
        vowel_dur = max(0.09, 1.0 / rate - (t - starts[-1])) * (1.15 if stressed[i] else 0.95)
        vowel_dur *= 1.0 + 0.1 * rng.uniform(-1, 1)
        pieces.append(("vowel", t, t + vowel_dur, gain, consonant + vowel))
        t += vowel_dur
        offsets.append(t)
        if pause_every and (i + 1) % pause_every == 0 and i + 1 < len(parsed):
            t += pause
    n = int(round((t + tail_silence) * sr))

    voice = np.zeros(n)          # glottal excitation level
    aspiration = np.zeros(n)     # breath noise through the vocal tract
    frication = np.zeros(n)      # burst/frication noise radiated at the constriction
    formants = np.tile(np.array(fs.VOWEL_FORMANTS[parsed[0][1]]), (n, 1))
    bandwidths = np.tile(np.array(fs.VOWEL_BANDWIDTHS), (n, 1))
    pitch = np.full(n, f0)
    for kind, t0, t1, level, cv in pieces:
        a, b = int(round(t0 * sr)), int(round(t1 * sr))
        consonant, vowel = cv[:-1], cv[-1]
        target = np.array(fs.VOWEL_FORMANTS[vowel])
        formants[a:b] = target
        if kind == "vowel":
            voice[a:b] = level * fs.ramp(b - a, int(0.015 * sr), int(0.03 * sr))
            aspiration[a:b] += 0.02 * level
            glide = np.exp(-np.arange(b - a) / (0.018 * sr))[:, None]  # formant transition
            onset = target.copy()
            if consonant:
                onset[0] = 250.0 if consonant not in _FRICATIVES else 0.7 * target[0]
                onset[1] = fs.F2_LOCUS[consonant] + 0.5 * (target[1] - fs.F2_LOCUS[consonant])
            formants[a:b] = target + glide * (onset - target)
            if level >= 1.0:  # pitch accent on stressed syllables
                centre, width = 0.5 * (t0 + t1), 0.35 * (t1 - t0)
                lo, hi = max(0, int((centre - 4 * width) * sr)), int((centre + 4 * width) * sr)
                near = np.arange(lo, min(hi, n)) / sr
                pitch[lo:hi] += 0.09 * f0 * np.exp(-0.5 * ((near - centre) / width) ** 2)
        elif kind in ("murmur", "voicebar"):
            voice[a:b] = level * fs.ramp(b - a, int(0.01 * sr), int(0.005 * sr))
            table = fs.NASAL_FORMANTS[consonant] if kind == "murmur" else fs.VOICE_BAR_FORMANTS
            formants[a:b] = table
            bandwidths[a:b] = fs.NASAL_BANDWIDTHS if kind == "murmur" else fs.VOICE_BAR_BANDWIDTHS
        elif kind == "aspiration":
            aspiration[a:b] += level * fs.ramp(b - a, int(0.003 * sr), int(0.01 * sr))
            bandwidths[a:b, 0] = 400.0  # the open glottis damps F1 while it is aspirating
        elif kind in ("burst", "frication"):
            edge = int((0.002 if kind == "burst" else 0.025) * sr)
            frication[a:b] = level * fs.ramp(b - a, edge, edge)
            frication[a:b] *= fs.band_noise(b - a, fs.NOISE_BANDS[consonant], sr, rng)

    # Intonation: each phrase (run of syllables between pauses) declines by ~20 %, plus slow drift.
    times = np.arange(n) / sr
    declination = np.full(n, 0.88)
    phrase_start = starts[0]
    for i in range(len(parsed)):
        if i + 1 == len(parsed) or starts[i + 1] - offsets[i] > 0.5 * pause:  # phrase ends
            a, b = int(phrase_start * sr), int(offsets[i] * sr)
            declination[a:b] = np.linspace(1.1, 0.88, b - a)
            if i + 1 < len(parsed):
                phrase_start = starts[i + 1]
    pitch *= declination
    drift_phase = rng.uniform(0, 2 * np.pi, 2)
    pitch *= 1.0 + 0.015 * np.sin(2 * np.pi * 1.3 * times + drift_phase[0])
    pitch *= 1.0 + 0.01 * np.sin(2 * np.pi * 3.1 * times + drift_phase[1])

    source = fs.glottal_source(pitch, sr, rng) * voice
    voiced, breath = fs.cascade_filter(np.stack([source, rng.standard_normal(n)]),
                                       formants, bandwidths, sr)
    vowel_level = np.sqrt(np.mean(voiced[voice > 0.9] ** 2)) if np.any(voice > 0.9) else 1.0
    breath *= vowel_level / (np.sqrt(np.mean(breath**2)) + 1e-12)
    audio = voiced + aspiration * breath + vowel_level * frication
    audio = signal.sosfilt(signal.butter(2, 60.0 / (sr / 2), "highpass", output="sos"), audio)
    # A sharper glottal closure than Rosenberg's pulse would give ~+6 dB/octave more above 1 kHz;
    # without it the voice sounds muffled (F2/F3 some 10 dB too weak against F1).
    audio = signal.lfilter([1.0, -0.7], [1.0], audio)
    audio *= 0.9 / (np.abs(audio).max() + 1e-12)
    return SpeechSample(audio=audio.astype(np.float32), sr=sr, syllables=tuple(labels),
                        onsets=np.array(onsets), offsets=np.array(offsets),
                        starts=np.array(starts))


def espeak_speech(text: str, *, sr: int = 16000, voice: str = "en") -> SpeechSample | None:
    """Speak `text` with espeak-ng, with syllable timing estimated from the loudness envelope.

    Parameters
    ----------
    text : str
        What to say.
    sr : int
        Sample rate (Hz) of the returned audio (espeak-ng's 22,050 Hz is resampled).
    voice : str
        espeak-ng voice (``-v``), e.g. ``"en"``, ``"en-us"``, ``"de"``.

    Returns
    -------
    SpeechSample or None
        None when the ``espeak-ng`` program is not on PATH. Otherwise the speech, with
        ``estimated=True`` and syllables labelled ``"?"``: a syllable is a peak of the 300-3000 Hz
        energy (smoothed over ~40 ms, peaks at least 100 ms apart and 6 dB prominent); its
        **onset** is where that energy first climbs to within 10 dB of the peak, its offset where
        it falls 10 dB below it again, its start the preceding energy trough.
        Raises RuntimeError if espeak-ng fails.
    """
    program = shutil.which("espeak-ng")
    if program is None:
        return None
    with tempfile.TemporaryDirectory(prefix="lipsync-espeak-") as tmp:
        path = Path(tmp) / "speech.wav"
        result = subprocess.run([program, "-v", voice, "-w", str(path), text],
                                capture_output=True, text=True, timeout=60)
        if result.returncode != 0 or not path.exists():
            raise RuntimeError(f"espeak-ng failed for voice {voice!r}: {result.stderr.strip()}")
        native_sr, data = wavfile.read(path)
    audio = data.astype(np.float64)
    if data.dtype == np.int16:
        audio /= 32768.0
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    g = np.gcd(int(sr), int(native_sr))
    audio = signal.resample_poly(audio, sr // g, native_sr // g)
    audio *= 0.9 / (np.abs(audio).max() + 1e-12)
    starts, onsets, offsets = _syllables_from_loudness(audio, sr)
    return SpeechSample(audio=audio.astype(np.float32), sr=sr, syllables=("?",) * len(onsets),
                        onsets=onsets, offsets=offsets, starts=starts, estimated=True)


def _syllables_from_loudness(audio: np.ndarray,
                             sr: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimate syllable (starts, onsets, offsets) in seconds from the speech-band energy peaks."""
    hop = sr // 200  # 5 ms frames
    band = signal.sosfiltfilt(signal.butter(4, [300 / (sr / 2), 3000 / (sr / 2)], "bandpass",
                                            output="sos"), audio)
    frames = len(band) // hop
    energy = (band[: frames * hop].reshape(frames, hop) ** 2).mean(axis=1)
    smooth = np.convolve(energy, np.hanning(9) / np.hanning(9).sum(), mode="same")
    db = 10 * np.log10(smooth + 1e-10)
    floor = db.max() - 45.0
    peaks, _ = signal.find_peaks(db, distance=20, prominence=6.0, height=db.max() - 30.0)
    starts, onsets, offsets = [], [], []
    for k, p in enumerate(peaks):
        left = peaks[k - 1] if k else 0
        right = peaks[k + 1] if k + 1 < len(peaks) else frames - 1
        trough = left + int(np.argmin(db[left:p + 1]))
        after = p + int(np.argmin(db[p:right + 1]))
        rising = np.nonzero(db[trough:p + 1] >= max(db[p] - 10.0, floor))[0]
        falling = np.nonzero(db[p:after + 1] < max(db[p] - 10.0, floor))[0]
        starts.append(trough)
        onsets.append(trough + int(rising[0]))
        offsets.append(p + int(falling[0]) if len(falling) else after)
    to_s = hop / sr
    return np.array(starts) * to_s, np.array(onsets) * to_s, np.array(offsets) * to_s


def espeak_words(words: Sequence[str], *, sr: int = 16000, voice: str = "en-us+f3", gap_s: float = 0.4,
                 lead_s: float = 0.3) -> tuple[np.ndarray, np.ndarray] | None:
    """Words spoken one at a time by espeak-ng, with silence between them: exact word timing.

    Parameters
    ----------
    words: what to say, one utterance per word.
    sr: sample rate of the result (Hz).
    voice: espeak-ng voice (``-v``).
    gap_s: silence between words (s); ``lead_s``: silence before the first and after the last.

    Returns
    -------
    (audio (N,) float32, spans (len(words), 2) start and end of each word in seconds), or None without espeak-ng.
    Each word's span is where its own recording is above -40 dB of its peak (espeak's leading and trailing
    silence trimmed).
    """
    parts, spans, t = [np.zeros(int(lead_s * sr), np.float32)], [], lead_s
    for w in words:
        s = espeak_speech(w, sr=sr, voice=voice)
        if s is None:
            return None
        a = s.audio
        env = np.abs(a)
        loud = np.flatnonzero(env > env.max() * 0.01)
        a = a[loud[0]:loud[-1] + 1]
        spans.append((t, t + len(a) / sr))
        parts += [a, np.zeros(int(gap_s * sr), np.float32)]
        t += len(a) / sr + int(gap_s * sr) / sr
    parts.append(np.zeros(int(lead_s * sr), np.float32))
    return np.concatenate(parts).astype(np.float32), np.array(spans)
