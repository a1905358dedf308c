"""Readable results: each sync measure with a verdict against what real speech scores, a "before" value (the
clip's own mouth re-timed to the dub: what the engine ``none`` would give), and the sync over time, second by
second, so weak spots show. No Qt here.

The "before" is computed from what a run leaves behind: the clip's face tracks (cached by the run) re-timed by
the output plan, and the result's own sound; the result's tracks come from its measure (cached too). The only
new work is hearing the dub's phones once (a few seconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Per-second phonetic agreement (:func:`agreement_per_second`) of real talking heads with their own sound: the
#: 10th percentile, median and 90th percentile over every second of the six real clips of the development media,
#: measured by ``bench/per_second_reference.py`` (2026-12-05). A second below the first is weaker than nine
#: seconds in ten of real speech; a mouth saying other words has its median there.
REAL_SPEECH_PER_SECOND = (0.15, 0.44, 0.92)


@dataclass(frozen=True)
class Verdict:
    """A measure read against real speech.

    Attributes
    ----------
    text: ``metrics.sync``'s verdict words and real speech's range (``"as real speech (real speech 0.12–0.90)"``).
    level: ``"good"``, ``"fair"`` or ``"weak"`` (the Result box colours it).
    """

    text: str
    level: str


#: How the Result box colours each of ``metrics.sync``'s verdict words.
LEVELS = {"as real speech": "good", "above real speech": "good", "stiller than real speech": "good",
          "better than chance": "fair", "no better than chance": "weak", "moves more than real speech": "weak",
          "too little speech to judge": "fair"}


def lead_verdict(lead, fps: float) -> Verdict | None:
    """Read a result's timing (a ``metrics.sync.MouthLead``; None: not measured) against how far real speakers'
    mouths run ahead of their sound (``REAL_SPEECH_LEAD_S``, one frame's slack either side): in time when the best
    lead lies within it; "not clearly out" when only the leads near the best one reach it; else out of sync, by
    how much.

    Not against the clip's own speech measured the same way: on 4 s halves of real clips its range was as wide as
    real speakers' or wider, and it caught fewer results whose sound was moved by 0.32 s (11 of 24 against 15;
    ``bench/mouth_lead.py``).
    """
    from ..metrics.sync import REAL_SPEECH_LEAD_S

    if lead is None:
        return None
    ref = f"real speakers {_ms_range(*REAL_SPEECH_LEAD_S)}"
    state, by = lead.judge(fps)
    if state == "in":
        return Verdict(f"in time ({ref})", "good")
    if state == "unclear":
        return Verdict(f"not clearly out of time ({ref})", "fair")
    return Verdict(f"{lead.out_of_sync_words(by)} ({ref})", "weak")


def _ms_range(lo: float, hi: float) -> str:
    return f"{1000 * lo:+.0f} to {1000 * hi:+.0f} ms"


def part_verdict(phonetic, name: str) -> Verdict | None:
    """The verdict ``metrics.sync`` gives the part ``name`` of a ``PhoneticAgreement`` (a key of
    ``REAL_SPEECH``), with real speech's range; None where the part was not measured."""
    from ..metrics.sync import REAL_SPEECH

    if phonetic is None or phonetic.parts().get(name) is None:
        return None
    words = phonetic.verdicts()[name]
    lo, hi = REAL_SPEECH[name]
    return Verdict(f"{words} (real speech {lo:.2f}–{hi:.2f})", LEVELS.get(words, "fair"))


def score_verdict(phonetic) -> Verdict | None:
    """The phonetic score's own verdict (1.00: every scored part as real speech reaches)."""
    if phonetic is None:
        return None
    return Verdict(f"{phonetic.verdict} (1.00 = as real speech)", LEVELS.get(phonetic.verdict, "fair"))


@dataclass(frozen=True)
class ResultReport:
    """What the Result box shows beside the run's own measures.

    Attributes
    ----------
    before: the clip's own mouth re-timed to the dub, measured like the result (None: the clip's faces were
        not tracked, e.g. a run without an engine).
    after_per_second, before_per_second: (S,) agreement per second of the output (NaN: no face or no sound
        that second); ``before_per_second`` None with ``before``.
    fps: the output's rate; second ``k`` covers frames ``k*fps .. (k+1)*fps``.
    """

    before: object | None
    after_per_second: np.ndarray
    before_per_second: np.ndarray | None
    fps: float

    def weak_seconds(self) -> list[int]:
        """Seconds weaker than nine in ten of real speech (:data:`REAL_SPEECH_PER_SECOND`)."""
        a = self.after_per_second
        return [int(k) for k in np.flatnonzero(np.isfinite(a) & (a < REAL_SPEECH_PER_SECOND[0]))]


def agreement_per_second(gap: np.ndarray, width: np.ndarray, phones, fps: float, window_s: float = 3.0
                         ) -> np.ndarray:
    """(S,) phonetic agreement of the mouth with ``phones`` in a ``window_s`` window centred on each second:
    the phonetic score's mouth-shape parts (lips closing on p/b/m, rounding, stillness in pauses; weights as in
    ``metrics.sync``) without its loudness part. S = whole seconds, the last partial one included; NaN where the
    window holds none of them (no speech), and where the face is on screen in fewer than half of the second's own
    frames (another shot: the window's neighbours were scored as that second, and a second of another person's
    shot read as a weak one).

    Measured (``bench/per_second_reference.py``): it tells a mouth saying the sound's words from one saying
    others second by second (AUC 0.73 with 3 s windows on the six real clips), where the mouth-vs-loudness
    correlation cannot (AUC 0.50).
    """
    from ..metrics.sync import phonetic_agreement

    gap = np.asarray(gap, np.float64)
    width = np.asarray(width, np.float64)
    n = min(len(gap), len(width))
    seconds = int(np.ceil(n / fps)) if n else 0
    out = np.full(seconds, np.nan)
    half = window_s * fps / 2
    shown = np.isfinite(gap[:n])
    for k in range(seconds):
        own = shown[int(round(k * fps)):int(round((k + 1) * fps))]
        if own.sum() * 2 < len(own):
            continue
        c = (k + 0.5) * fps
        i0, i1 = max(0, int(round(c - half))), min(n, int(round(c + half)))
        pa = phonetic_agreement(gap[i0:i1], width[i0:i1], phones.shifted(-i0 / fps), fps, 0.0)
        parts = [(pa.closure, 1.0), (pa.rounding, 1.0), (None if pa.leak is None else 1.0 - pa.leak, 0.5)]
        w = sum(wt for v, wt in parts if v is not None)
        if w:
            out[k] = sum(v * wt for v, wt in parts if v is not None) / w
    return out


def _track_curves(faces, face) -> tuple[np.ndarray, np.ndarray] | None:
    from ..errors import OptionError
    from ..metrics.sync import mouth_width
    from .faces import as_one_person

    track = None
    if face is not None:
        try:
            track = as_one_person(faces, face).speaker_track()
        except OptionError:  # ids the clip does not have as one person: the largest face, as for an unknown id
            track = None
    track = track or faces.speaker_track()
    if track is None:
        return None
    return track.mouth_gap(), mouth_width(track.landmarks)


def result_report(result_video: Path, clip_faces, source_indices: np.ndarray | None, face: int | None = None,
                  with_before: bool = True) -> ResultReport:
    """Measure the "before" (``clip_faces``, a ``ClipFaces`` of the clip, re-timed by ``source_indices``, the
    clip frame of each output frame) against the sound of ``result_video``, and the agreement per second of
    the result and the before.

    The result's faces come from the analysis cache (its measure tracked them), else are tracked now.
    """
    from ..face.analysis import analyse_faces
    from ..media.audio import load_audio
    from ..metrics.sync import score_mouth
    from ..sync.phones import recognize_phones

    faces = analyse_faces(result_video)
    fps, n = float(faces.fps), faces.n_frames
    wav = load_audio(result_video, sr=16000, at_picture=True, voice=True)
    phones = recognize_phones(wav)
    nan = np.full(n, np.nan)
    after = _track_curves(faces, None) or (nan, nan)
    after_ps = agreement_per_second(after[0], after[1], phones, fps)
    before = before_ps = None
    curves = _track_curves(clip_faces, face) if clip_faces is not None and with_before else None
    if curves is not None:
        idx = np.arange(n) if source_indices is None else np.asarray(source_indices)[:n]
        idx = np.clip(idx, 0, len(curves[0]) - 1)
        gap, width = curves[0][idx], curves[1][idx]
        before = score_mouth(gap, width, wav, fps, phones)
        before_ps = agreement_per_second(gap, width, phones, fps)
    return ResultReport(before, after_ps, before_ps, fps)


def measure_rows(score, before=None, fps: float = 25.0) -> list[tuple[str, str, str, Verdict | None, str]]:
    """The Result box's measure rows of a ``SyncScore``: ``(name, value, tooltip, verdict, before)``; the
    phonetic score first, then its parts, the loudness measure and the timing. ``before``: the same measures
    of the clip's own mouth re-timed to the dub (its values go in the last column; "" without); ``fps``: the
    result's frame rate (the timing's verdict allows one frame's slack)."""
    from ..metrics.sync import REAL_SPEECH, REAL_SPEECH_LEAD_S

    def f(v) -> str:
        return "n/a" if v is None else f"{v:.2f}"

    def b(get) -> str:
        if before is None:
            return ""
        try:
            v = get(before)
        except AttributeError:
            return ""
        return "" if v is None else (v if isinstance(v, str) else f"{v:.2f}")

    rows = []
    ph = score.phonetic
    r = {k: f"{lo:.2f}–{hi:.2f}" for k, (lo, hi) in REAL_SPEECH.items()}
    if ph is not None:
        rows += [
            ("Phonetic sync", f(ph.score), "Does the mouth say the dub's sounds? Rounding, lip width against the "
             "dub's F2, opening against its F1 and the loudness, each counted up to what real people saying their "
             "own words reach: 1.00 = as real speech on every part (more agreement earns nothing).",
             score_verdict(ph), b(lambda s: s.phonetic.score)),
            ("Rounding", f(ph.rounding), f"Lips wider at i/e/a than at o/u (real speech {r['rounding']})",
             part_verdict(ph, "rounding"), b(lambda s: s.phonetic.rounding)),
            ("Width ~ F2", f(ph.width_f2), "Lip width following the dub's second formant over voiced frames "
             f"(rounded lips lower it; real speech {r['width_f2']})", part_verdict(ph, "width_f2"),
             b(lambda s: s.phonetic.width_f2)),
            ("Opening ~ F1", f(ph.opening_f1), "Lip opening following the dub's first formant over voiced frames "
             f"(an open jaw raises it; real speech {r['opening_f1']})", part_verdict(ph, "opening_f1"),
             b(lambda s: s.phonetic.opening_f1)),
            ("Lips close on p/b/m", f(ph.closure), f"Of the dub's {ph.bilabials} p/b/m, the share where the lips "
             f"close, beyond chance (real speech {r['closure']}; shown, not scored: the recognizer misses and "
             "invents p/b/m)", part_verdict(ph, "closure"), b(lambda s: s.phonetic.closure)),
            ("Moves in pauses", f(ph.leak), "How much the mouth moves in the dub's silences against in speech "
             f"(real speech {r['leak']}; shown, not scored)", part_verdict(ph, "leak"), b(lambda s: s.phonetic.leak)),
        ]
    rows += [
        ("Loudness agreement", f"{score.confidence:.2f}", "Mouth opening against the dub's loudness over offsets of "
         f"±15 frames: the peak's height over the median (correlation {score.correlation:.2f} at "
         f"{score.offset_frames:+d} frames; where it peaks says little about timing: real mouths open well ahead of "
         f"a syllable's loudness, by as much as 10 frames); real speech {r['loudness']}",
         part_verdict(ph, "loudness") if ph is not None else None, b(lambda s: s.confidence)),
        ("Timing", "n/a" if score.lead is None else _lead_value(score.lead.lead_s),
         "How far the mouth runs ahead of the dub: the lead at which the dub's phones best follow the mouth's "
         f"opening (+ the mouth leads; real speakers lead by {_ms_range(*REAL_SPEECH_LEAD_S)}"
         + ("" if score.lead is None else f"; the lead lies within {_ms_range(score.lead.low_s, score.lead.high_s)}")
         + "; n/a: the mouth does not follow the dub's phones well enough to time it)",
         lead_verdict(score.lead, fps),
         b(lambda s: None if s.lead is None else _lead_value(s.lead.lead_s))),
    ]
    return rows


def _lead_value(lead_s: float) -> str:
    return f"{1000 * lead_s:+.0f} ms"


def report_for(result, clip: Path, clip_faces, source_indices: np.ndarray | None, face: int | None = None):
    """:func:`result_report` for a finished run's ``result`` (a 2D ``SyncResult`` with a measure): the clip's
    faces from ``clip_faces`` or the analysis cache (no tracking: without them there is no "before"). Returns
    ``(result, report)`` so the caller can tell which result it belongs to."""
    if clip_faces is None:
        from .faces import cached_faces

        clip_faces = cached_faces(Path(clip))
    return result, result_report(Path(result.output), clip_faces, source_indices, face)
