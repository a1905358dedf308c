"""Where the cross-reconstruction's truly shut frames are lost: in the plan, or in the drawing.

For each result of ``bench/xrecon_frozen.py`` (its RESULTS_DIR, with the inputs it synced from), the frames where
the real mouth is shut (``xrecon.py``'s closure measure: the truth's inner-lip gap at most its 15th percentile x 1.2
+ 0.005 face heights) are split by what the built-in engine planned for them, re-planned here from the same
inputs: *planned closing* (the target gap within 0.005 eye distances of the plan's 5th percentile, as the donor
choice reads a closing target) or *planned open*; then how many of each read shut on the result (the result's own
threshold, as the measure takes it). For planned-closing frames that read open, the donor and its own gap are
listed: near-shut lips pressed together by the warp read a hair open to FaceMesh.

On the six development heads (2921922, ``/tmp/s6/xr_v18``): 397 truly shut frames, 265 planned closing of which 237
read shut (0.89); 132 planned open of which 16 read shut - the plan, not the drawing, loses most. (The share pooled
over all frames, 0.637, is not the mean over the twelve directions that ``xrecon_frozen.py`` prints, 0.646.)

usage: python bench/shut_loss.py XRECON_OUT_DIR RESULTS_DIR [--xrecon PATH]
(the engine is the installed package; put another tree's src/ on PYTHONPATH to plan with it)
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("inputs", type=Path, help="the folder xrecon_frozen.py synced from (with truth_series.npz)")
    ap.add_argument("results", type=Path, help="its RESULTS_DIR (series_AB.npz, series_BA.npz per clip)")
    ap.add_argument("--xrecon", type=Path, default=Path(__file__).resolve().parents[2] / "shared/tools/xrecon.py")
    a = ap.parse_args()
    spec = importlib.util.spec_from_file_location("xrecon", a.xrecon)
    x = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(x)

    from lipsync_studio.sync.builtin.planner import OWN
    from plan_vs_truth import prepared_engine  # a sibling bench script

    def threshold(v: np.ndarray) -> float:
        return float(np.percentile(v, 15) * 1.2 + 0.005)

    total = np.zeros(4, int)  # truly shut, planned closing, of those read shut, planned open read shut
    for folder in sorted(p for p in a.results.iterdir() if (p / "series_AB.npz").exists()):
        truth = np.load(a.inputs / folder.name / "truth_series.npz")["gap"]
        half = len(truth) // 2
        for src, dst in (("A", "B"), ("B", "A")):
            with np.load(folder / f"series_{src}{dst}.npz") as z:
                out = z["gap"]
            real = truth[half:] if dst == "B" else truth[:half]
            clip, dub = a.inputs / folder.name / f"pic_{src}.mp4", a.inputs / folder.name / f"dub_{dst}.wav"
            engine, plan = prepared_engine(clip, dub)
            n = min(len(out), len(real), plan.n_out)
            o, g = out[:n], real[:n]
            ok = np.isfinite(o) & np.isfinite(g)
            shut = ok & (g <= threshold(g[ok]))
            read_shut = o <= threshold(o[ok])
            closing = engine.targets.gap[:n] <= np.percentile(engine.targets.gap, 5) + 0.005
            lost = np.flatnonzero(shut & closing & ~read_shut)
            row = np.array([shut.sum(), (shut & closing).sum(), (shut & closing & read_shut).sum(),
                            (shut & ~closing & read_shut).sum()])
            total += row
            donors = []
            for k in lost[:6]:
                d = int(engine.donors[k])
                j = plan.source_index(k) if d == OWN else d
                donors.append(f"{k}:{'own' if d == OWN else d}@{engine.features[j, 0]:.3f}")
            print(f"{folder.name[:24]:24s} {src}->{dst}  truly shut {row[0]:3d}  planned closing {row[1]:3d} "
                  f"(read shut {row[2]:3d})  planned open {row[0] - row[1]:3d} (read shut {row[3]:2d})  "
                  f"lost in drawing: {' '.join(donors)}", flush=True)
    s, c, cs, os_ = total.tolist()
    print(f"ALL  truly shut {s}: planned closing {c} ({c / max(s, 1):.2f}), of them read shut {cs} "
          f"({cs / max(c, 1):.2f}); planned open {s - c}, of them read shut {os_}; "
          f"shut share {(cs + os_) / max(s, 1):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
