"""How steady the exported 3D face is, and whether its mouth keeps time with the video, on real clips.

For each clip (default: every ``*.mp4`` in ``../shared/media``; clips without a face are skipped), the speaker
is tracked once (cached) and three face sequences are compared, all against raw per-frame FaceMesh on the
same clip (see :mod:`lipsync_studio.metrics.steadiness`):

- ``raw``: FaceMesh's landmarks as measured (the baseline, jitter ratio 1);
- ``tracker``: the mesh built from the tracker's smoothed landmarks (what ``mesh`` exported before);
- ``export``: the mesh ``mesh`` exports now (:func:`lipsync_studio.face.steady.steady_landmarks`).

Per sequence: ``jitter`` (x raw; also its mouth and upper-face parts), ``head`` (shake of the head as a
whole in the picture, x raw), ``lag`` (frames the mesh's lip gap lags FaceMesh's on the video, sub-frame),
``r`` (their correlation) and ``range`` (the lip gap's 5-95 % spread, x raw's). Prints a table, or JSON.

    python bench/mesh_steadiness.py [CLIPS...] [--json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"


def measure_clip(clip: Path) -> dict | None:
    """The numbers for one clip, or None when it has no face."""
    from lipsync_studio.face.analysis import analyse_faces
    from lipsync_studio.face.mesh3d import FaceModel, fill_gaps, mesh_for_frame
    from lipsync_studio.face.steady import steady_landmarks
    from lipsync_studio.metrics.steadiness import correlation, head_jitter, jitter, lag_frames, lip_gap, lip_gap_range

    faces = analyse_faces(clip)
    track = faces.speaker_track()
    if track is None:
        return None
    present = track.present
    model = FaceModel.from_track(track, faces.width, faces.height)
    raw_j = jitter(track.raw, present)
    raw_gap = lip_gap(track.raw, dims=2)
    raw_head = head_jitter(track.raw, present)
    out: dict = {"clip": clip.name, "frames": int(present.sum()), "raw_jitter": raw_j.face}
    for name, lm in (("tracker", fill_gaps(track)), ("export", steady_landmarks(track.raw, present, faces.fps))):
        verts = np.stack([mesh_for_frame(model, lm[i], None).vertices for i in range(len(lm))])
        j = jitter(verts, present)
        gap = lip_gap(verts, dims=3)
        out[name] = {"jitter": j.face / raw_j.face, "mouth": j.mouth / raw_j.mouth, "upper": j.upper / raw_j.upper,
                     "head": head_jitter(lm, present) / raw_head, "lag": lag_frames(gap, raw_gap),
                     "r": correlation(gap, raw_gap), "range": lip_gap_range(gap) / lip_gap_range(raw_gap)}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clips", nargs="*", type=Path, help=f"clips to measure (default: {MEDIA}/*.mp4)")
    p.add_argument("--json", action="store_true", help="one JSON object per clip")
    args = p.parse_args()
    clips = args.clips or sorted(MEDIA.glob("*.mp4"))
    rows = [r for r in (measure_clip(c) for c in clips) if r is not None]
    if args.json:
        for r in rows:
            print(json.dumps(r))
        return
    print(f"{'clip':28s} {'seq':8s} {'jitter':>7s} {'mouth':>6s} {'upper':>6s} {'head':>6s} {'lag':>6s} "
          f"{'r':>6s} {'range':>6s}   (jitter, head, range: x raw FaceMesh; lag: frames)")
    for r in rows:
        for name in ("tracker", "export"):
            m = r[name]
            print(f"{r['clip'][:28]:28s} {name:8s} {m['jitter']:7.2f} {m['mouth']:6.2f} {m['upper']:6.2f} "
                  f"{m['head']:6.2f} {m['lag']:+6.2f} {m['r']:6.3f} {m['range']:6.2f}")
    for name in ("tracker", "export"):
        j = [r[name]["jitter"] for r in rows]
        lag = [abs(r[name]["lag"]) for r in rows]
        print(f"{name}: jitter {min(j):.2f}-{max(j):.2f}x raw, worst |lag| {max(lag):.2f} frames")


if __name__ == "__main__":
    main()
