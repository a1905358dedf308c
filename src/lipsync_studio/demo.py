"""The demo: a talking clip and a dub made from the project's own synthetic media, then synced.

It needs nothing downloaded: the face is scikit-image's astronaut photo, made to talk to formant-synthesised
speech; the dub is other synthetic speech in another voice, a little longer than the clip.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

from .job import ProgressCallback
from .errors import OutputError
from .media.audio_writer import write_audio
from .media.output import check_output_path
from .media.writer import VideoFormat, VideoWriter


def make_talking_clip(path: Path, *, seed: int = 1, f0: float = 115.0, fps: Fraction = Fraction(25),
                      size: int = 360, syllables: int = 14, fmt: VideoFormat = VideoFormat()) -> dict[str, Any]:
    """Write a talking-face clip whose own sound is synthetic speech; return its speech and frame count.

    The clip's audio track is written beside it as ``<stem>_sound.wav`` first (the writer muxes from a file).
    """
    from .samples import random_syllables, synth_speech, talking_clip

    speech = synth_speech(random_syllables(syllables, seed), seed=seed, f0=f0)
    sound = path.with_name(path.stem + "_sound.wav")
    write_audio(sound, speech.audio, speech.sr)
    frames, n = talking_clip(speech, fps=float(fps), size=size, seed=seed)
    with VideoWriter(path, fps, size, size, fmt=fmt, audio=sound, audio_seconds=n / float(fps)) as w:
        for img in frames:
            w.write(img)
    return {"path": path, "speech": speech, "frames": n, "sound": sound}


def make_dub(path: Path, *, seed: int = 7, f0: float = 190.0, syllables: int = 18) -> dict[str, Any]:
    """Write a dub: synthetic speech in another voice (higher pitch, other syllables, another rhythm)."""
    from .samples import random_syllables, synth_speech

    speech = synth_speech(random_syllables(syllables, seed), seed=seed, f0=f0, rate=3.4, pause_every=5,
                          pause=0.35, lead_silence=0.5)
    write_audio(path, speech.audio, speech.sr)
    return {"path": path, "speech": speech}


def run_demo(out_dir: str | Path, on_progress: ProgressCallback | None = None) -> dict:
    """Make ``clip.mp4`` and ``dub.wav`` in ``out_dir`` and sync them into ``result.mp4``: their paths (``clip``,
    ``dub``, ``output``) and the sync's ``result`` (:class:`~.engine.sync_job.SyncResult`)."""
    from .engine.sync_job import SyncRequest, run_sync

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError("exists and is not a folder", path=out)
    out.mkdir(parents=True, exist_ok=True)
    check_output_path(out / "result.mp4")
    clip = make_talking_clip(out / "clip.mp4")["path"]
    dub = make_dub(out / "dub.wav")["path"]
    result = run_sync(SyncRequest(clip, dub, out / "result.mp4"), on_progress=on_progress)
    return {"clip": clip, "dub": dub, "output": result.output, "result": result}
