"""A stereo sync hears the dub as a 2D sync does: beside the tracking, with the dub's script when there is one."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from lipsync_studio.engine.sync_job import StereoOptions, SyncOptions, SyncRequest, run_sync
from lipsync_studio.media.audio_writer import write_audio
from lipsync_studio.media.writer import VideoFormat, VideoWriter
from lipsync_studio.samples import espeak_speech, random_syllables, stereo_talking_frames, synth_speech
from lipsync_studio.stereo.layout import join


def test_a_stereo_sync_aligns_the_dub_to_its_script_in_both_eyes(tmp_path, monkeypatch):
    """Both eyes' engines (independent mode) share what the left one hears: the recognizer runs once."""
    import lipsync_studio.sync.phones as phones

    heard, real = [], phones.recognize_phones_async
    monkeypatch.setattr(phones, "recognize_phones_async", lambda *sounds: heard.append(len(sounds)) or real(*sounds))
    text = "maybe a big blue map"
    dub_speech = espeak_speech(text, voice="en-us")
    if dub_speech is None:
        pytest.skip("espeak-ng is not installed")
    dub = write_audio(tmp_path / "dub.wav", dub_speech.audio, dub_speech.sr)
    (tmp_path / "dub.txt").write_text(text + "\n")
    own = synth_speech(random_syllables(6, 3), seed=3)
    write_audio(tmp_path / "own.wav", own.audio, own.sr)
    n = int(np.ceil(own.duration * 25))
    clip = tmp_path / "talk_SBS.mp4"
    with VideoWriter(clip, Fraction(25), 384, 192, fmt=VideoFormat(crf=14, preset="veryfast"),
                     audio=tmp_path / "own.wav", audio_seconds=n / 25) as w:
        for left, right, _ in stereo_talking_frames(own.mouth_opening(np.arange(n) / 25), size=192, seed=3):
            w.write(join(left, right, "sbs"))
    result = run_sync(SyncRequest(clip, dub, tmp_path / "out.mp4",
                                  SyncOptions(engine="builtin", measure=False, script=tmp_path / "dub.txt"),
                                  stereo=StereoOptions(mode="independent")))
    # The script was used (before, a stereo sync only recognised the dub's phones, whatever it was given).
    assert result.engine_info["phones_from"] == "aligned", result.engine_info
    # Both eyes' mouths on one timing (each eye's engine would otherwise measure the speaker's lead on its own).
    lead = result.engine_info["lead_ms_per_eye"]
    assert lead[0] == lead[1], lead
    assert result.engine_info["closures"] > 0
    assert heard == [2], heard  # the dub and the clip's own sound, heard once for both eyes
