"""The same sync twice gives the same result: frame for frame, whatever the analysis cache holds."""

from __future__ import annotations

import shutil
from fractions import Fraction

import numpy as np

from lipsync_studio.engine.sync_job import SyncOptions, SyncRequest, run_sync
from lipsync_studio.media.audio_writer import write_audio
from lipsync_studio.media.video import VideoReader
from lipsync_studio.media.writer import VideoFormat, VideoWriter
from lipsync_studio.samples import random_syllables, synth_speech, talking_clip

FPS = 25


def _frames(path) -> list[np.ndarray]:
    with VideoReader(path) as r:
        return [f for _, f in r.iter_frames()]


def test_the_same_sync_twice_gives_identical_frames_with_or_without_cached_tracks(tmp_path, monkeypatch):
    own = synth_speech(random_syllables(8, 21), seed=21, f0=120.0)
    sound = write_audio(tmp_path / "own.wav", own.audio, own.sr)
    frames, n = talking_clip(own, fps=FPS, size=256, seed=21)
    clip = tmp_path / "clip.mp4"
    with VideoWriter(clip, Fraction(FPS), 256, 256, fmt=VideoFormat(preset="veryfast", crf=14), audio=sound,
                     audio_seconds=n / FPS) as vw:
        for f in frames:
            vw.write(f)
    dub_speech = synth_speech(random_syllables(7, 5), seed=5, f0=190.0, pause_every=3, pause=0.4)
    dub = write_audio(tmp_path / "dub.wav", dub_speech.audio, dub_speech.sr)
    cache = tmp_path / "cache"
    monkeypatch.setenv("LIPSYNC_STUDIO_CACHE_DIR", str(cache))

    def sync(name: str):
        return run_sync(SyncRequest(clip, dub, tmp_path / name, SyncOptions(engine="builtin", measure=False)))

    first = sync("first.mp4")
    assert first.changed_frames > 0
    # Tracks from the cache, the mouths' measures (sharpness, teeth between the lips) with them.
    second = sync("second.mp4")
    # Tracks from the cache without those measures (cached by another command, or by older code): the engine
    # must plan exactly as when it tracked the clip itself, not without its donor preferences.
    shutil.rmtree(cache / "mouth_measures")
    third = sync("third.mp4")
    # And a fresh cache: everything heard and tracked again.
    shutil.rmtree(cache)
    fourth = sync("fourth.mp4")
    want = _frames(first.output)
    for other in (second, third, fourth):
        got = _frames(other.output)
        assert len(got) == len(want)
        differing = [k for k, (a, b) in enumerate(zip(want, got)) if not np.array_equal(a, b)]
        assert not differing, (other.output.name, differing)
