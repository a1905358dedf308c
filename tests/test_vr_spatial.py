"""Spatial video (MV-HEVC: two views in one HEVC stream) in: read as two eyes, named by probe, synced as stereo.

The sample is our own (``tests/data/spatial_talk_mvhevc.mov``, remade by ``scripts/make_spatial_sample.py``): the
talking astronaut as a stereo pair with known disparity, encoded by x265 4.1 with multiview. Its ground truth is
rebuilt here from the same sample recipe (:mod:`lipsync_studio.samples.spatial_video`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lipsync_studio.cli import main
from lipsync_studio.media.video import VideoReader
from lipsync_studio.media.vrmeta import read_vr_metadata
from lipsync_studio.samples.spatial_video import SAMPLE, spatial_sample_frames

SPATIAL = Path(__file__).parent / "data" / "spatial_talk_mvhevc.mov"


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / max(np.mean((a.astype(np.float64) - b) ** 2), 1e-9)))


@pytest.fixture(scope="module")
def truth():
    return list(spatial_sample_frames())


def test_each_view_of_a_spatial_video_is_read_as_its_own_eye_in_order_and_after_a_seek(truth):
    with VideoReader(SPATIAL) as r:
        assert r.info.views == 2 and (r.info.width, r.info.height) == (2 * SAMPLE.size, SAMPLE.size)
        assert r.info.n_frames == SAMPLE.n_frames == len(truth)
        streamed = dict(r.iter_frames(0, 6))
        sought = {i: r.frame(i) for i in (40, 27, 3)}  # into the second GOP, back, and to the first
    for i, frame in list(streamed.items()) + list(sought.items()):
        left, right = frame[:, :SAMPLE.size], frame[:, SAMPLE.size:]
        true_left, true_right, _ = truth[i]
        assert psnr(left, true_left) > 33 and psnr(right, true_right) > 33, i
        # The eyes are not swapped, nor one view given twice: each is far from the other eye's truth.
        assert psnr(left, true_right) < psnr(left, true_left) - 10
        assert psnr(right, true_left) < psnr(right, true_right) - 10


def test_the_two_views_differ_by_the_known_disparity(truth):
    """The right view is the left one moved by the disparity the sample was made with (12 px on the face, 4 px
    on the wall): warping the decoded left view by it gives the decoded right view, not the left unmoved."""
    from lipsync_studio.stereo.warp import forward_warp

    with VideoReader(SPATIAL) as r:
        frame = r.frame(20)
    left, right = frame[:, :SAMPLE.size], frame[:, SAMPLE.size:]
    warped, seen, _ = forward_warp(left, truth[20][2])
    inside = seen[:, 16:-16]
    assert psnr(right[:, 16:-16][inside], warped[:, 16:-16][inside]) > 30
    assert psnr(right[:, 16:-16][inside], left[:, 16:-16][inside]) < 24


def test_probe_names_a_spatial_video_and_the_stereo_reader_takes_its_views_as_eyes(capsys):
    from lipsync_studio.stereo.layout import StereoReader

    meta = read_vr_metadata(SPATIAL)
    assert meta.views == 2 and meta.layout == "sbs" and "mv-hevc" in meta.source
    assert any("hero eye left" in n for n in meta.notes)  # Apple's vexu box, read
    assert main(["probe", str(SPATIAL)]) == 0
    out = capsys.readouterr().out
    assert "MV-HEVC, two views (spatial video), each 256x256" in out
    with StereoReader(SPATIAL) as reader:
        assert reader.info.layout.value == "sbs" and reader.info.layout_source == "metadata"
        left, right = reader.pair(10)
    assert left.shape == right.shape == (SAMPLE.size, SAMPLE.size, 3)


def test_a_spatial_video_is_synced_as_stereo_into_a_packed_output_with_its_metadata(tmp_path, capsys):
    from lipsync_studio.media.audio_writer import write_audio
    from lipsync_studio.samples import random_syllables, synth_speech

    speech = synth_speech(random_syllables(5, 4), seed=4, f0=200.0, rate=3.2, lead_silence=0.3)
    dub = write_audio(tmp_path / "dub.wav", speech.audio, speech.sr)
    out = tmp_path / "synced.mp4"
    assert main(["sync", str(SPATIAL), str(dub), "-o", str(out), "--no-measure"]) == 0  # stereo: from the file
    err = capsys.readouterr().err
    assert "MV-HEVC out needs a multiview HEVC encoder" in err
    meta = read_vr_metadata(out)
    assert meta.layout == "sbs" and meta.views == 1
    assert [t for t, _ in meta.entry_boxes] == [b"st3d"]  # Apple's view boxes describe layers, not a packed frame
    size = SAMPLE.size
    mouth = (slice(int(0.54 * size), int(0.74 * size)), slice(int(0.36 * size), int(0.62 * size)))
    changed = [0, 0]
    with VideoReader(out) as r, VideoReader(SPATIAL) as before:
        assert (r.info.width, r.info.height) == (2 * size, size)
        for (i, frame), (_, old) in zip(r.iter_frames(0, SAMPLE.n_frames), before.iter_frames()):
            for eye in (0, 1):
                new = frame[:, eye * size:(eye + 1) * size].astype(np.float64)
                was = old[:, eye * size:(eye + 1) * size]
                changed[eye] += np.abs(new[mouth] - was[mouth]).mean() > 6
                assert np.abs(new[:40] - was[:40]).mean() < 3  # above the head: as it was, apart from encoding
    # The mouth follows the dub in both eyes, not only in the one the engine drew.
    assert changed[0] > SAMPLE.n_frames // 3 and changed[1] > SAMPLE.n_frames // 3


def test_the_camera_motion_track_is_kept_in_an_mp4_output_and_its_loss_said_for_matroska(tmp_path, capsys):
    """A VR camera's ``camm`` track (here gyroscope samples at 100 Hz, written by us onto a copy of the sample)
    comes out in the synced MP4 byte for byte over the output's length; a Matroska output says it is dropped."""
    import shutil
    import struct

    from lipsync_studio.media.audio_writer import write_audio
    from lipsync_studio.media.camm import motion_tracks, track_samples, write_motion_track
    from lipsync_studio.samples import random_syllables, synth_speech

    clip = shutil.copy(SPATIAL, tmp_path / "with_motion.mov")
    gyro = [struct.pack("<HH3f", 0, 2, 0.01 * k, -0.02 * k, 0.5) for k in range(300)]  # 3 s: past the clip
    write_motion_track(clip, gyro, [10] * len(gyro), 1000)
    speech = synth_speech(random_syllables(3, 4), seed=4, f0=200.0)  # ~1.3 s: the output is shorter
    dub = write_audio(tmp_path / "dub.wav", speech.audio, speech.sr)
    out = tmp_path / "synced.mp4"
    assert main(["sync", str(clip), str(dub), "-o", str(out), "--no-measure"]) == 0
    (track,) = motion_tracks(out)
    offsets, sizes, durations = track_samples(track, out)
    with VideoReader(out) as r:
        seconds = r.info.duration
    assert len(offsets) == int(np.ceil(seconds * 100 - 1e-6))  # the samples that start within the output
    data = out.read_bytes()
    assert [data[o:o + n] for o, n in zip(offsets, sizes)] == gyro[:len(offsets)]
    capsys.readouterr()
    assert main(["probe", str(out)]) == 0 and "data: codec=camm (camera motion)" in capsys.readouterr().out
    mkv = tmp_path / "synced.mkv"
    assert main(["sync", str(clip), str(dub), "-o", str(mkv), "--no-measure"]) == 0
    assert "camera motion track (camm) is not kept" in capsys.readouterr().err
