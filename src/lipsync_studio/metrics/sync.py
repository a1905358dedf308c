"""A weight-free audio-visual sync measure: does the mouth on screen say the sound's phones?

**Parts.** The sound's phones are recognised (:mod:`~lipsync_studio.sync.phones`), its spectrum is read per
frame, and the mouth on screen is re-measured by the face tracker:

- **rounding**: whether the lips are wider at spread vowels (i, e, a) than at rounded ones (o, u): the
  probability that a spread-vowel frame is wider than a rounded-vowel frame, as 0 (chance or worse) … 1 (always);
- **width ~ F2**: the correlation, over voiced frames, of the lip width with the sound's second-formant region
  (rounded lips lower F2: a property of the sound itself, not of the recogniser's labels);
- **opening ~ F1**: the same for the inner-lip gap and the first-formant region (an open jaw raises F1);
- **loudness**: the loudness correlation's confidence (:func:`sync_score`);
- reported beside them, not scored: **closure** (of the sound's p/b/m, the share where the lips close, beyond
  chance) and **leak** (how much the mouth moves in the sound's silences, against in speech).

**At any natural lead.** Real mouths run ahead of their sound by 40 to 240 ms, speaker by speaker (the built-in
engine measures it: :func:`~lipsync_studio.sync.builtin.planner.speaker_lead`), so each part is the mean of its
agreement at the leads :data:`MEASURE_LEADS_S`: a mouth timed like any real speaker is judged alike, and a mean,
unlike the best of several, gives chance no extra pick. (At one fixed 40 ms lead a mouth made at 40 ms from the
recognised phones outscored the same engine's mouths timed at the speaker's own lead, which follow the real mouth
better.)

**Score: up to what real speech reaches.** Each scored part counts as the fraction (from chance) of the level
real people saying their own words reach (:data:`AS_REAL`; their ranges: :data:`REAL_SPEECH`), capped at 1; the score is their weighted
mean (rounding 1, width ~ F2 1, opening ~ F1 ½, loudness ½). A mouth made *from* the recognised phones agrees
with the recogniser's errors too and used to score above real speech (0.73 against 0.34 on the development
clips); agreement beyond real speech's is not better sync, so it earns nothing more: 1.00 reads "as real speech on
every part", not "perfect". Each part carries a verdict: *as real speech*, *better than chance*, or *no better than
chance*. Closure and leak are not scored because real speech does not reward them: real lips shut on only
0.00–0.65 of the recognised p/b/m of a 4–8 s clip (the recogniser misses and invents them) while a mouth that
pumps with the loudness shuts on 0.16–0.44 (quiet sound before a burst), and real mouths move in pauses (leak
0.26–0.89) where a synthetic one is still.

On the development media (``bench/eval_reference.py``): real speech with its own sound scores 0.917 (0.667–1.00),
the built-in engine's cross-dubs 0.807, the same clips re-timed only (``none``) 0.534, a mouth pumping with each
clip's own loudness 0.386.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAX_OFFSET = 15
#: What real people saying their own words score, part by part (min, max): ``bench/eval_reference.py`` on the six
#: real talking heads of the development media (7–8 s each, English, with their own sound), each part averaged over
#: :data:`MEASURE_LEADS_S`, 2026-12-05 (re-measured when the average over leads came in).
REAL_SPEECH = {"closure": (0.0, 0.65), "rounding": (0.21, 0.83), "width_f2": (0.0, 0.47), "opening_f1": (-0.08, 0.32),
               "leak": (0.26, 0.89), "loudness": (0.10, 0.35)}
#: "As real speech": the level of each scored part that real speech reaches (all six development clips for
#: rounding and loudness; five of six for the formant parts, where one clip lay at chance).
AS_REAL = {"rounding": 0.21, "width_f2": 0.20, "opening_f1": 0.14, "loudness": 0.10}
#: The leads (s) each part is measured at and averaged over (see the module doc).
MEASURE_LEADS_S = (0.04, 0.08, 0.12, 0.16, 0.2)
#: How far real mouths run ahead of their sound (s): the lead at which each of the six real talking heads of the
#: development media (7–8 s, with their own sound) follows its own phones best (:func:`mouth_lead`, measured by
#: ``bench/mouth_lead.py`` 2026-12-05: 0.04, 0.04, 0.26, 0.28, 0.30 and, not clearly, 0.70 for one whose agreement
#: hardly changes from 0.16 on).
REAL_SPEECH_LEAD_S = (0.04, 0.32)
#: The leads :func:`mouth_lead` searches (s): a mouth that lags its sound, or runs far ahead of it, is found too.
LEAD_SEARCH_S = (-0.5, 0.7)
#: Below this agreement at its best lead a mouth does not follow its sound's phones well enough to be timed by
#: them (the engine's own rule for the speaker's lead, ``planner.speaker_lead``).
LEAD_MIN_R = 0.15
#: The leads within this many standard errors of the best one's agreement are where the lead may really be. At 2.5
#: no real talking head of the development media (six clips and their twelve 4 s halves, with their own sound) is
#: read as out of time, and a synced result's sound moved by 0.32 s is caught as often as at 2 (15 of 24;
#: ``bench/mouth_lead.py``); at 2 one real half is "out", at 3 only 12 of 24 are caught.
LEAD_INTERVAL_SE = 2.5
#: The scored parts and their weights (see the module doc).
SCORED = {"rounding": 1.0, "width_f2": 1.0, "opening_f1": 0.5, "loudness": 0.5}
#: A correlation part at most this high is no better than chance (a 4 s clip's voiced frames: ~1.5 standard errors).
CHANCE_R = 0.1


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
    lead: "MouthLead | None" = None

    def summary(self) -> str:
        """One line for the terminal or a status bar (plus the SyncNet measures when their weights exist)."""
        if self.frames_used == 0:  # no mouth was seen: every number below would be a default, not a measure
            return "sync not measured: no face was found in the result"
        text = ""
        if self.phonetic is not None:
            text = self.phonetic.summary() + "\n"
        if self.lead is not None:
            text += self.lead.summary() + "\n"
        text += (f"loudness: peak at {self.offset_frames:+d} frames, confidence {self.confidence:.2f}, "
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
                "phonetic": None if self.phonetic is None else self.phonetic.as_dict(),
                "lead": None if self.lead is None else self.lead.as_dict()}


@dataclass(frozen=True)
class MouthLead:
    """How far a mouth runs ahead of its sound: the lead at which the sound's phones, articulated, follow the
    mouth's opening best (:func:`mouth_lead`).

    Attributes
    ----------
    lead_s: the best lead (s; negative: the mouth lags its sound).
    low_s, high_s: the leads whose agreement lies within :data:`LEAD_INTERVAL_SE` standard errors of the best
        one's: where the lead may really be.
    agreement: Pearson r at the best lead.
    """

    lead_s: float
    low_s: float
    high_s: float
    agreement: float

    def as_dict(self) -> dict:
        return {"lead_s": round(self.lead_s, 3), "low_s": round(self.low_s, 3), "high_s": round(self.high_s, 3),
                "agreement": round(self.agreement, 4)}

    @classmethod
    def from_dict(cls, d) -> "MouthLead | None":
        """The inverse of :meth:`as_dict` (None for anything else)."""
        try:
            return cls(float(d["lead_s"]), float(d["low_s"]), float(d["high_s"]), float(d["agreement"]))
        except (TypeError, KeyError, ValueError):
            return None

    def judge(self, fps: float, reference: tuple[float, float] = REAL_SPEECH_LEAD_S) -> tuple[str, float]:
        """Read against ``reference`` (the leads, s, a natural mouth may have: real speakers' by default, or
        the clip's own speech's ``(low_s, high_s)``), with one frame's slack either side: ``("in", 0.0)`` when
        the best lead lies within it, ``("unclear", 0.0)`` when only the leads near the best one reach it,
        ``("out", by)`` otherwise, ``by`` the seconds beyond it (+ too far ahead, - lagging)."""
        slack = 1.0 / max(float(fps), 1.0)
        lo, hi = reference[0] - slack, reference[1] + slack
        if lo <= self.lead_s <= hi:
            return "in", 0.0
        if self.high_s >= lo and self.low_s <= hi:
            return "unclear", 0.0
        return "out", float(self.lead_s - (hi if self.lead_s > hi else lo))

    def summary(self, fps: float = 25.0) -> str:
        state, by = self.judge(fps)
        verdict = {"in": "in time", "unclear": "not clearly out of time"}.get(
            state, f"OUT OF SYNC by {1000 * abs(by):.0f} ms")
        return (f"timing: the mouth {describe_lead(self.lead_s)} (within {1000 * self.low_s:+.0f} to "
                f"{1000 * self.high_s:+.0f} ms; {real_lead_words()}): {verdict}")

    def out_of_sync_words(self, by: float) -> str:
        """``"out of sync by 300 ms: the mouth lags the sound by 300 ms"`` for :meth:`judge`'s ``by``."""
        return f"out of sync by {1000 * abs(by):.0f} ms: the mouth {describe_lead(self.lead_s)}"


def real_lead_words() -> str:
    """``"real speakers lead by 40-320 ms"`` (:data:`REAL_SPEECH_LEAD_S`)."""
    lo, hi = REAL_SPEECH_LEAD_S
    return f"real speakers lead by {1000 * lo:.0f}-{1000 * hi:.0f} ms"


def describe_lead(lead_s: float) -> str:
    """``"leads the sound by 120 ms"``, ``"lags the sound by 80 ms"`` or ``"moves with the sound"``."""
    ms = int(round(1000 * lead_s))
    if ms == 0:
        return "moves with the sound"
    return f"{'leads' if ms > 0 else 'lags'} the sound by {abs(ms)} ms"


def mouth_lead(gap: np.ndarray, phones, level: np.ndarray, fps: float, step_s: float = 0.02) -> MouthLead | None:
    """How far the mouth (its inner-lip ``gap`` per frame, NaN where no face) runs ahead of a sound whose phones
    are ``phones`` and loudness per 10 ms column ``level`` (in [0, 1]), searched over :data:`LEAD_SEARCH_S`; None
    where it cannot be told (no speech, too few frames, or a mouth that does not follow the phones: best r below
    :data:`LEAD_MIN_R`).

    Why not the loudness correlation's peak: on real talking heads with their own sound it lies anywhere from -14
    to +10 frames (mouths open well before a syllable's loudness peaks, and by how much varies), while this lead
    falls at 0.04–0.32 s; none of twelve cross-dubs reads out of time, and the same results with their sound moved
    by 0.32 s (heard again) read out of time in 15 of 24 cases, "not clearly" in the rest (``bench/mouth_lead.py``;
    the loudness peak, read against +1 frame, called 9 of the 12 unmoved ones out of sync).
    """
    from ..sync.visemes import fill_unheard_speech, lead_agreement

    gap = np.asarray(gap, np.float64)
    ok = np.isfinite(gap)
    if phones is None or not len(phones) or all(p == "SIL" for p in phones.labels) or ok.sum() < 25:
        return None
    leads = np.arange(LEAD_SEARCH_S[0], LEAD_SEARCH_S[1] + 1e-9, step_s)
    r = lead_agreement(fill_unheard_speech(phones, level), level, gap, fps, leads)
    best = int(np.argmax(r))
    if r[best] < LEAD_MIN_R:
        return None
    se = (1.0 - r[best] ** 2) / np.sqrt(max(int(ok.sum()) - 3, 1))
    near = leads[r >= r[best] - LEAD_INTERVAL_SE * se]
    return MouthLead(float(round(leads[best], 3)), float(round(near.min(), 3)), float(round(near.max(), 3)),
                     float(r[best]))


#: The phonetic verdict where the sound gave no phonetic part to judge (:attr:`PhoneticAgreement.verdict`).
TOO_LITTLE = "too little speech to judge"


@dataclass(frozen=True)
class PhoneticAgreement:
    """How well a mouth says the sound's phones (see the module doc). A part is None where the sound gives
    nothing to judge it by (no p/b/m, too few rounded or spread vowels or voiced frames, no silence)."""

    closure: float | None
    rounding: float | None
    leak: float | None
    loudness: float
    bilabials: int
    score: float
    width_f2: float | None = None
    opening_f1: float | None = None

    def parts(self) -> dict[str, float | None]:
        """Every part by name (the keys of :data:`REAL_SPEECH`)."""
        return {"closure": self.closure, "rounding": self.rounding, "width_f2": self.width_f2,
                "opening_f1": self.opening_f1, "leak": self.leak, "loudness": self.loudness}

    def verdicts(self) -> dict[str, str]:
        """Per part: ``as real speech``, ``better than chance`` or ``no better than chance`` (leak: ``as real
        speech``, ``stiller than real speech`` or ``moves more than real speech``; closure above real speech's
        range: ``above real speech``, the recogniser's errors followed too); ``n/a`` where unmeasured."""
        out = {}
        for k, v in self.parts().items():
            lo, hi = REAL_SPEECH[k]
            if v is None:
                out[k] = "n/a"
                continue
            v = round(float(v), 2)  # judged as printed: a 0.199 shown as 0.20 beside "0.20–…" is within
            if k == "leak":
                out[k] = "as real speech" if lo <= v <= hi else ("stiller than real speech" if v < lo
                                                                  else "moves more than real speech")
            elif k == "closure" and v > hi:
                out[k] = "above real speech"
            elif v >= AS_REAL.get(k, lo):
                out[k] = "as real speech"
            elif v > (CHANCE_R if k in ("width_f2", "opening_f1", "loudness") else 0.0):
                out[k] = "better than chance"
            else:
                out[k] = "no better than chance"
        return out

    @property
    def verdict(self) -> str:
        """The whole: ``as real speech`` (score >= 0.95), ``better than chance`` (>= 0.5), else ``no better than
        chance``; ``too little speech to judge`` where no phonetic part was measured (a quarter-second dub: the
        loudness of six frames alone called it "no better than chance")."""
        if self.rounding is None and self.width_f2 is None and self.opening_f1 is None:
            return TOO_LITTLE
        return "as real speech" if self.score >= 0.95 else ("better than chance" if self.score >= 0.5
                                                              else "no better than chance")

    def summary(self) -> str:
        """One line: the score and its verdict, then each part with what real speech scores and its verdict."""
        verdicts = self.verdicts()
        names = {"rounding": "rounding", "width_f2": "width~F2", "opening_f1": "opening~F1", "loudness": "loudness",
                 "closure": f"lips close on {self.bilabials} p/b/m", "leak": "leak in silence"}
        parts = []
        for k, v in self.parts().items():
            lo, hi = REAL_SPEECH[k]
            val = "n/a" if v is None else f"{v:.2f}"
            parts.append(f"{names[k]} {val} (real speech {lo:.2f}–{hi:.2f}: {verdicts[k]})")
        return (f"phonetic sync {self.score:.2f}: {self.verdict} (1.00: every scored part as real speech with its "
                f"own sound reaches; more agreement earns nothing) | " + ", ".join(parts))

    def as_dict(self) -> dict:
        """Plain data for JSON."""
        r = lambda v: None if v is None else round(float(v), 4)  # noqa: E731
        return {"score": r(self.score), "verdict": self.verdict, "closure": r(self.closure),
                "rounding": r(self.rounding), "width_f2": r(self.width_f2), "opening_f1": r(self.opening_f1),
                "leak": r(self.leak), "loudness": r(self.loudness), "bilabials": self.bilabials,
                "verdicts": self.verdicts(), "real_speech": {k: list(v) for k, v in REAL_SPEECH.items()},
                "scored": dict(SCORED)}


def real_speech_reach(parts: dict[str, float | None]) -> float:
    """The score (see the module doc): the weighted mean, over the scored parts that were measured, of each part
    as a fraction of the way from chance to the level real speech reaches (:data:`AS_REAL`), capped at 1.
    0.0 when none was measured."""
    num = den = 0.0
    for k, w in SCORED.items():
        v = parts.get(k)
        if v is None or not np.isfinite(v):
            continue
        lo = AS_REAL[k]
        floor = CHANCE_R if k in ("width_f2", "opening_f1", "loudness") else 0.0
        # 0 at chance, 1 where real speech's lowest level begins
        num += w * float(np.clip((v - floor) / max(lo - floor, 1e-6), 0.0, 1.0))
        den += w
    return num / den if den else 0.0


def formant_agreement(gap: np.ndarray, width: np.ndarray, wav16k: np.ndarray, fps: float,
                      lead_s: float = 0.04, min_frames: int = 15) -> tuple[float | None, float | None]:
    """Lip width against the second-formant region and inner-lip gap against the first, over voiced frames.

    Parameters
    ----------
    gap, width: (T,) the mouth per frame (any unit; NaN where no face).
    wav16k: (N,) the sound at 16 kHz; frame i shows it at ``i / fps + lead_s``.

    Returns
    -------
    (width ~ F2, opening ~ F1): Pearson r at that one lead (no search over lags, which would favour chance), over
    the frames whose sound is voiced and at least 30 % into its loudness range; None with fewer than
    ``min_frames`` such frames or no variation.
    """
    from ..sync.acoustics import voiced_formants

    T = len(gap)
    if T == 0:
        return None, None
    voiced, f1, f2 = voiced_formants(np.asarray(wav16k, np.float32), T, fps, lead_s)
    out = []
    for m, x in ((np.asarray(width, np.float64), f2), (np.asarray(gap, np.float64), f1)):
        ok = voiced & np.isfinite(m)
        if ok.sum() < min_frames or m[ok].std() < 1e-9 or x[ok].std() < 1e-9:
            out.append(None)
            continue
        out.append(float(np.corrcoef(m[ok], x[ok])[0, 1]))
    return out[0], out[1]


def phonetic_agreement(gap: np.ndarray, width: np.ndarray, phones, fps: float, loudness: float,
                       lead_s: float = 0.04, closure_before_s: float = 0.0,
                       wav16k: np.ndarray | None = None) -> PhoneticAgreement:
    """Score a mouth against timed phones.

    Parameters
    ----------
    gap, width: (T,) the mouth's inner-lip gap and corner distance per frame (any unit; NaN where no face).
    phones: :class:`~lipsync_studio.sync.phones.PhoneSegments` of the sound.
    fps: frame rate; frame i shows the sound at ``i / fps + lead_s`` (the mouth leads the sound).
    loudness: the loudness measure (:func:`sync_score`'s ``confidence``: peak correlation over the median of all
        offsets, so chance correlations of short clips count little), one part of the score.
    wav16k: the sound at 16 kHz, for the formant parts (:func:`formant_agreement`); without it they are None.
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
    width_f2 = opening_f1 = None
    if wav16k is not None:
        width_f2, opening_f1 = formant_agreement(gap, width, wav16k, fps, lead_s)
    score = real_speech_reach({"rounding": rounding, "width_f2": width_f2, "opening_f1": opening_f1,
                               "loudness": float(loudness)})
    return PhoneticAgreement(closure, rounding, leak, float(loudness), n_bil, float(score), width_f2, opening_f1)


def phonetic_agreement_over_leads(gap: np.ndarray, width: np.ndarray, phones, fps: float, loudness: float,
                                  wav16k: np.ndarray | None = None,
                                  leads: tuple[float, ...] = MEASURE_LEADS_S) -> PhoneticAgreement:
    """:func:`phonetic_agreement` at each of ``leads``, each part the mean over the leads where it was measured,
    and the score of those means (see the module doc: a mouth at any natural lead is judged alike)."""
    import dataclasses

    each = [phonetic_agreement(gap, width, phones, fps, loudness, lead_s=lead, wav16k=wav16k) for lead in leads]

    def mean(name: str) -> float | None:
        v = [getattr(p, name) for p in each if getattr(p, name) is not None]
        return float(np.mean(v)) if v else None

    parts = {k: mean(k) for k in ("closure", "rounding", "leak", "width_f2", "opening_f1")}
    score = real_speech_reach({"rounding": parts["rounding"], "width_f2": parts["width_f2"],
                               "opening_f1": parts["opening_f1"], "loudness": float(loudness)})
    return dataclasses.replace(each[0], **parts, score=float(score))


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


def score_mouth(gap: np.ndarray, width: np.ndarray, wav16k: np.ndarray, fps: float, phones) -> SyncScore:
    """The whole sync measure of one mouth against one sound: the loudness correlation (:func:`sync_score`) with
    the phonetic agreement (:func:`phonetic_agreement`, formant parts included) in its ``phonetic``.

    Parameters
    ----------
    gap, width: (T,) the mouth's inner-lip gap and corner distance per frame (NaN where no face).
    wav16k: (N,) the sound at 16 kHz, frame 0 at sample 0.
    fps: frame rate.
    phones: :class:`~lipsync_studio.sync.phones.PhoneSegments` heard in ``wav16k``.
    """
    import dataclasses

    from ..sync.acoustics import mouth_from_audio

    track = mouth_from_audio(wav16k, fps, len(gap), lead_s=0.0)
    score = sync_score(gap, track.loudness_db)
    return dataclasses.replace(score, phonetic=phonetic_agreement_over_leads(gap, width, phones, fps,
                                                                             score.confidence, wav16k=wav16k),
                               lead=mouth_lead(gap, phones, track.level, fps))


def evaluate_video(video: str | Path, dub: str | Path | None = None, advance=None, eye=None) -> SyncScore:
    """Measure the sync of ``video``'s mouth against ``dub`` (default: the video's own sound).

    ``eye``: a :class:`~lipsync_studio.face.analysis.FrameView` (``stereo.layout.eye_view(packing, side)``)
    measures one eye of a packed stereo video (the SyncNet measures, which read whole frames, are then left
    out).
    """
    from ..face.analysis import analyse_faces
    from ..media.audio import load_audio
    from ..sync.phones import cached_phones, recognize_phones_async, store_phones

    wav = load_audio(dub if dub is not None else video, sr=16000, at_picture=dub is None, voice=True)
    # A sound measured again (``eval`` run twice, a stereo sync's measure of its two eyes) is not heard again: its
    # phones are kept in the analysis cache, keyed by its samples, as the engine keeps a dub's.
    phones = cached_phones(wav)
    heard = recognize_phones_async(wav) if phones is None else None  # beside the tracking
    faces = analyse_faces(video, advance=advance, eye=eye)
    track = faces.speaker_track()
    n = faces.n_frames
    mouth = track.mouth_gap() if track is not None else np.full(n, np.nan)
    width = mouth_width(track.landmarks) if track is not None else np.full(n, np.nan)
    if heard is not None:
        phones = heard.result()[0]
        store_phones(wav, phones)
    score = score_mouth(mouth, width, wav, float(faces.fps), phones)
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
