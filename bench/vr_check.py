"""VR clips synced: what changed, where, and whether the two eyes agree through the known geometry.

``scene``: makes a VR180 (fisheye mesh) or 360 (equirectangular) top-bottom clip with a talking head at a known
direction (``--clip``: a real talking head of your own instead of the astronaut; its second half's sound is the
dub, its first half's picture the clip), syncs it with ``lipsync-studio sync`` and prints one JSON line: frames
with the mouth changed in both eyes, the largest change outside the head's footprint (lossless in and out, so 0-1
is "nothing changed"), the error of the right eye's change against where the geometry puts the left eye's change
(px), and with ``--clip`` the correlation of the synced mouth (measured in the view it was synced in) with the
real mouth that said the dub, beside the same for the flat clip and for the clip left unsynced.

``passthrough CLIP DUB``: syncs CLIP (e.g. a VR clip without a person) and compares the result with CLIP
re-encoded by the same writer: with no face, the two should be the same pictures (PSNR against the input is then
only the encoding's), and the stereo/VR boxes of input and output should be equal.

    python bench/vr_check.py scene --kind vr180 --yaw 45 --pitch 10 --out /tmp/vr
    python bench/vr_check.py scene --kind 360 --yaw 110 --pitch -20 --clip talking_head.mp4 --out /tmp/vr360
    python bench/vr_check.py scene --kind 360 --mono --yaw 110 --pitch -20 --clip talking_head.mp4 --out /tmp/m360
``mesh``: makes the same kind of clip (the astronaut) and exports the face's meshes with ``run_mesh``: the frames
measured, where ``sequence.json`` says the view looks against where the head stands (degrees), and the angle
between the head's direction and each frame's mesh translation turned by that view (median, degrees): small when
the meshes are in the view's metric space.

``spatial --clip CLIP``: makes a spatial video (MV-HEVC, two views) of a real talking head of your own: its first
half's picture as the left view, the right view warped from it through a head-shaped disparity (5 px wall, 14 px
nearest), its second half's sound as the dub; encodes it with an x265 built with multiview (``--x265``, see
``scripts/make_spatial_sample.py``), syncs it, and prints the correlation of each eye's synced mouth with the real
mouth that said the dub, the eyes' agreement, and the unsynced clip's correlation as the floor.

    python bench/vr_check.py passthrough vr180_clip.mp4 dub.wav --out /tmp/vrpass
    python bench/vr_check.py spatial --clip talking_head.mp4 --x265 /tmp/16/build/x265 --out /tmp/spatial
    python bench/vr_check.py mesh --kind vr180 --yaw 45 --pitch 10 --out /tmp/vrmesh
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

CLI = [sys.executable, "-m", "lipsync_studio.cli"]


def _sync(src: Path, dub: Path, out: Path, *extra: str) -> None:
    subprocess.run([*CLI, "-q", "sync", str(src), str(dub), "-o", str(out), *extra], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _mouth_gap(frames) -> np.ndarray:
    """Inner-lip gap / face height per frame (FaceMesh), NaN where no face."""
    import mediapipe as mp

    out = []
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1) as fm:
        for img in frames:
            r = fm.process(np.ascontiguousarray(img))
            if not r.multi_face_landmarks:
                out.append(np.nan)
                continue
            p = np.array([[q.x * img.shape[1], q.y * img.shape[0]] for q in r.multi_face_landmarks[0].landmark])
            out.append(np.linalg.norm(p[13] - p[14]) / np.linalg.norm(p[10] - p[152]))
    return np.array(out)


def _best_r(x: np.ndarray, y: np.ndarray, maxlag: int = 2) -> float:
    best = -1.0
    for lag in range(-maxlag, maxlag + 1):
        a, b = (x[lag:], y[:len(y) - lag]) if lag >= 0 else (x[:lag], y[-lag:])
        k = min(len(a), len(b))
        a, b = a[:k], b[:k]
        ok = ~(np.isnan(a) | np.isnan(b))
        if ok.sum() >= 15 and a[ok].std() > 0 and b[ok].std() > 0:
            best = max(best, float(np.corrcoef(a[ok], b[ok])[0, 1]))
    return best


def scene(args) -> dict:
    from lipsync_studio.media.audio_writer import write_audio
    from lipsync_studio.media.video import VideoReader
    from lipsync_studio.media.writer import VideoFormat, VideoWriter
    from lipsync_studio.samples import random_syllables, synth_speech, talking_face_frames
    from lipsync_studio.samples.vr_scene import VRTalkingScene
    from lipsync_studio.stereo.layout import StereoReader, join
    from lipsync_studio.stereo.projected import ProjectedFaces

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lossless = VideoFormat(crf=0, pix_fmt="yuv444p")
    truth = None
    if args.clip:
        from lipsync_studio.media.audio import load_audio

        with VideoReader(args.clip) as r:
            frames = [f.copy() for _, f in r.iter_frames()]
            fps = r.info.fps
        n = len(frames) // 2
        wav = load_audio(args.clip, sr=16000)
        cut = int(round(n / float(fps) * 16000))
        write_audio(out / "own.wav", wav[:cut], 16000)
        write_audio(out / "dub.wav", wav[cut:2 * cut], 16000)
        faces, truth = frames[:n], _mouth_gap(frames[n:2 * n])
        with VideoWriter(out / "flat.mp4", fps, faces[0].shape[1], faces[0].shape[0], fmt=lossless,
                         audio=out / "own.wav") as w:
            for f in faces:
                w.write(f)
    else:
        fps = Fraction(25)
        own = synth_speech(random_syllables(6, 11), seed=11)
        write_audio(out / "own.wav", own.audio, own.sr)
        n = int(np.ceil(own.duration * 25))
        faces = list(talking_face_frames(own.mouth_opening(np.arange(n) / 25), size=320, seed=11))
        dub = synth_speech(random_syllables(6, 4), seed=4, f0=200.0, rate=3.2, lead_silence=0.3)
        write_audio(out / "dub.wav", dub.audio, dub.sr)
    sc = VRTalkingScene(args.kind, args.eye, args.yaw, args.pitch, width=args.width, mono=args.mono)
    if args.mono:
        return _mono_scene(args, out, sc, faces, fps, truth)
    clip = out / f"{args.kind}.mp4"
    with VideoWriter(clip, fps, sc.eye_w, 2 * sc.eye_h, fmt=lossless, audio=out / "own.wav") as w:
        w.vr_metadata = sc.metadata()
        for f in faces:
            w.write(join(*sc.eyes(f), "tb"))
    synced = out / f"{args.kind}_out.mp4"
    _sync(clip, out / "dub.wav", synced, "--crf", "0", "--pix-fmt", "yuv444p", "--extend", "trim-audio")
    size = faces[0].shape[0]
    change = sc.stereo_change(clip, synced, size)
    m, changed, outside, e = change.frames, change.changed, change.outside, change.right_eye_error
    report = {"kind": args.kind, "yaw": args.yaw, "pitch": args.pitch, "frames": m, "mouth_changed_both_eyes": changed,
              "max_change_outside_head": outside, "right_eye_error_px": [round(float(v), 2) for v in e]}
    if truth is not None:
        _sync(out / "flat.mp4", out / "dub.wav", out / "flat_out.mp4", "--extend", "trim-audio")
        with VideoReader(out / "flat_out.mp4") as r:
            report["r_flat"] = round(_best_r(_mouth_gap(f for _, f in r.iter_frames()), truth), 3)
        for name, path in (("r_vr", synced), ("r_vr_unsynced", clip)):
            with StereoReader(path) as r:
                pf = ProjectedFaces.for_clip(r.info)
                pf.find([r.pair(0)])
                report[name] = round(_best_r(_mouth_gap(pf.views(left, right)[0]
                                                        for _, left, right in r.iter_pairs()), truth), 3)
    return report


def _mono_scene(args, out: Path, sc, faces: list, fps, truth) -> dict:
    """``scene --mono``: a one-eye clip (sv3d, no st3d) synced through its projection, and the same pictures
    without the metadata synced as a flat picture (what a one-eye 360 clip got before): for each, frames with the
    mouth changed, the largest change outside the head (lossless: 0-2 is "nothing changed"), and with ``--clip``
    the mouth's r against the real mouth that said the dub, measured in the view around the face; a contact
    sheet of the mouth in that view (``mouths.png``: input, through the projection, as a flat picture)."""
    import cv2

    from lipsync_studio.media.video import VideoReader
    from lipsync_studio.media.vrmeta import read_vr_metadata
    from lipsync_studio.media.writer import VideoFormat, VideoWriter
    from lipsync_studio.stereo.projected import ProjectedFaces

    lossless = VideoFormat(crf=0, pix_fmt="yuv444p")
    clips = {"unsynced": out / f"{args.kind}_mono.mp4", "flat_picture": out / f"{args.kind}_mono_nometa.mp4"}
    for name, path in clips.items():
        with VideoWriter(path, fps, sc.eye_w, sc.eye_h, fmt=lossless, audio=out / "own.wav") as w:
            if name == "unsynced":
                w.vr_metadata = sc.metadata()
            for f in faces:
                w.write(sc.picture(f))
    results = {"projection": out / f"{args.kind}_mono_out.mp4", "flat_picture": out / f"{args.kind}_mono_flat_out.mp4"}
    _sync(clips["unsynced"], out / "dub.wav", results["projection"], "--crf", "0", "--pix-fmt", "yuv444p",
          "--extend", "trim-audio")
    _sync(clips["flat_picture"], out / "dub.wav", results["flat_picture"], "--crf", "0", "--pix-fmt", "yuv444p",
          "--extend", "trim-audio")
    head = sc.head_footprint(faces[0].shape[0], grow=3)
    meta = read_vr_metadata(clips["unsynced"])
    pf = ProjectedFaces.for_one_eye(meta, sc.eye_w, sc.eye_h)
    report: dict = {"kind": args.kind, "mono": True, "yaw": args.yaw, "pitch": args.pitch,
                    "sv3d_kept": dict(read_vr_metadata(results["projection"]).entry_boxes).get(b"sv3d")
                    == dict(meta.entry_boxes)[b"sv3d"]}
    views: dict = {}
    with VideoReader(clips["unsynced"]) as ri:
        original = [f.copy() for _, f in ri.iter_frames()]
    pf.find([original[0], original[len(original) // 2]])  # the view the sync finds (centred on the face)
    views["input"] = [pf.views(f)[0] for f in original]
    for name, path in results.items():
        changed, outside = 0, 0
        with VideoReader(path) as ro:
            frames = [f.copy() for _, f in ro.iter_frames()]
        for a, b in zip(original, frames):
            diff = np.abs(a.astype(int) - b.astype(int)).max(axis=2)
            outside = max(outside, int(diff[~head].max()))
            changed += int((diff > 12).sum() >= 20)
        views[name] = [pf.views(f)[0] for f in frames]
        report[name] = {"frames": len(frames), "mouth_changed": changed, "max_change_outside_head": outside}
        if truth is not None:
            report[name]["r"] = round(_best_r(_mouth_gap(views[name]), truth), 3)
    if truth is not None:
        report["r_unsynced"] = round(_best_r(_mouth_gap(views["input"]), truth), 3)
        _sync(out / "flat.mp4", out / "dub.wav", out / "flat_out.mp4", "--extend", "trim-audio")
        with VideoReader(out / "flat_out.mp4") as r:
            report["r_flat_clip"] = round(_best_r(_mouth_gap(f for _, f in r.iter_frames()), truth), 3)
    # Contact sheet: the lower half of the view (the mouth) every few frames; rows input / projection / flat.
    size = pf.view.size
    c, h = size // 2, max(8, int(0.12 * size))  # the face is ~0.3 of the view's width, centred
    picks = np.linspace(0, min(len(v) for v in views.values()) - 1, 8).round().astype(int)
    rows = [np.hstack([v[k][c - h // 2:c + h * 6 // 5, c - h:c + h] for k in picks])
            for v in (views["input"], views["projection"], views["flat_picture"])]
    sheet = cv2.resize(np.vstack(rows), None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    cv2.imwrite(str(out / "mouths.png"), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    return report


def passthrough(args) -> dict:
    from lipsync_studio.media.video import VideoReader
    from lipsync_studio.media.vrmeta import read_vr_metadata
    from lipsync_studio.media.writer import VideoWriter

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    synced = out / "synced.mp4"
    _sync(Path(args.clip), Path(args.dub), synced)
    with VideoReader(synced) as r:
        n = r.info.n_frames
    reenc = out / "reencoded.mp4"
    with VideoReader(args.clip) as r, VideoWriter(reenc, r.info.fps, r.info.width, r.info.height) as w:
        for _, f in r.iter_frames(0, n):
            w.write(f)

    def psnr(p: Path, q: Path) -> tuple[float, float]:
        vals, worst = [], 0.0
        with VideoReader(p) as a, VideoReader(q) as b:
            for (_, x), (_, y) in zip(a.iter_frames(0, n), b.iter_frames(0, n)):
                d = x.astype(np.float64) - y.astype(np.float64)
                vals.append(10 * np.log10(255 ** 2 / max((d ** 2).mean(), 1e-12)))
                worst = max(worst, float(np.abs(d).max()))
        return round(float(np.mean(vals)), 2), worst

    from lipsync_studio.media.camm import motion_tracks, track_samples

    def motion(p: Path) -> list[bytes]:  # the camera motion samples (camm), as stored
        tracks = motion_tracks(p)
        if not tracks:
            return []
        offsets, sizes, _ = track_samples(tracks[0], p)
        data = p.read_bytes()
        return [data[o:o + k] for o, k in zip(offsets, sizes)]

    cam_in, cam_out = motion(Path(args.clip)), motion(synced)
    mi, mo = read_vr_metadata(args.clip), read_vr_metadata(synced)
    return {"camm_samples_in_out": [len(cam_in), len(cam_out)],
            "camm_kept_bytes_equal": cam_out == cam_in[:len(cam_out)], "frames": n,
            "psnr_vs_input_db": psnr(Path(args.clip), synced)[0],
            "psnr_reencode_vs_input_db": psnr(Path(args.clip), reenc)[0],
            "max_diff_vs_reencode": psnr(reenc, synced)[1], "layout_in_out": [mi.layout, mo.layout],
            "boxes_equal": mi.entry_boxes == mo.entry_boxes and mi.track_boxes == mo.track_boxes}


def spatial(args) -> dict:
    import types

    import cv2

    from lipsync_studio.media.audio import load_audio
    from lipsync_studio.media.audio_writer import write_audio
    from lipsync_studio.media.video import VideoReader
    from lipsync_studio.samples.spatial_video import SpatialSample, mux_spatial_video
    from lipsync_studio.samples.stereo_pair import face_disparity, synthesize_right_view

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    size = args.size
    with VideoReader(args.clip) as r:
        frames = [cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for _, f in r.iter_frames()]
        fps = r.info.fps
    n = len(frames) // 2
    wav = load_audio(args.clip, sr=16000)
    cut = int(round(n / float(fps) * 16000))
    write_audio(out / "dub.wav", wav[cut:2 * cut], 16000)
    disparity = face_disparity(size, size, (0.25 * size, 0.12 * size, 0.75 * size, 0.85 * size), background=5.0,
                               face_near=14.0)
    with open(out / "left.yuv", "wb") as fl, open(out / "right.yuv", "wb") as fr:
        for f in frames[:n]:
            fl.write(cv2.cvtColor(f, cv2.COLOR_RGB2YUV_I420).tobytes())
            fr.write(cv2.cvtColor(synthesize_right_view(f, disparity)[0], cv2.COLOR_RGB2YUV_I420).tobytes())
    (out / "views.cfg").write_text(f'--num-views 2\n--format 0\n--input "{out}/left.yuv"\n--input "{out}/right.yuv"\n')
    subprocess.run([args.x265, "--multiview-config", str(out / "views.cfg"), "--input-res", f"{size}x{size}",
                    "--fps", str(fps), "--preset", "fast", "--crf", "18", "--bframes", "0", "--no-info",
                    str(out / "views.hevc")], check=True, capture_output=True)
    clip = mux_spatial_video(out / "views.hevc", out / "spatial.mov", SpatialSample(fps=int(fps)),
                             sound=types.SimpleNamespace(audio=wav[:cut], sr=16000))
    synced = out / "synced.mp4"
    _sync(clip, out / "dub.wav", synced, "--no-measure")
    with VideoReader(synced) as r:
        eyes = [(f[:, :size], f[:, size:]) for _, f in r.iter_frames(0, n)]
    with VideoReader(clip) as r:
        before = [f[:, :size] for _, f in r.iter_frames(0, n)]
    truth = _mouth_gap(frames[n:2 * n])
    left, right = _mouth_gap([e[0] for e in eyes]), _mouth_gap([e[1] for e in eyes])
    return {"frames": n, "view_px": size, "r_left_vs_real": round(_best_r(left, truth), 3),
            "r_right_vs_real": round(_best_r(right, truth), 3), "r_left_vs_right": round(_best_r(left, right, 0), 3),
            "r_unsynced_vs_real": round(_best_r(_mouth_gap(before), truth), 3)}


def mesh(args) -> dict:
    import math

    from lipsync_studio.engine.mesh_job import run_mesh
    from lipsync_studio.media.writer import VideoFormat, VideoWriter
    from lipsync_studio.samples import talking_face_frames
    from lipsync_studio.samples.vr_scene import VRTalkingScene
    from lipsync_studio.stereo.layout import join
    from lipsync_studio.stereo.projection import rotation

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sc = VRTalkingScene(args.kind, args.eye, args.yaw, args.pitch, width=args.width)
    clip = out / f"{args.kind}.mp4"
    with VideoWriter(clip, Fraction(25), sc.eye_w, 2 * sc.eye_h, fmt=VideoFormat(crf=0, pix_fmt="yuv444p")) as w:
        w.vr_metadata = sc.metadata()
        for f in talking_face_frames(np.abs(np.sin(np.arange(25) / 2.0)), size=320, seed=11):
            w.write(join(*sc.eyes(f), "tb"))
    folder = out / "meshes"
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    result = run_mesh(clip, folder)
    seq = json.loads((folder / "sequence.json").read_text())
    view = seq.get("view")
    report = {"frames": result.frames, "measured": result.measured, "view": view}
    if view:
        turn = rotation(math.radians(view["yaw_deg"]), math.radians(view["pitch_deg"]))
        angles = []
        for fr in seq["frames"]:
            t = turn @ (np.array(fr["translation_mm"]) * [1, -1, -1])  # mesh axes (+y up, -z ahead) -> view's
            angles.append(math.degrees(math.acos(np.clip(t @ sc.face_direction / np.linalg.norm(t), -1, 1))))
        off = [round(view["yaw_deg"] - args.yaw, 2), round(view["pitch_deg"] - args.pitch, 2)]
        report.update(view_off_head_deg=off,
                      mesh_direction_error_deg=round(float(np.median(angles)), 2),
                      distance_mm=round(float(np.median([-fr["translation_mm"][2] for fr in seq["frames"]])), 1))
    return report


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("scene")
    s.add_argument("--kind", choices=["vr180", "360"], default="vr180")
    s.add_argument("--yaw", type=float, default=45.0)
    s.add_argument("--pitch", type=float, default=10.0)
    s.add_argument("--eye", type=int, default=400, help="eye size (px): VR180 eyes are square, 360 eyes 2:1")
    s.add_argument("--width", type=float, default=0.55, help="the head picture's width (m) at 0.7 m")
    s.add_argument("--clip", help="a real talking head (its halves give the picture and the dub)")
    s.add_argument("--mono", action="store_true",
                   help="a one-eye clip (sv3d without st3d), compared with the same pictures synced as a flat one")
    s.add_argument("--out", required=True)
    t = sub.add_parser("passthrough")
    t.add_argument("clip")
    t.add_argument("dub")
    t.add_argument("--out", required=True)
    m = sub.add_parser("mesh")
    m.add_argument("--kind", choices=["vr180", "360"], default="vr180")
    m.add_argument("--yaw", type=float, default=45.0)
    m.add_argument("--pitch", type=float, default=10.0)
    m.add_argument("--eye", type=int, default=400)
    m.add_argument("--width", type=float, default=0.55)
    m.add_argument("--out", required=True)
    q = sub.add_parser("spatial")
    q.add_argument("--clip", required=True, help="a real talking head of your own (its halves: picture and dub)")
    q.add_argument("--x265", default="x265", help="an x265 4.x CLI built with ENABLE_MULTIVIEW")
    q.add_argument("--size", type=int, default=384, help="each view's side (px)")
    q.add_argument("--out", required=True)
    args = p.parse_args()
    print(json.dumps({"scene": scene, "passthrough": passthrough, "mesh": mesh, "spatial": spatial}[args.cmd](args)))


if __name__ == "__main__":
    main()
