"""From timed phones to a moving mouth: viseme classes, their targets, and coarticulation.

**Visemes.** Each ARPAbet phone belongs to one of :data:`CLASSES` (phones the lips cannot tell apart share a
class: p/b/m, f/v, …). A class has a target for the jaw/lip **opening** (0 shut … 1 wide open) and for the lip
**spread** (−1 rounded and protruded … +1 spread), and p/b/m carry a **closure**: the lips meet, whatever the
neighbours do. Diphthongs are two targets (first half, second half).

**Coarticulation** (Cohen & Massaro 1993). Every phone has, per parameter, a dominance over time:
``α · exp(−θ · d)``, with ``d`` the distance (s) to the phone's own span (inside it, d = 0). A parameter's track
is the dominance-weighted mean of all phones' targets. Consonants dominate the opening weakly and the spread
hardly at all, so a rounded vowel's rounding reaches back across the consonants before it (anticipation:
rounded vowels' spread dominance falls off slowly before them); p/b/m dominate the opening strongly and
briefly, f/v strongly (lower lip to upper teeth). The 10 ms track is then read per video frame, ``lead`` ahead of
the sound, and every lip-closing phone (p/b/m, and f/v/w, where real lips meet too: :data:`LIP_CLOSING`) shuts the
lips from ``lead`` before it to its release, for at least :data:`MIN_CLOSURE_S` (two frames at 25 fps). Pauses hold
the ``rest`` class's mouth (the speaker's own resting mouth where the clip shows it), and pauses of at least
``shut_pause_s`` shut the lips, as does silence before the first phone and after the last. The engine's plan
(:func:`~lipsync_studio.sync.builtin.planner.plan_mouths`) shuts pauses of 0.4 s and bridges shorter ones: silence
pulls its mouth toward rest only weakly (:data:`BRIDGING_REST`), as real lips stay parted between words.

The numbers are phonetic descriptions (how open, how rounded, how strongly a segment holds its shape), set
once from the literature's qualitative ordering and not fitted per clip; two choices were checked against six real
talking heads (``bench/plan_lab.py``: the plan against the real mouth): which phones shut the lips, and the
smaller lip gap of rounded vowels (and r): /u/ at 0.2 of the widest opening, /o/ at 0.35, r and er at 0.2 (from
0.35, 0.5, 0.3): the rendered cross-reconstruction of the six heads (``bench/xrecon_frozen.py``) went from opening /
width / shut 0.467 / 0.310 / 0.639 to 0.473 / 0.331 / 0.646, width up in 11 of 12 directions (/u/ at 0.5 and /o/ at
0.65 instead: clearly worse, the plan's opening and width r 0.397 / 0.374 against 0.451 / 0.417). The speaker's own
table (:func:`speaker_table`) replaces the targets class by class where a clip shows enough of a class.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .phones import PhoneSegments

#: class → (opening, spread). Opening is relative (0 shut, 1 the speaker's widest usual vowel).
CLASSES: dict[str, tuple[float, float]] = {
    "rest": (0.0, 0.0),    # silence: lips together, relaxed
    "PBM": (0.0, 0.0),     # lips shut
    "FV": (0.12, 0.1),     # lower lip against the upper teeth
    "TH": (0.3, 0.2),      # tongue between the teeth
    "SZ": (0.1, 0.45),     # teeth close (the jaw's highest position), lips spread
    "TDNL": (0.3, 0.2),    # tongue tip up, jaw half open
    "KG": (0.4, 0.1),      # back of the tongue: the jaw stays open, lips follow the vowel
    "SH": (0.15, -0.6),    # teeth close, lips protruded
    "R": (0.2, -0.5),      # rounded (and bunched) lips: a narrow aperture
    "W": (0.15, -1.0),     # tight rounding
    "AA": (1.0, 0.15),     # open vowels
    "EH": (0.65, 0.45),    # mid front vowels
    "ER": (0.2, -0.2),     # r-coloured, lips rounded: a smaller aperture than the jaw alone gives
    "IY": (0.4, 1.0),      # close front: spread
    "AO": (0.35, -0.7),    # open-mid back rounded (and o's closing glide): rounding narrows the lips' gap
    "UW": (0.2, -1.0),     # close back rounded: with er, the smallest aperture of any vowel
}
PHONE_CLASS: dict[str, str] = {
    "SIL": "rest", "P": "PBM", "B": "PBM", "M": "PBM", "F": "FV", "V": "FV", "TH": "TH", "DH": "TH",
    "S": "SZ", "Z": "SZ", "T": "TDNL", "D": "TDNL", "N": "TDNL", "L": "TDNL", "K": "KG", "G": "KG", "NG": "KG",
    "HH": "KG", "Y": "IY", "SH": "SH", "ZH": "SH", "CH": "SH", "JH": "SH", "R": "R", "W": "W",
    "AA": "AA", "AE": "AA", "AH": "AA", "EH": "EH", "EY": "EH", "ER": "ER", "IH": "IY", "IY": "IY",
    "AO": "AO", "OW": "AO", "UH": "UW", "UW": "UW",
    "AY": "AA", "AW": "AA", "OY": "AO",
}
#: Diphthongs: the class of their second half.
GLIDE_TO = {"AY": "IY", "AW": "UW", "OY": "IY", "EY": "IY", "OW": "UW"}
VOWELS = frozenset({"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"})
ROUNDED_VOWELS = frozenset({"AO", "OW", "OY", "UH", "UW"})
SPREAD_VOWELS = frozenset({"IY", "IH", "EY", "EH", "AE"})
BILABIAL = frozenset({"P", "B", "M"})
#: Phones whose lips meet for at least a video frame. Beside p/b/m: f/v (the lower lip rises to the upper teeth
#: and lip: the inner-lip gap a face tracker measures is closed) and w (tight rounding). Measured on real talking
#: heads (bench/plan_lab.py, FaceMesh frame by frame): of the frames where the recogniser heard w, the real
#: lips were shut in 0.69, f/v 0.40, p/b/m 0.34, against 0.13-0.17 for a, i, e and for pauses.
LIP_CLOSING = BILABIAL | {"F", "V", "W"}
VOWEL_CLASSES = frozenset({"AA", "EH", "ER", "IY", "AO", "UW"})

# Dominance per class: (α_open, θ_open, α_spread, θ_spread_before, θ_spread_after); θ in 1/s.
_VOWEL_DOM = (1.0, 25.0, 1.0, 15.0, 25.0)
_ROUND_DOM = (1.0, 25.0, 2.0, 6.0, 15.0)   # rounding anticipated ~150 ms ahead
_CONS_DOM = (0.6, 40.0, 0.15, 40.0, 40.0)
DOMINANCE: dict[str, tuple[float, float, float, float, float]] = {
    "rest": (1.2, 30.0, 0.4, 30.0, 30.0),
    "PBM": (25.0, 60.0, 0.15, 40.0, 40.0),
    "FV": (8.0, 50.0, 0.3, 40.0, 40.0),
    "TH": (1.5, 40.0, 0.15, 40.0, 40.0),
    "SZ": (2.5, 40.0, 0.5, 40.0, 40.0),  # sibilants constrain the jaw most (Recasens' DAC)
    "TDNL": _CONS_DOM, "KG": (0.3, 40.0, 0.1, 40.0, 40.0), "SH": (2.0, 40.0, 1.5, 15.0, 25.0),
    "R": (0.6, 40.0, 0.8, 20.0, 30.0), "W": (1.0, 40.0, 2.5, 8.0, 20.0),
    "AA": _VOWEL_DOM, "EH": _VOWEL_DOM, "ER": _VOWEL_DOM, "IY": _VOWEL_DOM, "AO": _ROUND_DOM, "UW": _ROUND_DOM,
}
#: The ``rest`` class's dominance where a mouth is drawn (the engine's plan, not the measures): silence pulls the
#: mouth toward rest only weakly, so a short pause inside speech (under ``shut_pause_s``) is bridged by the phones
#: around it and the lips drift toward the resting mouth in its middle, where with :data:`DOMINANCE`'s ``rest``
#: (1.2) every silence over :data:`PAUSE_S` held the resting mouth and pulled the frames beside it there too. On six
#: real talking heads the dub's pauses of 0.2-0.4 s found the real mouth open (median inner-lip gap 0.035 face
#: heights, vowels 0.050; shut in 0.09-0.15 of their frames), where the plan rested it at 0.018 and shut 0.18-0.36
#: (``bench/plan_lab.py``). The measures (:func:`lead_agreement`: the speaker's lead, ``eval``'s timing and
#: phonetic parts) keep :data:`DOMINANCE` and :data:`PAUSE_S`, which their reference ranges were measured with.
BRIDGING_REST = (0.1, 30.0, 0.1, 30.0, 30.0)
STEP_S = 0.01
#: A pause at least this long (s) shuts the lips: people rest with their lips together between phrases; shorter
#: silences are stop gaps and hesitations inside speech, which the phones around them shape.
PAUSE_S = 0.2
#: The lips part this long (s) before speech after a pause and close this long after it (approach and release).
PAUSE_EDGE_S = 0.06
#: A stop gap (s) at most this long: the closure of a p/b lasts through the quiet before its burst.
STOP_GAP_S = 0.12
#: Below this loudness (of the speech's range, per 10 ms) a column is quiet enough to be a stop's closure.
GAP_LEVEL = 0.2
#: The shortest closure (s) a lip-closing phone gets: real lips stay together for 60-100 ms through a p, b or m
#: and about as long for an f or v, and the recognizer gives some a single 10-40 ms segment, which shut one video
#: frame (at 25 fps: two frames at least). On six real talking heads (the plan against the real mouth,
#: ``bench/plan_lab.py``) shut share 0.678 -> 0.695 with opening and width r unchanged; the frame after a planned
#: closure was truly shut in 0.39 of cases, the frame before in 0.23, against 0.34 for any frame.
MIN_CLOSURE_S = 0.07
#: How long (s) a closure may outlast its phone's span shifted by the speaker's lead: the lips part with the burst,
#: a frame or two later than the led span, but not a whole lead later. They once parted at the release itself
#: (the span's end, unshifted), which at the old fixed 40 ms lead was a frame; at the speakers' own leads (0.1-0.24
#: s) every p, b, m, f, v and w held the lips shut 3-6 frames past its sound and neighbouring closures ran into
#: one: on six real talking heads the plan shut 0.46 of the frames, in 57 runs of 9.4 frames on average (13 over
#: half a second, in the middle of speech), where the real mouths were shut in 0.34, in 88 runs of 4.5 (FaceMesh,
#: xrecon.py's threshold; ``bench/plan_lab.py``). At 80 ms: 0.33 of the frames in 69 runs, the lengths spread like
#: the real ones (5 runs over 12 frames, as real). Rendered cross-reconstruction (``bench/xrecon_frozen.py``),
#: opening r / width r / closure share: 0.472 / 0.377 / 0.536 at 40 ms, 0.467 / 0.381 / 0.559 at 80 ms; at the
#: unshifted end the opening fell (plan 0.510 -> 0.488) while the closure share, which counts only truly shut
#: frames shut, rose with the frames shut (0.648 with 0.40 of them shut).
RELEASE_LAG_S = 0.08


@dataclass(frozen=True)
class Articulation:
    """The mouth per video frame.

    Attributes
    ----------
    opening: (K,) float32, in the targets' units (relative 0..1 for the generic table).
    spread: (K,) float32, in the targets' units (−1..1 for the generic table).
    closed: (K,) bool, frames where a lip-closing phone (:data:`LIP_CLOSING`) shuts the lips.
    label: (K,) class name of the phone heard at each frame (``rest`` in silence).
    resting: (K,) bool, frames inside a pause of the sound, where the lips rest shut.
    """

    opening: np.ndarray
    spread: np.ndarray
    closed: np.ndarray
    label: np.ndarray
    resting: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))


def phone_classes(phones: PhoneSegments) -> list[str]:
    """The viseme class of each phone."""
    return [PHONE_CLASS.get(p, "rest") for p in phones.labels]


def _expand(phones: PhoneSegments) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Segments as (class, start, end), diphthongs split into two halves."""
    cls, a, b = [], [], []
    for p, s, e in zip(phones.labels, phones.start, phones.end):
        c = PHONE_CLASS.get(p, "rest")
        if p in GLIDE_TO and e - s >= 0.06:
            m = 0.5 * (s + e)
            cls += [c, GLIDE_TO[p]]
            a += [s, m]
            b += [m, e]
        else:
            cls.append(c)
            a.append(s)
            b.append(e)
    return cls, np.asarray(a, np.float64), np.asarray(b, np.float64)


def articulate(phones: PhoneSegments, fps: float, n_frames: int, lead_s: float = 0.04,
               level: np.ndarray | None = None, targets: dict[str, tuple[float, float]] | None = None,
               rest: tuple[float, float] | None = None, pause_s: float = PAUSE_S,
               closing: frozenset[str] = LIP_CLOSING, shut_pause_s: float = float("inf"),
               rest_dominance: tuple[float, float, float, float, float] | None = None) -> Articulation:
    """Per-frame mouth parameters from timed phones by dominance-weighted coarticulation.

    Parameters
    ----------
    phones: timed phones of the sound.
    fps, n_frames: the video frames to fill (frame i shows the sound at ``i / fps + lead_s``).
    level: (C,) optional loudness per 10 ms column in [0, 1] (0 silence, 1 the speech's loud peaks): scales how
        far each vowel opens, by the square root of its loudness against the dub's median vowel (0.6–1.3×):
        a shouted vowel opens wider than a murmured one.
    targets: class → (opening, spread); missing classes take :data:`CLASSES`.
    rest: (opening, spread) of shut lips in the targets' units (default: the ``PBM`` target).
    pause_s: silences (``SIL``) at least this long hold the ``rest`` class's mouth (the speaker's own resting
        mouth where the targets carry it, else shut lips), but for :data:`PAUSE_EDGE_S` at either end; ``inf``
        leaves pauses to the coarticulation alone.
    closing: phones that shut the lips for at least :data:`MIN_CLOSURE_S` around their middle (:data:`LIP_CLOSING`).
    shut_pause_s: pauses at least this long shut the lips (``rest``) whatever the ``rest`` class's mouth.
    rest_dominance: the ``rest`` class's dominance (default :data:`DOMINANCE`'s; the engine's plan:
        :data:`BRIDGING_REST`).

    Silence before the sound's first phone or after its last counts as a pause however short it is.

    A p/b/m's closure lasts as long as the sound says: with ``level``, a p or b stays shut through the quiet
    columns (below :data:`GAP_LEVEL`, up to :data:`STOP_GAP_S`) just before and inside it (the stop gap before
    its burst), not only through the span the recognizer gave it.
    """
    track = _dominance_track(phones, _duration(phones, fps, n_frames, lead_s), level, targets, rest, rest_dominance)
    return _read_frames(track, phones, fps, n_frames, lead_s, level, pause_s, closing, shut_pause_s)


def _duration(phones: PhoneSegments, fps: float, n_frames: int, lead_s: float) -> float:
    """How long (s) a track must be to be read for ``n_frames`` frames at ``lead_s``, and hold every phone."""
    return max(float(phones.end[-1]) if len(phones) else 0.0, (n_frames + 2) / fps + lead_s)


@dataclass(frozen=True)
class _Track:
    """The coarticulated mouth every :data:`STEP_S` (``t``), before it is read per video frame at some lead."""

    t: np.ndarray
    opening: np.ndarray
    spread: np.ndarray
    table: dict
    shut: tuple[float, float]


def _dominance_track(phones: PhoneSegments, duration: float, level: np.ndarray | None,
                     targets: dict[str, tuple[float, float]] | None, rest: tuple[float, float] | None,
                     rest_dominance: tuple[float, float, float, float, float] | None = None) -> _Track:
    """:func:`articulate`'s dominance-weighted track from 0 to ``duration`` s. A longer track holds a shorter one's
    values unchanged (each point is its own sum), so one track serves every lead (:func:`lead_agreement`)."""
    table = dict(CLASSES)
    if targets:
        table.update(targets)
    shut = rest if rest is not None else table["PBM"]
    t = np.arange(0.0, duration + STEP_S, STEP_S)
    cls, a, b = _expand(phones)
    num_o = np.zeros(len(t))
    den_o = np.full(len(t), 1e-6)
    num_s = np.zeros(len(t))
    den_s = np.full(len(t), 1e-6)
    num_o += 1e-6 * shut[0]
    num_s += 1e-6 * shut[1]
    gains = np.ones(len(cls))
    if level is not None and len(level):
        # Loudness scales how far a vowel opens: each vowel's mean level against the dub's typical vowel.
        lv = np.asarray(level, np.float64)
        vmean = np.array([lv[int(s_ / STEP_S):max(int(e_ / STEP_S), int(s_ / STEP_S) + 1)].mean()
                          if int(s_ / STEP_S) < len(lv) else 0.0 for s_, e_ in zip(a, b)])
        is_v = np.array([c in VOWEL_CLASSES for c in cls], bool)
        if is_v.any():
            typical = max(float(np.median(vmean[is_v])), 1e-3)
            gains[is_v] = np.clip(np.sqrt(vmean[is_v] / typical), 0.6, 1.3)
    for c, s, e, gain in zip(cls, a, b, gains):
        ao, th_o, as_, th_sb, th_sa = rest_dominance if c == "rest" and rest_dominance else DOMINANCE[c]
        to, ts = table[c]
        if c == "PBM":
            to = shut[0]  # shut lips are shut, whatever a measured table says
        to = shut[0] + (to - shut[0]) * gain
        # Only the neighbourhood matters: dominances fall below 1e-3 of their peak within ~0.5 s.
        lo, hi = np.searchsorted(t, [s - 0.6, e + 0.6])
        tt = t[lo:hi]
        before, after = np.maximum(s - tt, 0.0), np.maximum(tt - e, 0.0)
        d = before + after
        w_o = ao * np.exp(-th_o * d)
        w_s = as_ * np.exp(-np.where(before > 0, th_sb * before, th_sa * after))
        num_o[lo:hi] += w_o * to
        den_o[lo:hi] += w_o
        num_s[lo:hi] += w_s * ts
        den_s[lo:hi] += w_s
    return _Track(t, num_o / den_o, num_s / den_s, table, shut)


def _read_frames(track: _Track, phones: PhoneSegments, fps: float, n_frames: int, lead_s: float,
                 level: np.ndarray | None, pause_s: float, closing: frozenset[str],
                 shut_pause_s: float) -> Articulation:
    """:func:`articulate`'s per-frame reading of ``track`` at ``lead_s``, with its closures and pauses."""
    t, opening, spread, table, shut = track.t, track.opening, track.spread, track.table, track.shut
    # Per video frame: the mean over the frame's span, centred lead_s ahead.
    centres = np.arange(n_frames) / fps + lead_s
    half = 0.5 / fps
    c = np.concatenate([[0.0], np.cumsum(opening)])
    cs = np.concatenate([[0.0], np.cumsum(spread)])
    lo = np.clip(np.round((centres - half) / STEP_S).astype(int), 0, len(t) - 1)
    hi = np.clip(np.round((centres + half) / STEP_S).astype(int), 1, len(t))
    hi = np.maximum(hi, lo + 1)
    op = (c[hi] - c[lo]) / (hi - lo)
    sp = (cs[hi] - cs[lo]) / (hi - lo)
    # Every lip-closing phone shuts at least the frames nearest its middle (a 60 ms closure must not be averaged
    # away).
    closed = np.zeros(n_frames, bool)
    shortest = max(1, int(round(MIN_CLOSURE_S * fps)))
    lv = np.asarray(level, np.float64) if level is not None else np.zeros(0)
    for p, s, e in zip(phones.labels, phones.start, phones.end):
        if p in closing:
            if p in ("P", "B") and len(lv):
                s, e = _stop_gap(lv, s, e)
            # The mouth leads the sound into a closure and parts at most RELEASE_LAG_S after the led span (on real
            # talking heads the lips were still shut a frame after the phone's span less the lead).
            k0 = int(np.ceil((s - lead_s) * fps - 0.5))
            k1 = int(np.floor((e - max(lead_s - RELEASE_LAG_S, 0.0)) * fps - 0.5))
            ks = list(range(k0, k1 + 1)) if k1 >= k0 else \
                [int(np.clip(round((0.5 * (s + e) - lead_s) * fps), 0, n_frames - 1))]
            if len(ks) < shortest:  # the frames nearest the closure's middle
                first = int(round((0.5 * (s + e) - lead_s) * fps - 0.5 * (shortest - 1)))
                ks = sorted(set(ks) | set(range(first, first + shortest)))
            for k in ks:
                if 0 <= k < n_frames:
                    closed[k] = True
    resting = np.zeros(n_frames, bool)
    long_rest = np.zeros(n_frames, bool)
    last = len(phones) - 1
    for i, (p, s, e) in enumerate(zip(phones.labels, phones.start, phones.end)):
        # Silence before the sound's first phone or after its last is a pause however short: nothing is said
        # beyond it either (the lips rest before speech starts, not in the next vowel's shape).
        length = float("inf") if i in (0, last) else e - s
        if p == "SIL" and length >= pause_s:
            inside = (centres >= (-np.inf if i == 0 else s + PAUSE_EDGE_S)) & \
                (centres <= (np.inf if i == last else e - PAUSE_EDGE_S))
            resting |= inside
            if length >= shut_pause_s:
                long_rest |= inside
    op[resting] = table["rest"][0]
    op[long_rest] = shut[0]
    op[closed] = shut[0]
    idx = phones.at(centres)
    labels = np.array(phone_classes(phones) + ["rest"], dtype=object)[idx]
    return Articulation(op.astype(np.float32), sp.astype(np.float32), closed, labels, resting)


def _stop_gap(level: np.ndarray, s: float, e: float) -> tuple[float, float]:
    """The span of a p/b widened over the quiet columns (its stop gap) that touch it or lie inside it.

    Parameters
    ----------
    level: (C,) loudness per 10 ms column in [0, 1].
    s, e: the phone's span (s).

    Returns
    -------
    (start, end) in seconds: the quiet run before the burst joined to the phone's span, at most
    :data:`STOP_GAP_S` before the phone's end; the phone's own span where no quiet column is near.
    """
    i0, i1 = int(round(s / STEP_S)), int(round(e / STEP_S))
    if i0 >= len(level):
        return s, e
    quiet = level < GAP_LEVEL
    lo = max(i1 - int(round(STOP_GAP_S / STEP_S)), 0)
    inside = np.flatnonzero(quiet[max(i0 - 1, lo):min(i1 + 1, len(level))])
    if not len(inside):
        return s, e
    a = max(i0 - 1, lo) + int(inside[0])
    while a > lo and quiet[a - 1]:
        a -= 1
    return min(s, a * STEP_S), e


def fill_unheard_speech(phones: PhoneSegments, level: np.ndarray, threshold: float = 0.4,
                        min_s: float = 0.04) -> PhoneSegments:
    """Where the recognizer heard silence but the sound is loud speech, a neutral vowel (``AH``).

    The recognizer misses some speech (unusual voices, synthetic speech, languages it was not trained on); the
    loudness does not: a "silence" at least ``min_s`` long whose speech-band level stays above ``threshold`` (of
    the dub's loudness range, per 10 ms column) is speech of an unknown vowel, so the mouth does not stay shut
    through it. Loudness then sets how far it opens.
    """
    if not len(phones) or not len(level):
        return phones
    labels, start, end = [], [], []
    lv = np.asarray(level)
    for p, a, b in zip(phones.labels, phones.start, phones.end):
        if p != "SIL":
            labels.append(p)
            start.append(a)
            end.append(b)
            continue
        i0, i1 = int(round(a / STEP_S)), int(round(b / STEP_S))
        loud = lv[i0:i1] > threshold if i1 > i0 else np.zeros(0, bool)
        k = 0
        while k < len(loud):
            j = k
            while j < len(loud) and loud[j] == loud[k]:
                j += 1
            seg_a, seg_b = (a if k == 0 else (i0 + k) * STEP_S), (b if j == len(loud) else (i0 + j) * STEP_S)
            lab = "AH" if loud[k] and seg_b - seg_a >= min_s else "SIL"
            if labels and labels[-1] == lab == "SIL":
                end[-1] = seg_b
            else:
                labels.append(lab)
                start.append(seg_a)
                end.append(seg_b)
            k = j
        if len(loud) == 0:
            labels.append(p)
            start.append(a)
            end.append(b)
    return PhoneSegments(tuple(labels), np.array(start), np.array(end), phones.source)


def lead_agreement(phones: PhoneSegments, level: np.ndarray, gap: np.ndarray, fps: float,
                   leads: np.ndarray) -> np.ndarray:
    """(L,) Pearson r of a measured lip ``gap`` (T,) (NaN where no face) with the opening that ``phones``,
    articulated, give at each lead of ``leads`` (s; frame i shows the sound at ``i / fps + lead``); -1 where either
    does not vary. How far a mouth runs ahead of its sound is where this peaks: the engine times the dub at the
    clip's own peak (``planner.speaker_lead``), and the sync measure reads a result's (``metrics.sync.mouth_lead``).

    ``level``: (C,) the sound's loudness per 10 ms column in [0, 1] (see :func:`articulate`).
    """
    gap = np.asarray(gap, np.float64)
    ok = np.isfinite(gap)
    r = np.full(len(leads), -1.0)
    if ok.sum() < 3 or gap[ok].std() < 1e-9:
        return r
    n = len(gap)
    # One dominance track, long enough for the largest lead, read at every lead (as articulate would make each).
    track = _dominance_track(phones, _duration(phones, fps, n, float(np.max(leads))), level, None, None)
    for i, lead in enumerate(leads):
        op = _read_frames(track, phones, fps, n, float(lead), level, PAUSE_S, LIP_CLOSING,
                          float("inf")).opening.astype(np.float64)
        if op[ok].std() > 1e-6:
            r[i] = float(np.corrcoef(op[ok], gap[ok])[0, 1])
    return r


#: Phones the recognizer often hears where a speaker said p/b/m and that the sound can then tell apart: the lip
#: approximant and fricative (w, v) and l. Other stops, nasals and th were measured too (bench/closures.py):
#: their labial-looking releases were as often real t/d/k/g/n/th as missed p/b/m.
MISHEARD_BILABIAL = frozenset({"W", "V", "L"})


def rescue_bilabials(phones: PhoneSegments, wav16k: np.ndarray) -> PhoneSegments:
    """p/b/m the recognizer missed, found by their sound: a consonant it heard as w, v or l
    (:data:`MISHEARD_BILABIAL`) between two vowels, released into the second the way only lips release
    (:func:`..acoustics.labial_releases`), becomes ``B`` (shutting only a w's first half to keep its rounding
    measured worse in the cross-reconstruction: width r 0.311 against 0.331). On espeak-ng words
    (bench/closures.py) word-medial p/b/m recall goes from 0.72 to 0.76, precision from 0.89 to 0.88.

    Parameters
    ----------
    phones: recognised phones of ``wav16k``.
    wav16k: (N,) float32 speech at 16 kHz.

    Returns
    -------
    The phones with those consonants relabelled (same timing).
    """
    from .acoustics import labial_releases

    cand = [i for i in range(1, len(phones) - 1) if phones.labels[i] in MISHEARD_BILABIAL
            and phones.labels[i - 1] in VOWELS and phones.labels[i + 1] in VOWELS]
    if not cand:
        return phones
    spans = np.stack([phones.start[cand], phones.end[cand]], 1)
    labial = labial_releases(wav16k, spans)
    labels = list(phones.labels)
    for i, yes in zip(cand, labial):
        if yes:
            labels[i] = "B"
    return PhoneSegments(tuple(labels), phones.start, phones.end, phones.source)


def frame_labels(phones: PhoneSegments, fps: float, n_frames: int, lead_s: float = 0.04) -> np.ndarray:
    """(n_frames,) viseme class of the phone heard ``lead_s`` after each frame (``rest`` outside speech)."""
    idx = phones.at(np.arange(n_frames) / fps + lead_s)
    return np.array(phone_classes(phones) + ["rest"], dtype=object)[idx]


def speaker_table(labels: np.ndarray, features: np.ndarray, min_frames: int = 5) -> dict[str, tuple[float, float, int]]:
    """The speaker's own mouth per viseme class ("Video Rewrite"): median gap and width over the clip frames
    whose sound belongs to that class.

    Parameters
    ----------
    labels: (T,) class per clip frame (:func:`frame_labels` of the clip's own sound).
    features: (T, 2) measured gap and width per frame (NaN where no face).
    min_frames: a class needs at least this many measured frames to enter the table.

    Returns
    -------
    class → (gap, width, frames) for the classes the clip shows enough of.
    """
    ok = np.isfinite(features).all(1)
    out = {}
    for c in CLASSES:
        sel = ok & (labels[: len(ok)] == c)
        n = int(sel.sum())
        if n >= min_frames:
            out[c] = (float(np.median(features[sel, 0])), float(np.median(features[sel, 1])), n)
    return out
