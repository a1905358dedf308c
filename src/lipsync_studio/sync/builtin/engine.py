"""The built-in engine: the speaker's own mouths, re-timed to the dub (no downloaded weights).

``prepare``: measure the speaker's mouth in every frame (head-normalised), hear the dub (and the clip's own
sound, to calibrate), plan a target shape per output frame, keep a bank of donor mouths (lower-face crops in
the reference frame, bounded memory), and choose a donor per output frame by dynamic programming (where shapes
tie, a sharp mouth turned like the output frame's head wins: each mouth's sharpness is measured on the tracking
pass and kept beside the cached tracks).

``render``: warp the donor's lower face onto the output frame's head in one bicubic resampling of the donor's
own full-resolution pixels (Lanczos over the lips; its skin just under the nose pinned to the frame's own, its
jaw outline the frame's own moved as this speaker's jaw moves), with the mouth opened or closed the rest of the
way to the target (the clip's most open mouth lends its interior where the donor's own would stretch; only a clip
that never opens gets a drawn one), match its skin and lip colour (Lab) and grain to the frame's own, and blend it
with a feathered mask that is zero outside the lower face and beyond the jaw line.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future
from pathlib import Path

import numpy as np

from ...face.track import LIPS_INNER, LIPS_OUTER, ClipFaces
from ...media.timeline import OutputPlan
from ...media.video import PartialRGB, converted_box
from ..base import Advance, WholeFrameNeeded
from ..mouth import UPPER_INNER, UPPER_INNER_LIP, MouthSpace, apply, head_turn
from ...errors import MediaError
from .planner import (OWN, SpeakerLead, choose_bank, detail_at_one_scale, plan_mouths, relative_detail,
                      schedule_donors, speaker_lead)
from ..wav2lip.engine import FACE_OVAL
from .colour import ColourMatch
from .grain import GrainMatch
from .interior import (OwnInterior, interior_donors, lend_interior, own_interior, plan_interiors, skin_red, squeezed,
                       teeth_light)
from .occlusion import covered_frames, covered_spans, drawing_weight, outside_picture
from .masks import (beside_mouth_not_skin, cover_mouth, face_mask, far_cheek_cut, feathered_mask, hair_reach_cut,
                    lent_face_mask, lip_band_mask, nostril_over_lip, own_corners, skin_mask, under_the_chin)
from .render import (STOCK_TEETH, blend_keeping_grain, close_seam, fill_in, move_outline, near_outline,
                     paint_interior, piecewise_warp, smooth_warp)

#: The smallest inner-lip gap (eye distances) of a mouth open enough to lend its interior (teeth show).
OPEN_ENOUGH = 0.06
#: How far around the lips (eye distances) the mouth box reaches, where the blend keeps the grain at full strength.
MOUTH_MARGIN = 0.05
#: How far around the lips (both the drawn and the frame's own, in pixels) the donor is warped pixel by pixel
#: (:func:`~.render.piecewise_warp`'s ``exact``); beyond, its map is interpolated from a grid every 4 pixels. The
#: interpolation errs within a cell or two of where neighbouring triangles' maps differ sharply: the lips' contours
#: (a sliver of a closed lip line maps onto a band of the donor's) and their corners.
EXACT_REACH = 12
#: How far beyond the box the frame's own face would be drawn in (:func:`face_cut_box`, eye distances)
#: :meth:`BuiltinEngine.reads` reaches: a mouth change moves the drawn box by a few tenths at most (a dropped jaw), a
#: turned head's own jaw surroundings :data:`JAW_REACH` plus one and a half times the jaw's move beyond its outline.
#: On six real heads' cross-dubs (1180 frames) the drawn box reached 0.53 beyond it at most (a turned head's jaw
#: moved), 0.49 in one frame of a thousand; what reaches further is drawn again from the whole frame
#: (:class:`~..base.WholeFrameNeeded`).
READ_MARGIN = 0.6
#: The head turn (:func:`~..mouth.head_turn`, about 6 degrees) from which a lent face is checked for what beside its
#: mouth is not skin (:func:`~.masks.beside_mouth_not_skin`).
TURNED = 0.08
#: How far around the frame's own mouth corners (eye distances) the lent face covers the frame's, and how far before
#: the lent region's edge that fades out (:func:`~.masks.cover_mouth`): a smile's crease there, beside a narrower drawn
#: mouth, hung in the cheek. 0.15 left part of KatieHill's crease, 0.22 drew the disc's edge in the skin with the fade
#: at 0.04 (the lips' own), no crease and no edge at 0.2 with a 0.08 fade.
OWN_CORNER_REACH = 0.2
OWN_CORNER_EDGE = 0.08
#: How far past the frame's own chin (eye distances) the lent neck reaches, fading (:func:`~.masks.under_the_chin`).
UNDER_CHIN = 0.08
#: How far (eye distances) outside the jaw outline, beyond the move itself, the frame's own pixels move with its jaw
#: under a lent lower face (:func:`~.render.move_outline`).
JAW_REACH = 0.15
#: The same inside the jaw outline: the skin there is the lent face's but where it fades out (beside the mouth of a
#: turned head), and moved skin read softer there (six real heads' mouth sharpness, worst tenth, 0.544 -> 0.525 at
#: 0.15).
JAW_INNER = 0.03
#: How far (eye distances) the frame's own jaw outline may follow a lent one beyond where this speaker's jaw goes for
#: the mouth change (:meth:`~..mouth.MouthSpace.moved_jaw`). A donor turned the other way from the frame (Radio2
#: A->B 77-82: frame -0.08, donor +0.18) has its far cheek's outline up to 0.29 eye distances inside the frame's once
#: put in the frame's turn, and moving the frame's jaw edge that far pulled the hair or background beside the cheek
#: into the face, a dark notch (also KatieHill B->A 31, 41-46, 99; Radio2 B->A 67-73). Of 714 lent frames on six
#: real heads whose jaw follows, the lent outline lay more than 0.1 from the speaker's own moved jaw in 62, more than
#: 0.15 in 20 (the jaw's own move for the change: 0.1 at most). At 0.06 the notches are gone and the frames where the
#: follow removed a second jaw line (KatieHill A->B 5, 14, 27) look as before; 0.1 left a dent at Radio2 A->B 79.
JAW_FOLLOW_MAX = 0.06
#: A frame turned this much (:func:`~..mouth.head_turn`; 0.12 about 9 degrees) starts to keep its own far cheek
#: beyond the mouth under a lent face, fully from the second value (15 degrees) on (:func:`~.masks.far_cheek_cut`):
#: from :data:`FAR_CHEEK_START` eye distances beyond the farther far corner (the drawn mouth's or the frame's own),
#: fading over :data:`FAR_CHEEK_FADE`. Looked at on six real heads' turned frames: at 0.1 the specks of KatieHill
#: B->A 74-77 went but not those of A->B 37-38, whose own open mouth reaches past the drawn one; at 0.05 both went, at 0
#: the frame's own lip corner showed beside the drawn one.
FAR_CHEEK_TURN = (0.12, 0.2)
FAR_CHEEK_START = 0.05
FAR_CHEEK_FADE = 0.06


def pin_to_nose(space: MouthSpace, shape: np.ndarray, own: np.ndarray) -> np.ndarray:
    """``shape`` (468, 2, normalised) with its lower-face region's points between the nose and the upper lip moved
    onto ``own``'s (the frame's own shape): fully along the region's top edge (just under the nose), fading to none
    at the upper lip's top (the lips never move).

    A donor whose head is pitched unlike the frame's (the similarity that normalises each frame fits no pitch)
    sits a little high or low under the frame's nose: lower, the region's top edge fell below the frame's own upper
    lip, whose top then showed through the feather as a red line above the new lip; higher, the donor's nostrils
    came in. Pinned, the lent skin under the nose stretches to meet the frame's, and the mouth stays the donor's.
    """
    ref = space.reference
    pts = space.region
    top, lip = ref[pts, 1].min(), ref[list(LIPS_OUTER), 1].min()  # the region's top edge, the Cupid's bow's peaks
    w = np.clip((lip - ref[pts, 1]) / max(lip - top, 1e-6), 0.0, 1.0)
    w[np.isin(pts, LIPS_OUTER)] = 0.0
    if not np.isfinite(own[pts]).all():
        return shape
    out = shape.copy()
    out[pts] += (w * w * (3 - 2 * w))[:, None] * (own[pts] - shape[pts])
    return out


#: What :func:`hear_ahead` started, by the two files it hears (at most one entry: a later call replaces it).
_AHEAD: dict = {}
_AHEAD_LOCK = threading.Lock()


def _sounds_key(clip: Path, dub: Path) -> tuple | None:
    """The two files as they are now (resolved path, size, modification time); None if either cannot be read."""
    try:
        return tuple((str(Path(p).resolve()), st.st_size, st.st_mtime_ns) for p in (clip, dub)
                     for st in (os.stat(p),))
    except OSError:
        return None


def _hear(clip: Path, dub: Path):
    """(the dub's samples, the clip's or None, the phones of both being heard in another process).

    The phones of both sounds are kept in the analysis cache, keyed by their samples: a clip dubbed into several
    languages (a batch, the app's runs) is heard once, and so is a dub synced again (other settings, another take
    of the clip): 0.3 CPU-s per 10 s of sound each time otherwise, and a sync whose faces come from the cache
    waited 0.6 s for a 12 s dub's phones (the recognizer gives a sound the same phones whatever it heard before,
    defa264). A dub changed anywhere is heard anew."""
    from ...media.audio import load_audio, warn_if_silent
    from ..phones import cached_phones, recognize_phones_async, store_phones

    dub_wav = load_audio(dub, sr=16000, voice=True)
    warn_if_silent(dub_wav, dub)
    try:
        clip_wav = load_audio(clip, sr=16000, at_picture=True, voice=True)
    except MediaError:  # a clip without sound: no speaker table
        clip_wav = None
    sounds = [dub_wav] + ([clip_wav] if clip_wav is not None else [])
    known = [cached_phones(wav) for wav in sounds]
    missing = [k for k, phones in enumerate(known) if phones is None]

    def completed(got):
        heard = list(known)
        for k, phones in zip(missing, got):
            store_phones(sounds[k], phones)  # before the phones are handed on: a next sync finds them
            heard[k] = phones
        return heard

    if not missing:
        done: Future = Future()
        done.set_result(known)
        return dub_wav, clip_wav, done
    return dub_wav, clip_wav, _then(recognize_phones_async(*(sounds[k] for k in missing)), completed)


def _then(fut: Future, fn) -> Future:
    """A future of ``fn(fut.result())``, done once ``fut`` is (its error passed on)."""
    out: Future = Future()

    def done(f: Future) -> None:
        try:
            out.set_result(fn(f.result()))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits for it
            out.set_exception(exc)

    fut.add_done_callback(done)
    return out


def hear_ahead(clip: Path, dub: Path, engine: str = "builtin", dub_offset_ms: float = 0.0) -> None:
    """Start hearing ``dub`` and ``clip``'s own sound now, in the background, for a sync of the two that is about
    to start: the built-in engine's :meth:`BuiltinEngine.begin` takes it up if the files are still the same.
    Nothing is started for a sync that would not ask: ``engine`` (a name as the user gives it, ``auto`` too) runs as
    another engine, or the dub is shifted (``dub_offset_ms``: the sync hears a shifted copy).

    The command line calls it before it looks at the clip's pictures for a stereo packing (0.17 s of a 10 s 720p
    sync, with a core to spare). The phones are on a sync's critical path: heard beside the face tracking, which
    has first call on both cores, they came 0.2-0.3 s after it, and the planning waited for them. A sync that
    never asks (another engine, a stereo or VR view heard from another file, an error first) leaves them unused.
    """
    from ...media.prefetch import run_in_helper
    from ...media.warnings import collecting_media_warnings
    from ..registry import runs_as

    if dub_offset_ms or runs_as(engine) != "builtin":
        return
    key = _sounds_key(clip, dub)
    if key is None:
        return

    def heard_and_noted():
        with collecting_media_warnings() as notes:  # said again by the sync that takes them up
            return _hear(clip, dub), notes

    started = run_in_helper(heard_and_noted, name="hear-ahead")
    with _AHEAD_LOCK:
        _AHEAD.clear()
        _AHEAD[key] = started


def _heard_ahead(clip: Path, dub: Path):
    """What :func:`hear_ahead` started for these very files (its media notes said now, in this sync), or None."""
    from ...media.warnings import warn_media

    key = _sounds_key(clip, dub)
    with _AHEAD_LOCK:
        started = _AHEAD.pop(key, None) if key is not None else None
    if started is None:
        return None
    try:
        heard, notes = started.result()
    except Exception:  # noqa: BLE001 - heard again by the caller, whose error the user then sees
        return None
    for note in notes:
        warn_media(note)
    return heard


class BuiltinEngine:
    """Lip-sync from the clip's own mouths; implements :class:`~lipsync_studio.sync.base.LipSyncEngine`.

    Parameters
    ----------
    bank_bytes: memory for the donor bank.
    lead_s: how far the mouth leads the sound (s); None: this speaker's own lead, measured on the clip's own
        speech where it has any (:func:`~.planner.speaker_lead`).
    """

    name = "builtin"

    def __init__(self, bank_bytes: int = 256 << 20, lead_s: float | None = None) -> None:
        self.bank_bytes = bank_bytes
        self.lead_s = lead_s
        self.space: MouthSpace | None = None
        self.info: dict = {}
        self.crops = None
        self.info_bank_from_crops = 0
        #: What of each decoded clip frame is this engine's picture (e.g. one eye of a packed stereo frame).
        self.frame_view = None
        #: ``x0, y0, x1, y1`` of the pixels the last :meth:`render` may have changed.
        self.last_box: tuple[int, int, int, int] | None = None
        #: The alpha ((H, W) uint8) of the picture :meth:`render` draws on next (a transparent photo's, a keyed
        #: video frame's), moved with the face as it is drawn; None: opaque pictures.
        self.carried: np.ndarray | None = None
        #: The last :meth:`render`'s alpha with :attr:`carried` (None: the frame left as it was, or no alpha).
        self.last_alpha: np.ndarray | None = None
        self._bled: tuple[np.ndarray, np.ndarray] | None = None

    def _under_alpha(self, photo: np.ndarray) -> np.ndarray:
        """A transparent picture with the face's colours carried out under its transparent pixels (a photo's once:
        its every frame is the same picture, with the same alpha). A jaw drawn lower moves the outline out over
        them: what the photo hid there (its old background, black, anything) showed as a fringe along the new
        chin."""
        if self._bled is None or self._bled[1] is not self.carried or self._bled[0].shape != photo.shape:
            import cv2

            clear = (self.carried < 8).astype(np.uint8)
            bled = np.ascontiguousarray(photo).copy()
            if clear.any() and not clear.all():
                _, labels = cv2.distanceTransformWithLabels(clear, cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL)
                lut = np.zeros((labels.max() + 1, 3), np.uint8)
                lut[labels[clear == 0]] = bled[clear == 0]
                bled[clear > 0] = lut[labels[clear > 0]]
            self._bled = (bled, self.carried)
        return self._bled[0]

    def frame_observer(self):
        """What the tracker should call with every frame it decodes: the lower faces are kept (within the bank's
        memory), so :meth:`prepare` fills the donor bank without reading the clip again."""
        from .crops import FaceCrops

        self.crops = FaceCrops(self.bank_bytes)
        return self.crops.keep

    # -- hearing (runs beside face tracking) ----------------------------------------------------------
    def begin(self, clip: Path, dub: Path, script: Path | None = None, script_lang: str = "en",
              like: "BuiltinEngine | None" = None) -> None:
        """Start hearing the dub's and the clip's phones in another process while the faces are tracked
        (:meth:`prepare` collects them; without this call it hears them itself). ``like``: an engine that began on
        these very sounds (a stereo clip's other eye): what it is hearing is shared, not heard again."""
        self.script, self.script_lang = script, script_lang
        if like is not None and getattr(like, "_heard", None) is not None:
            self._dub_wav, self._clip_wav, self._heard = like._dub_wav, like._clip_wav, like._heard
            return
        self._dub_wav, self._clip_wav, self._heard = _heard_ahead(clip, dub) or _hear(clip, dub)

    def _phones(self, clip: Path, dub: Path):
        """(dub wav, dub phones, clip wav or None, clip phones or None), heard now if :meth:`begin` was not called."""
        from ..phones import align_script, read_script
        from ..visemes import rescue_bilabials

        if getattr(self, "_heard", None) is None:  # no begin: heard now, as begin would (the clip's phones cached)
            self._dub_wav, self._clip_wav, self._heard = _hear(clip, dub)
        dub_wav, clip_wav = self._dub_wav, self._clip_wav
        got = self._heard.result()
        dub_ph, clip_ph = got[0], (got[1] if len(got) > 1 else None)
        self._heard = None
        # p/b/m the recognizer heard as w, v or l, found again by how the lips release them.
        dub_ph = rescue_bilabials(dub_ph, dub_wav)
        clip_ph = rescue_bilabials(clip_ph, clip_wav) if clip_ph is not None else None
        script = getattr(self, "script", None)
        if script is not None:
            dub_ph = align_script(dub_wav, read_script(script), getattr(self, "script_lang", "en"), dub_ph)
            if dub_ph.source != "aligned":
                from ...media.warnings import warn_media

                part = "none of it" if dub_ph.source == "recognized" else "only part of it"
                warn_media(f"{Path(script).name}: {part} could be aligned to the dub's speech (is it the dub's text, in "
                           f"the language given?); the mouth follows the phones heard in the dub where it did not")
        return dub_wav, dub_ph, clip_wav, clip_ph

    # -- prepare ------------------------------------------------------------------------------------
    def prepare(self, clip: Path, dub: Path, faces: ClipFaces, plan: OutputPlan,
                advance: Advance | None = None) -> None:
        """Plan every output frame's mouth and fill the donor bank (one pass over the clip)."""
        from ..acoustics import formant_deviation, mouth_from_audio
        from ..visemes import fill_unheard_speech, frame_labels
        from .crops import kept_frames

        track = faces.speaker_track()
        self.plan = plan
        self.sources = np.fromiter((plan.source_index(k) for k in range(plan.n_out)), np.int64, plan.n_out)
        if track is None:
            self.space = None
            self.crops = None
            self._heard = None
            return
        space = MouthSpace.from_track(track)
        self.space = space
        self._jaw_order = along_jaw(space)
        self._jaw = space.jaw[self._jaw_order]  # the jaw outline's points in order along it
        feats = space.features()
        fps = float(plan.fps)
        dub_wav, dub_ph, clip_wav, clip_ph = self._phones(clip, dub)
        dub_track = mouth_from_audio(dub_wav, fps, plan.n_out, 0.0)
        dub_ph = fill_unheard_speech(dub_ph, dub_track.level)
        # The speaker's own timing: how far their mouth runs ahead of their own sound.
        if self.lead_s is not None:
            lead = SpeakerLead(float(self.lead_s), False, float("nan"))
        elif clip_ph is not None:
            clip_level = mouth_from_audio(clip_wav, fps, faces.n_frames, 0.0).level
            lead = speaker_lead(fill_unheard_speech(clip_ph, clip_level), clip_level, feats[:, 0], fps)
        else:
            lead = speaker_lead(None, np.zeros(0), feats[:, 0], fps)
        self.lead = lead
        # The speaker's own visemes: the clip's sound, heard the same way, labels its frames.
        clip_labels = frame_labels(clip_ph, fps, faces.n_frames, lead.lead_s) if clip_ph is not None else None
        formants = formant_deviation(dub_wav, plan.n_out, fps, lead.lead_s)
        self.targets, art, own_classes = plan_mouths(feats, clip_labels, dub_ph, dub_track.level, fps, plan.n_out,
                                                     lead.lead_s, formants=formants)
        self.articulation = art
        self.dub_phones = dub_ph
        # The bank holds each donor's lower face at its own frame's full resolution (warped once, at render).
        pts = space.region_points(space.reference)
        scale = np.hypot(space.pose[space.present, 0, 0], space.pose[space.present, 1, 0])
        size = (pts.max(0) - pts.min(0)) * float(np.percentile(scale, 90) if len(scale) else 1.0) + 6
        crop_bytes = int(np.prod(size)) * 3
        # A clip whose lower faces outgrow the bank's memory lends only what the tracking pass kept of them (runs
        # spread over the clip and around its extreme mouths, KeepPolicy): the same frames whether it kept them on
        # this run or the tracks came from the cache.
        # How each frame's mouth is drawn: sharp donors, turned like the output frame's head, win shape ties.
        measures, looks = self._mouth_measures(clip, track.raw)
        # Frames whose mouth something covers are neither drawn nor lent (occlusion).
        self.covered = covered_frames(measures[:, 2], measures[:, 3], fps, skin=measures[:, 4]) & space.present
        # Frames whose lips the picture's edge cuts are left and not lent alike.
        outside = outside_picture(track.landmarks, faces.width, faces.height) & space.present
        covered = covered_spans(self.covered & ~outside)
        cut = covered_spans(outside)
        self.covered |= outside
        self.weight = drawing_weight(self.covered)
        lends = space.present & ~self.covered
        kept = kept_frames(track.raw, faces.width, faces.height, self.bank_bytes)
        if kept is not None:
            kept = kept[lends[kept]]
        if kept is None or not len(kept):  # all fit (or not one lower face did: read from the clip)
            bank = choose_bank(feats, lends, max(8, self.bank_bytes // crop_bytes))
        else:
            bank = kept
        detail = measures[:, 0]
        self.detail = detail_at_one_scale(relative_detail(detail, feats[:, 0]),
                                          np.where(space.present, np.hypot(space.pose[:, 0, 0], space.pose[:, 1, 0]),
                                                   np.nan))
        self.turn = head_turn(space.normalized)
        self.donors = schedule_donors(self.targets, self.sources, feats, bank, target_labels=art.label,
                                      clip_labels=clip_labels, detail=self.detail, turn=self.turn,
                                      chin=space.chin_residual, teeth=measures[:, 1], looks=looks)
        self.jaw_moves = jaw_moves(self.donors, self.sources, self.turn)
        used = np.unique(self.donors[self.donors != OWN])
        # The clip's open mouths (a few levels of opening) lend their interiors to mouths opened beyond their donor.
        self.interior_donors = interior_donors(feats[:, 0], bank, self.detail, OPEN_ENOUGH)
        self.open_donor = int(self.interior_donors[0]) if len(self.interior_donors) else None
        self.interior_pick, self.interior_paint = self._interiors(self.sources)
        used = np.union1d(used, self.interior_donors)
        self.bank: dict[int, tuple[np.ndarray, int, int]] = {}
        self._frame_size = (faces.width, faces.height)
        self._fill_bank(clip, used, track.raw, advance)
        # A drawn interior takes the colours and the rows of teeth of the clip's widest own one (where the drawing
        # takes over from it).
        self.own_interior = OwnInterior()
        o = self.open_donor
        if o is not None and o in self.bank:
            o_img, ox, oy = self.bank[o]
            self.own_interior = own_interior(o_img, apply(space.pose[o], space.normalized[o][list(LIPS_INNER)])
                                             - [ox, oy], space.eye_dist * float(np.hypot(*space.pose[o][:, 0])))
        self._light_measured = self.own_interior.teeth is not None
        self.features = feats
        self._colour = ColourMatch()
        self._grain = GrainMatch()
        self.info = {"donors_used": int(len(used)), "own_frames": int((self.donors == OWN).sum()),
                     "calibrated_on_clip": self.targets.calibrated_on_clip, "bank_frames": int(len(bank)),
                     "donors_from_tracking": int(self.info_bank_from_crops),
                     "detail_measured": int(np.isfinite(detail).sum()),
                     "phones": len(dub_ph), "phones_from": dub_ph.source,
                     "lead_ms": int(round(1000 * lead.lead_s)), "lead_measured": lead.measured,
                     "speaker_visemes": own_classes, "closures": int(art.closed.sum()),
                     "covered_frames": int(self.covered.sum()),
                     # Clip frames (first, last) left as they are: for a pipeline to act on (QC, a retake).
                     "covered_spans": [list(span) for span in covered],
                     "cut_by_edge_spans": [list(span) for span in cut]}
        from ...media.warnings import warn_media

        if covered:
            warn_media(f"{Path(clip).name}: the mouth is covered or hard to see (something in front of it, a "
                       f"dissolve, a fade to black) in clip frames {_spans_text(covered, fps)}: they are left as they "
                       "are (a mouth drawn there would be drawn over it)")
        if cut:
            warn_media(f"{Path(clip).name}: the picture's edge cuts the lips in clip frames {_spans_text(cut, fps)}: "
                       "they are left as they are")

    def _mouth_measures(self, clip: Path, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(measures, looks)``: (T, 2) every frame's mouth detail (:func:`~.crops.mouth_detail`) and teeth between
        the lips (:func:`~.crops.teeth_between_lips`), and (T, 384) float32 its mouth's look
        (:func:`~.crops.mouth_look`), measured while tracking; when the tracks came from the cache, those kept
        beside them from the run that tracked them, or (none kept) measured now on one decoding pass, so a cache
        hit plans exactly as a miss (NaN where no face)."""
        import hashlib

        from ...media.cache import cache_path, store
        from .crops import LOOK_SIZE, N_MEASURES

        size = LOOK_SIZE[0] * LOOK_SIZE[1]
        measures = np.full((len(raw), N_MEASURES), np.nan)
        looks = np.full((len(raw), size), np.nan, np.float32)
        key = hashlib.sha256(np.ascontiguousarray(raw, np.float32).tobytes()).hexdigest()[:32]
        try:
            # The number of measures in the name: a file from before a measure was added is not this one.
            path = cache_path("mouth_measures", clip, f"{key}-{N_MEASURES}", suffix=".npz")
        except (OSError, MediaError):
            path = None
        present = np.flatnonzero(np.isfinite(raw).all(axis=(1, 2)))
        for attempt in range(2):
            if self.crops is not None:
                for t in present:
                    measures[t], look = self.crops.measures_and_look(int(t), raw[t])
                    if look is not None:
                        looks[t] = look.ravel()
            if attempt or np.isfinite(measures).any() or not len(present) or (path is not None and path.exists()):
                break
            # Tracks from the cache without the measures (cached by another command, or by older code): measure
            # them now, or a cache hit would choose other donors than a miss (the same sync gave Radio2 width r
            # 0.35 in one run and 0.21 in another). The pass also keeps the bank's crops.
            self._keep_crops(clip, raw)
        if path is None:
            return measures, looks
        if np.isfinite(measures).any():
            # A cache that cannot be written costs the next run its preference, nothing else.
            store(path, lambda tmp: np.savez(tmp, measures=measures, looks=np.nan_to_num(looks).astype(np.uint8),
                                             looked=np.isfinite(looks).all(1)))
        elif path.exists():
            try:
                with np.load(path) as got:
                    if got["measures"].shape == measures.shape and got["looks"].shape == looks.shape:
                        measures = got["measures"]
                        looks = np.where(got["looked"][:, None], got["looks"].astype(np.float32), np.float32(np.nan))
            except (OSError, ValueError, KeyError):
                pass
        return measures, looks

    def _keep_crops(self, clip: Path, raw: np.ndarray) -> None:
        """Decode the clip once and keep every tracked frame's lower face and mouth measures, as the tracker's
        :meth:`frame_observer` would have (for tracks that came from the cache)."""
        from ...media.prefetch import prefetch
        from ...media.video import VideoReader
        from .crops import FaceCrops

        present = np.flatnonzero(np.isfinite(raw).all(axis=(1, 2)))
        crops = FaceCrops(self.bank_bytes)
        if len(present):
            wanted = set(present.tolist())
            with VideoReader(clip) as reader:
                for t, img in prefetch(reader.iter_frames(int(present[0]), int(present[-1]) + 1)):
                    if t in wanted:
                        crops.keep(t, self.frame_view(img) if self.frame_view is not None else img, [raw[t]])
        self.crops = crops

    def _donor_box(self, t: int, width: int, height: int) -> tuple[int, int, int, int]:
        """``x0, y0, x1, y1``: the pixels of frame t that the warp of its lower face may read."""
        pts = apply(self.space.pose[t], self.space.region_points(self.space.normalized[t]))
        x0, y0 = np.floor(pts.min(0)).astype(int) - 3
        x1, y1 = np.ceil(pts.max(0)).astype(int) + 4
        return max(int(x0), 0), max(int(y0), 0), min(int(x1), width), min(int(y1), height)

    @property
    def bank_nbytes(self) -> int:
        """Memory held by the donor bank."""
        return sum(c.nbytes for c, _, _ in self.bank.values())

    def _fill_bank(self, clip: Path, frames: np.ndarray, raw: np.ndarray, advance: Advance | None) -> None:
        """Keep each donor's lower face, at full resolution: from the crops kept while tracking where there are
        some, else from the clip (one decoding pass over the missing donors' span)."""
        from ...media.prefetch import prefetch
        from ...media.video import VideoReader

        missing = []
        for t in (int(f) for f in frames):
            kept = self.crops.get(t, raw[t]) if self.crops is not None and np.isfinite(raw[t]).all() else None
            if kept is None:
                missing.append(t)
                continue
            crop, cx, cy = kept
            x0, y0, x1, y1 = self._donor_box(t, *self._frame_size)
            # The warp reads the donor's region (and a pixel around it): it must lie inside the kept crop.
            if x0 < cx or y0 < cy or x1 > cx + crop.shape[1] or y1 > cy + crop.shape[0]:
                missing.append(t)
                continue
            self.bank[t] = (np.ascontiguousarray(crop[y0 - cy:y1 - cy, x0 - cx:x1 - cx]), x0, y0)
        self.info_bank_from_crops = len(frames) - len(missing)
        self.crops = None  # their memory is the bank's now
        if not missing:
            return
        frames = np.asarray(missing)
        wanted = set(missing)
        # The frames between the missing donors are decoded but never converted to RGB, and a donor's frame only
        # within its box (a long clip's crops outgrow the bank's memory from some frame on, and all after it are
        # read again: at 720p the conversions were two thirds of this pass).
        with VideoReader(clip) as reader:
            for t, decoded in prefetch(reader.iter_frames(int(frames.min()), int(frames.max()) + 1, planes=True,
                                                          rgb=False)):
                if t in wanted:
                    if self.frame_view is not None:
                        img = self.frame_view(decoded.rgb)
                        x0, y0, x1, y1 = self._donor_box(t, img.shape[1], img.shape[0])
                    else:
                        x0, y0, x1, y1 = self._donor_box(t, *decoded.shape[1::-1])
                        img = decoded.rgb_within((x0, y0, x1, y1))
                    self.bank[t] = (np.ascontiguousarray(img[y0:y1, x0:x1]), x0, y0)
                if advance is not None:
                    advance(0)

    def _interiors(self, sources: np.ndarray, out_index: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Which interior output frames ``out_index``.. show when drawn into clip frames ``sources``
        (:func:`~.interior.plan_interiors`, decided over the frames)."""
        sp = self.space
        k = np.arange(out_index, out_index + len(sources))
        present = sp.present[sources]
        dg = np.zeros(len(sources))
        for i in np.flatnonzero(present):
            d, s = int(self.donors[k[i]]), int(sources[i])
            dg[i] = sp.gap(sp.normalized[s] if d == OWN else sp.turned_shape(d, s))
        gaps = sp.gap(sp.normalized[self.interior_donors]) if len(self.interior_donors) else np.zeros(0)
        pick, paint = plan_interiors(np.where(present, self.targets.gap[k], 0.0), dg, gaps)
        return pick, paint

    # -- render -------------------------------------------------------------------------------------
    def _change(self, shape: np.ndarray, out_index: int) -> tuple[float, float]:
        """(d_gap, d_width) in eye distances from ``shape``'s mouth to output frame ``out_index``'s target: the
        gap at most closed and at most 0.35 more open, the width (rounding and spreading) at most 8 % either way
        and nothing under 0.004."""
        sp = self.space
        gap, width = float(sp.gap(shape)), float(sp.width(shape))
        d_gap = float(np.clip(float(self.targets.gap[out_index]) - gap, -max(gap, 0.0), 0.35))
        d_width = float(np.clip(float(self.targets.width[out_index]) - width, -0.08 * width, 0.08 * width))
        return d_gap, d_width if abs(d_width) >= 0.004 else 0.0

    def reads(self, out_index: int, src_index: int) -> tuple[int, int, int, int] | None:
        """``x0, y0, x1, y1``: the frame's pixels :meth:`render` may read for output frame ``out_index`` drawn into
        clip frame ``src_index`` (None: none, the frame comes back as it is). Its box, where it draws
        (``last_box``), lies inside: the frame's own lower-face region grown by :data:`READ_MARGIN` eye distances,
        more than any mouth change moves it. Lets the caller convert only those pixels to RGB."""
        sp = self.space
        if sp is None or not sp.present[src_index]:
            return None
        pose = sp.pose[src_index]
        own = sp.normalized[src_index]
        unit = sp.eye_dist * float(np.hypot(*pose[:, 0]))
        lo, hi = face_cut_box(apply(pose, sp.region_points(own)), [apply(pose, own[list(FACE_OVAL)])], unit)
        margin = READ_MARGIN * unit + 8.0
        (x0, y0), (x1, y1) = np.floor(lo - margin), np.ceil(hi + margin)
        return int(x0), int(y0), int(x1), int(y1)

    def render(self, out_index: int, src_index: int, frame: np.ndarray) -> np.ndarray:
        """Output frame ``out_index``: ``frame`` with the mouth the dub needs at that time."""
        self.last_alpha = None
        sp = self.space
        if sp is None or not sp.present[src_index]:
            return frame
        weight = float(self.weight[src_index])
        if weight <= 0.0:  # something covers the mouth: left as it is
            return frame
        donor = int(self.donors[out_index])
        own = donor == OWN
        # A donor's face is put in this frame's head turn first (its mouth would sit off-centre otherwise).
        shape = sp.normalized[src_index] if own else sp.turned_shape(donor, src_index)
        target_gap = float(self.targets.gap[out_index])
        donor_gap = float(sp.gap(shape))
        d_gap, d_width = self._change(shape, out_index)
        if own and abs(d_gap) < 0.01 and d_width == 0.0:
            return frame  # the frame's own mouth already says this
        new_shape = sp.open_shape(shape, d_gap, d_width) if abs(d_gap) >= 0.005 or d_width else shape
        own_shape = sp.normalized[src_index]
        own_jaw = None  # where the frame's own jaw outline goes for this mouth (a lent face's)
        if not own:
            # The face's outline along the jaw is the frame's own, moved as far as this speaker's jaw moves for the
            # change of mouth, and the lent lower face follows it (its lips stay the donor's): with the donor's own
            # jaw, one seen at another pitch or turn drew a second jaw line inside or below the frame's (its neck
            # or its shadow stretched into the face).
            own_jaw = sp.moved_jaw(own_shape, *self._change(own_shape, out_index))
            new_shape = sp.follow_jaw(new_shape, own_jaw)
            # Between the nose and the upper lip the lent face meets the frame's own, whatever its pitch.
            new_shape = pin_to_nose(sp, new_shape, own_shape)
        pose = sp.pose[src_index]
        dst = apply(pose, sp.region_points(new_shape))
        if own:
            src_img = frame if self.carried is None else self._under_alpha(frame)
            src = apply(pose, sp.region_points(shape))
        else:
            src_img, cx, cy = self.bank[donor]
            # One map from the donor's own pixels to this frame: its pose and the shape change composed.
            src = apply(sp.pose[donor], sp.region_points(sp.normalized[donor])) - [cx, cy]
        ovals = [apply(pose, own_shape[list(FACE_OVAL)]), apply(pose, new_shape[list(FACE_OVAL)])]
        face_scale = float(np.hypot(*pose[:, 0]))  # frame pixels per reference pixel
        unit = sp.eye_dist * face_scale  # an eye distance in this frame's pixels
        # The box: the region, cut to the face (beyond the jaw line the frame's own pixels stay, so the blend
        # can never pull the donor's background into the face, and no time goes into warping it), and under the
        # chin as far as the lent neck reaches past the frame's own chin (under_the_chin).
        h, w = frame.shape[:2]
        lo, hi = face_cut_box(dst, ovals, unit)
        x0, y0 = np.floor(lo).astype(int) - 2
        x1, y1 = np.ceil(hi).astype(int) + 2
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 < 8 or y1 - y0 < 8:
            return frame
        if isinstance(frame, PartialRGB):  # converted where reads() said
            reach = 0
            if own:  # its own pixels, moved: read as far from the box as any point moves, and the filter's taps
                reach = int(np.ceil(np.abs(dst - src).max())) + 4
            if not frame.holds((x0 - reach, y0 - reach, x1 + reach, y1 + reach)):
                raise WholeFrameNeeded(f"frame {src_index}: drawn in {(x0, y0, x1, y1)} from {reach} px around it, "
                                       f"given {frame.valid}")
        origin = np.array([x0, y0], np.float64)
        outer = apply(pose, new_shape[list(LIPS_OUTER)]) - origin
        own_outer = apply(pose, own_shape[list(LIPS_OUTER)]) - origin
        # The lips and a twentieth of an eye distance around them (where a viewer looks): the blend keeps both images'
        # grain at full strength there.
        lips = np.vstack([outer, own_outer])
        mouth_box = (*np.floor(lips.min(0) - MOUTH_MARGIN * unit).astype(int),
                     *np.ceil(lips.max(0) + MOUTH_MARGIN * unit).astype(int))
        exact = (*np.floor(lips.min(0) + origin).astype(int) - EXACT_REACH,
                 *np.ceil(lips.max(0) + origin).astype(int) + EXACT_REACH)
        warped, cover, inside = piecewise_warp(src_img, src, dst, sp.triangles, (x0, y0, x1, y1), split_cover=True,
                                               keep_turned=~sp.outline_triangles, exact=exact)
        chin_x, chin_half = float(own_outer[:, 0].mean()), 0.5 * float(np.ptp(own_outer[:, 0]))
        if own:
            face = face_mask([o - origin for o in ovals], cover.shape, 0.02 * unit)
        else:  # the donor's hair or background beside its face stays out of this frame's face
            face = lent_face_mask(ovals[0] - origin, ovals[1] - origin, cover.shape, 0.02 * unit, chin_x, chin_half,
                                  0.08 * unit)
        feather = feathered_mask(cover, 0.12 * unit)
        if not inside.all():  # the donor's frame ends (its chin below its bottom): a short fade before its edge
            cover &= inside
            feather *= feathered_mask(inside, 0.02 * unit)
        alpha = feather * face
        region = frame[y0:y1, x0:x1]
        t_frame = float(np.nan_to_num(self.turn[src_index]))
        t_donor = t_frame if own else float(np.nan_to_num(self.turn[donor]))
        turned = not own and max(abs(t_frame), abs(t_donor)) >= TURNED
        # The far side: the frame's, or a frontal frame's donor's.
        far = (1 if (t_frame if abs(t_frame) >= TURNED else t_donor) > 0 else -1) if turned else 0
        # The lips sit close under the region's top edge, inside its feather: both mouths (the new one and the
        # frame's own) are covered fully, or a half-blended upper lip reads as a pale double. Around the frame's own
        # corners too: a smile's dimple or crease beside a wider own mouth was left hanging in the cheek beside the
        # narrower drawn one (KatieHill B->A 0, 77, 89: a dark curve a tenth of an eye distance out from the corner).
        cover_mouth(alpha, cover & (face > 0.5), [outer, own_outer], 0.04 * unit,
                    corners=None if own else own_corners(own_outer, far), corner_reach=OWN_CORNER_REACH * unit,
                    corner_edge=OWN_CORNER_EDGE * unit)
        if not own:
            lips_box = (*np.maximum(np.floor(outer.min(0)).astype(int) - 3, 0),
                        *np.minimum(np.ceil(outer.max(0)).astype(int) + 4, [x1 - x0, y1 - y0]))
            new_lips = lip_band_mask(outer, apply(pose, new_shape[list(LIPS_INNER)]) - origin, alpha.shape,
                                     soft=1.0, box=lips_box)
            own_lips = lip_band_mask(own_outer, apply(pose, own_shape[list(LIPS_INNER)]) - origin, alpha.shape) > 0.5
            skin = skin_mask(alpha, [outer, own_outer], 0.06 * unit)
            warped = self._colour.apply(warped, region, skin, new_lips, own_lips, lips_box, source=donor)
            warped = self._grain.apply(warped, region, skin, source=donor)
        # Under a risen chin the lent neck covers the frame's own chin edge (a second chin line otherwise); after
        # the colour and grain are matched on the face's skin, which the neck is not.
        neck = under_the_chin(ovals[0] - origin, alpha.shape, UNDER_CHIN * unit, chin_x, chin_half)
        np.maximum(alpha, feather * neck, out=alpha)
        if not own:
            # Beside the mouth, what of the lent face is not skin gives way to the frame's own pixels: the hair or
            # background beyond a donor's cheek, put in a turned head's turn, drew a dent with a dark mark at the far
            # cheek's edge beside the mouth corner (Radio2 B->A 58-60, 83) or a grey patch at the jaw (EdMarkey A->B
            # 77), which FaceMesh's face oval (lying beyond the visible cheek there) does not keep out. A face
            # turned less than ~6 degrees, as lent and as drawn, has its cheeks' edges far from its mouth.
            if turned:
                not_skin = beside_mouth_not_skin(warped, skin, outer, unit, ovals[1] - origin)
                if not_skin is not None:
                    alpha *= 1 - not_skin
                    # Where the donor's hair reaches in from the far outline, the lent face ends along a smooth line
                    # before it (hair_reach_cut).
                    cut = hair_reach_cut(not_skin, ovals[1] - origin, unit,
                                         float(outer[:, 0].max() if far > 0 else outer[:, 0].min()), far)
                    if cut is not None:
                        alpha *= cut
                # A turned frame keeps its own far cheek beyond the mouth (far_cheek_cut), more as it turns more.
                begin, full = FAR_CHEEK_TURN
                keep = float(np.clip((abs(t_frame) - begin) / (full - begin), 0.0, 1.0))
                if keep > 0:
                    cut = far_cheek_cut(alpha.shape, outer, own_outer, far, FAR_CHEEK_START * unit,
                                        FAR_CHEEK_FADE * unit)
                    alpha *= 1.0 - np.float32(keep) * (1.0 - cut)
            # A donor's nostril or nose shadow drawn over the upper lip is filled in from the lent skin around it:
            # a turned donor's, and a frontal one's whose smile lifts its lip close under its nose (KatieHill B->A
            # 33-35, 67-69: a dark notch on a frontal frame's philtrum).
            nostril = nostril_over_lip(warped, cover, outer, unit)
            if nostril is not None:
                fill_in(warped, nostril)
        # Closed most of the way from a wide opening, the donor's teeth squeeze into a jagged white bar: shut lips
        # show only the dark where they meet; parted ones get the interior of the clip's narrowest open mouth (below).
        inner = apply(pose, new_shape[list(LIPS_INNER)]) - origin
        if squeezed(target_gap, donor_gap) and target_gap < 0.02:
            close_seam(warped, inner, new_lips if not own else lip_band_mask(outer, inner, alpha.shape))
        # Much more opening than the donor has: a real interior is lent whole, from the open frame nearest the
        # target's opening, or (a clip that never opens) one is drawn; decided over the frames in prepare. One
        # interior at a time: two blended read as a double image.
        if src_index == self.sources[out_index]:
            pick, may_paint = int(self.interior_pick[out_index]), bool(self.interior_paint[out_index])
        else:  # drawn into another frame than planned: decided for this frame alone
            one_pick, one_paint = self._interiors(np.array([src_index]), out_index)
            pick, may_paint = int(one_pick[0]), bool(one_paint[0])
        lent = False
        if pick >= 0:
            o = int(self.interior_donors[pick])
            o_img, ox, oy = self.bank[o]
            o_inner = apply(sp.pose[o], sp.normalized[o][list(LIPS_INNER)]) - [ox, oy]
            lent = lend_interior(warped, inner, o_img, o_inner, 1.0, shrink=max(0.5, 0.015 * unit))
        if not lent and may_paint:
            upper = apply(pose, new_shape[list(UPPER_INNER_LIP)]) - origin
            # In the clip's own colours and rows of teeth; its lower teeth as tall as its own interior shows them
            # where the drawing takes over (stretched twice: pick_interior).
            if not self._light_measured:
                # No teeth of its own to take the colour of: drawn ones in the face's own light (a dim photo's teeth
                # are dim), measured once, on the first frame drawn so (a photo's every frame).
                self._light_measured = True
                red = skin_red(region, own_outer, unit)
                self.own_interior = self.own_interior._replace(light=teeth_light(red, STOCK_TEETH))
            own_in = self.own_interior
            paint_interior(warped, inner, upper, max(target_gap, 0.0) * unit,
                           float(np.clip((target_gap - 0.04) / 0.03, 0.0, 1.0)), (own_in.teeth, own_in.cavity),
                           own_in.rows, 2.0 * own_in.lower_band * unit or None, own_in.light)
        self.last_box = (int(x0), int(y0), int(x1), int(y1))
        backdrop = region
        moved = None
        # A turned head's jaw edge, and what lies around it, moves with the lent one: one jaw line, not two
        # (:func:`~.render.move_outline`, :func:`jaw_moves`).
        share = float(self.jaw_moves[out_index]) if src_index == self.sources[out_index] else float(turned)
        share *= weight
        if share > 0:
            jaw = apply(pose, own_shape[self._jaw])
            lent_jaw = apply(pose, new_shape[self._jaw])
            if own_jaw is not None:
                lent_jaw = near_outline(lent_jaw, apply(pose, own_jaw[self._jaw_order]), JAW_FOLLOW_MAX * unit)
            moved = move_outline(frame, jaw, jaw + share * (lent_jaw - jaw),
                                 JAW_REACH * unit, 0.3 * unit, inner=JAW_INNER * unit)
            if moved is not None:
                (mx0, my0, mx1, my1), pixels = moved
                if isinstance(frame, PartialRGB) and not frame.holds((mx0, my0, mx1, my1)):
                    raise WholeFrameNeeded(f"frame {src_index}: jaw moved in {(mx0, my0, mx1, my1)}, given "
                                           f"{frame.valid}")
                self.last_box = (min(x0, mx0), min(y0, my0), max(x1, mx1), max(y1, my1))
        out = _canvas(frame, self.last_box)
        if moved is not None:
            out[my0:my1, mx0:mx1] = pixels
            backdrop = out[y0:y1, x0:x1]
        moved_a = None
        if self.carried is not None:
            # A transparent picture's alpha (a cut-out photo's, a keyed video frame's) moves as the face's outline
            # does (the frame's own to the drawn one), by a smooth map (the outline keeps its curve): a jaw opened
            # below a cut-out's chin is not cut off at the still chin. The face is drawn wherever the outline moved
            # (the blend's own edge, FaceMesh's coarse outline, drew corners along it). (A turned head's jaw moved by
            # move_outline is not followed.)
            own_a = self.carried[y0:y1, x0:x1].astype(np.float32)
            moved_a = smooth_warp(self.carried, ovals[0], ovals[1], (x0, y0, x1, y1), 0.1 * unit).astype(np.float32)
            np.maximum(alpha, np.clip(np.abs(moved_a - own_a) / 64.0, 0.0, 1.0), out=alpha)
        if weight < 1.0:  # fading out before, or in after, frames whose mouth is covered
            alpha *= np.float32(weight)
        if moved_a is not None:
            self.last_alpha = self.carried.copy()
            self.last_alpha[y0:y1, x0:x1] = np.clip(own_a + alpha * (moved_a - own_a) + 0.5, 0, 255).astype(np.uint8)
        # blendLinear rounds a weighted sum: where alpha is 0 the frame's pixel comes back exactly (or as the jaw moved
        # it). Where the blend crosses the mouth box (under the nose), the grain of both keeps its strength.
        out[y0:y1, x0:x1] = blend_keeping_grain(warped, np.ascontiguousarray(backdrop), alpha, mouth_box)
        return out


def face_cut_box(region: np.ndarray, ovals: list[np.ndarray], unit: float) -> tuple[np.ndarray, np.ndarray]:
    """``lo, hi`` (2,) each: the box of the lower-face ``region`` points ((N, 2) pixels) cut to the face ``ovals``
    (each (M, 2) pixels; the box around them all) and under the chin as far as the lent neck reaches past it
    (:data:`UNDER_CHIN` eye distances of ``unit`` pixels): where :meth:`BuiltinEngine.render` draws (beyond the jaw
    line the frame keeps its own pixels)."""
    lo = np.maximum(region.min(0), np.min([o.min(0) for o in ovals], 0))
    hi = np.minimum(region.max(0), np.max([o.max(0) for o in ovals], 0) + [0.0, UNDER_CHIN * unit])
    return lo, hi


def _canvas(frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """A copy of ``frame`` to draw ``box`` (``x0, y0, x1, y1``) on: of a :class:`PartialRGB`, what a 4:2:0 writer
    converts of that box (:func:`~...media.video.converted_box`; a :class:`PartialRGB` valid there, the rest
    undefined: copying the whole box the engine read, five times the one it draws at 1080p, was ~0.5 ms a frame)."""
    if not isinstance(frame, PartialRGB):
        return frame.copy()
    x0, y0, x1, y1 = converted_box(box, frame.shape[1], frame.shape[0])
    out = np.empty_like(frame)
    out[y0:y1, x0:x1] = frame[y0:y1, x0:x1]
    out.valid = (x0, y0, x1, y1)
    return out


def jaw_moves(donors: np.ndarray, sources: np.ndarray, turn: np.ndarray, frames: int = 7) -> np.ndarray:
    """(K,) how much of the lent jaw's move the frame's own jaw surroundings follow at each output frame (0..1).

    Frames drawn with a donor where the frame or the donor is turned :data:`TURNED` or more: there FaceMesh's face
    outline lies off the visible jaw, and left in place the frame's own jaw showed beside the lent one (a crease
    along the far jaw, strokes where jaw meets hair). Eased in and out over ``frames`` (a moving average), so the
    frame's own jaw never jumps between two frames when the donor changes to or from a turned one (52 such changes
    in 1080 frame pairs on six real heads, 37 of them with a jaw moving more than 0.05 eye distances). Frames that
    keep their own mouth (:data:`OWN`) move nothing and do not count in the average (drawing their own mouth moves
    their own jaw).
    """
    t = np.nan_to_num(np.abs(turn))
    lent = donors != OWN
    gate = np.zeros(len(donors))
    gate[lent] = (np.maximum(t[sources[lent]], t[donors[lent]]) >= TURNED).astype(float)
    if len(gate) and frames > 1:
        # Over the lent frames alone: the frame's own mouth moves its own jaw as it draws it.
        def ease(x: np.ndarray) -> np.ndarray:
            return np.convolve(np.pad(x, frames // 2, mode="edge"), np.ones(frames), mode="valid")

        gate = ease(gate) / np.maximum(ease(lent.astype(float)), 1e-9)
    return np.where(lent, gate, 0.0)


def along_jaw(space: MouthSpace) -> np.ndarray:
    """The order of ``space.jaw``'s points along the jaw, from one side to the other (the hull they come from may
    begin anywhere along it)."""
    ref = space.reference[space.jaw]
    centre = np.array([ref[:, 0].mean(), ref[:, 1].min() - max(float(np.ptp(ref[:, 1])), 1.0)])
    return np.argsort(np.arctan2(ref[:, 1] - centre[1], ref[:, 0] - centre[0]))


def _spans_text(spans: list[tuple[int, int]], fps: float) -> str:
    """Clip frame runs as a warning names them: the first six, with their times, and how many more."""
    where = ", ".join(f"{a}-{b} ({a / fps:.2f}-{(b + 1) / fps:.2f} s)" if b > a else f"{a} ({a / fps:.2f} s)"
                      for a, b in spans[:6])
    return where + (f" and {len(spans) - 6} more" if len(spans) > 6 else "")


__all__ = ["BuiltinEngine", "UPPER_INNER"]
