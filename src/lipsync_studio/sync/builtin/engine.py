"""The built-in engine: the speaker's own mouths, re-timed to the dub (no downloaded weights).

``prepare``: measure the speaker's mouth in every frame (head-normalised), hear the dub (and the clip's own
sound, to calibrate), plan a target shape per output frame, keep a bank of donor mouths (lower-face crops in
the reference frame, bounded memory), and choose a donor per output frame by dynamic programming.

``render``: warp the donor's lower face onto the output frame's head, with the mouth opened or closed the
rest of the way to the target (and a drawn interior when the donor has no open mouth to lend), colour-match
it on the feather ring, and blend it with a feathered mask that is zero outside the lower face.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...face.track import LIPS_INNER, ClipFaces
from ...media.timeline import OutputPlan
from ..base import Advance
from ..mouth import UPPER_INNER, UPPER_INNER_LIP, MouthSpace, apply, invert
from ...errors import MediaError
from .planner import OWN, Targets, choose_bank, schedule_donors, viseme_targets
from .render import apply_colour, feathered_mask, match_colour, paint_interior, piecewise_warp



class BuiltinEngine:
    """Lip-sync from the clip's own mouths; implements :class:`~lipsync_studio.sync.base.LipSyncEngine`.

    Parameters
    ----------
    bank_bytes: memory for the donor bank.
    lead_s: how far the mouth leads the sound.
    """

    name = "builtin"

    def __init__(self, bank_bytes: int = 256 << 20, lead_s: float = 0.04) -> None:
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

    def frame_observer(self):
        """What the tracker should call with every frame it decodes: the lower faces are kept (within the bank's
        memory), so :meth:`prepare` fills the donor bank without reading the clip again."""
        from .crops import FaceCrops

        self.crops = FaceCrops(self.bank_bytes)
        return self.crops.keep

    # -- hearing (runs beside face tracking) ----------------------------------------------------------
    def begin(self, clip: Path, dub: Path, script: Path | None = None, script_lang: str = "en") -> None:
        """Start hearing the dub's and the clip's phones in another process while the faces are tracked
        (:meth:`prepare` collects them; without this call it hears them itself)."""
        from ...media.audio import load_audio
        from ..phones import recognize_phones_async

        self.script, self.script_lang = script, script_lang
        self._dub_wav = load_audio(dub, sr=16000)
        try:
            self._clip_wav = load_audio(clip, sr=16000)
        except MediaError:  # a clip without sound: no speaker table
            self._clip_wav = None
        waves = [self._dub_wav] if self._clip_wav is None else [self._dub_wav, self._clip_wav]
        self._heard = recognize_phones_async(*waves)

    def _phones(self, clip: Path, dub: Path):
        """(dub wav, dub phones, clip wav or None, clip phones or None), heard now if :meth:`begin` was not called."""
        from ...media.audio import load_audio
        from ..phones import align_script, read_script, recognize_phones

        heard = getattr(self, "_heard", None)
        if heard is None:
            dub_wav = load_audio(dub, sr=16000)
            try:
                clip_wav = load_audio(clip, sr=16000)
            except MediaError:
                clip_wav = None
            dub_ph = recognize_phones(dub_wav)
            clip_ph = recognize_phones(clip_wav) if clip_wav is not None else None
        else:
            dub_wav, clip_wav = self._dub_wav, self._clip_wav
            got = heard.result()
            dub_ph, clip_ph = got[0], (got[1] if len(got) > 1 else None)
            self._heard = None
        script = getattr(self, "script", None)
        if script is not None:
            dub_ph = align_script(dub_wav, read_script(script), getattr(self, "script_lang", "en"), dub_ph)
        return dub_wav, dub_ph, clip_wav, clip_ph

    # -- prepare ------------------------------------------------------------------------------------
    def prepare(self, clip: Path, dub: Path, faces: ClipFaces, plan: OutputPlan,
                advance: Advance | None = None) -> None:
        """Plan every output frame's mouth and fill the donor bank (one pass over the clip)."""
        from ..acoustics import mouth_from_audio
        from ..visemes import articulate, fill_unheard_speech, frame_labels, speaker_table

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
        feats = space.features()
        fps = float(plan.fps)
        dub_wav, dub_ph, clip_wav, clip_ph = self._phones(clip, dub)
        dub_track = mouth_from_audio(dub_wav, fps, plan.n_out, self.lead_s)
        dub_ph = fill_unheard_speech(dub_ph, dub_track.level)
        # The speaker's own visemes: the clip's sound, heard the same way, labels its frames.
        clip_labels = frame_labels(clip_ph, fps, faces.n_frames, self.lead_s) if clip_ph is not None else None
        own_table = speaker_table(clip_labels, feats) if clip_labels is not None else {}
        table, rest, own_classes = viseme_targets(feats, own_table)
        art = articulate(dub_ph, fps, plan.n_out, self.lead_s, level=dub_track.level, targets=table, rest=rest)
        self.targets = Targets(gap=art.opening, width=art.spread, calibrated_on_clip=bool(own_classes),
                               gain=float(table["AA"][0] - rest[0]), offset=float(rest[0]))
        self.articulation = art
        self.dub_phones = dub_ph
        # The bank's crop space: the reference frame, scaled so the eye distance is at most 160 px.
        pts = space.region_points(space.reference)
        self.scale = min(1.0, 160.0 / space.eye_dist)
        lo = pts.min(0) - 0.05 * space.eye_dist
        hi = pts.max(0) + 0.05 * space.eye_dist
        self.crop_origin = lo
        self.crop_size = tuple(int(np.ceil(v)) for v in (hi - lo) * self.scale)
        crop_bytes = self.crop_size[0] * self.crop_size[1] * 3
        bank = choose_bank(feats, space.present, max(8, self.bank_bytes // crop_bytes))
        self.donors = schedule_donors(self.targets, self.sources, feats, bank, target_labels=art.label,
                                      clip_labels=clip_labels)
        used = np.unique(self.donors[self.donors != OWN])
        self.bank_index = {int(t): k for k, t in enumerate(used)}
        self.bank = np.zeros((len(used), self.crop_size[1], self.crop_size[0], 3), np.uint8)
        self._fill_bank(clip, used, track.raw, advance)
        self.features = feats
        self._colour = None
        self.info = {"donors_used": int(len(used)), "own_frames": int((self.donors == OWN).sum()),
                     "calibrated_on_clip": self.targets.calibrated_on_clip, "bank_frames": int(len(bank)),
                     "donors_from_tracking": int(self.info_bank_from_crops),
                     "phones": len(dub_ph), "phones_from": dub_ph.source,
                     "speaker_visemes": own_classes, "closures": int(art.closed.sum())}

    def _crop_matrix(self, t: int) -> np.ndarray:
        """(2, 3) frame t pixels → bank crop pixels."""
        inv = invert(self.space.pose[t])
        s = self.scale
        m = np.array([[s, 0, -s * self.crop_origin[0]], [0, s, -s * self.crop_origin[1]]])
        return np.vstack([m, [0, 0, 1]])[:2] @ np.vstack([inv, [0, 0, 1]])

    def _fill_bank(self, clip: Path, frames: np.ndarray, raw: np.ndarray, advance: Advance | None) -> None:
        """Warp each donor's lower face into the bank: from the crops kept while tracking where there are
        some, else from the clip (one decoding pass over the missing donors' span)."""
        import cv2

        from ...media.prefetch import prefetch
        from ...media.video import VideoReader

        missing = []
        for t in (int(f) for f in frames):
            kept = self.crops.get(t, raw[t]) if self.crops is not None and np.isfinite(raw[t]).all() else None
            if kept is None:
                missing.append(t)
                continue
            crop, x0, y0 = kept
            # The warp reads the donor's region (and a pixel around it): it must lie inside the kept crop.
            pts = apply(self.space.pose[t], self.space.region_points(self.space.normalized[t]))
            lo, hi = pts.min(0) - 2, pts.max(0) + 2
            if lo[0] < x0 or lo[1] < y0 or hi[0] > x0 + crop.shape[1] or hi[1] > y0 + crop.shape[0]:
                missing.append(t)
                continue
            m = self._crop_matrix(t) @ np.array([[1.0, 0, x0], [0, 1.0, y0], [0, 0, 1]])
            self.bank[self.bank_index[t]] = cv2.warpAffine(crop, m, self.crop_size, flags=cv2.INTER_LINEAR,
                                                           borderMode=cv2.BORDER_REPLICATE)
        self.info_bank_from_crops = len(frames) - len(missing)
        self.crops = None  # their memory is the bank's now
        if not missing:
            return
        frames = np.asarray(missing)
        wanted = set(missing)
        with VideoReader(clip) as reader:
            for t, img in prefetch(reader.iter_frames(int(frames.min()), int(frames.max()) + 1)):
                if t in wanted:
                    if self.frame_view is not None:
                        img = np.ascontiguousarray(self.frame_view(img))
                    self.bank[self.bank_index[t]] = cv2.warpAffine(
                        img, self._crop_matrix(t), self.crop_size, flags=cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE)
                if advance is not None:
                    advance(0)

    # -- render -------------------------------------------------------------------------------------
    def render(self, out_index: int, src_index: int, frame: np.ndarray) -> np.ndarray:
        """Output frame ``out_index``: ``frame`` with the mouth the dub needs at that time."""
        import cv2

        sp = self.space
        if sp is None or not sp.present[src_index]:
            return frame
        donor = int(self.donors[out_index])
        own = donor == OWN
        d = src_index if own else donor
        shape = sp.normalized[d]
        target_gap = float(self.targets.gap[out_index])
        donor_gap = float(sp.gap(shape))
        d_gap = float(np.clip(target_gap - donor_gap, -max(donor_gap, 0.0), 0.35))
        # Rounding and spreading: the corners move the rest of the way (at most 8 % of the donor's width).
        donor_width = float(sp.width(shape))
        d_width = float(np.clip(float(self.targets.width[out_index]) - donor_width, -0.08 * donor_width,
                                0.08 * donor_width))
        if abs(d_width) < 0.004:
            d_width = 0.0
        if own and abs(d_gap) < 0.01 and d_width == 0.0:
            return frame  # the frame's own mouth already says this
        new_shape = sp.open_shape(shape, d_gap, d_width) if abs(d_gap) >= 0.005 or d_width else shape
        pose = sp.pose[src_index]
        dst = apply(pose, sp.region_points(new_shape))
        if own:
            src_img = frame
            src = apply(pose, sp.region_points(shape))
        else:
            src_img = self.bank[self.bank_index[donor]]
            src = (sp.region_points(shape) - self.crop_origin) * self.scale
        h, w = frame.shape[:2]
        x0, y0 = np.floor(dst.min(0)).astype(int) - 2
        x1, y1 = np.ceil(dst.max(0)).astype(int) + 2
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 < 8 or y1 - y0 < 8:
            return frame
        warped, cover = piecewise_warp(src_img, src, dst, sp.triangles, (x0, y0, x1, y1))
        face_scale = float(np.hypot(*pose[:, 0]))  # frame pixels per reference pixel
        alpha = feathered_mask(cover, 0.12 * sp.eye_dist * face_scale)
        region = frame[y0:y1, x0:x1]
        if not own:
            c = match_colour(warped, region, alpha)
            # Smooth the correction over time so it cannot flicker.
            self._colour = c if self._colour is None else 0.8 * self._colour + 0.2 * c
            warped = apply_colour(warped, self._colour)
        opening_px = max(target_gap, 0.0) * sp.eye_dist * face_scale
        extra = target_gap - donor_gap
        if target_gap > 0.04 and extra > 0.015:
            # More opening than the donor has: draw the interior inside the new lips, fading in with the
            # extra opening (a donor with a closed mouth has no interior at all to stretch).
            strength = 1.0 if donor_gap < 0.015 else (extra - 0.015) / 0.05
            inner = apply(pose, new_shape[list(LIPS_INNER)]) - [x0, y0]
            upper = apply(pose, new_shape[list(UPPER_INNER_LIP)]) - [x0, y0]
            paint_interior(warped, inner, upper, opening_px, strength)
        self.last_box = (int(x0), int(y0), int(x1), int(y1))
        out = frame.copy()
        # blendLinear rounds a weighted sum: where alpha is 0 the frame's pixel comes back exactly.
        out[y0:y1, x0:x1] = cv2.blendLinear(warped, np.ascontiguousarray(region), alpha, 1.0 - alpha)
        return out


__all__ = ["BuiltinEngine", "UPPER_INNER"]
