"""What the phonetic sync measure says about real speech, and about synced results: the reference range.

``eval`` (:func:`lipsync_studio.metrics.sync.evaluate_video`) on every real talking head in CLIP_DIR with its own
sound (the reference: real people saying their own words), then on the synced results found in the optional
result folders (``*_to_*_{builtin,none}.mp4`` as ``xrecon.py`` writes them, each carrying its dub as its sound).
Prints one row per video and each group's min / mean / max of the score and its parts.

usage: python bench/eval_reference.py CLIP_DIR [LABEL=RESULT_DIR ...]
e.g.   python bench/eval_reference.py ../shared/media phonetic=/tmp/after loudness-engine=/tmp/before
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

KEYS = ("closure", "rounding", "width_f2", "opening_f1", "leak", "loudness")


def main() -> int:
    from lipsync_studio.metrics.sync import evaluate_video

    clips = sorted(p for p in Path(sys.argv[1]).glob("*.mp4") if "vr180" not in p.name)
    groups: dict[str, list[Path]] = {"real speech": clips}
    for arg in sys.argv[2:]:
        label, folder = arg.split("=", 1)
        for kind in ("builtin", "none"):
            found = sorted(Path(folder).glob(f"*/*_to_*_{kind}.mp4"))
            if found:
                groups[f"{label}:{kind}"] = found
    summary = {}
    for label, videos in groups.items():
        rows = []
        for v in videos:
            p = evaluate_video(v).phonetic
            parts = p.parts()
            rows.append([p.score] + [np.nan if parts[k] is None else parts[k] for k in KEYS])
            print(f"{label:24s} {v.parent.name + '/' + v.name if label != 'real speech' else v.name:48s} "
                  f"score {p.score:.3f} ({p.verdict}) " + " ".join(f"{k} {x:.2f}" for k, x in zip(KEYS, rows[-1][1:]))
                  + f" ({p.bilabials} p/b/m)", flush=True)
        a = np.array(rows)
        summary[label] = a
    print()
    for label, a in summary.items():
        print(f"{label:24s} n={len(a):2d} score min {np.nanmin(a[:, 0]):.3f} mean {np.nanmean(a[:, 0]):.3f} "
              f"max {np.nanmax(a[:, 0]):.3f} | " + " ".join(f"{k} {np.nanmean(a[:, i + 1]):.2f}"
                                                         for i, k in enumerate(KEYS)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
