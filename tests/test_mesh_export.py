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
    assert meta["face_of"] == "original" and meta["source"] == str(clip)
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


def _accessor(gltf, blob: bytes, index: int) -> np.ndarray:
    """An accessor's data as (count, components) float/int array (tightly packed views, as we write them)."""
    acc = gltf.accessors[index]
    view = gltf.bufferViews[acc.bufferView]
    dtype = {5126: np.float32, 5125: np.uint32}[acc.componentType]
    width = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}[acc.type]
    raw = np.frombuffer(blob, dtype, acc.count * width, view.byteOffset + (acc.byteOffset or 0))
    return raw.reshape(acc.count, width)


def _gltf_frames(path) -> tuple[np.ndarray, np.ndarray, dict]:
    """Every frame's vertices (mm, camera space) rebuilt from a glTF's morph targets and head animation."""
    import base64

    import pygltflib
    from scipy.spatial.transform import Rotation

    g = pygltflib.GLTF2().load(str(path))
    blob = g.binary_blob() if path.suffix == ".glb" else base64.b64decode(g.buffers[0].uri.split(",", 1)[1])
    prim = g.meshes[0].primitives[0]
    neutral = _accessor(g, blob, prim.attributes.POSITION)
    targets = np.stack([_accessor(g, blob, t["POSITION"] if isinstance(t, dict) else t.POSITION) for t in prim.targets])
    by_path = {c.target.path: g.animations[0].samplers[c.sampler] for c in g.animations[0].channels}
    times = _accessor(g, blob, by_path["weights"].input)[:, 0]
    weights = _accessor(g, blob, by_path["weights"].output).reshape(len(times), len(targets))
    trans = _accessor(g, blob, by_path["translation"].output)
    quat = _accessor(g, blob, by_path["rotation"].output)
    shapes = neutral[None] + np.einsum("tk,knc->tnc", weights, targets)
    rot = Rotation.from_quat(quat).as_matrix()
    verts = np.einsum("tij,tnj->tni", rot, shapes) + trans[:, None]
    return verts * 1000.0, times, g.extras


@pytest.fixture(scope="module")
def obj_vertices(clip, tmp_path_factory):
    """(20, 468, 3) vertices (mm) of the clip's first 0.8 s exported as an OBJ sequence."""
    import trimesh

    folder = tmp_path_factory.mktemp("objref") / "faces"
    run_mesh(clip, folder, MeshOptions(end_s=0.8, obj=ObjOptions(texture=False)))
    return np.stack([trimesh.load(p, process=False, force="mesh").vertices for p in sorted(folder.glob("*.obj"))])


@pytest.mark.parametrize("name", ["face.usd", "face.usdz", "face.glb", "face.gltf"])
def test_one_file_animation_reads_back_every_frame_like_the_obj_sequence(clip, obj_vertices, tmp_path, name):
    import trimesh
    from pxr import Usd, UsdGeom

    ref = obj_vertices
    out = tmp_path / "anim" / name
    out.parent.mkdir()
    assert main(["-q", "mesh", str(clip), "-o", str(out), "--end", "0.8"]) == 0
    written = sorted(p.name for p in out.parent.iterdir())
    textures = ["face_texture.png"] if name in ("face.usd", "face.gltf") else []
    assert written == sorted([name] + textures)  # one file (plus its texture), nothing half-written left
    assert len(ref) == 20
    if name.startswith("face.usd"):
        stage = Usd.Stage.Open(str(out))
        assert stage.GetTimeCodesPerSecond() == 25.0 and UsdGeom.GetStageMetersPerUnit(stage) == 0.001
        points = UsdGeom.Mesh(stage.GetPrimAtPath("/Face/Head/Mesh")).GetPointsAttr()
        codes = points.GetTimeSamples()
        assert codes == [float(k) for k in range(1, 21)]
        head = UsdGeom.Xformable(stage.GetPrimAtPath("/Face/Head"))
        for k, code in enumerate(codes):
            p = np.array(points.Get(code))
            assert p.shape == (468, 3)
            m = np.array(head.ComputeLocalToWorldTransform(Usd.TimeCode(code)))
            world = np.c_[p, np.ones(len(p))] @ m
            assert np.abs(world[:, :3] - ref[k]).max() < 0.01  # mm
        assert '"face_of"' in stage.GetRootLayer().customLayerData["lipsync_studio"]
        from pxr import UsdValidation  # usd-core's own checks (schema types, USDZ packaging)

        registry = UsdValidation.ValidationRegistry()
        errors = UsdValidation.ValidationContext(registry.GetOrLoadAllValidators()).Validate(stage)
        assert [e.GetMessage() for e in errors] == []
    else:
        verts, times, extras = _gltf_frames(out)
        assert verts.shape == (20, 468, 3) and np.allclose(np.diff(times), 0.04, atol=1e-6)
        assert extras["fps"] == 25.0 and extras["face_of"] in ("original", "synced")
        assert np.sqrt(((verts - ref) ** 2).sum(-1).mean()) < 0.05 and np.abs(verts - ref).max() < 0.5  # mm
        scene = trimesh.load(out)
        (geom,) = scene.geometry.values()
        assert len(geom.vertices) == 468 and geom.visual.kind == "texture"


def test_format_and_extension_must_agree(clip, tmp_path):
    from lipsync_studio.face.anim_export import check_format

    assert check_format(tmp_path / "face", "glb") == (tmp_path / "face.glb", "glb")
    assert check_format(tmp_path / "face.usdz", None) == (tmp_path / "face.usdz", "usdz")
    assert check_format(tmp_path / "faces", None) == (tmp_path / "faces", "obj")
    with pytest.raises(OutputError, match="--format is usd"):
        run_mesh(clip, tmp_path / "face.glb", MeshOptions(format="usd"))
    assert list(tmp_path.iterdir()) == []
