"""OBJ sequence export as a user runs it: relocatable, readable by two readers, safe on cancel."""

from __future__ import annotations

import json
import shutil
from fractions import Fraction

import numpy as np
import pytest

from lipsync_studio.cli import main
from lipsync_studio.job import CancelToken
from lipsync_studio.engine.mesh_job import MeshOptions, run_mesh
from lipsync_studio.errors import Cancelled, MediaError, OutputError
from lipsync_studio.face.obj_export import ObjOptions
from lipsync_studio.media.writer import VideoFormat, VideoWriter
from lipsync_studio.samples import random_syllables, synth_speech, talking_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 1.6 s talking clip, 320 px, portrait-ish crop to check non-square frames."""
    folder = tmp_path_factory.mktemp("meshclip")
    speech = synth_speech(random_syllables(6, 2), seed=2)
    frames, n = talking_clip(speech, fps=25.0, size=320, seed=2)
    path = folder / "talk.mp4"
    with VideoWriter(path, Fraction(25), 240, 320, fmt=VideoFormat(preset="veryfast")) as w:
        for k, f in enumerate(frames):
            if k == 40:
                break
            w.write(np.ascontiguousarray(f[:, 40:280]))
    return path


def test_textured_sequence_moves_and_opens_in_open3d_and_trimesh(clip, tmp_path, capsys):
    import open3d as o3d
    import trimesh

    out = tmp_path / "faces"
    assert main(["-q", "mesh", str(clip), "-o", str(out), "--start", "0.4", "--end", "1.2"]) == 0
    assert "wrote 20 frames" in capsys.readouterr().out
    moved = tmp_path / "elsewhere" / "faces"
    moved.parent.mkdir()
    shutil.move(str(out), str(moved))
    objs = sorted(moved.glob("frame_*.obj"))
    assert [p.name for p in objs] == [f"frame_{k:06d}.obj" for k in range(1, 21)]
    counts = set()
    first_vertices = None
    for p in objs[::6]:
        mesh = o3d.io.read_triangle_mesh(str(p), True)
        assert mesh.has_textures() and mesh.has_triangle_uvs()
        tm = trimesh.load(p, process=False, force="mesh")
        assert tm.visual.kind == "texture" and tm.visual.material.image is not None  # texture found via .mtl
        counts.add((len(tm.vertices), len(tm.faces), len(mesh.triangles)))
        if first_vertices is None:
            first_vertices = np.asarray(tm.vertices)
    assert counts == {(468, 880, 880)}
    text = objs[0].read_text()
    assert "mtllib frame_000001.mtl" in text and str(tmp_path) not in text  # relative paths only
    meta = json.loads((moved / "sequence.json").read_text())
    assert meta["fps"] == 25.0 and meta["first_frame"] == 10 and len(meta["frames"]) == 20
    assert all(f["measured"] for f in meta["frames"])


def test_vertex_colour_sequence_has_colours_and_no_textures(clip, tmp_path):
    import trimesh

    result = run_mesh(clip, tmp_path / "vc", MeshOptions(end_s=0.3, obj=ObjOptions(texture=False)))
    assert result.frames == 8
    files = sorted(p.suffix for p in (tmp_path / "vc").iterdir())
    assert set(files) == {".obj", ".json"}
    tm = trimesh.load(tmp_path / "vc" / "frame_000001.obj", process=False, force="mesh")
    colours = np.asarray(tm.visual.vertex_colors)[:, :3]
    assert len(tm.vertices) == 468 and colours.std() > 5


def test_cancel_leaves_no_folder_and_an_existing_folder_is_never_overwritten(clip, tmp_path):
    token = CancelToken()

    def stop_early(ev):
        if ev.stage == "mesh" and ev.done >= 3:
            token.cancel()

    with pytest.raises(Cancelled):
        run_mesh(clip, tmp_path / "cancelled", on_progress=stop_early, cancel=token)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "mine.txt").write_text("keep me")
    with pytest.raises(OutputError, match="not an empty folder"):
        run_mesh(clip, busy)
    assert (busy / "mine.txt").read_text() == "keep me"


def test_a_clip_with_no_face_says_so(tmp_path):
    path = tmp_path / "wall.mp4"
    with VideoWriter(path, Fraction(25), 160, 120) as w:
        for _ in range(10):
            w.write(np.full((120, 160, 3), 128, np.uint8))
    with pytest.raises(MediaError, match="no face was found"):
        run_mesh(path, tmp_path / "none")
    assert not (tmp_path / "none").exists()
