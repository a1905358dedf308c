"""Reading audio: any audio file, or the sound track of a video, as float32 samples at a chosen rate.

Lip-sync models hear 16 kHz mono (Wav2Lip resamples everything to 16 kHz with ``librosa.load``), so that
is the default. Decoding and resampling are done by FFmpeg through PyAV; only resampled chunks are kept,
never the whole track at its source rate: a 10-minute 48 kHz stereo track read as 16 kHz mono float32
costs 38 MB (twice that for a moment while the chunks are joined), not the 230 MB of its source samples.

Mono mixing averages the channels (``(L + R) / 2``), as librosa does. FFmpeg's own stereo→mono downmix
scales by 1/√2 instead, which makes in-phase stereo louder than full scale, so it is not used.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import MediaError
from .container import open_input, picture_stream
from .warnings import warn_media

if TYPE_CHECKING:  # pragma: no cover
    import av.audio.frame
    import av.audio.stream
    import av.container

__all__ = ["AudioInfo", "audio_streams", "iter_resampled", "load_audio", "pick_audio_stream", "probe_audio",
           "sound_late_s", "surround_centre"]

#: A track that ends this much earlier than its header says is reported as truncated: the larger of
#: an absolute margin (codec priming/padding, rounding) and a fraction (bit-rate based estimates).
_SHORT_BY_S = 1.0
_SHORT_BY_FRACTION = 0.05
_DAMAGE_HINT = "if the rest matters, copy or export the file again"


@dataclass(frozen=True)
class AudioInfo:
    """What a file's audio stream is, read from its headers.

    Attributes
    ----------
    sample_rate:
        Samples per second per channel (Hz), as stored in the file.
    channels:
        Number of channels as stored (1 mono, 2 stereo, 6 for 5.1, ...).
    duration_s:
        Length of the audio in seconds: the stream's duration when the container records it, else
        the container's duration, else counted by decoding.
    codec:
        FFmpeg's decoder name, e.g. ``"aac"``, ``"mp3float"``, ``"pcm_s16le"``, ``"opus"``.
    stream_index:
        Index of the stream among all streams of the container (as ``ffprobe`` numbers them); pass it
        to :func:`load_audio` to read this stream.
    label:
        The stream's title and language as the file names them (``"Dialogue, eng"``), or ``""``.
    layout:
        FFmpeg's name of its channel layout (``"mono"``, ``"stereo"``, ``"5.1"``, ...).
    """

    sample_rate: int
    channels: int
    duration_s: float
    codec: str
    stream_index: int
    label: str = ""
    layout: str = ""

    @property
    def summary(self) -> str:
        """The stream in a few words: ``"2 ch, 48 kHz, 8.0 s"``."""
        return f"{self.channels} ch, {self.sample_rate / 1000:g} kHz, {self.duration_s:.1f} s"


def load_audio(
    path: str | Path,
    sr: int = 16000,
    *,
    mono: bool = True,
    stream_index: int | None = None,
    at_picture: bool = False,
    voice: bool = False,
    keep_layout: bool = False,
    channels: tuple[int, ...] | None = None,
) -> np.ndarray:
    """Decode the audio of a file and resample it to ``sr``.

    Parameters
    ----------
    path:
        An audio file (wav, mp3, flac, m4a/aac, ogg/opus, ...) or a video with a sound track
        (mp4, mov, mkv, webm, avi, ...).
    sr:
        Output sample rate in Hz. 16000 is what Wav2Lip and SyncNet expect.
    mono:
        True: average all channels into one. False: keep mono as one channel, and give two channels
        (FFmpeg's standard downmix for more than two) for everything else.
    stream_index:
        Which stream to read, numbered among all the container's streams (see
        :attr:`AudioInfo.stream_index`). None picks FFmpeg's "best" audio stream (usually the first,
        or the one marked default).
    at_picture:
        For a video's own sound, read with its picture: sample 0 is heard with the first video frame, as a
        player plays them, so frame ``k`` goes with the samples from ``k / fps`` seconds. A sound that starts
        after the picture (its stream's start later than the video's: broadcast transport streams, edited
        exports) begins with that much silence, one that starts before it loses what precedes the first
        frame. No effect on a file without a picture.
    voice:
        With ``mono``: the sound as a speech analysis hears it. From a surround mix (five channels or more with a
        front centre: a film's 5.1 or 7.1) its centre channel alone, where a mix puts the dialogue (the whole mix
        folded down to one brings the music and effects of the other channels in), unless the centre is silent.
        Other layouts: as ``mono``.
    keep_layout:
        With ``mono=False``: every channel as the stream holds them (its own layout: a 5.1 stays six channels, in
        its order) instead of more than two folded to stereo.
    channels:
        Only these channels of the stream (numbered from 1, as a mixer does), in this order: averaged into one
        with ``mono``, else as they are (``voice`` and ``keep_layout`` do not apply). A channel the stream lacks
        is an :class:`~lipsync_studio.errors.OptionError`.

    Returns
    -------
    numpy.ndarray
        float32 samples in [-1, 1] (values may overshoot slightly after lossy decoding).
        ``mono=True``: shape ``(N,)``; otherwise ``(C, N)`` with C = 1 or 2. N ≈ duration × sr.
        Without ``at_picture`` samples start at the first decoded sample, wherever the stream starts in
        its container (a dub is heard from its first sound). An AAC encoder's priming is left out, marked
        by the file or not (:func:`_unmarked_priming`).

    Raises
    ------
    MediaError
        The file is missing, empty, not a media file, has no audio stream (or ``stream_index`` is not
        an audio stream), or its audio cannot be decoded at all.

    Warns
    -----
    MediaWarning
        The audio is damaged or cut off part-way: what decoded before the damage is returned and the
        warning says at which time (seconds) reading stopped.
    """
    if sr <= 0:
        raise ValueError(f"sample rate must be positive, got {sr}")
    with open_input(path) as container:
        stream = pick_audio_stream(container, Path(path), stream_index)
        status: dict = {}
        centre = _centre_channel(stream) if voice and mono and channels is None else None
        if channels is not None:
            have = int(stream.codec_context.channels)
            if max(channels) > have or min(channels) < 1:
                from ..errors import OptionError

                raise OptionError(f"its audio stream #{stream.index} has {have} channel(s), not "
                                  f"{', '.join(map(str, channels))}", path=path,
                                  hint=f"choose among 1-{have} (numbered from 1, as a mixer does)")
            rows = [c - 1 for c in channels]
            chunks = [c[rows].mean(axis=0, keepdims=True) if mono else c[rows] for c in iter_resampled(
                container, stream, int(sr), mono=False, layout=stream.codec_context.layout.name, status=status)]
        elif centre is not None:  # every channel as it is, then the centre's row alone (see below)
            chunks = [c[centre[0]:centre[0] + 1] for c in iter_resampled(
                container, stream, int(sr), mono=False, layout=centre[1], status=status)]
        else:
            native = stream.codec_context.layout.name if keep_layout and not mono else None
            chunks = list(iter_resampled(container, stream, int(sr), mono=mono, layout=native, status=status))
        stopped_by = status["stopped_by"]
        n_samples = sum(c.shape[1] for c in chunks)
        read_s = n_samples / sr
        if n_samples == 0:
            detail = f" ({stopped_by})" if stopped_by else ""
            raise MediaError(
                f"the audio stream #{stream.index} could not be decoded{detail}",
                path=path,
                hint="the file is damaged or uses an unsupported codec; try re-exporting it as WAV",
            )
        if stopped_by is not None:
            _warn_truncated(
                f"{Path(path)}: the audio is damaged at {read_s:.2f} s and was read up to there "
                f"({stopped_by}); {_DAMAGE_HINT}"
            )
        else:
            declared_s = _stream_duration_s(stream)
            if declared_s is not None and read_s < declared_s - max(
                _SHORT_BY_S, _SHORT_BY_FRACTION * declared_s
            ):
                _warn_truncated(
                    f"{Path(path)}: the audio ends at {read_s:.2f} s but the file says it lasts "
                    f"{declared_s:.2f} s; it looks cut off and was read up to {read_s:.2f} s; "
                    f"{_DAMAGE_HINT}"
                )
        late = _late_after_picture(container, status["start_s"]) if at_picture else 0.0
    audio = np.concatenate(chunks, axis=1) if len(chunks) > 1 else chunks[0]
    del chunks
    if centre is not None and float(np.max(np.abs(audio))) < 10 ** (SILENT_DBFS / 20):
        # A silent centre (a mix that leaves the dialogue to the front pair): the whole mix, folded down.
        return load_audio(path, sr, mono=True, stream_index=stream_index, at_picture=at_picture)
    shift = int(round(late * sr))
    if shift > 0:
        audio = np.concatenate([np.zeros((audio.shape[0], shift), np.float32), audio], axis=1)
    elif shift < 0:
        audio = audio[:, min(-shift, audio.shape[1] - 1):]
    return audio[0] if mono else audio


def _centre_channel(stream) -> tuple[int, str] | None:
    """``(row, layout)``: where a surround stream's front-centre channel lies when it is resampled in its own
    layout (``layout``), or None for a stream of fewer than five channels or without a front centre."""
    layout = stream.codec_context.layout
    row = _surround_centre(layout)
    return None if row is None else (row, layout.name)


def surround_centre(layout: str) -> bool:
    """Whether a channel layout (FFmpeg's name: ``"5.1"``, ``"7.1"``, ``"8 channels"``) is a surround mix with a
    front centre, the channel :func:`load_audio` hears speech from (``voice``)."""
    import av

    try:
        return _surround_centre(av.AudioLayout(layout)) is not None
    except (ValueError, TypeError):
        return False


def _surround_centre(layout) -> int | None:
    names = [ch.name for ch in layout.channels]
    return names.index("FC") if len(names) >= 5 and "FC" in names else None


#: A dub whose loudest sample stays under this (dBFS) holds no speech: digital silence, dither, a room's hum.
SILENT_DBFS = -50.0


def warn_if_silent(wav: np.ndarray, path: str | Path, what: str = "the dub") -> bool:
    """Warn (:func:`~.warnings.warn_media`) when ``wav`` (samples in -1..1) never rises above :data:`SILENT_DBFS`, and
    say so: a silent dub (the wrong track of a multi-track file, an M&E stem without the dialogue) gave a result
    whose mouth stays shut from start to end, with nothing said about why."""
    from .warnings import warn_media

    peak = float(np.max(np.abs(wav))) if len(wav) else 0.0
    db = 20 * np.log10(peak) if peak > 0 else -np.inf
    if db >= SILENT_DBFS:
        return False
    level = "digital silence" if peak == 0 else f"its loudest sound is at {db:.0f} dBFS"
    warn_media(f"{path}: {what} is silent ({level}): the mouth stays shut throughout. Is this the dialogue? (of a "
               "file with several sound tracks, one is taken: give the dialogue track as a file of its own)")
    return True


def sound_late_s(path: str | Path, stream_index: int | None = None) -> float:
    """Seconds a video's sound starts after its first frame (negative: before it; 0 for a file without a
    picture): what ``load_audio(..., at_picture=True)`` pads or cuts, for a reader that streams the sound."""
    import av

    with open_input(path) as container:
        if picture_stream(container) is None:
            return 0.0
        stream = pick_audio_stream(container, Path(path), stream_index)
        status: dict = {}
        try:
            for frame in _decoded_frames(container, stream, status):
                if frame.samples:
                    break
        except av.error.FFmpegError:
            pass
        return _late_after_picture(container, status.get("start_s"))


def _late_after_picture(container: av.container.InputContainer, sound_start_s: float | None) -> float:
    """Seconds the sound's first decoded sample comes after the first video frame (negative: before it); 0
    without a picture or where either time is unknown."""
    video = picture_stream(container)
    if sound_start_s is None or video is None:
        return 0.0
    tb = video.time_base
    if tb is None:
        return 0.0
    if video.start_time is not None:
        start = int(video.start_time)
    else:  # a container that records no start: the earliest of its first packets (reordered frames come later)
        import av

        first: list[int] = []
        try:
            container.seek(0)
            for packet in container.demux(video):
                if packet.pts is not None and packet.size:
                    first.append(int(packet.pts))
                if len(first) >= 32:
                    break
        except av.error.FFmpegError:
            pass
        if not first:
            return 0.0
        start = min(first)
    return sound_start_s - float(start * tb)


def probe_audio(path: str | Path, stream_index: int | None = None) -> AudioInfo:
    """Describe the audio stream :func:`load_audio` would read by default (or stream ``stream_index``), cheaply.

    Only the headers are read when the container records the duration (nearly always); otherwise the
    stream is decoded once to count its samples (nothing is kept).

    Parameters
    ----------
    path:
        An audio file or a video with a sound track.

    Returns
    -------
    AudioInfo
        Sample rate (Hz), channels, duration (s), codec name and stream index.

    Raises
    ------
    MediaError
        The file is missing, empty, not a media file, or has no audio stream.
    """
    with open_input(path) as container:
        stream = pick_audio_stream(container, Path(path), stream_index)
        ctx = stream.codec_context
        duration_s = _stream_duration_s(stream)
        if duration_s is None and container.duration is not None and container.duration > 0:
            duration_s = container.duration / 1_000_000  # AV_TIME_BASE: microseconds
        if duration_s is None:
            duration_s = _count_decoded_seconds(container, stream)
        meta = stream.metadata
        label = ", ".join(v for v in (meta.get("title"), meta.get("language")) if v and v != "und")
        return AudioInfo(
            sample_rate=int(ctx.sample_rate),
            channels=int(ctx.channels),
            duration_s=float(duration_s),
            codec=str(ctx.name),
            stream_index=int(stream.index),
            label=label,
            layout=str(ctx.layout.name),
        )


def audio_streams(path: str | Path) -> list[AudioInfo]:
    """Every audio stream of a file (:func:`probe_audio` of each; durations from the headers, decoded where they
    hold none), in the file's order; empty for a file with none."""
    with open_input(path) as container:
        indices = [s.index for s in container.streams.audio]
    return [probe_audio(path, i) for i in indices]


# -- helpers ----------------------------------------------------------------------------------------------


def pick_audio_stream(
    container: av.container.InputContainer, path: Path, stream_index: int | None
) -> av.audio.stream.AudioStream:
    """The requested audio stream, or the container's best one; MediaError when there is none."""
    streams = container.streams
    audio_indices = [s.index for s in streams.audio]
    if stream_index is None:
        if not audio_indices:
            kinds = ", ".join(sorted({s.type for s in streams})) or "nothing"
            raise MediaError(
                f"has no audio stream (it holds {kinds})",
                path=path,
                hint="choose a file with sound, or give the dub audio as a separate file",
            )
        best = streams.best("audio")
        return best if best is not None else streams.audio[0]  # type: ignore[return-value]
    if not 0 <= stream_index < len(streams):
        raise MediaError(
            f"has no stream #{stream_index} "
            f"(it has {len(streams)} streams; audio: {audio_indices or 'none'})",
            path=path,
            hint="pick one of the audio stream numbers listed",
        )
    stream = streams[stream_index]
    if stream.type != "audio":
        raise MediaError(
            f"stream #{stream_index} is {stream.type}, not audio (audio streams: {audio_indices or 'none'})",
            path=path,
            hint="pick one of the audio stream numbers listed",
        )
    return stream  # type: ignore[return-value]


def iter_resampled(
    container: av.container.InputContainer,
    stream: av.audio.stream.AudioStream,
    sr: int,
    *,
    mono: bool,
    layout: str | None = None,
    status: dict | None = None,
) -> Iterator[np.ndarray]:
    """Decode ``stream`` and yield it resampled, chunk by chunk (streaming: nothing is accumulated).

    Parameters
    ----------
    mono:
        Average all channels into one.
    layout:
        With ``mono=False``: force ``"mono"`` or ``"stereo"`` output; None keeps mono as mono and
        gives stereo for everything else.
    status:
        If given, ``status["stopped_by"]`` is set to the FFmpeg error that ended decoding early, or
        None when the stream decoded to its end, and ``status["start_s"]`` to the container time (s) of the
        first sample yielded (None: undated or nothing decoded).

    Yields
    ------
    numpy.ndarray
        float32 ``(C, n)``; C = 1 when ``mono`` (channels already averaged).
    """
    import av

    source_channels = int(stream.codec_context.channels) or 1
    # mono=False: the output layout is fixed up front so every chunk has the same channel count.
    fixed_layout = None if mono else (layout or ("mono" if source_channels == 1 else "stereo"))
    resampler: av.AudioResampler | None = None
    resampler_layout = ""
    if status is None:
        status = {}
    status["stopped_by"] = None
    status["start_s"] = None

    def new_resampler(layout: str) -> av.AudioResampler:
        # Half-second output frames: the per-frame Python cost (to_ndarray, channel mean) is paid
        # twice a second instead of ~45 times (an AAC frame is 1024 samples): 3x faster on long files.
        # More than two channels come packed: PyAV's planar frames of eight channels or more (7.1) crash in
        # to_ndarray (a segmentation fault, PyAV 18.1).
        fmt = "fltp" if av.AudioLayout(layout).nb_channels <= 2 else "flt"
        return av.AudioResampler(fmt, layout, sr, frame_size=max(sr // 2, 1))

    def take(frames: list[av.audio.frame.AudioFrame]) -> Iterator[np.ndarray]:
        for out in frames:
            if out.samples == 0:
                continue
            arr = out.to_ndarray()  # fltp → (channels, samples) float32; flt → (1, samples x channels)
            if out.format.is_packed and out.layout.nb_channels > 1:
                arr = np.ascontiguousarray(arr.reshape(-1, out.layout.nb_channels).T)
            if mono and arr.shape[0] > 1:
                arr = arr.mean(axis=0, keepdims=True, dtype=np.float32)
            yield arr

    try:
        for frame in _decoded_frames(container, stream, status):
            layout = fixed_layout or ("mono" if frame.layout.nb_channels == 1 else "stereo")
            if resampler is None or layout != resampler_layout:
                if resampler is not None:
                    yield from take(resampler.resample(None))
                resampler, resampler_layout = new_resampler(layout), layout
            try:
                yield from take(resampler.resample(frame))
            except ValueError as exc:
                if isinstance(exc, av.error.FFmpegError):  # InvalidDataError is a ValueError too
                    raise
                # PyAV raises a plain ValueError when the input format/layout/rate changes mid-stream
                # (e.g. a broadcast recording switching channel configuration): start a new resampler.
                yield from take(resampler.resample(None))
                resampler = new_resampler(layout)
                yield from take(resampler.resample(frame))
    except av.error.FFmpegError as exc:
        status["stopped_by"] = exc.strerror or type(exc).__name__
    if resampler is not None:
        try:
            yield from take(resampler.resample(None))  # flush the samples the resampler still holds
        except av.error.FFmpegError as exc:  # pragma: no cover - flushing a healthy graph does not fail
            status["stopped_by"] = status["stopped_by"] or exc.strerror or type(exc).__name__


#: The samples an AAC-LC encoder puts before the sound (its priming): one frame of 1024 for FFmpeg's encoder,
#: 2048 or 2112 for others; 1024 is the least any adds.
AAC_PRIMING = 1024


def _unmarked_priming(container: av.container.InputContainer, stream: av.audio.stream.AudioStream,
                      first: av.packet.Packet) -> bool:
    """Whether an MP4/MOV file's AAC sound starts with the encoder's priming that the file does not mark.

    A well-made file marks the priming (an edit list), and FFmpeg hands its packets over with negative times,
    to be dropped: decoded, the sound starts where the picture does. A file written by a program that gave the
    encoder no timestamps (PyAV writing frames without ``pts``: the measuring tool's own halves) marks nothing,
    and its sound decodes, and plays, 1024 samples late (64 ms at 16 kHz, 21 ms at 48 kHz): read as the speaker's
    own timing, that delay was taken for how far their mouth leads their sound, and the dub was planned that much
    early (the lead measured on five of six real heads' halves exceeded the one that best fits their dub by
    40-80 ms; with the priming dropped it matched on the three that were measurable).
    """
    name = (container.format.name or "") if container.format is not None else ""
    if stream.codec_context.name != "aac" or ("mp4" not in name and "mov" not in name):
        return False
    # Given timestamps, the encoder dates its first packet a priming before the sound: -1024 for a sound that
    # starts with the picture (FFmpeg then drops it), a positive time for one that starts later (read from its
    # first decoded sample, like any sound that starts late). At exactly 0, undiscarded: no timestamps were given.
    return first.pts == 0 and not first.is_discard


def _decoded_frames(
    container: av.container.InputContainer, stream: av.audio.stream.AudioStream, status: dict | None = None
) -> Iterator[av.audio.frame.AudioFrame]:
    """Frames of ``stream`` in order, without an AAC encoder's priming the file left unmarked
    (:func:`_unmarked_priming`); demuxing ends with an empty packet that flushes the decoder. ``status``, if
    given, gets ``"start_s"``: the container time (s) of the first sample yielded (an unmarked priming is
    taken to lie before its first packet's time, as a marked one does), None while unknown."""
    drop: int | None = None
    for packet in container.demux(stream):
        if drop is None:
            drop = AAC_PRIMING if packet.size and _unmarked_priming(container, stream, packet) else 0
        for frame in packet.decode():  # type: ignore[misc]
            if status is not None and status.get("start_s") is None and frame.pts is not None \
                    and frame.time_base is not None:
                status["start_s"] = float(frame.pts * frame.time_base)
            if drop and frame.samples:
                if frame.samples <= drop:
                    drop -= frame.samples
                    continue
                frame = _without_start(frame, drop)
                drop = 0
            yield frame


def _without_start(frame: av.audio.frame.AudioFrame, n: int) -> av.audio.frame.AudioFrame:
    """``frame`` less its first ``n`` samples (same format, layout and rate)."""
    import av

    arr = frame.to_ndarray()
    planar = frame.format.is_planar
    rest = arr[:, n:] if planar else arr[:, n * len(frame.layout.channels):]
    out = av.AudioFrame.from_ndarray(np.ascontiguousarray(rest), format=frame.format.name,
                                     layout=frame.layout.name)
    out.sample_rate = frame.sample_rate
    return out


def _stream_duration_s(stream: av.audio.stream.AudioStream) -> float | None:
    """The stream's own recorded duration in seconds, or None when the container does not record it."""
    if stream.duration is None or stream.duration <= 0 or stream.time_base is None:
        return None
    return float(stream.duration * Fraction(stream.time_base))


def _count_decoded_seconds(
    container: av.container.InputContainer, stream: av.audio.stream.AudioStream
) -> float:
    """Decode the whole stream (discarding samples) and return its length in seconds."""
    import av

    seconds = 0.0
    try:
        for frame in _decoded_frames(container, stream):
            seconds += frame.samples / frame.sample_rate
    except av.error.FFmpegError:
        pass  # a damaged tail: the length is what decoded, load_audio warns about it
    return seconds


def _warn_truncated(message: str) -> None:
    # stacklevel 3: point at the caller of load_audio, not at this helper.
    warn_media(message, stacklevel=3)
