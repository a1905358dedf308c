"""2D → stereo: the face mesh's depth becomes disparity, the right eye is synthesised, the file plays as SBS."""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from lipsync_studio.errors import MediaError, OptionError
from lipsync_studio.face.analysis import analyse_faces
from lipsync_studio.face.mesh3d import fill_gaps, mesh_for_frame
from lipsync_studio.media.video import VideoReader, probe_video
from lipsync_studio.media.writer import VideoFormat, VideoWriter
from lipsync_studio.samples import synth_speech, talking_clip
from lipsync_studio.stereo.cli import add_stereoize_command, cmd_stereoize
from lipsync_studio.stereo.disparity import estimate_disparity
from lipsync_studio.stereo.layout import StereoLayout, StereoReader, detect_layout
from lipsync_studio.stereo.stereoize import (
    StereoizeOptions,
    StereoizeSettings,
    Stereoizer,
    rasterize_mesh,
    stereoize,
)

SIZE = 256
FAST = VideoFormat(preset="veryfast", crf=14)


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LIPSYNC_STUDIO_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """A 1 s 2D talking clip with its speech as sound."""
    folder = tmp_path_factory.mktemp("stz")
    speech = synth_speech(seed=4)
    frames, _ = talking_clip(speech, fps=25.0, size=SIZE, seed=4)
    dub = folder / "speech.wav"
    from lipsync_studio.media.audio_writer import write_audio

    write_audio(dub, speech.audio[: speech.sr], speech.sr)
    path = folder / "talk.mp4"
    with VideoWriter(path, Fraction(25), SIZE, SIZE, fmt=FAST, audio=dub, audio_seconds=1.0) as w:
        for k, f in enumerate(frames):
            if k == 25:
                break
            w.write(f)
    return path


def test_rasterising_interpolates_values_and_keeps_the_nearer_triangle():
    pts = np.array([(2.0, 2.0), (18.0, 2.0), (2.0, 18.0), (18.0, 18.0)])
    tris = np.array([(0, 1, 2), (1, 3, 2)])
    values = np.array([0.0, 16.0, 0.0, 16.0])  # a ramp along x
    out = rasterize_mesh(pts, values, tris, np.array([1.0, 1.0, 1.0, 1.0]), (20, 20))
    assert np.isnan(out[0, 0]) and np.isnan(out[19, 19])
    assert out[10, 10] == pytest.approx(8.5, abs=0.1)  # pixel centre x = 10.5
    near = rasterize_mesh(np.vstack([pts, pts]), np.r_[values, [5.0] * 4], np.vstack([tris, tris + 4]),
                          np.r_[[2.0] * 4, [1.0] * 4], (20, 20))
    assert near[10, 10] == pytest.approx(5.0)


def test_the_face_comes_forward_with_its_nose_nearest(clip):
    track = analyse_faces(clip).speaker_track()
    stereo = Stereoizer.for_track(track, SIZE, SIZE, StereoizeSettings(face_disparity=0.03))
    mesh = mesh_for_frame(stereo.model, fill_gaps(track)[5], None)
    d = stereo.disparity(mesh)
    assert d.shape == (SIZE, SIZE) and d.dtype == np.float32
    nose = np.round(mesh.image_points[1]).astype(int)  # FaceMesh point 1: the nose tip
    cheek = np.round(mesh.image_points[234] * 0.8 + mesh.image_points[1] * 0.2).astype(int)
    assert d[nose[1], nose[0]] == pytest.approx(0.03 * SIZE, rel=0.25)
    assert d[nose[1], nose[0]] > d[cheek[1], cheek[0]] > 2.0
    assert abs(d[5, 5]) < 0.05 and abs(d[5, -5]) < 0.05  # the wall stays at the screen plane
    # The right eye: the face moves left, the wall stays.
    frame = VideoReader(clip).frame(5)
    right, _, seen = stereo.frame(frame, mesh)
    assert np.array_equal(right[:5], frame[:5])
    assert seen.mean() > 0.98


def test_a_stereoized_frame_has_the_disparity_it_was_made_with(clip):
    """The machinery makes test pairs with known disparity: SGBM finds it again."""
    track = analyse_faces(clip).speaker_track()
    stereo = Stereoizer.for_track(track, SIZE, SIZE, StereoizeSettings(face_disparity=0.04,
                                                                      background_disparity=0.01))
    frame = VideoReader(clip).frame(10)
    right, truth, _ = stereo.frame(frame, mesh_for_frame(stereo.model, fill_gaps(track)[10], None))
    found = estimate_disparity(frame, right)
    face = truth > truth.max() - 3
    assert np.abs(found.disparity - truth)[face].mean() < 1.0


def test_stereoize_writes_a_full_sbs_file_with_the_face_in_front(clip, tmp_path):
    result = stereoize(clip, tmp_path / "talk3d.mp4", StereoizeOptions(fmt=FAST, vr_name=True))
    assert result.output.name == "talk3d_LRF_Full_SBS.mp4" and result.frames == 25
    assert result.face_disparity_px == pytest.approx(0.015 * SIZE, rel=0.3)
    info = probe_video(result.output)
    assert (info.width, info.height, info.n_frames) == (2 * SIZE, SIZE, 25)
    layout, confidence = detect_layout(result.output, samples=4)
    assert layout is StereoLayout.SBS and confidence > 0.6
    with StereoReader(result.output, "sbs") as reader:
        left, right = reader.pair(12)
    d = estimate_disparity(left, right, roi=(40, 30, 216, 226))
    track = analyse_faces(clip).speaker_track()
    x0, y0 = np.nanmin(track.landmarks[12, :468, :2], axis=0).astype(int)
    x1, y1 = np.nanmax(track.landmarks[12, :468, :2], axis=0).astype(int)
    assert np.median(d.disparity[y0:y1, x0:x1]) > 2.0
    from lipsync_studio.media.probe import probe

    assert probe(result.output)["audio"] is not None


def test_stereoize_from_the_command_line_writes_half_sbs_with_its_flag(clip, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    add_stereoize_command(parser.add_subparsers(dest="command"))
    out = tmp_path / "tv.mp4"
    args = parser.parse_args(["stereoize", str(clip), "-o", str(out), "--out-layout", "half-sbs",
                              "--face-disparity", "2"])
    assert cmd_stereoize(args) == 0
    text = capsys.readouterr().out
    assert f"wrote {out}" in text and "frame-packing flag 3" in text
    assert (probe_video(out).width, probe_video(out).height) == (SIZE, SIZE)


def test_bad_depth_settings_and_faceless_clips_are_refused(tmp_path):
    with pytest.raises(OptionError, match="must be larger than the background"):
        StereoizeSettings(face_disparity=0.01, background_disparity=0.02)
    with pytest.raises(OptionError, match="farther than the face"):
        StereoizeSettings(background_distance=0.5)
    blank = tmp_path / "blank.mp4"
    with VideoWriter(blank, Fraction(25), 64, 64, fmt=FAST) as w:
        for _ in range(5):
            w.write(np.full((64, 64, 3), 90, np.uint8))
    with pytest.raises(MediaError, match="blank.mp4: no face was found"):
        stereoize(blank, tmp_path / "out.mp4")
    assert not list(tmp_path.glob("out*"))

