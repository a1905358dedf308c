"""Stereo/VR metadata: st3d/sv3d (equi, mesh), the V1 XML box and Matroska StereoMode read from files the tests
write themselves; written back by our own box injector; damaged boxes are named, not crashed on."""

from __future__ import annotations

import struct
from fractions import Fraction

import numpy as np
import pytest

from lipsync_studio.cli import main
from lipsync_studio.errors import MediaError
from lipsync_studio.media.boxes import Box, read_moov, top_level, video_tracks
from lipsync_studio.media.video import VideoReader
from lipsync_studio.media.vrmeta import (SPHERICAL_V1_UUID, Mesh, VRMetadata, mshp_payload, read_vr_metadata,
                                         st3d_box, sv3d_equirect_box, sv3d_mesh_box, write_vr_metadata)
from lipsync_studio.media.writer import VideoWriter


def _clip(path, w=64, h=96, n=8):
    with VideoWriter(path, Fraction(25), w, h) as wr:
        for i in range(n):
            frame = np.zeros((h, w, 3), np.uint8)
            frame[: h // 2, :, 0] = 20 * i
            frame[h // 2:, :, 2] = 200 - 20 * i
            wr.write(frame)
    return path


def _frames(path):
    with VideoReader(path) as r:
        return [f.copy() for _, f in r.iter_frames()]


def _hemisphere_mesh(n=9) -> Mesh:
    """A VR180-like mesh: a grid of directions over the front half sphere, texture coordinates on a grid."""
    lon, lat = np.meshgrid(np.linspace(-np.pi / 2, np.pi / 2, n), np.linspace(-np.pi / 2, np.pi / 2, n))
    xyz = np.stack([np.cos(lat) * np.sin(lon), np.sin(lat), -np.cos(lat) * np.cos(lon)], -1).reshape(-1, 3)
    uv = np.stack([(lon / np.pi + 0.5), (lat / np.pi + 0.5)], -1).reshape(-1, 2)
    tris = []
    for r in range(n - 1):
        for c in range(n - 1):
            a = r * n + c
            tris += [(a, a + 1, a + n + 1), (a, a + n + 1, a + n)]
    return Mesh(xyz.astype(np.float32), uv.astype(np.float32), np.array(tris, np.int32))


def test_vr180_boxes_written_by_us_read_back_equal_and_the_video_is_untouched(tmp_path):
    clip = _clip(tmp_path / "clip.mp4")
    before = _frames(clip)
    mesh = _hemisphere_mesh()
    xml = (b'<rdf:SphericalVideo xmlns:GSpherical="http://ns.google.com/videos/1.0/spherical/">'
           b"<GSpherical:Spherical>true</GSpherical:Spherical><GSpherical:StereoMode>top-bottom"
           b"</GSpherical:StereoMode></rdf:SphericalVideo>")
    meta = VRMetadata(entry_boxes=((b"st3d", st3d_box(1)), (b"sv3d", sv3d_mesh_box(mshp_payload([mesh, mesh]),
                                                                                   pose=(10.0, -5.0, 0.0)))),
                      track_boxes=((b"uuid", Box(b"uuid", SPHERICAL_V1_UUID + xml).serialize()),))
    assert not read_vr_metadata(clip).found  # a plain clip declares nothing
    write_vr_metadata(clip, meta)
    got = read_vr_metadata(clip)
    assert got.stereo == "top-bottom" and got.layout == "tb" and got.projection == "mesh"
    assert got.entry_boxes == meta.entry_boxes and got.track_boxes == meta.track_boxes  # byte for byte
    assert got.pose == (10.0, -5.0, 0.0)
    assert len(got.meshes) == 2 and got.meshes[0].triangles.shape == mesh.triangles.shape
    np.testing.assert_array_equal(got.meshes[1].xyz, mesh.xyz)
    np.testing.assert_array_equal(got.meshes[1].uv, mesh.uv)
    np.testing.assert_array_equal(got.meshes[0].triangles, mesh.triangles)
    assert got.fov == pytest.approx((180.0, 180.0), abs=0.01)
    # moov sits before the media (+faststart): the samples moved and the chunk offsets with them.
    tops = [b.type for b in top_level(clip)]
    assert tops.index(b"moov") < tops.index(b"mdat")
    after = _frames(clip)
    assert len(after) == len(before) and all(np.array_equal(a, b) for a, b in zip(before, after))
    # FFmpeg's own demuxer reads our st3d too (independent of our parser).
    assert read_vr_metadata(clip, side_data=True).stereo == "top-bottom"
    from lipsync_studio.media import vrmeta

    assert vrmeta._read_side_data(clip).stereo == "top-bottom"
    # Written again with another packing: st3d changes, the projection stays, nothing is doubled.
    write_vr_metadata(clip, got.for_layout("sbs"))
    again = read_vr_metadata(clip)
    assert again.layout == "sbs" and again.entry_boxes[1] == meta.entry_boxes[1]
    entry = video_tracks(read_moov(clip)[1][0])[0][1]
    assert [c.type for c in entry.children].count(b"sv3d") == 1
    assert vrmeta._read_side_data(clip).stereo == "left-right"


def test_equirectangular_bounds_give_the_field_of_view_and_probe_names_it(tmp_path, capsys):
    clip = _clip(tmp_path / "half.mp4", 96, 48)
    meta = VRMetadata(entry_boxes=((b"st3d", st3d_box(2)),
                                   (b"sv3d", sv3d_equirect_box((0.0, 0.0, 0.25, 0.25)))))
    write_vr_metadata(clip, meta)
    got = read_vr_metadata(clip)
    assert got.projection == "equirectangular" and got.layout == "sbs"
    assert got.fov == pytest.approx((180.0, 180.0), abs=1e-3)
    assert main(["probe", str(clip)]) == 0
    out = capsys.readouterr().out
    assert "left-right (sbs)" in out and "equirectangular" in out and "from the file's metadata" in out
    assert main(["probe", "--json", str(clip)]) == 0


def test_matroska_stereo_mode_is_read(tmp_path):
    import av

    path = tmp_path / "tb.mkv"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 64, 96, "yuv420p"
        s.metadata["stereo_mode"] = "top_bottom"  # FFmpeg's Matroska muxer writes it as StereoMode 3
        for i in range(3):
            for p in s.encode(av.VideoFrame.from_ndarray(np.full((96, 64, 3), 40 * i, np.uint8), format="rgb24")):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    got = read_vr_metadata(path, side_data=False)
    assert got.source == "matroska" and got.stereo == "top-bottom" and got.layout == "tb"


def _patch(path, old: bytes, new: bytes) -> None:
    data = path.read_bytes()
    assert data.count(old) == 1
    path.write_bytes(data.replace(old, new))


def test_damaged_boxes_are_named_with_their_offset(tmp_path):
    clip = _clip(tmp_path / "c.mp4")
    write_vr_metadata(clip, VRMetadata(entry_boxes=((b"st3d", st3d_box(1)), (b"sv3d", sv3d_equirect_box()))))
    # An st3d that claims more bytes than its sample entry holds.
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(clip.read_bytes())
    _patch(bad, struct.pack(">I4s", 13, b"st3d"), struct.pack(">I4s", 99999, b"st3d"))
    with pytest.raises(MediaError, match=r"damaged MP4 structure: box 'st3d' at byte \d+ claims 99999 bytes"):
        read_vr_metadata(bad)
    # An equi box too short for its four bounds.
    short = tmp_path / "short.mp4"
    data = clip.read_bytes()
    i = data.index(b"equi") - 4
    # Shrink equi by 8 bytes and give the 8 bytes to a 'free' box so every parent's size still adds up.
    patched = data[:i] + struct.pack(">I4s", 20, b"equi") + data[i + 8:i + 20] + struct.pack(">I4s", 8, b"free") \
        + data[i + 28:]
    short.write_bytes(patched)
    with pytest.raises(MediaError, match="damaged 'equi' box at byte"):
        read_vr_metadata(short)
    # A file cut off inside its moov.
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: data.index(b"moov") + 200])
    with pytest.raises(MediaError, match="'moov' box at byte .* file ends"):
        read_vr_metadata(cut)
    # A mesh whose compressed data is garbage.
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(clip.read_bytes())
    payload = mshp_payload([_hemisphere_mesh(3)])
    bogus = payload[:12] + bytes(len(payload) - 12)
    write_vr_metadata(junk, VRMetadata(entry_boxes=((b"sv3d", sv3d_mesh_box(bogus)),)))
    with pytest.raises(MediaError, match="damaged 'mshp'"):
        read_vr_metadata(junk)
    assert main(["probe", str(junk)]) == 2  # a one-line error, not a traceback


def test_the_frame_packing_flag_of_a_half_sbs_clip_is_read_as_half_sbs(tmp_path):
    from lipsync_studio.stereo.writer import StereoWriter

    with StereoWriter(tmp_path / "tv.mp4", Fraction(25), 96, 64, layout="half-sbs") as w:
        for i in range(3):
            w.write(np.full((64, 96, 3), 30 * i, np.uint8), np.full((64, 96, 3), 30 * i + 10, np.uint8))
    got = read_vr_metadata(tmp_path / "tv.mp4")
    assert got.source.startswith("decoder") and got.stereo == "left-right" and got.layout == "half-sbs"
    assert not got.spherical


def test_a_stereo_custom_mesh_pair_gives_its_packing_and_each_eye_its_own_coordinates():
    from lipsync_studio.stereo.projection import projection_for

    mesh = _hemisphere_mesh(5)
    top = Mesh(mesh.xyz, np.stack([mesh.uv[:, 0], 0.5 + 0.5 * mesh.uv[:, 1]], 1), mesh.triangles)  # v up: top half
    bottom = Mesh(mesh.xyz, np.stack([mesh.uv[:, 0], 0.5 * mesh.uv[:, 1]], 1), mesh.triangles)
    meta = VRMetadata(stereo="custom", projection="mesh", meshes=(top, bottom))
    assert meta.layout == "tb"
    assert VRMetadata(stereo="custom", projection="mesh", meshes=(bottom, top)).layout == "tb-rl"
    left, right = projection_for(meta, 100, 50, 0), projection_for(meta, 100, 50, 1)
    forward = np.array([0.0, 0.0, 1.0])
    for p in (left, right):  # forward is the middle of each eye's own picture
        assert np.allclose([float(v) for v in p.to_pixel(forward)], (49.5, 24.5), atol=0.6)


def test_a_declared_second_layer_that_does_not_decode_is_named_and_refused_rather_than_synced_as_one_eye(
        tmp_path, capsys):
    """A file that declares a second layer (an ``lhvC`` box beside ``hvcC``, how MV-HEVC announces its second
    view) whose stream holds one view only (the runtime libx265 has no multiview): named, and refused."""
    from lipsync_studio.media.writer import VideoFormat

    clip = tmp_path / "spatial.mov"
    with VideoWriter(clip, Fraction(25), 64, 64, fmt=VideoFormat(codec="hevc")) as w:
        for i in range(3):
            w.write(np.full((64, 64, 3), 50 * i, np.uint8))
    write_vr_metadata(clip, VRMetadata(entry_boxes=((b"lhvC", Box(b"lhvC", bytes(24)).serialize()),)))
    got = read_vr_metadata(clip)
    assert got.views == 2 and "mv-hevc" in got.source
    assert main(["probe", str(clip)]) == 0
    assert "MV-HEVC, two views (spatial video) declared, but only the first decodes here" in capsys.readouterr().out
    dub = tmp_path / "dub.wav"
    from lipsync_studio.media.audio_writer import write_audio

    write_audio(dub, np.zeros(16000, np.float32), 16000)
    assert main(["sync", str(clip), str(dub), "-o", str(tmp_path / "out.mp4")]) == 2
    assert "MV-HEVC" in capsys.readouterr().err and not (tmp_path / "out.mp4").exists()


def test_a_one_eye_360_clip_without_a_face_in_any_view_keeps_its_projection_and_says_it_was_synced_flat(
        tmp_path, capsys):
    """No view through the projection shows a face: the clip goes down the flat path, says so, and its output
    still carries the projection (a clip with a face is synced through it: tests/test_vr_mono.py)."""
    import wave

    clip = _clip(tmp_path / "pano.mp4", 96, 48, n=10)
    sv3d = sv3d_equirect_box()
    write_vr_metadata(clip, VRMetadata(entry_boxes=((b"sv3d", sv3d),)))
    dub = tmp_path / "dub.wav"
    with wave.open(str(dub), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        t = np.arange(6400) / 16000
        w.writeframes((3000 * np.sin(2 * np.pi * 220 * t)).astype("<i2").tobytes())
    out = tmp_path / "out.mp4"
    assert main(["sync", str(clip), str(dub), "-o", str(out), "--no-measure"]) == 0
    err = capsys.readouterr().err
    assert "synced as a flat picture (no face was found in views through its projection)" in err
    assert "picture is unchanged" in err
    got = read_vr_metadata(out)
    assert got.projection == "equirectangular" and dict(got.entry_boxes)[b"sv3d"] == sv3d and got.layout == "mono"
