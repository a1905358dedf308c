"""Does the exported 3D face say the dub? The mesh of ``mesh CLIP --dub DUB`` against the synced video.

For each clip (default: the real talking heads in ``../shared/media``), the dub is the first ``--seconds`` of
the next clip's sound (another speaker saying something else). ``run_mesh(clip, face.usd, dub=...)`` syncs and
exports; then the lip gap of the exported USD (its time-sampled points under the head transform, read back
with usd-core) is correlated with the lip gap FaceMesh measures on the synced video, and with the original
clip's over the same frames (what the mesh would follow if it were of the original). Prints one line per clip.

    python bench/synced_mesh.py [--seconds 5] [--out /tmp/synced-mesh]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"


def usd_vertices(path: Path) -> np.ndarray:
    """(T, N, 3) world-space points of ``/Face/Head/Mesh`` at every time code."""
    from pxr import Usd, UsdGeom

    stage = Usd.Stage.Open(str(path))
    points = UsdGeom.Mesh(stage.GetPrimAtPath("/Face/Head/Mesh")).GetPointsAttr()
    head = UsdGeom.Xformable(stage.GetPrimAtPath("/Face/Head"))
    out = []
    for code in points.GetTimeSamples():
        p = np.array(points.Get(code), np.float64)
        m = np.array(head.ComputeLocalToWorldTransform(Usd.TimeCode(code)))
        out.append((np.c_[p, np.ones(len(p))] @ m)[:, :3])
    return np.stack(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=5.0, help="length of each dub (shorter than the clips)")
    p.add_argument("--out", type=Path, default=Path("/tmp/synced-mesh"))
    p.add_argument("--clips", type=int, default=3, help="how many clips")
    args = p.parse_args()

    from lipsync_studio.engine.mesh_job import MeshOptions, run_mesh
    from lipsync_studio.face.analysis import analyse_faces
    from lipsync_studio.media.audio import load_audio
    from lipsync_studio.media.audio_writer import write_audio
    from lipsync_studio.metrics.steadiness import correlation, lag_frames, lip_gap

    clips = [c for c in sorted(MEDIA.glob("hdtf_*.mp4"))][: args.clips + 1]
    args.out.mkdir(parents=True, exist_ok=True)
    for k, clip in enumerate(clips[: args.clips]):
        other = clips[(k + 1) % len(clips)]
        dub = args.out / f"dub_{k}.wav"
        write_audio(dub, load_audio(other, sr=48000)[: int(args.seconds * 48000)], 48000)
        usd, synced = args.out / f"face_{k}.usd", args.out / f"synced_{k}.mp4"
        run_mesh(clip, usd, MeshOptions(dub=dub, synced_video=synced))
        verts = usd_vertices(usd)
        mesh_gap = lip_gap(verts, dims=3)
        synced_gap = lip_gap(analyse_faces(synced).speaker_track().raw, dims=2)
        original_gap = lip_gap(analyse_faces(clip).speaker_track().raw, dims=2)[: len(mesh_gap)]
        print(json.dumps({"clip": clip.name, "dub_from": other.name, "frames": len(mesh_gap),
                          "r_synced": round(correlation(mesh_gap, synced_gap), 3),
                          "lag_synced_frames": round(lag_frames(mesh_gap, synced_gap), 3),
                          "r_original": round(correlation(mesh_gap, original_gap), 3)}))


if __name__ == "__main__":
    main()
