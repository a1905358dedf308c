"""Planning the mouths: what shape each output frame needs, and which clip frame lends its mouth.

**Targets.** The dub's speaker-independent mouth track (:mod:`..acoustics`) is put in this speaker's units
(inner-lip gap and mouth width in eye distances). Where the clip carries its own speech, the mapping is fitted
on the clip (its audio heard the same way, against its measured mouths): a per-speaker calibration that costs
seconds. Otherwise the speaker's observed range sets it, with a natural default for clips that never open.

**Donors** ("Video Rewrite", Bregler et al. 1997). For every output frame a clip frame is chosen whose mouth
matches the target, by dynamic programming over the output frames: the cost adds shape mismatch, a bonus for
the output frame's own source frame (its mouth fits its head best), and a price for jumping to a different
moment of the clip (continuing a run, or holding, is free), so mouths move as recorded, not as a slideshow.
Where shapes tie, the drawing decides: a donor softer than the frame it goes into (motion blur, focus) costs
in proportion to how much softer (:func:`relative_detail`), and one whose head is turned differently from the
output frame's (:func:`head_turn`; a turned donor's lips stretch when warped onto a frontal head) costs with
the square of the difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..visemes import Articulation

OWN = -1  # the donor is the output frame's own source frame


@dataclass(frozen=True)
class Targets:
    """Per output frame: target gap and width (eye distances), and how they were derived."""

    gap: np.ndarray
    width: np.ndarray
    calibrated_on_clip: bool
    gain: float
    offset: float


def mouth_targets(dub_opening: np.ndarray, dub_spread: np.ndarray, clip_features: np.ndarray,
                  clip_opening: np.ndarray | None) -> Targets:
    """Target mouth shapes in the speaker's units.

    Parameters
    ----------
    dub_opening, dub_spread: (K,) the dub's mouth track per output frame (opening 0..1, spread -1..1).
    clip_features: (T, 2) the clip's measured gap and width per frame (NaN where no face).
    clip_opening: (T,) the clip's own audio heard the same way, or None when the clip has no sound.
    """
    ok = np.isfinite(clip_features[:, 0])
    gap, width = clip_features[ok, 0], clip_features[ok, 1]
    closed = float(np.percentile(gap, 5)) if len(gap) else 0.0
    span = max(float(np.percentile(gap, 95)) - closed, 0.0) if len(gap) else 0.0
    # Silence closes the mouth, even for a speaker seen only with parted lips (a smiling photo).
    gain, offset, calibrated = max(span, 0.25), float(np.clip(closed, 0.0, 0.02)), False
    if clip_opening is not None and ok.sum() >= 25:
        a = clip_opening[: len(ok)][ok[: len(clip_opening)]] if len(clip_opening) >= len(ok) else None
        if a is not None and a.std() > 1e-3 and gap.std() > 1e-3:
            r = float(np.corrcoef(a, gap)[0, 1])
            if r > 0.3:  # the clip's own sound explains its mouth: fit the mapping to this speaker
                slope, icpt = np.polyfit(a, gap, 1)
                gain, offset, calibrated = float(np.clip(slope, 0.08, 0.45)), float(icpt), True
    w0 = float(np.median(width)) if len(width) else 0.7
    return Targets(gap=(offset + gain * dub_opening).astype(np.float32),
                   width=(w0 * (1 + 0.08 * dub_spread)).astype(np.float32),
                   calibrated_on_clip=calibrated, gain=gain, offset=offset)


def viseme_targets(clip_features: np.ndarray, own_table: dict[str, tuple[float, float, int]] | None = None,
                   prior_frames: float = 25.0, own_rest: bool = True
                   ) -> tuple[dict[str, tuple[float, float]], tuple[float, float], list[str]]:
    """Each viseme class's target mouth in this speaker's units (inner-lip gap and width, eye distances).

    The generic table (:data:`~lipsync_studio.sync.visemes.CLASSES`) is put in the speaker's observed range
    (shut = the 5th percentile of the gap, wide open = the 95th; widths around the median by half the 5–95 %
    range); the speaker's own table replaces it class by class as the clip shows more of each class (a class
    seen for ``prior_frames`` frames is half the speaker's, half generic; one seen for ten times as long, 91 %).

    Parameters
    ----------
    clip_features: (T, 2) the clip's gap and width per frame (NaN where no face).
    own_table: class → (gap, width, frames) measured on the clip (:func:`~lipsync_studio.sync.visemes.speaker_table`).
    own_rest: the ``rest`` class (pauses) takes the speaker's own resting mouth like any other class; False:
        pauses shut the lips (the engine rests in short pauses and shuts in long ones: see :func:`plan_mouths`).

    Returns
    -------
    targets: class → (gap, width); shut: the shut mouth (gap, width); own: the classes taken from the clip.
    """
    from ..visemes import CLASSES

    ok = np.isfinite(clip_features).all(1)
    gap = clip_features[ok, 0]
    closed = float(np.percentile(gap, 5)) if len(gap) else 0.0
    span = max(float(np.percentile(gap, 95)) - closed, 0.0) if len(gap) else 0.0
    # Silence closes the mouth, even for a speaker seen only with parted lips (a smiling photo).
    shut = float(np.clip(closed, 0.0, 0.02))
    span = max(span, 0.25)
    w0, half = width_range(clip_features)
    targets = {c: (shut + span * o, w0 + half * sp) for c, (o, sp) in CLASSES.items()}
    own = []
    for c, (g, w, n) in (own_table or {}).items():
        # The clip's evidence against the generic prior, weighted by how much of it there is: a class seen for
        # ``prior_frames`` frames counts half (recognised phones are noisy, a few frames' median is too).
        k = n / (n + prior_frames)
        gg, ww = targets[c]
        targets[c] = (shut if c == "PBM" or (c == "rest" and not own_rest) else (1 - k) * gg + k * g,
                      (1 - k) * ww + k * w)
        own.append(c)
    return targets, (shut, targets["rest"][1]), sorted(own)


#: Half the 5-95 % range of a speaker's mouth width, against its median, for a clip that does not show it (a still
#: photo, a face that never speaks): six real talking heads 0.07-0.23, median 0.14. (At the 0.05 floor a photo
#: opened its mouth 0.25 eye distances but spread and rounded it by +-0.03: what `eval` read of its width was the
#: opening's side effect, and its width~F2 no better than chance, 0.10 / -0.05 / -0.04 on three heads.)
TYPICAL_WIDTH_RANGE = 0.14


def width_range(clip_features: np.ndarray) -> tuple[float, float]:
    """(median, half the 5-95 % range) of the clip's mouth width (eye distances); where the clip's mouth never
    moves (:func:`~..mouth.never_moves`: a photo), the half range is :data:`TYPICAL_WIDTH_RANGE` of the median;
    otherwise at least 0.05 of it."""
    from ..mouth import never_moves

    ok = np.isfinite(clip_features).all(1)
    gap, width = clip_features[ok, 0], clip_features[ok, 1]
    if not len(width):
        return 0.7, TYPICAL_WIDTH_RANGE * 0.7
    w0 = float(np.median(width))
    if never_moves(gap):
        return w0, TYPICAL_WIDTH_RANGE * w0
    return w0, max(0.5 * float(np.ptp(np.percentile(width, [5, 95]))), 0.05 * w0)


#: How far one standard deviation of the dub's F1 opens the jaw beyond its phone's target (of the speaker's
#: opening range), and how far one of its F2 spreads the lips (of half the speaker's width range). Checked on six
#: real talking heads (``bench/plan_lab.py``): the plan's opening r 0.422 -> 0.434 and width r 0.389 -> 0.418
#: (twice the F1 gain added nothing more and moved the mouth off a loudness-driven clip's own rhythm).
F1_OPENING = 0.1
F2_SPREAD = 0.3


def plan_mouths(clip_features: np.ndarray, clip_labels: np.ndarray | None, dub_phones, dub_level: np.ndarray,
                fps: float, n_out: int, lead_s: float, closing: frozenset[str] | None = None,
                own_rest: bool = True, formants: tuple[np.ndarray, np.ndarray] | None = None,
                shut_pause_s: float = 0.4
                ) -> tuple[Targets, "Articulation", list[str]]:
    """Every output frame's target mouth from the dub's phones, in this speaker's units.

    Parameters
    ----------
    clip_features: (T, 2) the clip's gap and width per frame (eye distances; NaN where no face).
    clip_labels: (T,) viseme class heard in the clip's own sound per clip frame, or None (no sound).
    dub_phones: the dub's timed phones (:class:`~lipsync_studio.sync.phones.PhoneSegments`).
    dub_level: (C,) the dub's loudness per 10 ms column in [0, 1].
    fps, n_out: the output's frame rate and frame count; lead_s: how far the mouth leads the sound (s).
    closing: phones that shut the lips (default :data:`~lipsync_studio.sync.visemes.LIP_CLOSING`).
    own_rest: the mouth a short pause drifts toward is the speaker's own resting mouth (see
        :func:`viseme_targets`); False: shut lips.
    shut_pause_s: pauses at least this long shut the lips whatever the speaker's resting mouth; shorter ones are
        bridged by the phones around them (:data:`~lipsync_studio.sync.visemes.BRIDGING_REST`: held at the resting
        mouth from 0.2 s, the plan's opening / width r / shut share were 0.510 / 0.391 / 0.583, bridged 0.534 /
        0.403 / 0.583, the rendered cross-reconstruction's (``bench/xrecon_frozen.py``) 0.468 / 0.375 / 0.562 and
        0.489 / 0.394 / 0.564). Timed at the
        speaker's own lead, the real lips of six talking heads were shut in 0.42 of the dub's pause frames (0.15 in
        short silences, 0.04-0.09 in open vowels; at the old fixed 40 ms lead the pauses missed the real closures:
        0.17). On the plan (``bench/plan_lab.py``): own resting mouth everywhere 0.434/0.418/0.64 (opening, width,
        shut), every pause shut 0.433/0.418/0.73 with 49 % of the frames shut (real speech: about a third), long
        pauses (0.4 s) shut and shorter ones resting 0.451/0.418/0.73 with 46 %.
    formants: optional (z_f1, z_f2) per output frame (:func:`~lipsync_studio.sync.acoustics.formant_deviation`):
        within a phone's class, the sound itself says how open and how spread (an /a/ said with a wider jaw has a
        higher F1): :data:`F1_OPENING`, :data:`F2_SPREAD`. Shut and resting frames keep their shape.

    Returns
    -------
    targets (gap, width per output frame), the articulation they come from, the classes taken from the clip.
    """
    from ..visemes import BRIDGING_REST, LIP_CLOSING, articulate, speaker_table

    own_table = speaker_table(clip_labels, clip_features) if clip_labels is not None else {}
    table, rest, own_classes = viseme_targets(clip_features, own_table, own_rest=own_rest)
    art = articulate(dub_phones, fps, n_out, lead_s, level=dub_level, targets=table, rest=rest,
                     closing=LIP_CLOSING if closing is None else closing, shut_pause_s=shut_pause_s,
                     pause_s=shut_pause_s, rest_dominance=BRIDGING_REST)
    gap, width = art.opening, art.spread
    span = float(table["AA"][0] - rest[0])  # shut to the speaker's widest usual vowel
    if formants is not None:
        half = width_range(clip_features)[1]
        z1, z2 = (np.asarray(f[:n_out], np.float64) for f in formants)
        hold = art.closed | art.resting
        gap = np.where(hold, gap, np.maximum(gap + F1_OPENING * span * z1, rest[0])).astype(np.float32)
        width = (width + F2_SPREAD * half * z2).astype(np.float32)
    gap = limit_opening_rate(gap, span, fps)
    targets = Targets(gap=gap, width=width, calibrated_on_clip=bool(own_classes), gain=span, offset=float(rest[0]))
    return targets, art, own_classes


#: How fast a mouth may open: this many times the speaker's opening range (shut to their widest usual vowel) a
#: second, 0.5 of it a frame at 25 fps. Real mouths rarely open faster: on six real talking heads the inner-lip gap
#: rose by more than half its 5-95 % range from one frame to the next in 1 % of frames (95 %: 0.28). The plan
#: jumped from shut to fully open in one frame where a closure released into an open vowel: the largest
#: frame-to-frame change of the drawn mouth fell from 24.9 to 22.7 grey levels (``bench/mouth_jumps.py``, real
#: footage 18.2) with opening / width / shut 0.461 / 0.359 / 0.614 -> 0.461 / 0.363 / 0.613 (a third of the
#: range a frame: 21.2, 0.458 / 0.357 / 0.620).
OPENING_RATE = 12.5


def limit_opening_rate(gap: np.ndarray, span: float, fps: float) -> np.ndarray:
    """``gap`` (K,) with each frame at most ``OPENING_RATE * span / fps`` more open than the one before (closing is
    not limited: lips shut for a p, b or m in one frame)."""
    out = np.array(gap, np.float32)
    step = np.float32(OPENING_RATE * max(span, 0.0) / max(fps, 1e-6))
    if step <= 0:
        return out
    for k in range(1, len(out)):
        if out[k] > out[k - 1] + step:
            out[k] = out[k - 1] + step
    return out


#: Leads (s) the speaker's own timing is searched over: real mouths move ahead of their sound by a few tens to a
#: couple of hundred milliseconds (the jaw and lips reach a vowel's or closure's shape before it is heard).
LEAD_RANGE_S = (0.0, 0.24)
#: The lead when the clip cannot tell (no speech of its own, too few frames, or its mouth does not follow it).
DEFAULT_LEAD_S = 0.1


@dataclass(frozen=True)
class SpeakerLead:
    """How far this speaker's mouth runs ahead of their sound, measured on the clip's own speech.

    Attributes
    ----------
    lead_s: the lead used (s).
    measured: True when it was measured on the clip, False for :data:`DEFAULT_LEAD_S`.
    agreement: Pearson r of the clip's measured lip gap with its own phones' articulation at that lead (NaN when
        not measured).
    """

    lead_s: float
    measured: bool
    agreement: float


def speaker_lead(clip_phones, clip_level: np.ndarray, clip_gap: np.ndarray, fps: float,
                 step_s: float = 0.02, min_frames: int = 30, min_r: float = 0.15) -> SpeakerLead:
    """The lead at which the clip's own phones, articulated, best follow its measured lips.

    People differ in how far their mouth anticipates their sound, and a recording may carry its own small
    audio/video offset; both are the same for the dub, since the same face will say it. On six real talking heads
    the best lead ran from 0.08 to 0.24 s (mean articulation-vs-lips r 0.09 at 0 s, 0.30 at 0.16 s) and planning
    the dub at each clip's own lead raised the cross-reconstruction plan's opening r from 0.35 to 0.42 and its
    shut-frame agreement from 0.50 to 0.62 (``bench/plan_lab.py``) against a fixed 40 ms. (Those halves, written by
    the measuring tool, carried 64 ms of unmarked AAC priming that was read as lead until the sound was read
    without it, :func:`~lipsync_studio.media.audio.load_audio`: the plan's opening r at no lag then rose from 0.40
    to 0.44, 0.46 with ``min_frames`` 30, and the rendered mouth's best lag against the real one lay within +-1
    frame in 9 of 12 directions, not 5.)

    Parameters
    ----------
    clip_phones: the clip's own timed phones (:class:`~lipsync_studio.sync.phones.PhoneSegments`), or None.
    clip_level: (C,) the clip sound's loudness per 10 ms column in [0, 1].
    clip_gap: (T,) the clip's measured inner-lip gap per frame (NaN where no face).
    fps: the clip's frame rate.
    step_s: the search step; min_frames: measured frames inside speech needed to measure (30, 1.2 s at 25 fps:
        a 3.5 s half of a real talking head with 2 s of speech was left at the default 0.1 s where its own
        speech said 0.24 or more, and 0.30 fitted its dub best);
    min_r: the best agreement must reach this, or the lips do not follow the sound well enough to time them by it.

    Returns
    -------
    :class:`SpeakerLead` (the default where the clip cannot tell).
    """
    from ..visemes import lead_agreement

    default = SpeakerLead(DEFAULT_LEAD_S, False, float("nan"))
    gap = np.asarray(clip_gap, np.float64)
    ok = np.isfinite(gap)
    if clip_phones is None or not len(clip_phones) or ok.sum() < min_frames or gap[ok].std() < 1e-4:
        return default
    speech = np.array([p != "SIL" for p in clip_phones.labels])
    if float(np.sum((clip_phones.end - clip_phones.start)[speech])) * fps < min_frames:
        return default
    leads = np.arange(LEAD_RANGE_S[0], LEAD_RANGE_S[1] + 1e-9, step_s)
    r = lead_agreement(clip_phones, clip_level, gap, fps, leads)
    best = int(np.argmax(r))
    if r[best] < min_r:
        return default
    return SpeakerLead(float(round(leads[best], 3)), True, float(r[best]))


def choose_bank(features: np.ndarray, present: np.ndarray, max_frames: int, run: int = 6) -> np.ndarray:
    """Clip frames kept as mouth donors: all of them if they fit, else runs spread over the clip plus
    runs around the most open and most closed mouths (so every shape the speaker makes is available)."""
    idx = np.flatnonzero(present)
    if len(idx) <= max_frames:
        return idx
    n_runs = max(1, max_frames // run)
    gap = np.nan_to_num(features[:, 0], nan=0.0)
    order = idx[np.argsort(gap[idx])]
    k = n_runs // 6  # order[-0:] would be all: under 36 frames (a lower face of over 7 MB, filling a 4K frame) failed
    extremes = np.concatenate([order[:k], order[len(order) - k:]])
    spread = idx[np.linspace(0, len(idx) - 1, n_runs - len(extremes)).astype(int)]
    starts = np.unique(np.concatenate([spread, extremes]))
    frames = np.unique(np.clip(starts[:, None] + np.arange(run)[None, :], 0, len(present) - 1).ravel())
    return frames[present[frames]][:max_frames]


def relative_detail(detail: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """Each frame's mouth sharpness relative to the clip's, in natural-log units (0: as sharp as the clip's
    median; -0.69: half as sharp), robust to lighting (a ratio) and to the mouth's shape (the log is taken
    relative to a line fitted against the inner-lip gap, since an open mouth has more edges than a shut one).

    Parameters
    ----------
    detail: (T,) mouth detail per frame (Laplacian variance; NaN or <= 0 where unmeasured).
    gap: (T,) inner-lip gap per frame (eye distances; NaN where absent).

    Returns
    -------
    (T,) float64; 0 where unmeasured (no preference), so a clip without measures plans as before.
    """
    ok = np.isfinite(detail) & (detail > 0) & np.isfinite(gap)
    out = np.zeros(len(detail))
    if ok.sum() < 8:
        return out
    ld = np.log(detail[ok])
    g = gap[ok]
    if g.std() > 1e-3:
        # a robust line: fitted, then refitted without the frames that lie far off it (blurred ones)
        slope, icpt = np.polyfit(g, ld, 1)
        res = ld - (slope * g + icpt)
        inl = np.abs(res - np.median(res)) <= 2.5 * (np.median(np.abs(res - np.median(res))) + 1e-6)
        if inl.sum() >= 8:
            slope, icpt = np.polyfit(g[inl], ld[inl], 1)
        res = ld - (slope * g + icpt)
    else:
        res = ld
    out[ok] = res - np.median(res)
    return out


def detail_at_one_scale(detail: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Each frame's relative mouth sharpness (:func:`relative_detail`, log units) as it would be at the clip's
    median face size: a mouth drawn into a frame where the face is ``m`` times larger is magnified, and its
    Laplacian's variance per pixel falls by ``m**4`` (every frequency scaled by ``1/m``). The other way it rises as
    much: a close-up's mouth made smaller is never softer than the frame's own, so it costs nothing.

    Measured per pixel, the mouths of a wide shot read sharper than a close-up's (KatieHill as a second camera's
    wide shot at 0.6x: +0.72), so a close-up took wide-shot donors freely and drew them magnified 1.65x: its
    mouths kept 0.69 of the close-up's sharpness at the median, 0.18 in the worst tenth (the clip alone: 1.02,
    0.30). Compared at one size, a donor from a smaller face costs what its magnification loses.

    Parameters
    ----------
    detail: (T,) :func:`relative_detail` (0 where unmeasured).
    scale: (T,) face size per frame (frame pixels per reference pixel; NaN where absent).

    Returns
    -------
    (T,) float64: ``detail + 4 log(scale / median scale)`` where the scale is known, ``detail`` elsewhere.
    """
    s = np.asarray(scale, np.float64)
    ok = np.isfinite(s) & (s > 0)
    out = np.asarray(detail, np.float64).copy()
    if ok.any():
        ls = np.log(s[ok])
        out[ok] += 4.0 * (ls - np.median(ls))
    return out


def schedule_donors(targets: Targets, sources: np.ndarray, features: np.ndarray, bank: np.ndarray,
                    n_candidates: int = 24, jump_cost: float = 2.5, own_bonus: float = 0.6,
                    sigma: tuple[float, float] = (0.03, 0.02), target_labels: np.ndarray | None = None,
                    clip_labels: np.ndarray | None = None, class_cost: float = 1.0,
                    detail: np.ndarray | None = None, detail_cost: float = 5.0,
                    turn: np.ndarray | None = None, turn_sigma: float = 0.3, shut_sigma: float = 0.01,
                    chin: np.ndarray | None = None, chin_sigma: float = 0.07,
                    shut_width_sigma: float = 0.06, turn_free: float = 0.15,
                    turn_steep: float = 0.05, teeth: np.ndarray | None = None, looks: np.ndarray | None = None,
                    look_cost: float = 0.4, look_scale: float = 8.0) -> np.ndarray:
    """The donor of every output frame: a clip frame index, or :data:`OWN`.

    Parameters
    ----------
    targets: per output frame target shapes.
    sources: (K,) clip frame shown at each output frame.
    sigma: the shape mismatch (gap, width; eye distances) that costs 1. Width weighs more than the gap: the
        drawing opens or closes a donor to any gap but moves its corners at most 8 %, so the donor's own width is
        what is seen (on six real talking heads, the width FaceMesh reads on the chosen donors followed the real
        mouth at r 0.30 with 0.02, 0.19 with 0.04; the gap left to the warp grew from 0.011 to 0.014).
    shut_sigma: the gap sigma where the target shuts the lips: a donor whose lips really meet, not a nearly shut
        one pressed together by the warp (which leaves a hair of a gap and squeezes its lips): on six real talking
        heads, FaceMesh read the chosen donor shut on 0.93 of such frames at 0.03, 0.97 at 0.01.
    shut_width_sigma: the width sigma where the target shuts the lips. Shut lips before a rounded vowel are planned
        narrow; at the open frames' 0.02 a pouted donor whose lips stay parted won over shut lips of a relaxed
        width, and the frame showed parted lips and teeth on the dub's m (on six real talking heads 54 of 403
        truly shut frames were planned shut but read open). At 0.06: 23; shut share 0.59 -> 0.66, opening r
        0.447 -> 0.459, width r 0.313 -> 0.292 (noise +-0.03; 0.04: 0.62/0.310, 0.1: 0.64/0.285).
    features: (T, 2) the clip's gap and width per frame (NaN where no face).
    bank: clip frames available as donors.
    target_labels, clip_labels: optional viseme class per output frame and per clip frame: a donor whose own
        sound was of another class costs ``class_cost`` more (in the shape cost's units: squared sigmas).
    detail: optional (T,) mouth sharpness per clip frame in log units (:func:`relative_detail`): a donor softer
        than the output frame's source costs ``detail_cost`` per unit of log ratio (half as sharp: 3.5), shut
        targets too (they paid two thirds while shut donors had to match the width closely, when the full price
        cost shut frames; with ``shut_width_sigma`` it does not). On six real talking heads (looks median
        sharpness / worst tenth; cross-reconstruction opening / width / shut): two thirds for shut targets at 3.0:
        0.929 / 0.493, 0.459 / 0.292 / 0.66; full at 3.0: 0.939 / 0.518, 0.459 / 0.306 / 0.65; 5.0: 0.962 / 0.516,
        0.458 / 0.318 / 0.65; 8.0: 0.956 / 0.529, 0.457 / 0.305 / 0.64 (real frames 1.002 / 0.477).
    turn: optional (T,) yaw proxy per clip frame (:func:`~..mouth.head_turn`): a donor turned ``turn_sigma`` away from
        the output frame's source (0.3: about 23 degrees) costs 1 more, twice that 4 more. Gentle, because the
        drawing puts a donor in the output frame's head turn (:meth:`~..mouth.MouthSpace.turned_shape`), so
        what is left to pay for is what a turn hides (one side of the lips foreshortened); a sharp price kept
        the donors near the output frame in time and off the dub's shapes (opening correlation with the real
        mouth fell from 0.38 to 0.29 on a real clip at 0.05).
    chin: optional (T,) where each clip frame's chin sits beyond what its mouth and turn explain
        (:meth:`~..mouth.MouthSpace.chin_residual`, eye distances): a donor whose chin sits ``chin_sigma`` away
        from the output frame's source costs 1 more. The drawing keeps the frame's own jaw outline and stretches
        or squeezes the lent chin to it; a stretched one loses its skin's detail. On six real heads (looks median
        sharpness; cross-reconstruction opening / width / shut): none 0.940, 0.458 / 0.323 / 0.65; 0.1 0.951,
        0.466 / 0.319 / 0.65; 0.07 0.952, 0.466 / 0.317 / 0.64; 0.05 0.958, 0.459 / 0.308 / 0.62.
    turn_free, turn_steep: beyond ``turn_free`` (0.15: about 11 degrees) each ``turn_steep`` more costs like a
        sigma more, squared (0.25 away: 4 more; 0.3: 9). Put in a frontal frame's turn, a donor turned 17-25
        degrees away drew a twisted mouth and folded its far cheek's outline, with the hair beyond it, over the
        face (Radio2, whose head turns 0.4 across the clip: 88 of 1175 output frames on six real heads took such
        donors, 20 now). Six real heads: opening / width / shut 0.460 / 0.337 / 0.64 -> 0.463 / 0.329 / 0.65,
        looks median sharpness 0.957 -> 0.955, worst tenth 0.527 -> 0.533.
    teeth: optional (T,) teeth showing between each clip frame's lips (eye distances,
        :func:`~.crops.teeth_between_lips`): where the target shuts the lips, a donor's gap counts as its measured
        gap plus that, so lips a hair apart over a band of teeth (which the tracker can read as shut) are not
        drawn for a p, b or m while lips that really meet are there.
    looks: optional (T, D) each clip frame's mouth look (:func:`~.crops.mouth_look`, flattened; NaN rows where
        none): a change from one lent mouth to another costs ``look_cost`` more per ``look_scale`` grey levels of
        mean difference between the two, squared. Donors of the same shape can look unlike each other (a smile's
        raised cheeks, teeth showing, a lip lit from another side), and a change between two such reads as a jump:
        the mouth's mean change from one output frame to the next was 4.40 grey levels at the median, 17.2 at the
        95th percentile and 26.1 at most on six real heads' cross-reconstructions (real footage: 5.25, 12.5,
        18.2). At 0.4: 4.45, 15.8, 24.9; opening / width / shut 0.468 / 0.337 / 0.605 -> 0.461 / 0.359 / 0.614
        (noise about 0.01-0.02: 0.3 gave 0.467 / 0.356 / 0.602, 0.5 0.457 / 0.365 / 0.612, 1.0 0.452 / 0.357 /
        0.602, 2.0 0.450 / 0.339 / 0.576); looks median sharpness 1.026 -> 1.035 (real frames 1.002). Changes to
        or from the frame's own mouth are not priced so: they made the frames keep their own mouth less often,
        and the drawn mouths' median sharpness rose to 1.054.

    Returns
    -------
    (K,) int64 donor frame per output frame (OWN: the source frame's own mouth).
    """
    K = len(sources)
    if K == 0:
        return np.zeros(0, np.int64)
    # Where the target shuts the lips, the teeth showing between a donor's lips count as gap.
    shown = np.zeros(len(features)) if teeth is None else np.nan_to_num(np.asarray(teeth, np.float64), nan=0.0)
    bf = np.nan_to_num(features[bank], nan=0.0)
    bf_shut = bf + np.stack([shown[bank], np.zeros(len(bank))], 1)
    tg = np.stack([targets.gap, targets.width], 1)
    m = min(n_candidates, len(bank))
    shut = float(np.percentile(targets.gap, 5))
    # Per frame: (gap sigma, width sigma); a shut target wants a donor whose lips really meet.
    closing = targets.gap <= shut + 0.005
    sg = np.stack([np.where(closing, shut_sigma, sigma[0]), np.where(closing, shut_width_sigma, sigma[1])], 1)
    cand = np.empty((K, m + 1), np.int64)
    cost = np.empty((K, m + 1))
    for k0 in range(0, K, 4096):  # blocks bound the memory on long clips
        t = tg[k0:k0 + 4096]
        c = (((bf[None, :, :] - t[:, None, :]) / sg[k0:k0 + 4096, None, :]) ** 2).sum(2)
        shuts = np.flatnonzero(closing[k0:k0 + 4096]) if teeth is not None else np.zeros(0, np.int64)
        if len(shuts):
            c[shuts] = (((bf_shut[None, :, :] - t[shuts, None, :]) / sg[k0 + shuts, None, :]) ** 2).sum(2)
        if target_labels is not None and clip_labels is not None:
            c += class_cost * (clip_labels[bank][None, :] != target_labels[k0:k0 + 4096][:, None])
        c += _drawing_cost(sources[k0:k0 + 4096], bank, detail, detail_cost, turn, turn_sigma, turn_free, turn_steep,
                           chin, chin_sigma)
        top = np.argpartition(c, m - 1, axis=1)[:, :m] if m < len(bank) else np.tile(np.arange(m), (len(t), 1))
        cand[k0:k0 + len(t), :m] = bank[top]
        cost[k0:k0 + len(t), :m] = np.take_along_axis(c, top, 1)
    own = np.nan_to_num(features[sources], nan=np.inf)
    own[:, 0] += np.where(closing, shown[sources], 0.0)
    cand[:, m] = OWN
    cost[:, m] = (((own - tg) / sg) ** 2).sum(1) - own_bonus
    if target_labels is not None and clip_labels is not None:
        cost[:, m] += class_cost * (clip_labels[sources] != target_labels)
    cost[~np.isfinite(cost)] = 1e6
    look = _look_levels(looks) if looks is not None and look_cost > 0 else None
    # Viterbi over the candidates: continuing (d -> d+1) or holding (d -> d) is free, OWN -> OWN is free; any other
    # change costs ``jump_cost`` and, with ``looks``, more the less alike the two mouths look.
    acc = cost[0].copy()
    back = np.zeros((K, m + 1), np.int32)
    for k in range(1, K):
        prev, cur = cand[k - 1], cand[k]
        free = (cur[None, :] == prev[:, None]) | (cur[None, :] == prev[:, None] + 1)
        free &= (cur[None, :] != OWN) & (prev[:, None] != OWN)
        free |= (cur[None, :] == OWN) & (prev[:, None] == OWN)
        step = np.where(free, 0.0, jump_cost)
        if look is not None:  # between the lent candidates (the first m; the last is OWN, not priced so)
            unlike = _unlike(look, prev[:m], cur[:m])
            step[:m, :m] += np.where(free[:m, :m], 0.0, look_cost * (unlike / look_scale) ** 2)
        trans = acc[:, None] + step
        back[k] = np.argmin(trans, axis=0)
        acc = trans[back[k], np.arange(m + 1)] + cost[k]
    path = np.empty(K, np.int64)
    s = int(np.argmin(acc))
    for k in range(K - 1, -1, -1):
        path[k] = cand[k, s]
        s = back[k, s]
    return path


def _look_levels(looks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(levels, seen)``: the looks ((T, D) grey levels, NaN rows where none) as int16 (0 where none), and which
    rows hold one. Whole grey levels (what :func:`~.crops.mouth_look` gives) are compared exactly in integers, a
    sixth of the time of the same in float32 (which was most of the schedule's time); other values are rounded."""
    a = np.asarray(looks, np.float64)
    seen = np.isfinite(a).all(1)
    return np.where(seen[:, None], np.round(np.nan_to_num(a)), 0).clip(-16384, 16383).astype(np.int16), seen


def _unlike(look: tuple[np.ndarray, np.ndarray], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) mean absolute difference of every pair of looks of frames ``a`` and ``b`` (0 where either
    frame has none)."""
    levels, seen = look
    d = np.abs(levels[a][:, None, :] - levels[b][None, :, :]).sum(2, dtype=np.int32) / levels.shape[1]
    return np.where(seen[a][:, None] & seen[b][None, :], d, 0.0)


def _drawing_cost(sources: np.ndarray, bank: np.ndarray, detail: np.ndarray | None, detail_cost: float,
                  turn: np.ndarray | None, turn_sigma: float, turn_free: float, turn_steep: float,
                  chin: np.ndarray | None, chin_sigma: float) -> np.ndarray | float:
    """(k, B) what drawing each bank frame into each output frame costs beyond its shape (0.0 without measures)."""
    c = 0.0
    if detail is not None:
        c = c + detail_cost * np.maximum(detail[sources][:, None] - detail[bank][None, :], 0.0)
    if turn is not None:
        d = np.nan_to_num(turn[bank][None, :] - turn[sources][:, None], nan=0.0)
        c = c + (d / turn_sigma) ** 2 + (np.maximum(np.abs(d) - turn_free, 0.0) / turn_steep) ** 2
    if chin is not None:
        c = c + (np.nan_to_num(chin[bank][None, :] - chin[sources][:, None], nan=0.0) / chin_sigma) ** 2
    return c
