"""The built-in engine's plan against the real mouth, in seconds per try (no rendering): the planning bench.

Rendering follows the plan (r ~0.95, bench/plan_vs_truth.py), so a change to the plan can be judged on the plan
itself before the full cross-reconstruction (bench/xrecon_all.py) confirms it. For each clip folder written by
``xrecon.py`` (pic_A.mp4, pic_B.mp4, dub_A.wav, dub_B.wav) and both directions: A's picture planned for B's
sound, compared with B's own mouth (the truth) by the cross-reconstruction's own measures: opening r and width
r at the best lag within +-2 frames, and the share of truly shut frames that the plan shuts (each series
thresholded at its own 15th percentile x 1.2 + 0.005 face heights, as xrecon.py does). The plan's gap is put in
face heights with the clip's own eye-distance-to-face-height ratio.

The truth is the measure's own: ``xrecon.py``'s FaceMesh reading of the real mouth, kept beside each folder as
``truth_series.npz`` by ``bench/xrecon_frozen.py`` (run that once first). The app's tracker reads the same mouths
differently enough to mislead (on the six development heads the two readings' gap correlates at r 0.78-0.94, the
width at 0.54-0.94, and the plan's width r read 0.44 against the tracker's reading, 0.37 against the measure's);
without that file the tracker's reading is used, and the script says so.

What is heard and tracked is computed once and kept in ``OUT_DIR/<clip>/plan_lab.pkl``.

usage: python bench/plan_lab.py XRECON_OUT_DIR [CLIP_NAME ...]
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import numpy as np

from plan_vs_truth import best_r  # the same lag search as the plan-vs-render bench


def _shut_frames(out_gap, gt_gap) -> tuple[np.ndarray, np.ndarray]:
    """(output shut, truth shut) per frame where both are measured, each series thresholded at its own 15th
    percentile x 1.2 + 0.005 (xrecon.py's closure measure)."""
    k = min(len(out_gap), len(gt_gap))
    o, g = np.asarray(out_gap[:k], float), np.asarray(gt_gap[:k], float)
    ok = np.isfinite(o) & np.isfinite(g)
    o, g = o[ok], g[ok]
    return o <= np.percentile(o, 15) * 1.2 + 0.005, g <= np.percentile(g, 15) * 1.2 + 0.005


def shut_share(out_gap, gt_gap):
    """Of the frames where the truth is shut, the share where the output is (xrecon.py's closure measure)."""
    out, truth = _shut_frames(out_gap, gt_gap)
    return float(np.mean(out[truth])) if truth.any() else float("nan")


def shut_rates(out_gap, gt_gap) -> tuple[float, float, float]:
    """(share of frames the output shuts, share the truth shuts, share of the output's shut frames truly shut).

    The closure measure counts only truly shut frames that the output shuts, so it rises with every frame shut:
    on six real heads it followed the plan's shut share at a precision of 0.52-0.58 whatever the closures' timing
    (real speech is shut in about a third of its frames by this threshold). Read the three together."""
    out, truth = _shut_frames(out_gap, gt_gap)
    return float(out.mean()), float(truth.mean()), float(truth[out].mean()) if out.any() else float("nan")


def xrecon_measures(raw):
    """(T,) inner-lip gap / face height and corner distance / face width from (T, 478, 3) landmarks (xrecon.py's)."""
    p = raw[..., :2].astype(np.float64)
    h = np.linalg.norm(p[:, 10] - p[:, 152], axis=-1)
    w = np.linalg.norm(p[:, 234] - p[:, 454], axis=-1)
    return np.linalg.norm(p[:, 13] - p[:, 14], axis=-1) / h, np.linalg.norm(p[:, 61] - p[:, 291], axis=-1) / w, h


def gather(d: Path) -> list[dict]:
    """What the planner needs per direction of one clip folder (cached)."""
    cache = d / "plan_lab.pkl"
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    from lipsync_studio.face.analysis import analyse_faces
    from lipsync_studio.media.audio import load_audio, probe_audio
    from lipsync_studio.media.timeline import plan_output
    from lipsync_studio.media.video import probe_video
    from lipsync_studio.sync.acoustics import mouth_from_audio
    from lipsync_studio.sync.mouth import EYE_CORNERS, MouthSpace
    from lipsync_studio.sync.phones import recognize_phones
    from lipsync_studio.sync.visemes import fill_unheard_speech, rescue_bilabials

    rows = []
    for src, dst in (("A", "B"), ("B", "A")):
        pic, dub, truth = d / f"pic_{src}.mp4", d / f"dub_{dst}.wav", d / f"pic_{dst}.mp4"
        info = probe_video(pic)
        plan = plan_output(info.n_frames, info.fps, probe_audio(dub).duration_s)
        faces = analyse_faces(pic)
        faces.choose_speaker(None)
        track = faces.speaker_track()
        space = MouthSpace.from_track(track)
        clip_wav, dub_wav = load_audio(pic, sr=16000), load_audio(dub, sr=16000)
        fps = float(info.fps)
        level = mouth_from_audio(dub_wav, fps, plan.n_out, 0.04).level
        dub_ph = fill_unheard_speech(rescue_bilabials(recognize_phones(dub_wav), dub_wav), level)
        clip_ph = rescue_bilabials(recognize_phones(clip_wav), clip_wav)
        t = analyse_faces(truth)
        t.choose_speaker(None)
        tg, tw, _ = xrecon_measures(t.speaker_track().raw)
        _, _, fh = xrecon_measures(track.raw)
        eye = np.linalg.norm(track.raw[:, EYE_CORNERS[0], :2] - track.raw[:, EYE_CORNERS[1], :2], axis=-1)
        rows.append(dict(name=f"{d.name} {src}->{dst}", feats=space.features(), fps=fps, n_out=plan.n_out,
                         n_clip=faces.n_frames, dub_ph=dub_ph, clip_ph=clip_ph, level=level, truth_gap=tg,
                         truth_width=tw, eye_per_face=float(np.nanmedian(eye / fh)), clip_wav=clip_wav,
                         dub_wav=dub_wav))
    cache.write_bytes(pickle.dumps(rows))
    return rows


def measured_truth(d: Path, rows: list[dict]) -> list[dict]:
    """``rows`` with the truth replaced by ``xrecon.py``'s own reading (``truth_series.npz``, the whole clip: the
    first half is A's truth, the rest B's), where the folder has it."""
    series = d / "truth_series.npz"
    if not series.exists():
        print(f"{d.name}: no truth_series.npz (run bench/xrecon_frozen.py once): the tracker's reading is the truth",
              file=sys.stderr)
        return rows
    with np.load(series) as z:
        gap, width = z["gap"], z["width"]
    half = len(gap) // 2
    out = []
    for row in rows:
        dst = row["name"].rsplit("->", 1)[1]
        sl = slice(half, None) if dst == "B" else slice(0, half)
        out.append(dict(row, truth_gap=gap[sl], truth_width=width[sl]))
    return out


def plan_row(row: dict, lead_s: float | None = None):
    """Targets of one direction with the engine's planner as it stands (``lead_s`` None: the speaker's own lead,
    measured on the clip's own speech as the engine does)."""
    from lipsync_studio.sync.acoustics import mouth_from_audio
    from lipsync_studio.sync.builtin.planner import plan_mouths, speaker_lead
    from lipsync_studio.sync.visemes import fill_unheard_speech, frame_labels

    if lead_s is None:
        level = mouth_from_audio(row["clip_wav"], row["fps"], row["n_clip"], 0.0).level
        lead_s = speaker_lead(fill_unheard_speech(row["clip_ph"], level), level, row["feats"][:, 0],
                              row["fps"]).lead_s
    from lipsync_studio.sync.acoustics import formant_deviation

    labels = frame_labels(row["clip_ph"], row["fps"], row["n_clip"], lead_s)
    formants = formant_deviation(row["dub_wav"], row["n_out"], row["fps"], lead_s)
    targets, art, _ = plan_mouths(row["feats"], labels, row["dub_ph"], row["level"], row["fps"], row["n_out"], lead_s,
                                  formants=formants)
    return targets, art


def score(row: dict, targets) -> tuple[float, ...]:
    """Opening r, width r, shut share, then :func:`shut_rates`."""
    gap = targets.gap * row["eye_per_face"]
    return (best_r(targets.gap, row["truth_gap"]), best_r(targets.width, row["truth_width"]),
            shut_share(gap, row["truth_gap"]), *shut_rates(gap, row["truth_gap"]))


def _line(name: str, s) -> str:
    return (f"{name:34s} open {s[0]:.3f} width {s[1]:.3f} shut {s[2]:.3f}   shuts {s[3]:.2f} of frames (truth "
            f"{s[4]:.2f}), {s[5]:.2f} of them truly")


def main() -> int:
    root = Path(sys.argv[1])
    names = sys.argv[2:] or sorted(p.name for p in root.iterdir() if (p / "pic_B.mp4").exists()
                                   and (p / "dub_A.wav").exists())
    res = []
    for name in names:
        for row in measured_truth(root / name, gather(root / name)):
            targets, art = plan_row(row)
            s = score(row, targets)
            res.append(s)
            print(_line(row["name"], s), flush=True)
    print(_line("MEAN", np.nanmean(np.array(res), 0)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

