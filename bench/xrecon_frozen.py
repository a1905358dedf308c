"""Cross-reconstruction on frozen inputs: the same measure as ``xrecon.py``, without its run-to-run noise, in a minute.

``xrecon.py`` writes each half's picture anew on every run with a threaded x264, so the picture the engine is given
differs from run to run, and with it the result (a clip's width r moved by 0.05 between two runs of the same code).
This bench takes a folder ``xrecon_all.py`` already wrote (``CLIP/pic_A.mp4``, ``pic_B.mp4``, ``dub_A.wav``,
``dub_B.wav``) and syncs those very files again with the engine under test, so two versions of the engine are
compared on identical inputs: a difference is the engine's. The truth (the real mouth, measured on the whole clip
with ``xrecon.py``'s own FaceMesh reading) is measured once and kept beside the folder (``truth_series.npz``); each
result is measured the same way. The measures (opening r and width r at the best lag within +-2 frames, the
closure share) are ``xrecon.py``'s own functions, imported from it.

usage: python bench/xrecon_frozen.py XRECON_OUT_DIR CLIP_DIR RESULTS_DIR [--xrecon PATH] [--python PY]
       [--src TREE] [--against BEFORE_DIR] [--only NAME ...]
``--src``: a source tree to run instead of the installed package (its root: ``TREE/src`` goes on ``PYTHONPATH``), to
compare two versions. ``--against``: an earlier RESULTS_DIR; each row shows that run's numbers and the change, and
the end counts the directions each measure rose and fell in. On these short halves a direction's width r moves by
up to 0.1 when the landmarks move by a tenth of a pixel: judge a change by the mean and by how many directions move
together, not by one direction.
RESULTS_DIR gets ``CLIP/A_to_B_builtin.mp4`` etc. (with links to the pictures: ``bench/change_sheet.py`` reads it).
On the six development heads: 57 s for all twelve results on two cores.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np


def _load_xrecon(path: Path):
    spec = importlib.util.spec_from_file_location("xrecon", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _series(x, video: Path, cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """(gap, width) per frame as ``xrecon.py`` measures them, kept in ``cache``."""
    if cache.exists():
        with np.load(cache) as z:
            return z["gap"], z["width"]
    frames, _, _ = x.read_clip(str(video))
    gap, width = x.mouth_series(frames)
    np.savez(cache, gap=gap, width=width)
    return gap, width


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("inputs", type=Path, help="a folder xrecon_all.py wrote")
    ap.add_argument("clips", type=Path, help="the clips it was made from (the truth is measured on them)")
    ap.add_argument("results", type=Path)
    ap.add_argument("--xrecon", type=Path, default=Path(__file__).resolve().parents[2] / "shared/tools/xrecon.py")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--src", type=Path, default=None, help="run this source tree (its src/) instead of the package")
    ap.add_argument("--only", nargs="*", default=None, help="clip folder names to run (default: all)")
    ap.add_argument("--against", type=Path, default=None, help="an earlier RESULTS_DIR to compare with")
    a = ap.parse_args()
    x = _load_xrecon(a.xrecon)
    env = dict(os.environ)
    if a.src is not None:
        env["PYTHONPATH"] = str((a.src / "src").resolve())
    folders = sorted(p for p in a.inputs.iterdir() if (p / "pic_B.mp4").exists() and (p / "dub_A.wav").exists())
    if a.only:
        folders = [p for p in folders if p.name in a.only]
    rows, before = [], []
    for folder in folders:
        clip = a.clips / f"{folder.name}.mp4"
        gt_gap, gt_width = _series(x, clip, folder / "truth_series.npz")
        half = len(gt_gap) // 2
        out_dir = a.results / folder.name
        out_dir.mkdir(parents=True, exist_ok=True)
        for name in ("pic_A.mp4", "pic_B.mp4"):
            link = out_dir / name
            if not link.exists():
                link.symlink_to((folder / name).resolve())
        for src, dst in (("A", "B"), ("B", "A")):
            out = out_dir / f"{src}_to_{dst}_builtin.mp4"
            cmd = [a.python, "-c", "import sys; from lipsync_studio.cli import main; sys.exit(main())", "-q", "sync",
                   str(folder / f"pic_{src}.mp4"), str(folder / f"dub_{dst}.wav"), "-o", str(out), "--no-measure"]
            r = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if r.returncode != 0:
                print(r.stderr[-800:], file=sys.stderr)
                return 1
            cache = out_dir / f"series_{src}{dst}.npz"
            cache.unlink(missing_ok=True)
            gap, width = _series(x, out, cache)
            sl = slice(half, None) if dst == "B" else slice(0, half)
            g, w = gt_gap[sl], gt_width[sl]
            row = (x.best_r(gap, g), x.best_r(width, w), x.closure(gap, g))
            rows.append(row)
            line = f"{folder.name:28s} {src}->{dst}  open {row[0]:.3f}  width {row[1]:.3f}  shut {row[2]:.2f}"
            old = a.against / folder.name / f"series_{src}{dst}.npz" if a.against is not None else None
            if old is not None and old.exists():
                with np.load(old) as z:
                    was = (x.best_r(z["gap"], g), x.best_r(z["width"], w), x.closure(z["gap"], g))
                before.append(was)
                line += "   was " + "  ".join(f"{v:.3f} ({n - v:+.3f})" for v, n in zip(was, row))
            print(line, flush=True)
    if not rows:
        print(f"no xrecon folders in {a.inputs}", file=sys.stderr)
        return 2
    m = np.nanmean(np.array(rows), 0)
    print(f"{'MEAN':28s}       open {m[0]:.3f}  width {m[1]:.3f}  shut {m[2]:.3f}")
    if before and len(before) == len(rows):
        b, n = np.array(before), np.array(rows)
        mb = np.nanmean(b, 0)
        print(f"{'MEAN before':28s}       open {mb[0]:.3f}  width {mb[1]:.3f}  shut {mb[2]:.3f}")
        print("directions up / down: " + "  ".join(
            f"{name} {int((n[:, k] > b[:, k] + 1e-9).sum())} / {int((n[:, k] < b[:, k] - 1e-9).sum())}"
            for k, name in enumerate(("open", "width", "shut"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
