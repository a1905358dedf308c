"""The demo, as a new user runs it: a playable result as long as the dub, whose sound is the dub."""

from __future__ import annotations

import numpy as np

from lipsync_studio.cli import main
from lipsync_studio.media.audio import load_audio, probe_audio
from lipsync_studio.media.video import VideoReader, probe_video


def test_demo_writes_a_playable_clip_as_long_as_the_dub_with_the_dub_as_sound(tmp_path, capsys):
    assert main(["-q", "demo", "-o", str(tmp_path / "demo")]) == 0
    out = tmp_path / "demo" / "result.mp4"
    dub = tmp_path / "demo" / "dub.wav"
    printed = capsys.readouterr().out
    assert f"result:    {out}" in printed
    # What a new user reads next: how in sync the result is, and what to run on their own media.
    assert "phonetic sync" in printed and "timing:" in printed and "lipsync-studio sync YOUR_CLIP" in printed
    info = probe_video(out)
    dub_s = probe_audio(dub).duration_s
    assert abs(info.duration - dub_s) <= 1 / float(info.fps)
    assert abs(probe_audio(out).duration_s - info.duration) <= 1 / float(info.fps)
    # Every frame decodes (playable), and the picture is the talking face, not blank.
    with VideoReader(out) as r:
        frames = [img for _, img in r.iter_frames()]
    assert len(frames) == info.n_frames and all(f.std() > 20 for f in frames)
    # The sound is the dub: the output's audio matches the dub sample for sample (AAC, so ~0.9+),
    # and clearly does not match the clip's own speech.
    a = load_audio(out, sr=16000)
    b = load_audio(dub, sr=16000)
    own = load_audio(tmp_path / "demo" / "clip.mp4", sr=16000)
    n = min(len(a), len(b), len(own))

    def corr(x, y):
        return float(np.dot(x[:n], y[:n]) / (np.linalg.norm(x[:n]) * np.linalg.norm(y[:n]) + 1e-12))

    assert corr(a, b) > 0.9
    assert abs(corr(a, own)) < 0.3
