"""Stereo consistency of an edited stereo clip: do the two eyes still agree, above all around the mouth?

A lip-sync edit that changes one eye's mouth differently from the other's breaks the stereo pair there,
and pixel scores on one eye (PSNR, SSIM) do not see it. For sampled frames, with the face found in the
output's left eye (lip landmarks → mouth mask, dilated; face hull → face mask):

- **Reprojection** (photometric consistency): the output's right eye is warped onto its left eye through
  the disparity of the *input* pair (``--reference``), ``Î_l = f_w(-d_ref, I_r)``, and compared with the
  output's left eye: L1 (8-bit levels) and SSIM inside the mouth region and outside it (the rest of the box
  around the face), on pixels the reference's left-right check passed and the right eye can see. The same
  measure on the reference pair itself is reported too: it is the floor an untouched pair reaches.
- **Disparity change**: the output's own disparity against the reference's, mean ``|Δd|`` (px) and the
  share of pixels off by more than 1 px, over the face and over the mouth; and the **mouth's depth shift**,
  ``|mean Δd|`` over the mouth: how far the mouth as a whole moved toward or away from the viewer.
  Both pairs are matched by SGBM, then made sub-pixel exact by aligning the eyes around each pixel
  (:func:`~.disparity.refine_subpixel`), both from the reference's match (the output from its own where
  that differs by more than a pixel), so the two answers differ by what changed, not by the block
  matcher's noise. On a clip only re-encoded, SGBM alone reads 0.08 px of "change" over the mouth,
  the refined measure 0.06 px, and the depth shift 0.02 px. The SGBM difference is reported too
  (``matcher_mouth_px``).
- **Left-right check**: the share of face pixels whose left and right matches agree, output vs reference.

Without a reference the output's own disparity is used: reprojection then says how well the eyes agree
with *some* depth, and the disparity change is not available.
When the output's length differs from the reference (a re-timed dub), each output frame is compared with the
reference frame that looks most like it outside the mouth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..job import CancelToken, Job, ProgressCallback, Stage, StageContext
from ..errors import MediaError
from .disparity import DisparityCache, DisparityMap, DisparitySettings
from .faces import face_regions, track_eye
from .layout import StereoReader
from .warp import occlusion_mask, warp_right_to_left


@dataclass(frozen=True)
class StereoEvalOptions:
    """What to measure and how.

    Attributes
    ----------
    layout, right: the output's packing (``auto``) or its right eye's file.
    reference_layout, reference_right: the same for the reference (the input pair).
    frames: how many frames (spread through the clip) to measure; 0 for every frame.
    face: which face (track id in the output's left eye; None: the largest).
    disparity: the matcher's settings.
    mouth_dilate: mouth mask reach beyond the lips, as a fraction of the mouth width.
    use_cache: reuse cached face tracks and disparity maps.
    """

    layout: str = "auto"
    right: Path | None = None
    reference_layout: str = "auto"
    reference_right: Path | None = None
    frames: int = 48
    face: int | None = None
    disparity: DisparitySettings = field(default_factory=DisparitySettings)
    mouth_dilate: float = 0.25
    use_cache: bool = True


@dataclass(frozen=True)
class RegionScore:
    """Reprojection error in one region: mean L1 (8-bit levels), mean SSIM, mean pixels per frame."""

    l1: float
    ssim: float
    pixels: float

    def as_dict(self) -> dict[str, float]:
        """Plain data for JSON."""
        return {"l1": round(self.l1, 4), "ssim": round(self.ssim, 4), "pixels": round(self.pixels, 1)}


@dataclass(frozen=True)
class StereoConsistency:
    """The stereo consistency of an output (see the module doc).

    Attributes
    ----------
    output, reference: the files measured (reference None when there was none).
    frames: frames measured; frames_without_face: sampled frames skipped for want of a face.
    mouth, outside: reprojection of the output (mouth region, rest of the face box).
    reference_mouth, reference_outside: the same on the reference pair (None without one).
    disparity_change_face, disparity_change_mouth: mean |Δd| (px) output vs reference.
    bad1_face, bad1_mouth: share of pixels with |Δd| > 1 px.
    mouth_shift: mean over frames of ``|mean Δd|`` over the mouth (px): the mouth's move in depth.
    matcher_change_mouth: mean |Δd| over the mouth from the block matcher alone (no sub-pixel alignment).
    lr_pass_face: share of face pixels passing the left-right check in the output.
    reference_lr_pass_face: the same in the reference.
    per_frame: frame indices and per-frame values (``frame``, ``ref_frame``, ``dd_mouth``, ``dd_face``,
        ``shift_mouth``, ``l1_mouth``, ``l1_outside``) for plots.
    notes: anything the user should know about how it was measured.
    """

    output: Path
    reference: Path | None
    frames: int
    frames_without_face: int
    mouth: RegionScore
    outside: RegionScore
    reference_mouth: RegionScore | None
    reference_outside: RegionScore | None
    disparity_change_face: float | None
    disparity_change_mouth: float | None
    bad1_face: float | None
    bad1_mouth: float | None
    mouth_shift: float | None
    matcher_change_mouth: float | None
    lr_pass_face: float
    reference_lr_pass_face: float | None
    per_frame: dict[str, list[float]] = field(default_factory=dict, repr=False)
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        r = lambda v: None if v is None else round(float(v), 4)  # noqa: E731
        return {
            "output": str(self.output), "reference": None if self.reference is None else str(self.reference),
            "frames": self.frames, "frames_without_face": self.frames_without_face,
            "reprojection": {"mouth": self.mouth.as_dict(), "outside": self.outside.as_dict()},
            "reference_reprojection": None if self.reference_mouth is None else {
                "mouth": self.reference_mouth.as_dict(), "outside": self.reference_outside.as_dict()},
            "disparity_change": None if self.disparity_change_face is None else {
                "face_px": r(self.disparity_change_face), "mouth_px": r(self.disparity_change_mouth),
                "face_bad1": r(self.bad1_face), "mouth_bad1": r(self.bad1_mouth),
                "mouth_shift_px": r(self.mouth_shift), "matcher_mouth_px": r(self.matcher_change_mouth)},
            "lr_check_pass_face": {"output": r(self.lr_pass_face), "reference": r(self.reference_lr_pass_face)},
            "per_frame": {k: [round(float(x), 4) for x in v] for k, v in self.per_frame.items()},
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        """A few lines for the terminal."""
        lines = [f"stereo consistency of {self.output.name} ({self.frames} frames"
                 + (f", against {self.reference.name})" if self.reference is not None else ", no reference)")]
        lines.append(f"  reprojection  mouth L1 {self.mouth.l1:6.2f}  SSIM {self.mouth.ssim:.3f}   "
                     f"outside L1 {self.outside.l1:6.2f}  SSIM {self.outside.ssim:.3f}")
        if self.reference_mouth is not None:
            rm, ro = self.reference_mouth, self.reference_outside
            lines.append(f"  (reference)   mouth L1 {rm.l1:6.2f}  SSIM {rm.ssim:.3f}   "
                         f"outside L1 {ro.l1:6.2f}  SSIM {ro.ssim:.3f}")
        if self.disparity_change_face is not None:
            lines.append(f"  disparity change  mouth {self.disparity_change_mouth:.2f} px "
                         f"({100 * self.bad1_mouth:.1f}% > 1 px)   face {self.disparity_change_face:.2f} px "
                         f"({100 * self.bad1_face:.1f}% > 1 px)")
            lines.append(f"  the mouth as a whole moved {self.mouth_shift:.3f} px in depth "
                         f"(block matcher alone: {self.matcher_change_mouth:.2f} px change over the mouth)")
        ref = "" if self.reference_lr_pass_face is None else f" (reference {100 * self.reference_lr_pass_face:.1f}%)"
        lines.append(f"  left-right check passes on {100 * self.lr_pass_face:.1f}% of the face{ref}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM of two gray images in [0, 255] (Gaussian window, sigma 1.5; Wang et al. 2004)."""
    a, b = a.astype(np.float32), b.astype(np.float32)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    blur = lambda x: cv2.GaussianBlur(x, (0, 0), 1.5)  # noqa: E731
    ma, mb = blur(a), blur(b)
    va, vb, cov = blur(a * a) - ma * ma, blur(b * b) - mb * mb, blur(a * b) - ma * mb
    return ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))


def reprojection(left: np.ndarray, right: np.ndarray, disp: DisparityMap, regions: list[np.ndarray]
                 ) -> list[tuple[float, float, int]]:
    """(L1, SSIM, pixels) of ``left`` against ``right`` warped through ``disp``, per region mask.

    Only pixels where the disparity passed its left-right check and the right eye sees the point count.
    """
    recon = warp_right_to_left(right, disp.disparity)
    usable = disp.valid & ~occlusion_mask(disp.disparity)
    l1 = np.abs(left.astype(np.float32) - recon.astype(np.float32)).mean(axis=2)
    gray = lambda x: cv2.cvtColor(x, cv2.COLOR_RGB2GRAY)  # noqa: E731
    s = ssim_map(gray(left), gray(recon))
    out = []
    for region in regions:
        m = region & usable
        n = int(m.sum())
        out.append((float(l1[m].mean()) if n else np.nan, float(s[m].mean()) if n else np.nan, n))
    return out


def _fine_change(ref_left: np.ndarray, ref_right: np.ndarray, left: np.ndarray, right: np.ndarray,
                 ref_disparity: np.ndarray, change: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The signed disparity change over ``box`` (output − reference, px), both made sub-pixel exact.

    ``ref_disparity``: the reference's SGBM disparity over the box; ``change``: the SGBM difference there.
    Both alignments start from the reference's disparity (the output's plus the matcher's change where it
    exceeds a pixel, more than the alignment reaches), so an unchanged pair measures exactly no change.
    """
    from .disparity import refine_subpixel

    sigma = float(np.clip(0.03 * (box[2] - box[0]), 2.0, 12.0))
    fine_ref = refine_subpixel(ref_left, ref_right, ref_disparity, box, sigma, iterations=5)
    start = ref_disparity + np.where(np.abs(change) > 1.0, change, 0.0).astype(np.float32)
    return refine_subpixel(left, right, start, box, sigma, iterations=5) - fine_ref


def _thumb(img: np.ndarray) -> np.ndarray:
    return cv2.resize(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), (48, 48), interpolation=cv2.INTER_AREA).astype(np.float32)


# -- the job ----------------------------------------------------------------------------------------------

def _open(ctx: StageContext) -> None:
    s = ctx.state
    opts: StereoEvalOptions = s["options"]
    out = StereoReader(s["output"], opts.layout, opts.right)
    s["out"] = out
    if not out.info.is_stereo:
        raise MediaError("looks like a 2D video, not a stereo pair", path=s["output"],
                         hint="give its layout with --layout (sbs, half-sbs, tb ...) or the right eye with --right")
    ref = None
    if s["reference"] is not None:
        ref = StereoReader(s["reference"], opts.reference_layout, opts.reference_right)
        s["ref"] = ref
        if not ref.info.is_stereo:
            raise MediaError("looks like a 2D video, not a stereo pair", path=s["reference"],
                             hint="give its layout with --reference-layout, or its right eye with --reference-right")
        if (ref.info.eye_width, ref.info.eye_height) != (out.info.eye_width, out.info.eye_height):
            raise MediaError(f"has eyes of {ref.info.eye_width}x{ref.info.eye_height}, but the output's are "
                             f"{out.info.eye_width}x{out.info.eye_height}", path=s["reference"],
                             hint="compare an output with the stereo clip it was made from")
    ctx.advance(1)


def _track(ctx: StageContext) -> None:
    s = ctx.state
    opts: StereoEvalOptions = s["options"]
    faces = track_eye(s["out"], "left", advance=ctx.advance, use_cache=opts.use_cache)
    faces.choose_speaker(opts.face, "in the output's left eye")
    track = faces.speaker_track()
    if track is None:
        raise MediaError("no face was found in the left eye", path=s["output"],
                         hint="the stereo measures look at the speaker's mouth; check that a face is visible")
    n = s["out"].info.n_frames
    present = np.flatnonzero(track.present)
    want = n if opts.frames <= 0 else min(opts.frames, n)
    picks = np.unique(np.linspace(0, n - 1, want).round().astype(int))
    s["track"] = track
    s["picks"] = picks
    s["without_face"] = int(np.sum(~np.isin(picks, present)))
    s["picks_with_face"] = picks[np.isin(picks, present)]


def _match_frames(ctx: StageContext) -> None:
    """Which reference frame each measured output frame is compared with."""
    s = ctx.state
    picks = s["picks_with_face"]
    ref: StereoReader | None = s.get("ref")
    notes: list[str] = s["notes"]
    if ref is None or ref.info.n_frames == s["out"].info.n_frames:
        s["ref_index"] = {int(i): int(i) for i in picks}
        return
    notes.append(f"the output has {s['out'].info.n_frames} frames and the reference {ref.info.n_frames}: "
                 "each output frame was compared with the reference frame most like it outside the mouth")
    track = s["track"]
    shape = (s["out"].info.eye_height, s["out"].info.eye_width)
    thumbs = np.stack([_thumb(left) for _, left, _ in ref.iter_pairs()])
    mapping = {}
    for i in picks:
        left, _ = s["out"].pair(int(i))
        _, mouth, _ = face_regions(track.landmarks[i], shape, 0.5)
        keep = cv2.resize((~mouth).astype(np.uint8), (48, 48), interpolation=cv2.INTER_NEAREST).astype(np.float32)
        diff = (np.abs(thumbs - _thumb(left)[None]) * keep[None]).sum(axis=(1, 2))
        mapping[int(i)] = int(np.argmin(diff))
        ctx.check()
    s["ref_index"] = mapping


def _measure(ctx: StageContext) -> None:
    s = ctx.state
    opts: StereoEvalOptions = s["options"]
    _match_frames(ctx)
    out: StereoReader = s["out"]
    ref: StereoReader | None = s.get("ref")
    track = s["track"]
    cache = DisparityCache(opts.disparity, None if opts.use_cache else False, memory_frames=4)
    shape = (out.info.eye_height, out.info.eye_width)
    rows: dict[str, list[float]] = {k: [] for k in (
        "frame", "ref_frame", "l1_mouth", "ssim_mouth", "n_mouth", "l1_outside", "ssim_outside", "n_outside",
        "ref_l1_mouth", "ref_ssim_mouth", "ref_n_mouth", "ref_l1_outside", "ref_ssim_outside", "ref_n_outside",
        "dd_face", "dd_mouth", "bad1_face", "bad1_mouth", "shift_mouth", "matcher_mouth", "lr_face",
        "ref_lr_face")}
    for i in s["picks_with_face"]:
        i = int(i)
        face, mouth, box = face_regions(track.landmarks[i], shape, opts.mouth_dilate)
        inbox = np.zeros(shape, bool)
        inbox[box[1]:box[3], box[0]:box[2]] = True
        outside = inbox & ~mouth
        left, right = out.pair(i)
        d_out = cache.get(left, right, box)
        if ref is not None:
            j = s["ref_index"][i]
            rl, rr = ref.pair(j)
            d_ref = cache.get(rl, rr, box)
            for (l1, ss, n), name in zip(reprojection(rl, rr, d_ref, [mouth, outside]), ("mouth", "outside")):
                rows[f"ref_l1_{name}"].append(l1)
                rows[f"ref_ssim_{name}"].append(ss)
                rows[f"ref_n_{name}"].append(n)
            crop = np.s_[box[1]:box[3], box[0]:box[2]]
            change = (d_out.disparity - d_ref.disparity)[crop]
            rows["matcher_mouth"].append(float(np.abs(change[mouth[crop]]).mean()))
            signed = _fine_change(rl, rr, left, right, d_ref.disparity[crop], change, box)
            dd = np.abs(signed)
            fm, mm = face[crop], mouth[crop]
            rows["dd_face"].append(float(dd[fm].mean()))
            rows["dd_mouth"].append(float(dd[mm].mean()))
            rows["bad1_face"].append(float((dd[fm] > 1.0).mean()))
            rows["bad1_mouth"].append(float((dd[mm] > 1.0).mean()))
            rows["shift_mouth"].append(float(abs(signed[mm].mean())))
            rows["ref_lr_face"].append(float(d_ref.valid[face].mean()))
        else:
            j, d_ref = i, d_out
        for (l1, ss, n), name in zip(reprojection(left, right, d_ref, [mouth, outside]), ("mouth", "outside")):
            rows[f"l1_{name}"].append(l1)
            rows[f"ssim_{name}"].append(ss)
            rows[f"n_{name}"].append(n)
        rows["lr_face"].append(float(d_out.valid[face].mean()))
        rows["frame"].append(i)
        rows["ref_frame"].append(j)
        ctx.advance(1)
    s["rows"] = rows


def _region(rows: dict[str, list[float]], prefix: str, name: str) -> RegionScore | None:
    l1 = np.asarray(rows[f"{prefix}l1_{name}"], np.float64)
    if l1.size == 0:
        return None
    ss = np.asarray(rows[f"{prefix}ssim_{name}"], np.float64)
    n = np.asarray(rows[f"{prefix}n_{name}"], np.float64)
    ok = n > 0
    if not ok.any():
        return RegionScore(float("nan"), float("nan"), 0.0)
    # Frames weigh by how many pixels they measured.
    return RegionScore(float(np.average(l1[ok], weights=n[ok])), float(np.average(ss[ok], weights=n[ok])),
                       float(n.mean()))


def _finish(s: dict[str, Any]) -> StereoConsistency:
    rows = s["rows"]
    if not rows["frame"]:
        raise MediaError("no measured frame shows a face in the left eye", path=s["output"],
                         hint="check that the speaker's face is visible")
    mean = lambda k: float(np.mean(rows[k])) if rows[k] else None  # noqa: E731
    has_ref = s.get("ref") is not None
    per_frame = {k: rows[k] for k in ("frame", "ref_frame", "dd_face", "dd_mouth", "shift_mouth", "l1_mouth",
                                      "l1_outside")
                 if rows[k]}
    return StereoConsistency(
        output=Path(s["output"]), reference=Path(s["reference"]) if has_ref else None, frames=len(rows["frame"]),
        frames_without_face=s["without_face"], mouth=_region(rows, "", "mouth"), outside=_region(rows, "", "outside"),
        reference_mouth=_region(rows, "ref_", "mouth") if has_ref else None,
        reference_outside=_region(rows, "ref_", "outside") if has_ref else None,
        disparity_change_face=mean("dd_face"), disparity_change_mouth=mean("dd_mouth"),
        bad1_face=mean("bad1_face"), bad1_mouth=mean("bad1_mouth"), mouth_shift=mean("shift_mouth"),
        matcher_change_mouth=mean("matcher_mouth"), lr_pass_face=mean("lr_face"),
        reference_lr_pass_face=mean("ref_lr_face"), per_frame=per_frame, notes=tuple(s["notes"]))


def build_stereo_eval_job(output: str | Path, reference: str | Path | None = None,
                          options: StereoEvalOptions | None = None) -> Job:
    """The stereo consistency measurement as a :class:`Job` (stages ``open``, ``faces``, ``measure``)."""
    opts = options or StereoEvalOptions()
    state = {"output": Path(output), "reference": None if reference is None else Path(reference),
             "options": opts, "notes": []}
    return Job("stereo-eval", [
        Stage("open", _open, 1),
        Stage("faces", _track, lambda st: st["out"].info.n_frames),
        Stage("measure", _measure, lambda st: len(st["picks_with_face"])),
    ], state)


def evaluate_stereo(output: str | Path, reference: str | Path | None = None,
                    options: StereoEvalOptions | None = None, on_progress: ProgressCallback | None = None,
                    cancel: CancelToken | None = None) -> StereoConsistency:
    """Measure the stereo consistency of ``output`` (against the stereo clip it was made from, if given).

    Parameters
    ----------
    output : path
        The stereo clip to measure (packed, or its left eye with ``options.right``).
    reference : path, optional
        The input pair the output was made from (its disparity is the yardstick).
    options : StereoEvalOptions
        Layouts, frames, face, matcher settings.

    Raises
    ------
    MediaError
        A file cannot be read, is not stereo, or shows no face.
    """
    job = build_stereo_eval_job(output, reference, options)
    try:
        state = job.run(on_progress, cancel)
        return _finish(state)
    finally:
        for key in ("out", "ref"):
            reader = job.state.get(key)
            if reader is not None:
                reader.close()
