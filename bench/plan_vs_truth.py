"""Where a cross-reconstruction loses: the built-in engine's planned mouth vs the rendered one vs the truth.

For each clip folder written by ``xrecon.py`` (pic_A.mp4, pic_B.mp4, dub_A.wav, dub_B.wav, A_to_B_builtin.mp4, …):
plan A's picture for B's sound (the engine's target gap and width), track the rendered result and B's own
picture (the truth: what the mouth did while saying that sound), and print the correlation (best lag within
±2 frames) of the plan and of the render with the truth, and of the dub's loudness with the truth.

usage: python bench/plan_vs_truth.py XRECON_OUT_DIR [CLIP_NAME ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def best_r(x, y, maxlag=2):
    best = -2.0
    for lag in range(-maxlag, maxlag + 1):
        a, b = (x[lag:], y[:len(y) - lag]) if lag >= 0 else (x[:lag], y[-lag:])
        k = min(len(a), len(b))
        a, b = np.asarray(a[:k], float), np.asarray(b[:k], float)
        ok = np.isfinite(a) & np.isfinite(b)
        if ok.sum() >= 15 and a[ok].std() > 0 and b[ok].std() > 0:
            best = max(best, float(np.corrcoef(a[ok], b[ok])[0, 1]))
    return best


def prepared_engine(pic: Path, dub: Path):
    """``(engine, plan)``: the built-in engine prepared to sync ``pic`` to ``dub`` as ``sync`` prepares it (the
    largest face speaks), and the output's timeline."""
    from lipsync_studio.face.analysis import analyse_faces
    from lipsync_studio.media.audio import probe_audio
    from lipsync_studio.media.timeline import plan_output
    from lipsync_studio.media.video import probe_video
    from lipsync_studio.sync.builtin.engine import BuiltinEngine

    info = probe_video(pic)
    plan = plan_output(info.n_frames, info.fps, probe_audio(dub).duration_s)
    faces = analyse_faces(pic)
    faces.choose_speaker(None)
    engine = BuiltinEngine()
    engine.prepare(pic, dub, faces, plan)
    return engine, plan


def main() -> int:
    from lipsync_studio.face.analysis import analyse_faces
    from lipsync_studio.media.audio import load_audio
    from lipsync_studio.media.video import probe_video
    from lipsync_studio.metrics.sync import mouth_width
    from lipsync_studio.sync.acoustics import mouth_from_audio

    root = Path(sys.argv[1])
    names = sys.argv[2:] or sorted(p.name for p in root.iterdir() if (p / "pic_A.mp4").exists())
    rows = []
    for name in names:
        d = root / name
        for src, dst in (("A", "B"), ("B", "A")):
            pic, dub, out, truth = d / f"pic_{src}.mp4", d / f"dub_{dst}.wav", d / f"{src}_to_{dst}_builtin.mp4", \
                d / f"pic_{dst}.mp4"
            info = probe_video(pic)
            eng, plan = prepared_engine(pic, dub)
            t = analyse_faces(truth).speaker_track()
            tg, tw = t.mouth_gap(), mouth_width(t.landmarks)
            o = analyse_faces(out).speaker_track() if out.exists() else None
            og = o.mouth_gap() if o is not None else np.full(len(tg), np.nan)
            ow = mouth_width(o.landmarks) if o is not None else np.full(len(tg), np.nan)
            loud = mouth_from_audio(load_audio(dub), float(info.fps), plan.n_out, 0.0).loudness_db
            row = (best_r(eng.targets.gap, tg), best_r(og, tg), best_r(eng.targets.width, tw), best_r(ow, tw),
                   best_r(loud, tg))
            rows.append(row)
            print(f"{name:28s} {src}->{dst} plan open {row[0]:.3f} render open {row[1]:.3f} | plan width {row[2]:.3f} "
                  f"render width {row[3]:.3f} | loudness open {row[4]:.3f}  {eng.info.get('speaker_visemes')}",
                  flush=True)
    m = np.nanmean(np.array(rows), 0)
    print(f"MEAN plan open {m[0]:.3f} render open {m[1]:.3f} | plan width {m[2]:.3f} render width {m[3]:.3f} | "
          f"loudness open {m[4]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
