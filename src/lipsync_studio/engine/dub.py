"""The dub as the job hears it: shifted when it is slightly early or late, one of its audio streams when the file
holds several (a delivery's mix, M&E and dialogue).

Such a dub is written once, as a hidden partial file beside the output (:func:`~..media.output.
temporary_sibling`: swept by a later run if this one is killed), used as the dub for every later stage (the
mouth follows it and it becomes the output's sound) and removed when the job ends, whatever happens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

#: Below this (seconds) the dub is used as it is.
NO_SHIFT_S = 1e-4


def parse_channels(text: str) -> tuple[int, ...]:
    """A dub's channels as a mixer numbers them, from 1: ``"5,6"``, ``"5-6"``, ``"3"`` -> ``(5, 6)``, ``(5, 6)``,
    ``(3,)``. ValueError for anything else (empty, zero, negative, reversed)."""
    out: list[int] = []
    for part in str(text).replace(" ", "").split(","):
        lo, _, hi = part.partition("-")
        a, b = int(lo), int(hi or lo)
        if a < 1 or b < a:
            raise ValueError(f"not a channel or a range of them: {part!r}")
        out.extend(range(a, b + 1))
    if not out or len(set(out)) != len(out):
        raise ValueError(f"not a list of channels: {text!r}")
    return tuple(out)


def write_shifted_dub(dub: Path, offset_s: float, target: Path, sr: int | None = None, *,
                      at_picture: bool = False, stream_index: int | None = None,
                      channels: tuple[int, ...] | None = None) -> Path:
    """Write ``dub`` shifted by ``offset_s`` seconds to ``target`` (a WAV); return ``target``.

    Positive offsets start the dub with that much silence (the sound comes later); negative ones drop its
    first ``-offset_s`` seconds (a dub shorter than that leaves 0.1 s of silence). Channels are kept, and so
    is the sample rate unless ``sr`` (Hz) asks for another: the sound after the silence is the dub's own
    samples, not a resampled copy, so everything heard from it (phones, loudness) is the unshifted dub's.
    ``at_picture``: ``dub`` is a video whose own sound is wanted, timed from its first frame (see
    :func:`~..media.audio.load_audio`). ``stream_index``: the audio stream read (None: the file's main one);
    ``channels``: only these of its channels (numbered from 1), in this order.
    """
    from ..media.audio import load_audio, probe_audio
    from ..media.audio_writer import write_audio

    info = probe_audio(dub, stream_index)
    if sr is None:
        sr = info.sample_rate
    # Every channel as delivered (a 5.1 stays 5.1: its centre is what the sync hears, a master carries it whole).
    audio = load_audio(dub, sr=sr, mono=False, at_picture=at_picture, stream_index=stream_index, keep_layout=True,
                       channels=channels)
    layout = info.layout if channels is None else f"{len(channels)} channels"
    shift = int(round(abs(offset_s) * sr))
    if offset_s > 0:
        audio = np.concatenate([np.zeros((audio.shape[0], shift), np.float32), audio], axis=1)
    else:
        audio = audio[:, shift:] if shift < audio.shape[1] else np.zeros((audio.shape[0], sr // 10), np.float32)
    write_audio(target, audio, sr, layout=layout if audio.shape[0] > 2 else None)
    return target


def prepare_dub(state: dict[str, Any], audio):
    """In a job's ``open`` stage: replace ``state["dub"]`` by the dub as the job hears it: the audio stream
    ``state["options"].dub_stream`` of it, its channels ``dub_channels``, shifted by ``state["dub_offset_ms"]``. A
    dub holding several audio streams, none chosen, is heard by its main one, and a warning says which and what
    else it holds; one whose stream has more than two channels without a surround layout's centre (a polyphonic
    file of stems), none chosen, is heard mixed, and a warning says so.

    The file written lies beside ``state["output"]`` and is listed in ``state["cleanup"]`` (removed by
    :func:`~.job.cleanup_files`). Returns the audio facts of the dub the job now uses (``audio`` itself when
    it is the user's file as it is).
    """
    from ..media.audio import audio_streams, probe_audio, surround_centre
    from ..media.output import temporary_sibling

    given = state["dub"]
    stream = getattr(state.get("options"), "dub_stream", None)
    channels = getattr(state.get("options"), "dub_channels", None)
    if channels is None and audio.channels > 2 and not surround_centre(audio.layout):
        from ..media.warnings import warn_media

        warn_media(f"{given}: its stream #{audio.stream_index} has {audio.channels} channels ({audio.layout}), "
                   f"heard mixed together: if the dialogue is on some of them, choose them (--dub-channels 5,6; a "
                   f"batch manifest's dub_channels column; the app's Dub channels box)")
    if stream is None:
        streams = audio_streams(given)
        if len(streams) > 1:
            from ..media.warnings import warn_media

            listed = "; ".join(f"#{a.stream_index} " + (f"{a.label}: " if a.label else "") + a.summary
                               for a in streams)
            warn_media(f"{given}: holds {len(streams)} audio streams ({listed}); the sync hears #{audio.stream_index} "
                       f"and puts it in the output: if the dialogue is another, choose it (--dub-stream N; a batch "
                       f"manifest's dub_stream column; the app's Dub stream box)")
    offset_s = float(state.get("dub_offset_ms", 0.0)) / 1000.0
    if abs(offset_s) < NO_SHIFT_S and stream is None and channels is None:
        return audio
    out: Path = state["output"]
    target = temporary_sibling(out.with_name(f"{out.stem}-dub.wav"))
    state.setdefault("cleanup", []).append(target)
    state["dub"] = write_shifted_dub(given, offset_s if abs(offset_s) >= NO_SHIFT_S else 0.0, target,
                                     stream_index=stream, channels=channels)
    state.setdefault("stands_for", {})[state["dub"]] = given  # what the job says of it names the user's dub
    return probe_audio(state["dub"])


def measured_against(dub: Path, output: Path) -> Path | None:
    """The sound a finished sync is measured against: None, the result's own, unless that lost the dialogue's
    channel: a surround dub mixed to stereo for an AAC or Opus output (a 5.1 dub's score and effects heard with the
    dialogue: 13 p/b/m scored instead of its 2, no silence to score the lips' stillness in, loudness 0.11 for 0.25).
    Then ``dub``, the dub as the sync heard it (its centre), from its first sample as the result's sound begins.
    """
    from ..errors import MediaError
    from ..media.audio import probe_audio

    try:
        heard, kept = probe_audio(dub), probe_audio(output)
    except MediaError:
        return None
    return Path(dub) if heard.channels > 2 and kept.channels < heard.channels else None
