"""A weight-free audio-visual sync measure: does the mouth on screen say the sound's phones?

**Phonetic agreement** (what a loudness pump cannot fake). The sound's phones are recognised
(:mod:`~lipsync_studio.sync.phones`) and the mouth on screen is re-measured by the face tracker:

- **closure**: of the sound's p/b/m, the share where the lips close (the inner-lip gap falls to the video's shut
  level, within a frame of the phone), beyond chance: ``(hits − chance) / (1 − chance)``, chance being how often
  a window as long holds a shut frame anywhere in the video (a mouth shut half the time hits half by luck);
- **rounding**: whether the lips are wider at spread vowels (i, e, a) than at rounded ones (o, u): the
  probability that a spread-vowel frame is wider than a rounded-vowel frame, as 0 (chance or worse) … 1 (always);
- **leak**: how much the mouth moves in the sound's silences, against how much it moves in speech
  (0 still … 1 as much as in speech);
- and the loudness correlation below as one part.

The **score** is their weighted mean (closure 1, rounding 1, stillness 1 − leak ½, loudness ½), each part in
[0, 1]. What real people saying their own words score is printed beside it (:data:`REAL_SPEECH`, measured).
Read it with that reference: the recognizer is fallible (on real speech it finds only part of the p/b/m and
misnames vowels), so a real mouth agrees with the recognised phones only partly, while a mouth made *from* those
phones agrees with their errors too and can score above real speech. The measure ranks a mouth that says the
phones far above one that only pumps with the loudness; it does not prove a result is as natural as real speech.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAX_OFFSET = 15
#: What real people saying their own words score, overall and part by part (min, max): ``bench/eval_reference.py``
#: on the six real talking heads of the development media (7–8 s each, English, with their own sound), 2026-12-04.
REAL_SPEECH = {"score": (0.27, 0.65), "closure": (0.0, 1.0), "rounding": (0.31, 0.91), "leak": (0.37, 0.73),
               "loudness": (0.10, 0.35)}


@dataclass(frozen=True)
class SyncScore:
    """The result of a sync measurement (see the module doc)."""

    offset_frames: int
    confidence: float
    correlation: float
    frames_used: int
    curve: tuple[float, ...] = field(repr=False, default=())
    expert: float | None = None
    lse_d: float | None = None
    lse_c: float | None = None
    lse_offset: int | None = None
    phonetic: "PhoneticAgreement | None" = None

    def summary(self) -> str:
        """One line for the terminal or a status bar (plus the SyncNet measures when their weights exist)."""
        if self.frames_used == 0:  # no mouth was seen: every number below would be a default, not a measure
            return "sync not measured: no face was found in the result"
        text = ""
        if self.phonetic is not None:
            text = self.phonetic.summary() + "\n"
        text += (f"loudness: offset {self.offset_frames:+d} frames, confidence {self.confidence:.2f}, "
                 f"correlation {self.correlation:.2f} ({self.frames_used} frames)")
        if self.expert is not None:
            text += f"; expert cosine {self.expert:.3f}"
        if self.lse_d is not None:
            text += f"; LSE-D {self.lse_d:.3f}, LSE-C {self.lse_c:.3f}, SyncNet offset {self.lse_offset:+d}"
        return text

    def as_dict(self) -> dict:
        """Plain data for JSON."""
        return {"offset_frames": self.offset_frames, "confidence": round(self.confidence, 4),
                "correlation": round(self.correlation, 4), "frames_used": self.frames_used,
                "curve": [round(c, 4) for c in self.curve], "expert_cosine": self.expert,
                "lse_d": self.lse_d, "lse_c": self.lse_c, "lse_offset": self.lse_offset,
                "phonetic": None if self.phonetic is None else self.phonetic.as_dict()}


@dataclass(frozen=True)
class PhoneticAgreement:
    """How well a mouth says the sound's phones (see the module doc). A part is None where the sound gives
    nothing to judge it by (no p/b/m, too few rounded or spread vowels, no silence)."""

    closure: float | None
    rounding: float | None
    leak: float | None
    loudness: float
    bilabials: int
    score: float

    def summary(self) -> str:
        """One line, with what real speech scores for a reference."""
        def f(v):
            return "n/a" if v is None else f"{v:.2f}"
        r = {k: f"{lo:.2f}–{hi:.2f}" for k, (lo, hi) in REAL_SPEECH.items()}
        return (f"phonetic sync {self.score:.2f} (real speech with its own sound: {r['score']}): lips close at "
                f"{f(self.closure)} of {self.bilabials} p/b/m (real speech {r['closure']}), rounding {f(self.rounding)} "
                f"({r['rounding']}), leak in silence {f(self.leak)} ({r['leak']}), loudness {self.loudness:.2f} "
                f"({r['loudness']})")

    def as_dict(self) -> dict:
        """Plain data for JSON."""
        r = lambda v: None if v is None else round(float(v), 4)  # noqa: E731
        return {"score": r(self.score), "closure": r(self.closure), "rounding": r(self.rounding),
                "leak": r(self.leak), "loudness": r(self.loudness), "bilabials": self.bilabials,
                "real_speech": {k: list(v) for k, v in REAL_SPEECH.items()}}


def phonetic_agreement(gap: np.ndarray, width: np.ndarray, phones, fps: float, loudness: float,
                       lead_s: float = 0.04, closure_before_s: float = 0.0) -> PhoneticAgreement:
    """Score a mouth against timed phones.

    Parameters
    ----------
    gap, width: (T,) the mouth's inner-lip gap and corner distance per frame (any unit; NaN where no face).
    phones: :class:`~lipsync_studio.sync.phones.PhoneSegments` of the sound.
    fps: frame rate; frame i shows the sound at ``i / fps + lead_s`` (the mouth leads the sound).
    loudness: the loudness measure (:func:`sync_score`'s ``confidence``: peak correlation over the median of all
        offsets, so chance correlations of short clips count little), one part of the score.
    """
    from ..sync.visemes import BILABIAL, ROUNDED_VOWELS, SPREAD_VOWELS

    gap = np.asarray(gap, np.float64)
    width = np.asarray(width, np.float64)
    T = len(gap)
    ok = np.isfinite(gap) & np.isfinite(width)
    centres = np.arange(T) / fps + lead_s
    idx = phones.at(centres)
    lab = np.array(list(phones.labels) + ["SIL"], dtype=object)[idx]
    closure = rounding = leak = None
    n_bil = 0
    if ok.sum() >= 10:
        g = gap[ok]
        lo, hi = np.percentile(g, 5), np.percentile(g, 95)
        shut = lo + 0.25 * max(hi - lo, 1e-6)
        hits, sizes = [], []
        is_shut = np.where(np.isfinite(gap), gap <= shut, False)
        for p, a, b in zip(phones.labels, phones.start, phones.end):
            if p not in BILABIAL:
                continue
            # The frames whose span overlaps the phone (frame k spans [k, k+1) / fps + lead).
            k0 = max(int(np.floor((a - closure_before_s - lead_s) * fps)), 0)
            k1 = min(int(np.floor((b - lead_s) * fps - 1e-9)), T - 1)
            if k1 < k0 or not np.isfinite(gap[k0:k1 + 1]).any():
                continue
            hits.append(bool(is_shut[k0:k1 + 1].any()))
            sizes.append(k1 - k0 + 1)
        # Chance: how often a window as long, placed anywhere in the speech (not in its silences, where shut
        # lips are right), holds a shut frame (a mouth shut half the time "closes" on half the p/b/m by luck).
        speech = np.isin(lab, ["SIL"], invert=True) & np.isfinite(gap)
        c = np.concatenate([[0], np.cumsum(is_shut & speech)])
        cs = np.concatenate([[0], np.cumsum(speech)])
        chance = []
        for n in sizes:
            inside = (cs[n:] - cs[:-n]) == n if T >= n else np.zeros(0, bool)
            chance.append(float(np.mean((c[n:] - c[:-n] > 0)[inside])) if inside.any() else 0.0)
        n_bil = len(hits)
        if hits:
            # Hits beyond chance (a mouth shut half the time "closes" on half the p/b/m by luck).
            h, ch = float(np.mean(hits)), float(np.mean(chance))
            closure = float(np.clip((h - ch) / max(1.0 - ch, 1e-6), 0.0, 1.0))
        sp = ok & np.isin(lab, list(SPREAD_VOWELS))
        ro = ok & np.isin(lab, list(ROUNDED_VOWELS))
        if sp.sum() >= 3 and ro.sum() >= 3:
            ws, wr = width[sp], width[ro]
            auc = float(((ws[:, None] > wr[None, :]).mean() + 0.5 * (ws[:, None] == wr[None, :]).mean()))
            rounding = float(np.clip(2.0 * (auc - 0.5), 0.0, 1.0))
        # Silences: frames inside a pause of >= 0.25 s, 0.1 s away from its speech.
        quiet = np.zeros(T, bool)
        for p, a, b in zip(phones.labels, phones.start, phones.end):
            if p == "SIL" and b - a >= 0.25:
                quiet |= (centres >= a + 0.1) & (centres <= b - 0.1)
        move = np.abs(np.diff(gap))
        q = quiet[1:] & quiet[:-1] & np.isfinite(move)
        s_ = ~quiet[1:] & ~quiet[:-1] & np.isfinite(move)
        if q.sum() >= 3 and s_.sum() >= 3:
            leak = float(np.clip(move[q].mean() / max(move[s_].mean(), 1e-9), 0.0, 1.0))
    parts = [(closure, 1.0), (rounding, 1.0), (None if leak is None else 1.0 - leak, 0.5),
             (float(np.clip(loudness, 0.0, 1.0)), 0.5)]
    w = sum(wt for v, wt in parts if v is not None)
    score = sum(v * wt for v, wt in parts if v is not None) / w
    return PhoneticAgreement(closure, rounding, leak, float(loudness), n_bil, float(score))


def mouth_width(landmarks: np.ndarray) -> np.ndarray:
    """(T,) mouth-corner distance per frame in eye-corner distances, from (T, 468+, 2+) landmarks."""
    from ..sync.mouth import CORNERS, EYE_CORNERS

    lm = np.asarray(landmarks)
    w = np.linalg.norm(lm[:, CORNERS[1], :2] - lm[:, CORNERS[0], :2], axis=1)
    e = np.linalg.norm(lm[:, EYE_CORNERS[1], :2] - lm[:, EYE_CORNERS[0], :2], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return w / e


def sync_score(mouth: np.ndarray, loudness_db: np.ndarray, max_offset: int = MAX_OFFSET) -> SyncScore:
    """Correlate the mouth opening with the sound's loudness over offsets ``-max_offset..max_offset``.

    Parameters
    ----------
    mouth: (T,) mouth opening per frame (NaN where no face).
    loudness_db: (T,) speech-band loudness per frame (dB).
    """
    n = min(len(mouth), len(loudness_db))
    m = np.asarray(mouth[:n], np.float64)
    a = np.asarray(loudness_db[:n], np.float64)
    peak = np.percentile(a, 97) if n else 0.0
    a = np.maximum(a, peak - 45.0)  # silence depth beyond 45 dB says nothing about the mouth
    curve = []
    for k in range(-max_offset, max_offset + 1):
        mm = m[max(0, -k):n - max(0, k)]
        aa = a[max(0, k):n - max(0, -k)]
        ok = np.isfinite(mm)
        if ok.sum() < 10 or mm[ok].std() < 1e-9 or aa[ok].std() < 1e-9:
            curve.append(0.0)
            continue
        curve.append(float(np.corrcoef(mm[ok], aa[ok])[0, 1]))
    c = np.array(curve)
    best = int(np.argmax(c))
    return SyncScore(offset_frames=best - max_offset, confidence=float(c[best] - np.median(c)),
                     correlation=float(c[best]), frames_used=int(np.isfinite(m).sum()), curve=tuple(curve))


def evaluate_video(video: str | Path, dub: str | Path | None = None, advance=None, eye=None) -> SyncScore:
    """Measure the sync of ``video``'s mouth against ``dub`` (default: the video's own sound).

    ``eye``: a :class:`~lipsync_studio.face.analysis.FrameView` (``stereo.layout.eye_view(packing, side)``)
    measures one eye of a packed stereo video (the SyncNet measures, which read whole frames, are then left
    out).
    """
    from ..face.analysis import analyse_faces
    from ..media.audio import load_audio
    from ..sync.acoustics import mouth_from_audio

    import dataclasses

    from ..sync.phones import recognize_phones_async

    wav = load_audio(dub if dub is not None else video, sr=16000)
    heard = recognize_phones_async(wav)  # beside the tracking
    faces = analyse_faces(video, advance=advance, eye=eye)
    track = faces.speaker_track()
    n = faces.n_frames
    mouth = track.mouth_gap() if track is not None else np.full(n, np.nan)
    width = mouth_width(track.landmarks) if track is not None else np.full(n, np.nan)
    loud = mouth_from_audio(wav, faces.fps, n, lead_s=0.0).loudness_db
    score = sync_score(mouth, loud)
    score = dataclasses.replace(score, phonetic=phonetic_agreement(mouth, width, heard.result()[0], float(faces.fps),
                                                                   score.confidence))
    return score if eye is not None else _with_syncnet_measures(score, video, dub, faces)


def _with_syncnet_measures(score: SyncScore, video, dub, faces) -> SyncScore:
    """Add the Wav2Lip expert's cosine and LSE-D/LSE-C when their weights are in the models folder."""
    import dataclasses

    from ..weights import weight_path

    expert_path, lse_path = weight_path("lipsync_expert"), weight_path("syncnet_v2")
    if expert_path is None and lse_path is None:
        return score
    from ..sync.syncnet_lse import measure_expert_sync, measure_lse

    extra: dict = {}
    if expert_path is not None:
        extra["expert"] = float(measure_expert_sync(video, expert_path, faces=faces, audio=dub).mean)
    if lse_path is not None:
        lse = measure_lse(video, lse_path, faces=faces, audio=dub)
        extra.update(lse_d=float(lse.distance), lse_c=float(lse.confidence), lse_offset=int(lse.offset))
    return dataclasses.replace(score, **extra)
