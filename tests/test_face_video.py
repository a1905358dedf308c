"""The 3D face as a video: a playable file with the clip's sound, a face from any angle, a turntable that turns."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from lipsync_studio.cli import main
from lipsync_studio.media.video import VideoReader, probe_video
from lipsync_studio.media.writer import VideoFormat, VideoWriter
from lipsync_studio.samples import synth_speech, talking_clip

SIZE = 240
BG = np.array([28, 30, 36])


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """A 1.2 s talking clip with its speech as sound."""
    from lipsync_studio.media.audio_writer import write_audio

    folder = tmp_path_factory.mktemp("facevideo")
    speech = synth_speech(seed=7)
    frames, _ = talking_clip(speech, fps=25.0, size=SIZE, seed=7)
    sound = folder / "speech.wav"
    write_audio(sound, speech.audio[: int(1.2 * speech.sr)], speech.sr)
    path = folder / "talk.mp4"
    with VideoWriter(path, Fraction(25), SIZE, SIZE, fmt=VideoFormat(preset="veryfast"), audio=sound,
                     audio_seconds=1.2) as w:
        for k, f in enumerate(frames):
            if k == 30:
                break
            w.write(f)
    return path


def _frames(path: Path) -> list[np.ndarray]:
    with VideoReader(path) as r:
        return [f for _, f in r.iter_frames(0, r.info.n_frames)]


def _face_mask(frame: np.ndarray) -> np.ndarray:
    return np.abs(frame.astype(int) - BG).sum(-1) > 40


def test_turntable_video_has_the_sound_and_the_face_turns(clip, tmp_path):
    from lipsync_studio.media.audio import probe_audio

    turn, front = tmp_path / "turn.mp4", tmp_path / "front.mp4"
    assert main(["-q", "mesh", str(clip), "--video", str(turn), "--camera", "turntable"]) == 0
    assert main(["-q", "mesh", str(clip), "--video", str(front)]) == 0
    info = probe_video(turn)
    assert (info.width, info.height, info.n_frames, float(info.fps)) == (SIZE, SIZE, 30, 25.0)
    assert abs(probe_audio(turn).duration_s - 1.2) < 0.05
    assert sorted(p.name for p in tmp_path.iterdir()) == ["front.mp4", "turn.mp4"]  # no -o: no meshes
    first = _frames(front)[0]
    mask = _face_mask(first)
    assert 0.1 < mask.mean() < 0.7  # a face filling the picture, not a speck or a wall
    ys, xs = np.nonzero(mask)
    assert abs(xs.mean() - SIZE / 2) < SIZE * 0.1 and abs(ys.mean() - SIZE / 2) < SIZE * 0.15
    # Turning: the same face, frame for frame; the turntable starts at the front and ends far from it.
    t = [f.astype(float) for f in _frames(turn)]
    f = [f.astype(float) for f in _frames(front)]
    assert np.abs(t[0] - f[0]).mean() < 2.0
    assert np.abs(t[-1] - f[-1]).mean() > 5 * np.abs(t[0] - f[0]).mean() + 5.0
    # and the silhouette narrows from the side: a 49° turn in 1.2 s at 8 s per turn.
    assert _face_mask(_frames(turn)[-1]).sum() < 0.95 * mask.sum()


def test_stereo_textured_video_beside_an_obj_export(clip, tmp_path):
    out = tmp_path / "face.mp4"
    assert main(["-q", "mesh", str(clip), "-o", str(tmp_path / "faces"), "--video", str(out), "--stereo",
                 "--style", "textured", "--camera", "20,10", "--background", "black", "--end", "0.4"]) == 0
    sbs = out  # -o is the file written, stereo or not (as in sync)
    assert sbs.exists() and not (tmp_path / "face_LRF_Full_SBS.mp4").exists()
    assert len(list((tmp_path / "faces").glob("*.obj"))) == 10
    frame = _frames(sbs)[0]
    assert frame.shape == (SIZE, 2 * SIZE, 3)
    left, right = frame[:, :SIZE], frame[:, SIZE:]
    ml, mr = left.sum(-1) > 30, right.sum(-1) > 30
    # Two different views converged on the face: same place on the whole, different in detail.
    assert abs(np.nonzero(ml)[1].mean() - np.nonzero(mr)[1].mean()) < 0.05 * SIZE
    assert np.abs(left.astype(float) - right.astype(float)).mean() > 1.0
    # Textured: the skin's colour, not the clay's grey-beige or the wireframe's blue.
    skin = left[ml].astype(float).mean(0)
    assert skin[0] > skin[2] + 10


def test_wireframe_and_bad_view_options(clip, tmp_path, capsys):
    from lipsync_studio.media.audio import probe_audio

    out = tmp_path / "wire.mp4"
    assert main(["-q", "mesh", str(clip), "--video", str(out), "--style", "wireframe", "--start", "0.6",
                 "--end", "0.8"]) == 0
    assert probe_video(out).n_frames == 5 and abs(probe_audio(out).duration_s - 0.2) < 0.03  # the range's sound
    frame = _frames(out)[0]
    edges = frame[_face_mask(frame)].astype(float)
    assert edges[:, 2].mean() > edges[:, 0].mean()  # blue-ish lines over a dim surface
    assert main(["-q", "mesh", str(clip), "--video", str(tmp_path / "x.mp4"), "--camera", "sideways"]) == 2
    assert "camera" in capsys.readouterr().err
    assert main(["-q", "mesh", str(clip), "--video", str(tmp_path / "y.mp4"), "--background", "nope"]) == 2
    assert main(["-q", "mesh", str(clip)]) == 2
    assert "nothing to write" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wire.mp4"]


def _usd_vertices(path: Path) -> tuple[np.ndarray, dict]:
    """(T, N, 3) world points of every time code of an exported USD, and its metadata."""
    import json

    from pxr import Usd, UsdGeom

    stage = Usd.Stage.Open(str(path))
    points = UsdGeom.Mesh(stage.GetPrimAtPath("/Face/Head/Mesh")).GetPointsAttr()
    head = UsdGeom.Xformable(stage.GetPrimAtPath("/Face/Head"))
    out = []
    for code in points.GetTimeSamples():
        m = np.array(head.ComputeLocalToWorldTransform(Usd.TimeCode(code)))
        p = np.array(points.Get(code), np.float64)
        out.append((np.c_[p, np.ones(len(p))] @ m)[:, :3])
    return np.stack(out), json.loads(stage.GetRootLayer().customLayerData["lipsync_studio"])


def test_a_dub_makes_the_export_of_the_synced_face(clip, tmp_path):
    from lipsync_studio.face.analysis import analyse_faces
    from lipsync_studio.media.audio import probe_audio
    from lipsync_studio.media.audio_writer import write_audio
    from lipsync_studio.metrics.steadiness import correlation, lip_gap

    speech = synth_speech(seed=12, f0=190.0, lead_silence=0.1)  # another voice saying something else
    dub = tmp_path / "dub.wav"
    write_audio(dub, speech.audio[: speech.sr], speech.sr)  # 1.0 s: shorter than the clip
    usd, synced, video = tmp_path / "face.usda", tmp_path / "synced.mp4", tmp_path / "face3d.mp4"
    assert main(["-q", "mesh", str(clip), "--dub", str(dub), "-o", str(usd), "--synced-video", str(synced),
                 "--video", str(video)]) == 0
    verts, meta = _usd_vertices(usd)
    assert meta["face_of"] == "synced" and meta["original"] == str(clip) and meta["dub"] == str(dub)
    assert len(verts) == 25 and probe_video(video).n_frames == 25
    assert abs(probe_audio(video).duration_s - 1.0) < 0.05  # the dub is the 3D video's sound
    mesh_gap = lip_gap(verts, dims=3)
    synced_gap = lip_gap(analyse_faces(synced).speaker_track().raw, dims=2)
    original_gap = lip_gap(analyse_faces(clip).speaker_track().raw, dims=2)[:25]
    r_synced, r_original = correlation(mesh_gap, synced_gap), correlation(mesh_gap, original_gap)
    assert r_synced >= 0.9 and r_synced > r_original + 0.3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dub.wav", "face.usda", "face3d.mp4", "face_texture.png",
                                                         "synced.mp4"]
