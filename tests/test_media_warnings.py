"""A job's media notes are its own: collected whatever other threads do with the warnings module meanwhile."""

from __future__ import annotations

import threading
import warnings

import pytest

from lipsync_studio.job import Job, Stage, run_collecting_warnings
from lipsync_studio.media.prefetch import prefetch
from lipsync_studio.media.warnings import MediaWarning, warn_media


def test_a_jobs_notes_survive_another_thread_changing_the_warning_filters():
    """The app's tasks thread (waveforms, sound for playback) enters and leaves ``catch_warnings`` while a sync
    job runs; that must neither lose the job's notes nor turn them into errors."""
    inside, done = threading.Event(), threading.Event()

    def other_thread() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("error", MediaWarning)  # what a strict front end or test run does
            inside.set()
            done.wait(10)

    def stage(ctx) -> None:
        helper = threading.Thread(target=other_thread)
        helper.start()
        assert inside.wait(10)
        try:
            warn_media("clip.mp4: the video is damaged or cut off at 1.00 s")
            # Notes raised in a thread the job starts to help it (decoding ahead) land too.
            assert list(prefetch(_warn_then_yield())) == [1, 2]
        finally:
            done.set()
            helper.join()
        ctx.advance(1)

    state, notes = run_collecting_warnings(Job("test", [Stage("work", stage, total=1)], {}))
    assert notes == ("clip.mp4: the video is damaged or cut off at 1.00 s", "dub.wav: cut off at 2.00 s")


def _warn_then_yield():
    warn_media("dub.wav: cut off at 2.00 s")
    yield 1
    yield 2


def test_outside_a_job_a_media_note_is_an_ordinary_warning():
    with pytest.warns(MediaWarning, match="damaged"):
        warn_media("x.mp4: damaged at 3.00 s")
