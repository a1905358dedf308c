"""The built-in engine's donor choice judged without rendering: the donor-level bench.

The drawing opens or closes a donor's lips to any gap, but moves its corners at most 8 % of its width, so the
width the cross-reconstruction reads on a result is the chosen donor frame's own (on six real heads: this bench's
width 0.324 against the rendered results' 0.316). For each clip folder written by ``xrecon.py`` (pic_A.mp4,
pic_B.mp4, dub_A.wav, dub_B.wav) and both directions, the engine plans as ``sync`` does, and its donor schedule
is scored by what the checker's FaceMesh (video mode, ``refine_landmarks=False``, as xrecon.py) reads on the donor
frames themselves against the truth (the real mouth on the other half):

- **width**: Pearson r of the donors' corner distance / face width with the truth, best lag within +-2 frames;
- **shut**: of the truly shut frames, the share whose target shuts the lips *and* whose donor's lips are shut
  (each series thresholded at its 15th percentile x 1.2 + 0.005 face heights, as xrecon.py does);
- **donors' own opening**: Pearson r of the donors' own inner-lip gap with the truth (the drawing moves the gap
  to the target's, so this is only the part of the opening a donor brings by itself: its jaw, its interior).

The donor choice is a Viterbi path over discrete candidates, so one parameter set's score jumps by +-0.05 between
neighbouring settings; each variant is therefore scored over a family of nine neighbours (jump cost 2-3 x detail
cost 4-6), and the spread of the family's means is printed beside the mean.

What is planned and measured once is kept in ``OUT_DIR/<clip>/donor_lab.pkl``.

Found with it (2026-12-05, six real heads of ../shared/media; width / shut / donors' own opening): the engine's
choice 0.313 / 0.689 / 0.450; the donor's class costing 0.5 instead of 1 0.340 / 0.689 / 0.436 (rendered and read
by xrecon.py: opening 0.459 -> 0.454, width 0.316 -> 0.337, shut 0.65 -> 0.66), 0 0.346 / 0.689 / 0.428; width
sigma 0.015 with it 0.348; gap sigma 0.02 0.301 / 0.689 / 0.469. The width the donors bring and the opening they
bring trade against each other along one front; no setting moved both, and the rendered differences lie within
the cross-reconstruction's noise (+-0.02-0.03), so the engine's settings were left as they are. Later the same
day, with the speaker's own spread drawn (MouthSpace.spread), class cost 0.5 rendered width 0.337 -> 0.351 (opening
0.462 both) but the looks median sharpness fell 0.957 -> 0.941 (real frames 1.002; bench/looks.py): not adopted.

usage: PYTHONPATH=src:bench python bench/donor_lab.py XRECON_OUT_DIR ['[{"class_cost": 0.5}, ...]']
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import numpy as np

from plan_vs_truth import best_r  # xrecon.py's lag search, as the planning bench uses it


def checker_series(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(T,) opening and width per frame as xrecon.py reads them (NaN where no face)."""
    import av
    import mediapipe as mp

    fm = mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1)
    gap, wid = [], []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            img = f.to_ndarray(format="rgb24")
            r = fm.process(img)
            if not r.multi_face_landmarks:
                gap.append(np.nan)
                wid.append(np.nan)
                continue
            p = np.array([[lm.x * img.shape[1], lm.y * img.shape[0]] for lm in r.multi_face_landmarks[0].landmark])
            h, w = np.linalg.norm(p[10] - p[152]), np.linalg.norm(p[234] - p[454])
            gap.append(np.linalg.norm(p[13] - p[14]) / h)
            wid.append(np.linalg.norm(p[61] - p[291]) / w)
    fm.close()
    return np.array(gap), np.array(wid)


def gather(d: Path) -> list[dict]:
    """The arguments the engine gives ``schedule_donors`` in both directions of one clip folder (cached)."""
    cache = d / "donor_lab.pkl"
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    import lipsync_studio.sync.builtin.engine as engine
    from lipsync_studio.face.analysis import analyse_faces
    from lipsync_studio.media.audio import probe_audio
    from lipsync_studio.media.timeline import plan_output
    from lipsync_studio.media.video import probe_video

    seen: dict = {}
    schedule = engine.schedule_donors

    def keep_arguments(*a, **k):
        seen["args"], seen["kw"] = a, k
        return schedule(*a, **k)

    engine.schedule_donors = keep_arguments
    try:
        read = {half: checker_series(d / f"pic_{half}.mp4") for half in "AB"}
        rows = []
        for src, dst in (("A", "B"), ("B", "A")):
            pic, dub = d / f"pic_{src}.mp4", d / f"dub_{dst}.wav"
            info = probe_video(pic)
            plan = plan_output(info.n_frames, info.fps, probe_audio(dub).duration_s)
            faces = analyse_faces(pic)
            faces.choose_speaker(None)
            eng = engine.BuiltinEngine()
            eng.begin(pic, dub)
            eng.prepare(pic, dub, faces, plan)
            rows.append(dict(name=f"{d.name} {src}->{dst}", args=seen["args"], kw=seen["kw"],
                             src_gap=read[src][0], src_wid=read[src][1], truth_gap=read[dst][0],
                             truth_wid=read[dst][1]))
    finally:
        engine.schedule_donors = schedule
    cache.write_bytes(pickle.dumps(rows))
    return rows


def score(row: dict, donors: np.ndarray) -> tuple[float, float]:
    """(width r, shut share) of one direction's donor schedule."""
    from lipsync_studio.sync.builtin.planner import OWN

    targets, sources = row["args"][0], row["args"][1]
    d = np.clip(np.where(donors == OWN, sources, donors), 0, len(row["src_wid"]) - 1)
    closing = targets.gap <= np.percentile(targets.gap, 5) + 0.005  # the planner's own test for a shut target
    truth = row["truth_gap"][:len(d)]
    g = row["src_gap"][d]
    ok = np.isfinite(truth) & np.isfinite(g)
    truly = ok & (truth <= np.nanpercentile(truth, 15) * 1.2 + 0.005)
    shut = closing & (g <= np.nanpercentile(row["src_gap"], 15) * 1.2 + 0.005)
    return (best_r(row["src_wid"][d], row["truth_wid"]), float(np.mean(shut[truly])) if truly.any() else np.nan,
            best_r(g, row["truth_gap"]))


def main() -> int:
    from lipsync_studio.sync.builtin.planner import schedule_donors

    root = Path(sys.argv[1])
    variants = json.loads(sys.argv[2]) if len(sys.argv) > 2 else [{}]
    names = sorted(p.name for p in root.iterdir() if (p / "pic_B.mp4").exists() and (p / "dub_A.wav").exists())
    rows = [row for name in names for row in gather(root / name)]
    family = [dict(jump_cost=j, detail_cost=c) for j in (2.0, 2.5, 3.0) for c in (4.0, 5.0, 6.0)]
    for v in variants:
        v = {k: tuple(x) if isinstance(x, list) else x for k, x in v.items()}
        got = np.array([[score(row, schedule_donors(*row["args"], **{**row["kw"], **f, **v})) for row in rows]
                        for f in family])  # (family, rows, 3)
        per_row = got.mean(0)
        print(f"{json.dumps({k: list(x) if isinstance(x, tuple) else x for k, x in v.items()}):50s} "
              f"width {got[..., 0].mean():.3f} +- {got[..., 0].mean(1).std():.3f}  shut {np.nanmean(got[..., 1]):.3f}  "
              f"donors' own opening {got[..., 2].mean():.3f}  "
              + " ".join(f"{r[0]:.2f}" for r in per_row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
