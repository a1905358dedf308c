"""Cross-reconstruction over a folder of real talking heads: the table issue 13 is judged by.

Runs ``xrecon.py CLIP OUTDIR`` (the measuring tool: sync one half's picture to the other half's sound and compare
the result's mouth with what the real mouth did) on every ``*.mp4`` with a face and its own speech in CLIP_DIR,
then prints one row per clip and the means: opening r, width r and closure share for the engine and for
``--engine none``, and the opening r of the dub's loudness envelope.

usage: python bench/xrecon_all.py CLIP_DIR OUT_DIR [--xrecon PATH] [--cli PATH] [--engine builtin]
       [--extra "ARGS"] [--skip NAME ...]
The xrecon tool needs mediapipe, soundfile, scipy and av (the shared venv has them).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

LINE = re.compile(r"(\w+):open_r=([-\d.na]+)(?:,width_r=([-\d.na]+),closure=([-\d.na]+))?")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clips", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--xrecon", type=Path, default=Path(__file__).resolve().parents[2] / "shared/tools/xrecon.py")
    ap.add_argument("--cli", default="lipsync-studio")
    ap.add_argument("--engine", default="builtin")
    ap.add_argument("--extra", default="")
    ap.add_argument("--skip", nargs="*", default=["vr180"], help="name fragments to leave out (default: vr180)")
    a = ap.parse_args()
    clips = sorted(p for p in a.clips.glob("*.mp4") if not any(s in p.name for s in a.skip))
    if not clips:
        print(f"no clips in {a.clips}", file=sys.stderr)
        return 2
    rows = {}
    for clip in clips:
        cmd = [sys.executable, str(a.xrecon), str(clip), str(a.out / clip.stem), "--engine", a.engine, "--cli", a.cli]
        if a.extra:
            cmd += ["--extra", a.extra]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"{clip.name}: failed\n{r.stdout[-400:]}{r.stderr[-800:]}", file=sys.stderr)
            continue
        last = r.stdout.strip().splitlines()[-1]
        row = {}
        for m in LINE.finditer(last):
            row[m.group(1)] = [float(v) for v in m.groups()[1:] if v is not None]
        rows[clip.name] = row
        (a.out / clip.stem).mkdir(parents=True, exist_ok=True)
        (a.out / clip.stem / "xrecon.txt").write_text(r.stdout)
        print(last, flush=True)
    if not rows:
        return 1
    print(f"\n{'clip':32s} {'eng open':>8s} {'width':>6s} {'shut':>5s} | {'none open':>9s} {'width':>6s} {'shut':>5s} | loud open")
    for name, row in rows.items():
        e, n, l_ = row.get(a.engine, [np.nan] * 3), row.get("none", [np.nan] * 3), row.get("loudness", [np.nan])
        print(f"{name:32s} {e[0]:8.3f} {e[1]:6.3f} {e[2]:5.2f} | {n[0]:9.3f} {n[1]:6.3f} {n[2]:5.2f} | {l_[0]:.3f}")
    mean = {k: np.nanmean([r[k] for r in rows.values() if k in r], axis=0) for k in (a.engine, "none", "loudness")}
    e, n, l_ = mean[a.engine], mean["none"], mean["loudness"]
    print(f"{'MEAN':32s} {e[0]:8.3f} {e[1]:6.3f} {e[2]:5.2f} | {n[0]:9.3f} {n[1]:6.3f} {n[2]:5.2f} | {l_[0]:.3f}")
    (a.out / "table.json").write_text(json.dumps({"rows": rows, "mean": {k: list(map(float, v)) for k, v in mean.items()}}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
