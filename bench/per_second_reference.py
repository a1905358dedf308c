"""What real speech scores on the per-second sync agreement (app/verdicts.py: REAL_SPEECH_PER_SECOND), and what a
mouth saying other words scores (each clip's mouth against every other clip's sound: what a "before" looks like).

    python bench/per_second_reference.py CLIP [CLIP ...]

Prints the 10th percentile, median and 90th percentile over every second of real speech (each clip with its own
sound) and of mismatched pairs, and how well a second's value tells the two apart (AUC: 0.5 chance, 1 always),
for the phonetic agreement the app plots and, as the baseline, the mouth-vs-loudness correlation.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def _curves(path: Path):
    from lipsync_studio.face.analysis import analyse_faces
    from lipsync_studio.media.audio import load_audio
    from lipsync_studio.metrics.sync import mouth_width
    from lipsync_studio.sync.acoustics import mouth_from_audio
    from lipsync_studio.sync.phones import recognize_phones

    faces = analyse_faces(path)
    track = faces.speaker_track()
    wav = load_audio(path, sr=16000)
    loud = mouth_from_audio(wav, float(faces.fps), faces.n_frames, lead_s=0.0).loudness_db
    return track.mouth_gap(), mouth_width(track.landmarks), loud, recognize_phones(wav), float(faces.fps)


def _loudness_per_second(gap, loud, fps, lead=1, window_s=2.0):
    n = min(len(gap), len(loud))
    m, a = np.asarray(gap[:n], float), np.asarray(loud[:n], float)
    a = np.maximum(a, np.percentile(a, 97) - 45.0)
    m, a = m[:n - lead], a[lead:]
    out = []
    for k in range(int(np.ceil(n / fps))):
        c, h = (k + 0.5) * fps, window_s * fps / 2
        x, y = m[max(0, int(c - h)):int(c + h)], a[max(0, int(c - h)):int(c + h)]
        ok = np.isfinite(x) & np.isfinite(y)
        out.append(np.corrcoef(x[ok], y[ok])[0, 1] if ok.sum() >= 10 and x[ok].std() > 0 and y[ok].std() > 0
                   else np.nan)
    return np.array(out)


def _auc(a, b) -> float:
    a, b = np.asarray(a)[:, None], np.asarray(b)[None, :]
    return float((a > b).mean() + 0.5 * (a == b).mean())


def main(paths: list[str]) -> None:
    from lipsync_studio.app.verdicts import agreement_per_second

    data = [_curves(Path(p)) for p in paths]
    for name in ("phonetic agreement (the app's)", "loudness correlation (baseline)"):
        own, other = [], []
        for i, (gap, width, _, _, fps) in enumerate(data):
            for j, (_, _, loud, phones, _) in enumerate(data):
                n = min(len(gap), len(loud))
                v = (agreement_per_second(gap[:n], width[:n], phones, fps) if name.startswith("phonetic")
                     else _loudness_per_second(gap[:n], loud[:n], fps))
                (own if i == j else other).extend(v[np.isfinite(v)])
        q = lambda v: np.percentile(v, [10, 50, 90])  # noqa: E731
        print(f"{name}:\n  real speech, own sound  ({len(own):3d} s): p10 {q(own)[0]:.2f}  median {q(own)[1]:.2f}"
              f"  p90 {q(own)[2]:.2f}\n  mouth vs others' sound ({len(other):3d} s): p10 {q(other)[0]:.2f}  "
              f"median {q(other)[1]:.2f}  p90 {q(other)[2]:.2f}\n  AUC own vs other: {_auc(own, other):.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
