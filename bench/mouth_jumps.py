"""How much the mouth changes from one frame to the next: in synced results against the real clips they were made
from, to find the jumps a concatenated mouth makes where real footage moves smoothly.

Each frame's mouth is cut out around the lips (0.9 x 0.68 eye distances, by the app's face tracker), scaled to 64 x
48 grey pixels, and compared with the frame before it (mean absolute difference, grey levels). Printed per video:
the median, the 95th percentile and the largest change, and the frame where the largest one happens; then the
means over all results and over the real clips.

usage: python bench/mouth_jumps.py RESULT_DIR
RESULT_DIR: a folder written by bench/xrecon_frozen.py (per clip: pic_A.mp4, pic_B.mp4, A_to_B_builtin.mp4,
B_to_A_builtin.mp4).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def mouth_crops(path: Path) -> list[np.ndarray | None]:
    """Each frame's mouth, (48, 64) float32 grey, or None where no face was tracked."""
    import cv2

    from lipsync_studio.face.analysis import analyse_faces
    from lipsync_studio.face.track import LIPS_OUTER
    from lipsync_studio.media.video import VideoReader
    from lipsync_studio.sync.mouth import EYE_CORNERS

    track = analyse_faces(path).speaker_track()
    out: list[np.ndarray | None] = []
    with VideoReader(path) as reader:
        for i, img in reader.iter_frames():
            if track is None or i >= len(track.present) or not track.present[i]:
                out.append(None)
                continue
            lm = track.landmarks[i][:, :2]
            eye = float(np.linalg.norm(lm[EYE_CORNERS[0]] - lm[EYE_CORNERS[1]]))
            cx, cy = lm[list(LIPS_OUTER)].mean(0)
            s = 64 / (0.9 * eye)
            grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
            m = np.array([[s, 0, 32 - s * cx], [0, s, 24 - s * cy]])
            out.append(cv2.warpAffine(grey, m, (64, 48), flags=cv2.INTER_LINEAR).astype(np.float32))
    return out


def changes(crops: list[np.ndarray | None]) -> np.ndarray:
    """(N,) mean absolute difference of each pair of consecutive frames that both have a face."""
    return np.array([np.abs(a - b).mean() for a, b in zip(crops, crops[1:]) if a is not None and b is not None])


def main() -> int:
    root = Path(sys.argv[1])
    results, reals = [], []
    for d in sorted(p for p in root.iterdir() if (p / "A_to_B_builtin.mp4").exists()):
        for src, name in (("A", "A_to_B_builtin.mp4"), ("B", "B_to_A_builtin.mp4")):
            r, s = changes(mouth_crops(d / name)), changes(mouth_crops(d / f"pic_{src}.mp4"))
            if not len(r) or not len(s):
                continue
            results.append((np.median(r), np.percentile(r, 95), r.max()))
            reals.append((np.median(s), np.percentile(s, 95), s.max()))
            print(f"{d.name[:24]:24s} {name[:6]}  result {results[-1][0]:5.2f} / {results[-1][1]:5.2f} / "
                  f"{results[-1][2]:5.2f} (largest at {int(np.argmax(r)) + 1})   real {reals[-1][0]:5.2f} / "
                  f"{reals[-1][1]:5.2f} / {reals[-1][2]:5.2f}", flush=True)
    if not results:
        print("no results found")
        return 1
    m, q = np.mean(results, 0), np.mean(reals, 0)
    print(f"MEAN (median / 95th percentile / largest)  results {m[0]:.2f} / {m[1]:.2f} / {m[2]:.2f}   "
          f"real {q[0]:.2f} / {q[1]:.2f} / {q[2]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
