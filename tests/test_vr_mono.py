"""A one-eye (monoscopic) 360 clip: the face found and synced in a flat view through the equirectangular
projection, the changed pixels put back, nothing outside the face changed, the file's projection kept."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

from lipsync_studio.cli import main
from lipsync_studio.media.audio_writer import write_audio
from lipsync_studio.media.video import VideoReader
from lipsync_studio.media.vrmeta import read_vr_metadata
from lipsync_studio.media.writer import VideoFormat, VideoWriter
from lipsync_studio.samples import random_syllables, synth_speech, talking_face_frames
from lipsync_studio.samples.vr_scene import VRTalkingScene



@pytest.mark.parametrize("pix_fmt", ["yuv444p", "yuv420p"])
def test_a_one_eye_360_clip_is_synced_through_its_projection_and_keeps_its_format(tmp_path, capsys, pix_fmt):
    """``yuv420p``: the panorama's pixels go from decoder to encoder as they are, only the box the face's view
    changed is converted from RGB: outside it the output is the input to the bit."""
    scene = VRTalkingScene("360", 240, 110.0, -20.0, mono=True)
    own = synth_speech(random_syllables(4, 11), seed=11)
    write_audio(tmp_path / "own.wav", own.audio, own.sr)
    n = int(np.ceil(own.duration * 25))
    clip = tmp_path / "pano.mp4"
    with VideoWriter(clip, Fraction(25), scene.eye_w, scene.eye_h, fmt=VideoFormat(crf=0, pix_fmt=pix_fmt),
                     audio=tmp_path / "own.wav",
                     audio_seconds=n / 25) as w:
        w.vr_metadata = scene.metadata()
        for f in talking_face_frames(own.mouth_opening(np.arange(n) / 25), size=320, seed=11):
            w.write(scene.picture(f))
    dub_speech = synth_speech(random_syllables(4, 4), seed=4, f0=200.0, rate=3.2, lead_silence=0.3)
    dub = write_audio(tmp_path / "dub.wav", dub_speech.audio, dub_speech.sr)
    out = tmp_path / "out.mp4"
    assert main(["sync", str(clip), str(dub), "-o", str(out), "--json", "--engine", "builtin", "--crf", "0",
                 "--pix-fmt", pix_fmt, "--shorten", "trim-picture", "--extend", "trim-audio"]) == 0
    printed = capsys.readouterr()
    err, result = printed.err, json.loads(printed.out)
    from lipsync_studio.sync.builtin import engine as E

    assert not E._AHEAD  # the clip's sound and the dub heard ahead of the sync were taken up, not heard again
    # The result's sync is measured where the mouth was synced: in the view around the face.
    assert result["sync"]["frames_used"] >= 0.8 * n, result["sync"]
    assert "flat picture" not in err and "unchanged" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dub.wav", "out.mp4", "own.wav", "pano.mp4"]
    meta_in, meta_out = read_vr_metadata(clip), read_vr_metadata(out)
    assert meta_out.projection == "equirectangular" and meta_out.layout == "mono"
    assert dict(meta_out.entry_boxes)[b"sv3d"] == dict(meta_in.entry_boxes)[b"sv3d"]
    head = scene.head_footprint(320)
    # The mouth: the lower middle of the head picture, where the scene puts it in the panorama.
    ys, xs = np.mgrid[0:scene.eye_h, 0:scene.eye_w].astype(float)
    fx, fy = scene.hit(0, xs, ys, 320)
    mouth = np.isfinite(fx) & (np.abs(fx - 160) < 60) & (fy > 160) & (fy < 240)
    synced, outside, in_mouth = 0, 0, []
    with VideoReader(clip) as ri, VideoReader(out) as ro:
        assert (ro.info.width, ro.info.height) == (ri.info.width, ri.info.height)
        for k in range(min(ri.info.n_frames, ro.info.n_frames)):
            diff = np.abs(ri.frame(k).astype(int) - ro.frame(k).astype(int)).max(axis=2)
            outside = max(outside, int(diff[~head].max()))
            big = diff > 12
            if big.sum() >= 20:
                synced += 1
                in_mouth.append(big[mouth].sum() / big.sum())
    assert synced >= 0.6 * n, (synced, n)
    # Nothing outside the head changes (lossless in and out): 4:4:4 goes through RGB (its colour round trip);
    # 4:2:0 passes as decoded.
    assert outside <= (2 if pix_fmt == "yuv444p" else 0), outside
    assert np.median(in_mouth) > 0.9, np.median(in_mouth)  # the change is at the mouth, where the head has it
