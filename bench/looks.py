"""How a synced mouth looks against the clip's own frames, on real talking heads (a measuring tool).

For every CLIP: cut it in two halves A and B, sync A's picture to B's sound and B's picture to A's sound with the
built-in engine, and measure each result frame against the source frame it was drawn into
(:mod:`lipsync_studio.metrics.looks`): mouth sharpness (Laplacian variance in the mouth box, result / source),
lip colour (Lab dE over the lip band) and lip band area. The reference for natural change is a real different
frame of the same clip: the frame the other half shows at the same moment. Writes contact sheets (2x mouth
close-ups: the most open frames, the softest frames, and a run of consecutive frames, each beside its source)
to OUTDIR.

usage: PYTHONPATH=src python bench/looks.py CLIP... [-o OUTDIR] [--engine builtin] [--stereo] [--keep-cut]
       [--crf N]

``--stereo`` also makes a side-by-side stereo clip of each half (``stereoize``), syncs it, and writes a contact
sheet of both eyes (no numbers: the eyes' sources are synthetic).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np


def _cut(clip: Path, folder: Path, keep: bool = False) -> tuple[dict, int, float]:
    """Write each half's picture (with its own sound) and sound; return paths, frames and fps. ``keep``: halves
    already in ``folder`` (an earlier run's) are used as they are."""
    from lipsync_studio.media.audio import load_audio
    from lipsync_studio.media.audio_writer import write_audio
    from lipsync_studio.media.video import VideoReader
    from lipsync_studio.media.writer import VideoFormat, VideoWriter

    names = [folder / f"{k}_{h}.{e}" for h in "AB" for k, e in (("pic", "mp4"), ("sound", "wav"))]
    with VideoReader(clip) as r:
        info = r.info
        frames = [f for _, f in r.iter_frames()]
    n, fps = len(frames), float(info.fps)
    h = n // 2
    if keep and all(p.exists() for p in names):
        return ({name: {"pic": folder / f"pic_{name}.mp4", "sound": folder / f"sound_{name}.wav", "start": a,
                        "stop": b} for name, (a, b) in {"A": (0, h), "B": (h, 2 * h)}.items()}, n, fps)
    wav = load_audio(clip, sr=16000)
    spf = 16000 / fps
    out = {}
    for name, (a, b) in {"A": (0, h), "B": (h, 2 * h)}.items():
        snd = write_audio(folder / f"sound_{name}.wav", wav[int(a * spf):int(b * spf)], 16000)
        pic = folder / f"pic_{name}.mp4"
        with VideoWriter(pic, Fraction(info.fps), info.width, info.height, fmt=VideoFormat(crf=12, preset="veryfast"),
                         audio=snd, audio_seconds=(b - a) / fps) as w:
            for f in frames[a:b]:
                w.write(f)
        out[name] = {"pic": pic, "sound": snd, "start": a, "stop": b}
    return out, n, fps


def _mouth_crop(img: np.ndarray, lm: np.ndarray, size: int) -> np.ndarray:
    """A square mouth close-up around the lips (1.6 mouth widths), at ``size`` px."""
    import cv2

    from lipsync_studio.face.track import LIPS_OUTER

    pts = lm[list(LIPS_OUTER), :2]
    c = pts.mean(0)
    half = 0.8 * float(np.ptp(pts[:, 0])) + 4
    x0, y0 = int(round(c[0] - half)), int(round(c[1] - 0.8 * half))
    side = int(round(2 * half))
    pad = cv2.copyMakeBorder(img, side, side, side, side, cv2.BORDER_CONSTANT)
    crop = pad[y0 + side:y0 + 2 * side, x0 + side:x0 + 2 * side]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_NEAREST)


def contact_sheet(path: Path, rows: list[tuple[str, list[np.ndarray]]], tile: int) -> None:
    """Write rows of equally sized tiles with a label over each row."""
    import cv2

    cols = max(len(t) for _, t in rows)
    label_h = 18
    sheet = np.full((len(rows) * (tile + label_h), cols * tile, 3), 255, np.uint8)
    for i, (label, tiles) in enumerate(rows):
        y = i * (tile + label_h)
        cv2.putText(sheet, label, (4, y + 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
        for j, t in enumerate(tiles):
            sheet[y + label_h:y + label_h + tile, j * tile:(j + 1) * tile] = t
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))


def _sheet(result: Path, source: Path, src_index: np.ndarray, score, path: Path, title: str) -> None:
    """Mouth close-ups at 2x: the most open result frames, the softest, and 6 consecutive frames, each
    result above its source."""
    from lipsync_studio.face.analysis import analyse_faces
    from lipsync_studio.media.video import VideoReader

    rt = analyse_faces(result).speaker_track()
    st = analyse_faces(source).speaker_track()
    gap = np.nan_to_num(rt.mouth_gap(), nan=-1)
    n = min(len(gap), len(src_index))
    opened = [int(k) for k in np.argsort(-gap[:n])[:6]]
    soft = [k for k in score.softest_frames[:4] if k < n]
    run0 = int(np.argmax(gap[:n])) - 3
    run = list(range(max(0, run0), max(0, run0) + 6))
    widths = np.linalg.norm(st.landmarks[:, 61, :2] - st.landmarks[:, 291, :2], axis=1)
    size = int(np.clip(2 * 1.6 * np.nanmedian(widths), 96, 360))  # the crop (1.6 mouth widths) at 2x
    with VideoReader(result) as r, VideoReader(source) as s:
        def pair(k: int) -> tuple[np.ndarray, np.ndarray]:
            j = int(src_index[k])
            lm = st.landmarks[j]
            return _mouth_crop(r.frame(k), lm, size), _mouth_crop(s.frame(j), lm, size)

        rows = []
        for label, ks in ((f"{title}: most open (result)", opened), ("softest (result)", soft),
                          ("consecutive (result)", run)):
            ks = [k for k in ks if k < n]
            if not ks:
                continue
            pairs = [pair(k) for k in ks]
            rows.append((label + " frames " + ",".join(map(str, ks)), [p[0] for p in pairs]))
            rows.append(("source", [p[1] for p in pairs]))
        contact_sheet(path, rows, size)


#: An inner-lip gap (eye distances) that shows teeth, and one of lips shut.
TEETH_GAP, SHUT_GAP = 0.06, 0.03


def worst_tenth_causes(result, source, index: np.ndarray, score) -> dict:
    """What the worst tenth of frames (by sharpness, result / source) are: the share where the source shows teeth
    and the result is shut (a real shape change: fewer edges, not softer), the share of other shape changes (the
    source shows teeth and the result opens less than 60 % as far, showing fewer, or the clip's own frames explain
    the ratio by the change of opening: same-shape ratio >= 0.8), and the rest: soft drawing (with its frames).
    """
    ratio = score.per_frame_sharpness
    n = len(ratio)
    ok = np.isfinite(ratio)
    if not ok.any():
        return {"worst_shut_share": float("nan"), "worst_shape_share": float("nan"),
                "worst_soft_share": float("nan"), "worst_soft_frames": []}
    worst = np.flatnonzero(ok & (ratio <= np.percentile(ratio[ok], 10)))
    src_gap, res_gap = source.gap[index[:n]], result.gap[:n]
    shut = (src_gap >= TEETH_GAP) & (res_gap < SHUT_GAP)
    from lipsync_studio.metrics.looks import shape_sharpness

    f = shape_sharpness(source.gap, source.sharpness)
    fair = ratio / np.exp(f(res_gap) - f(src_gap)) if f is not None else np.full(n, np.nan)
    shape = ~shut & ((fair >= 0.8) | (src_gap >= TEETH_GAP) & (res_gap < 0.6 * src_gap))
    soft = worst[~shut[worst] & ~shape[worst]]
    return {"worst_shut_share": float(shut[worst].mean()), "worst_shape_share": float(shape[worst].mean()),
            "worst_soft_share": len(soft) / len(worst), "worst_soft_frames": [int(k) for k in soft]}


def measure_clip(clip: Path, outdir: Path, engine: str, keep: bool = False, crf: int | None = None) -> list[dict]:
    from lipsync_studio.engine.sync_job import SyncOptions, SyncRequest, run_sync
    from lipsync_studio.media.writer import VideoFormat
    from lipsync_studio.metrics.looks import compare_looks, video_looks

    folder = outdir / clip.stem
    folder.mkdir(parents=True, exist_ok=True)
    halves, n, fps = _cut(clip, folder, keep)
    source = video_looks(clip)
    rows = []
    for a, b in (("A", "B"), ("B", "A")):
        out = folder / f"{a}_to_{b}.mp4"
        t0 = time.perf_counter()
        fmt = VideoFormat() if crf is None else VideoFormat(crf=crf)
        run_sync(SyncRequest(halves[a]["pic"], halves[b]["sound"], out,
                             SyncOptions(engine=engine, measure=False, fmt=fmt)))
        took = time.perf_counter() - t0
        res = video_looks(out)
        s0, s1 = halves[a]["start"], halves[a]["stop"]
        idx = np.minimum(s0 + np.arange(res.n_frames), s1 - 1)
        score = compare_looks(res, source, idx, real_shift=n // 2)
        _sheet(out, clip, idx, score, outdir / f"sheet_{clip.stem}_{a}{b}.png", f"{clip.stem} {a}->{b}")
        d = score.as_dict()
        d.update(clip=clip.stem, direction=f"{a}->{b}", sync_s=round(took, 2), **worst_tenth_causes(res, source, idx,
                                                                                                  score))
        rows.append(d)
        print(f"{clip.stem} {a}->{b}: sharp {d['sharpness_median']:.3f} [{d['real_sharpness_median']:.3f}] "
              f"worst10 {d['sharpness_worst_tenth']:.3f} [{d['real_sharpness_worst_tenth']:.3f}] "
              f"same-shape {d['same_shape_median']:.3f}/{d['same_shape_worst_tenth']:.3f} "
              f"[{d['real_same_shape_median']:.3f}/{d['real_same_shape_worst_tenth']:.3f}] "
              f"dE {d['colour_de']:.2f} [{d['real_colour_de']:.2f}, next {d['next_frame_colour_de']:.2f}] "
              f"area {d['area_median']:.4f} in [{d['natural_area'][0]:.4f},{d['natural_area'][1]:.4f}] "
              f"{100 * d['area_in_range']:.0f}% soft={d['softest_frames']} worst tenth: "
              f"{100 * d['worst_shut_share']:.0f}% teeth shut, {100 * d['worst_shape_share']:.0f}% other shape, "
              f"{100 * d['worst_soft_share']:.0f}% soft {d['worst_soft_frames']}", flush=True)
    return rows


def stereo_sheet(clip: Path, outdir: Path) -> None:
    """Stereoize half A, sync it to B's sound, and write a sheet of both eyes' open mouths."""
    from lipsync_studio.cli import main as cli
    from lipsync_studio.face.analysis import analyse_faces
    from lipsync_studio.media.video import VideoReader
    from lipsync_studio.stereo.layout import eye_view

    folder = outdir / clip.stem
    sbs = folder / "pic_A_LRF_Full_SBS.mp4"
    out = folder / "A_to_B_stereo.mp4"
    if cli(["-q", "stereoize", str(folder / "pic_A.mp4"), "-o", str(sbs)]) != 0:
        raise SystemExit("stereoize failed")
    if cli(["-q", "sync", str(sbs), str(folder / "sound_B.wav"), "-o", str(out), "--no-measure"]) != 0:
        raise SystemExit("stereo sync failed")
    if not out.exists():  # today's stereo job names a full side-by-side file *_LRF_Full_SBS
        out = next(folder.glob(out.stem + "*" + out.suffix))
    with VideoReader(out) as r:
        w = r.info.width // 2
    rows = []
    for eye in (0, 1):
        faces = analyse_faces(out, eye=eye_view("sbs", eye))
        tr = faces.speaker_track()
        gap = np.nan_to_num(tr.mouth_gap(), nan=-1)
        ks = [int(k) for k in np.argsort(-gap)[:6]]
        with VideoReader(out) as r:
            tiles = []
            for k in ks:
                img = r.frame(k)[:, eye * w:(eye + 1) * w]
                lm = tr.landmarks[k]
                tiles.append(_mouth_crop(np.ascontiguousarray(img), lm, 200))
        rows.append((f"{clip.stem} stereo {'left' if eye == 0 else 'right'} eye, most open, frames {ks}", tiles))
    contact_sheet(outdir / f"sheet_{clip.stem}_stereo.png", rows, 200)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clips", nargs="+", type=Path)
    ap.add_argument("-o", "--outdir", type=Path, default=Path("/tmp/looks"))
    ap.add_argument("--engine", default="builtin")
    ap.add_argument("--stereo", action="store_true")
    ap.add_argument("--keep-cut", action="store_true",
                    help="use the halves an earlier run left in OUTDIR (copy them there): two versions of the engine "
                         "compared on the same pictures (the halves are written anew with a threaded x264 on every run, "
                         "and the median moves by ~0.005 between runs of the same code)")
    ap.add_argument("--crf", type=int, default=None,
                    help="write the results at this x264 CRF instead of sync's default (0: lossless, the drawing "
                         "measured without the encoder: a small change in a frame moves x264's choices over the "
                         "whole mouth box, ~2 levels on average, and with them the sharpness by a few hundredths)")
    args = ap.parse_args()
    args.outdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for clip in args.clips:
        rows += measure_clip(clip, args.outdir, args.engine, args.keep_cut, args.crf)
        if args.stereo:
            stereo_sheet(clip, args.outdir)
    (args.outdir / "looks.json").write_text(json.dumps(rows, indent=1))
    keys = ("sharpness_median", "real_sharpness_median", "sharpness_worst_tenth", "real_sharpness_worst_tenth",
            "same_shape_median", "real_same_shape_median", "same_shape_worst_tenth", "real_same_shape_worst_tenth",
            "colour_de", "real_colour_de", "next_frame_colour_de", "area_in_range", "worst_shut_share",
            "worst_shape_share", "worst_soft_share")
    mean = {k: float(np.nanmean([r[k] if r[k] is not None else np.nan for r in rows])) for k in keys}
    print("mean over " + f"{len(rows)} results: " + " ".join(f"{k}={v:.3f}" for k, v in mean.items()))
    print(f"sharpness gap to real (median): {mean['sharpness_median'] - mean['real_sharpness_median']:+.3f}; "
          f"dE over natural: {mean['colour_de'] - mean['real_colour_de']:+.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
