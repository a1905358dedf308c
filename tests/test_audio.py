"""Reading audio files and the sound tracks of videos (real files written with PyAV, no mocks)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from lipsync_studio.errors import MediaError
from lipsync_studio.media.audio import AudioInfo, load_audio, probe_audio
from lipsync_studio.media.audio_writer import write_audio as write_audio_file
from lipsync_studio.media.warnings import MediaWarning

SOURCE_RATE = 44100
DURATION_S = 2.0
AMPLITUDE = 0.5
SINE_RMS = AMPLITUDE / np.sqrt(2.0)


# -- writing test media -------------------------------------------------------------------------------------


def sine(
    freq: float, sr: int = SOURCE_RATE, duration_s: float = DURATION_S, amp: float = AMPLITUDE
) -> np.ndarray:
    """(1, N) float32 sine."""
    t = np.arange(int(round(sr * duration_s))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)[None]


def encode_audio(container: av.container.OutputContainer, stream: av.audio.stream.AudioStream,
                 signal: np.ndarray, sr: int) -> None:
    """Encode (C, N) float32 ``signal`` into ``stream`` and flush the encoder."""
    layout = "mono" if signal.shape[0] == 1 else "stereo"
    for pos in range(0, signal.shape[1], 4096):
        chunk = np.ascontiguousarray(signal[:, pos : pos + 4096])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
        frame.sample_rate = sr
        frame.pts = pos
        frame.time_base = Fraction(1, sr)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def write_audio(path: Path, codec: str, signal: np.ndarray, sr: int = SOURCE_RATE) -> Path:
    layout = "mono" if signal.shape[0] == 1 else "stereo"
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=sr, layout=layout)
        encode_audio(out, stream, signal, sr)
    return path


def write_video(path: Path, audio_tracks: list[np.ndarray], *, faststart: bool = False,
                duration_s: float = DURATION_S, fps: int = 25) -> Path:
    """A 64×64 h264 video with one AAC stream per entry of ``audio_tracks``."""
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
        audio_streams = [out.add_stream("aac", rate=SOURCE_RATE, layout="mono") for _ in audio_tracks]
        for i in range(int(duration_s * fps)):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 5 % 255, np.uint8), format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        for stream, signal in zip(audio_streams, audio_tracks):
            encode_audio(out, stream, signal, SOURCE_RATE)
    return path


def flac_frames_offset(data: bytes) -> int:
    """Byte offset of the first audio frame of a FLAC file (after its metadata blocks)."""
    assert data[:4] == b"fLaC"
    pos = 4
    while True:
        header = data[pos]
        length = int.from_bytes(data[pos + 1 : pos + 4], "big")
        pos += 4 + length
        if header & 0x80:  # last metadata block
            return pos


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every test file, written once per module (well under a second)."""
    d = tmp_path_factory.mktemp("media")
    tone = sine(440.0)
    files = {
        "wav": write_audio(d / "tone.wav", "pcm_s16le", tone),
        "mp3": write_audio(d / "tone.mp3", "libmp3lame", tone),
        "flac": write_audio(d / "tone.flac", "flac", tone),
        "m4a": write_audio(d / "tone.m4a", "aac", tone),
        "ogg": write_audio(d / "tone.ogg", "libopus", sine(440.0, sr=48000), sr=48000),
        "mka": write_audio(d / "tone.mka", "libopus", sine(440.0, sr=48000), sr=48000),
        "stereo": write_audio(d / "left_only.wav", "pcm_s16le", np.concatenate([tone, np.zeros_like(tone)])),
        "mp4": write_video(d / "clip.mp4", [tone]),
        "mkv": write_video(d / "clip.mkv", [tone]),
        "two_tracks": write_video(d / "two_tracks.mkv", [tone, sine(880.0)]),
        "video_only": write_video(d / "silent_film.mp4", []),
    }
    files["empty"] = d / "empty.wav"
    files["empty"].write_bytes(b"")
    files["text"] = d / "notes.mp4"
    files["text"].write_text("these are meeting notes, not a video\n" * 20)

    # Cut-off recordings: an mp4 whose index (written last) is missing, a FLAC and an MP3 cut in half,
    # an mp4 with its index first (faststart) cut in half, and a FLAC whose audio frames are garbage.
    for key, cut_name in [("mp4", "cut_no_index.mp4"), ("flac", "cut.flac"), ("mp3", "cut.mp3")]:
        data = files[key].read_bytes()
        files[cut_name] = d / cut_name
        files[cut_name].write_bytes(data[: len(data) // 2])
    faststart = write_video(
        d / "faststart.mp4", [sine(440.0, duration_s=4.0)], faststart=True, duration_s=4.0
    )
    data = faststart.read_bytes()
    files["cut_faststart.mp4"] = d / "cut_faststart.mp4"
    files["cut_faststart.mp4"].write_bytes(data[: len(data) // 2])
    data = files["flac"].read_bytes()
    start = flac_frames_offset(data)
    files["garbage.flac"] = d / "garbage.flac"
    files["garbage.flac"].write_bytes(data[:start] + noise_bytes(len(data) - start))
    data = files["mp3"].read_bytes()
    files["corrupt.mp3"] = d / "corrupt.mp3"
    files["corrupt.mp3"].write_bytes(data[: len(data) // 2] + noise_bytes(len(data) - len(data) // 2))
    return files


def noise_bytes(n: int) -> bytes:
    return np.random.default_rng(7).integers(0, 256, n, dtype=np.uint8).tobytes()


def dominant_hz(wav: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(wav * np.hanning(len(wav))))
    return float(np.argmax(spectrum) * sr / len(wav))


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


# -- decoding -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["wav", "mp3", "flac", "m4a", "ogg", "mka", "mp4", "mkv"])
def test_every_format_loads_as_16k_mono_float32_with_the_right_tone(
    media: dict[str, Path], kind: str
) -> None:
    wav = load_audio(media[kind])
    assert wav.dtype == np.float32
    assert wav.ndim == 1
    # Codec priming/padding (AAC 1024 samples, MP3 ~1105) stays well under 50 ms.
    assert abs(len(wav) - 16000 * DURATION_S) <= 0.05 * 16000
    assert dominant_hz(wav, 16000) == pytest.approx(440.0, abs=3.0)
    # Level is kept: a 0.5-amplitude sine stays at RMS 0.354 (no 1/√2 downmix, no normalisation).
    assert rms(wav[1600:-1600]) == pytest.approx(SINE_RMS, rel=0.05)


def test_resamples_to_the_requested_rate(media: dict[str, Path]) -> None:
    wav = load_audio(media["wav"], sr=22050)
    assert len(wav) == pytest.approx(22050 * DURATION_S, abs=2)
    assert dominant_hz(wav, 22050) == pytest.approx(440.0, abs=3.0)


def test_stereo_is_averaged_into_mono_like_librosa(media: dict[str, Path]) -> None:
    # Left channel is a sine, right is silent: the average is half the sine.
    wav = load_audio(media["stereo"])
    assert wav.shape == (32000,)
    assert rms(wav) == pytest.approx(SINE_RMS / 2, rel=0.02)


def test_mono_false_keeps_the_channels(media: dict[str, Path]) -> None:
    stereo = load_audio(media["stereo"], mono=False)
    assert stereo.shape == (2, 32000)
    assert stereo.dtype == np.float32
    assert rms(stereo[0]) == pytest.approx(SINE_RMS, rel=0.02)
    assert rms(stereo[1]) < 1e-4
    mono_source = load_audio(media["wav"], mono=False)
    assert mono_source.shape == (1, 32000)


def test_stream_index_picks_the_track(media: dict[str, Path]) -> None:
    path = media["two_tracks"]  # stream 0 video, 1: 440 Hz, 2: 880 Hz
    assert dominant_hz(load_audio(path), 16000) == pytest.approx(440.0, abs=3.0)
    assert dominant_hz(load_audio(path, stream_index=2), 16000) == pytest.approx(880.0, abs=3.0)
    with pytest.raises(MediaError, match=r"stream #0 is video, not audio.*\[1, 2\]") as err:
        load_audio(path, stream_index=0)
    assert path.name in str(err.value)
    with pytest.raises(MediaError, match="has no stream #9"):
        load_audio(path, stream_index=9)


# -- probing ------------------------------------------------------------------------------------------------


def test_probe_reads_the_headers(media: dict[str, Path]) -> None:
    wav = probe_audio(media["wav"])
    assert wav == AudioInfo(sample_rate=44100, channels=1, duration_s=2.0, codec="pcm_s16le", stream_index=0,
                            layout=wav.layout)  # FFmpeg's name: "mono", or "1 channels" where the file names none
    info = probe_audio(media["mp4"])
    assert (info.sample_rate, info.channels, info.codec, info.stream_index) == (44100, 1, "aac", 1)
    assert info.duration_s == pytest.approx(DURATION_S, abs=0.05)
    assert probe_audio(media["stereo"]).channels == 2
    # Matroska records no per-stream duration: the container's is used.
    mka = probe_audio(media["mka"])
    assert (mka.sample_rate, mka.codec) == (48000, "opus")
    assert mka.duration_s == pytest.approx(DURATION_S, abs=0.05)


# -- unreadable input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("empty", "empty"),
        ("text", "cannot be read as audio or video"),
        ("video_only", "has no audio stream"),
        ("cut_no_index.mp4", "cannot be read"),
        ("garbage.flac", "could not be decoded"),
    ],
)
def test_unreadable_files_raise_media_error_naming_the_file(
    media: dict[str, Path], kind: str, message: str
) -> None:
    with pytest.raises(MediaError, match=message) as err:
        load_audio(media[kind])
    assert media[kind].name in str(err.value)


def test_missing_file_and_folder_raise_media_error(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="no such file") as err:
        load_audio(tmp_path / "nowhere.wav")
    assert "nowhere.wav" in str(err.value)
    with pytest.raises(MediaError, match="folder"):
        load_audio(tmp_path)


def test_probe_of_a_video_without_sound_raises(media: dict[str, Path]) -> None:
    with pytest.raises(MediaError, match="has no audio stream"):
        probe_audio(media["video_only"])


# -- damaged input ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["corrupt.mp3", "cut_faststart.mp4"])
def test_a_file_damaged_part_way_is_read_up_to_the_damage_with_a_warning(
    media: dict[str, Path], kind: str
) -> None:
    # corrupt.mp3: second half overwritten with noise; cut_faststart.mp4: index first, data cut in half.
    with pytest.warns(MediaWarning, match=r"damaged at \d+\.\d\d s and was read up to there") as record:
        wav = load_audio(media[kind])
    assert len(record) == 1
    assert media[kind].name in str(record[0].message)
    full_s = 4.0 if kind.endswith(".mp4") else DURATION_S
    assert 0.2 * 16000 < len(wav) < full_s * 16000 * 0.8
    assert dominant_hz(wav, 16000) == pytest.approx(440.0, abs=5.0)


@pytest.mark.parametrize("kind", ["cut.flac", "cut.mp3"])
def test_a_file_cut_short_of_its_declared_length_warns(media: dict[str, Path], kind: str) -> None:
    # Both decode cleanly up to the cut (or fail on the last partial frame), but their headers
    # (FLAC STREAMINFO, MP3 Xing) declare 2 s.
    with pytest.warns(MediaWarning, match=r"(cut off|damaged at \d+\.\d\d s)") as record:
        wav = load_audio(media[kind])
    assert len(record) == 1
    assert media[kind].name in str(record[0].message)
    assert 0.2 * 16000 < len(wav) < 1.5 * 16000


# -- the dub in a written video -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind, channels", [("wav", 1), ("stereo", 2)])
def test_a_video_keeps_the_dubs_own_channels(media: dict[str, Path], tmp_path: Path, kind: str,
                                             channels: int) -> None:
    # A mono dub stays mono (made stereo it cost twice the encoding for the same sound in both speakers); a
    # stereo one keeps its two channels apart (left_only.wav: the tone on the left, silence on the right).
    from lipsync_studio.media.writer import VideoFormat, VideoWriter

    out = tmp_path / f"{kind}.mp4"
    with VideoWriter(out, Fraction(25), 64, 48, fmt=VideoFormat(preset="ultrafast"), audio=media[kind],
                     audio_seconds=1.0) as w:
        for _ in range(25):
            w.write(np.full((48, 64, 3), 90, np.uint8))
    assert probe_audio(out).channels == channels
    sound = load_audio(out, mono=False)
    assert sound.shape[0] == channels
    assert dominant_hz(sound[0, 1600:], 16000) == pytest.approx(440.0, abs=5.0)
    if channels == 2:
        assert rms(sound[1, 1600:]) < 0.01 * rms(sound[0, 1600:])


def _click_mp4(path: Path, signal: np.ndarray, sr: int, timestamps: bool, start: int = 0) -> Path:
    """An MP4 with a 64x64 picture and ``signal`` (1, N) as AAC; ``timestamps`` False: its frames go to the
    encoder without ``pts``, as programs that write a clip frame by frame do, and the file marks no priming;
    ``start``: with timestamps, the sound starts this many samples after the picture."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
        audio = out.add_stream("aac", rate=sr, layout="mono")
        for i in range(int(signal.shape[1] / sr * 25)):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 128, np.uint8), format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        for pos in range(0, signal.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(signal[:, pos:pos + 1024]), format="fltp",
                                               layout="mono")
            frame.sample_rate = sr
            if timestamps:
                frame.pts, frame.time_base = start + pos, Fraction(1, sr)
            out.mux(audio.encode(frame))
        out.mux(audio.encode(None))
    return path


@pytest.mark.parametrize("sr", [16000, 48000])
def test_an_aac_sound_starts_with_its_picture_whether_or_not_the_file_marks_the_encoders_priming(
        tmp_path: Path, sr: int) -> None:
    """A click half a second in is read half a second in, from a WAV and from MP4s written with and without
    timestamps. Without them the file marks none of the 1024 samples the AAC encoder puts first, and the click
    was read 64 ms late at 16 kHz (21 ms at 48 kHz): the speaker's own sound read that late was taken for a
    mouth leading its sound by that much more, and the dub was planned early by it."""
    signal = np.zeros((1, 2 * sr), np.float32)
    signal[0, sr // 2:sr // 2 + sr // 400] = 0.8
    wav = write_audio(tmp_path / "click.wav", "pcm_s16le", signal, sr)
    marked = _click_mp4(tmp_path / "marked.mp4", signal, sr, timestamps=True)
    unmarked = _click_mp4(tmp_path / "unmarked.mp4", signal, sr, timestamps=False)
    at = {p.name: np.argmax(np.abs(load_audio(p, sr=16000))) / 16000 for p in (wav, marked, unmarked)}
    assert at["click.wav"] == pytest.approx(0.5, abs=1e-3)
    # AAC's own filter delays a click by about 2 ms either way; the priming was 21-64 ms
    assert at["marked.mp4"] == pytest.approx(0.5, abs=0.005), at
    assert at["unmarked.mp4"] == pytest.approx(0.5, abs=0.005), at
    assert len(load_audio(unmarked, sr=16000)) / 16000 == pytest.approx(2.0, abs=0.06)
    # A sound that starts after the picture is read from its first decoded sample, as before: its priming is
    # dated before it, not left unmarked.
    late = _click_mp4(tmp_path / "late.mp4", signal, sr, timestamps=True, start=sr // 2)
    plain = np.concatenate([f.to_ndarray()[0] for f in av.open(str(late)).decode(audio=0)])
    assert len(load_audio(late, sr=sr)) == len(plain)


def _moved(src: Path, dst: Path, picture_s: float = 0.0) -> Path:
    """``src``'s streams copied into ``dst`` (its container from the suffix), the picture dated ``picture_s`` later."""
    with av.open(str(src)) as i, av.open(str(dst), "w") as o:
        streams = {s.index: o.add_stream_from_template(s) for s in i.streams}
        for packet in i.demux():
            if packet.dts is None:
                continue
            if packet.stream.type == "video" and picture_s:
                step = round(picture_s / packet.time_base)
                packet.pts, packet.dts = packet.pts + step, packet.dts + step
            packet.stream = streams[packet.stream.index]
            o.mux(packet)
    return dst


def test_a_clips_own_sound_is_read_with_its_picture_wherever_its_stream_starts(tmp_path: Path) -> None:
    """A click 0.5 s into a sound that starts 0.3 s after the picture is heard 0.8 s after the first frame, as a
    player plays it (an engine reading the speaker's sound from its first sample took 0.3 s more for how far the
    mouth leads it); in a file whose picture starts 0.32 s after its sound, 0.18 s after the first frame. The same
    from MP4, Matroska and MPEG-TS; a file re-encoded with its own sound keeps it in place; a dub (no
    ``at_picture``) is still heard from its first sample."""
    from lipsync_studio.media.audio import sound_late_s
    from lipsync_studio.media.writer import VideoWriter

    sr = 16000
    signal = np.zeros((1, 2 * sr), np.float32)
    signal[0, sr // 2:sr // 2 + 40] = 0.8
    late = _click_mp4(tmp_path / "late.mp4", signal, sr, timestamps=True, start=int(0.3 * sr))
    early = _moved(_click_mp4(tmp_path / "with.mp4", signal, sr, timestamps=True), tmp_path / "early.mp4", 0.32)

    def click(path: Path, **kw) -> float:
        return float(np.argmax(np.abs(load_audio(path, sr=sr, **kw))) / sr)

    for path, want in ((late, 0.8), (early, 0.18), (_moved(late, tmp_path / "late.mkv"), 0.8),
                       (_moved(late, tmp_path / "late.ts"), 0.8), (_moved(early, tmp_path / "early.ts"), 0.18)):
        assert click(path, at_picture=True) == pytest.approx(want, abs=0.005), path.name
        assert sound_late_s(path) == pytest.approx(want - 0.5, abs=0.07), path.name  # less the decoded priming
    assert click(late) == pytest.approx(0.5, abs=0.07)  # from its first sample (its priming decoded first)
    assert click(early) == pytest.approx(0.5, abs=0.005)
    # Nothing moves in a file whose sound starts with its picture, or in a sound without one.
    plain = _click_mp4(tmp_path / "plain.mp4", signal, sr, timestamps=True)
    assert np.array_equal(load_audio(plain, at_picture=True), load_audio(plain))
    wav = write_audio(tmp_path / "click.wav", "pcm_s16le", signal, sr)
    assert np.array_equal(load_audio(wav, at_picture=True), load_audio(wav))

    for source, want in ((late, 0.8), (early, 0.18)):
        out = tmp_path / f"again_{source.stem}.mp4"
        with VideoWriter(out, 25, 64, 64, audio=source, audio_seconds=1.6, audio_at_picture=True) as w:
            for _ in range(40):
                w.write(np.full((64, 64, 3), 128, np.uint8))
        assert click(out) == pytest.approx(want, abs=0.005), source.name
        assert len(load_audio(out, sr=sr)) / sr == pytest.approx(1.6, abs=0.03)


def _surround(path, channels: np.ndarray, sr: int = 16000):
    """A 5.1 WAV (FL FR FC LFE BL BR) of ``channels`` (6, n) float32."""
    return write_audio_file(path, channels, sr, layout="5.1")


def test_speech_is_heard_from_a_surround_mixs_centre_channel(tmp_path):
    """A film's 5.1 dub puts the dialogue in the centre; folded down to one channel it came with the music of the
    other five (a real head's speech under a 5.1 score: phonetic sync 0.88, from the centre 1.00). Heard as speech
    (``voice``), a surround mix is its centre, unless the centre is silent; other layouts are heard as before."""
    sr = 16000
    t = np.arange(2 * sr) / sr
    speech = (0.4 * np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 3 * t) > 0)).astype(np.float32)
    music = (0.4 * np.sin(2 * np.pi * 523 * t)).astype(np.float32)
    z = np.zeros_like(t, dtype=np.float32)
    mix = _surround(tmp_path / "mix51.wav", np.stack([music, music, speech, z, music, music]))
    heard, folded = load_audio(mix, sr, voice=True), load_audio(mix, sr)
    assert np.corrcoef(heard, speech)[0, 1] > 0.999
    assert np.corrcoef(folded, speech)[0, 1] < 0.8  # what was heard before: the music came with it
    no_centre = _surround(tmp_path / "phantom.wav", np.stack([speech, speech, z, z, music, music]))
    assert np.allclose(load_audio(no_centre, sr, voice=True), load_audio(no_centre, sr))
    # A 7.1 mix (eight channels: PyAV's planar frames of eight crashed the process) likewise, and read whole.
    eight = np.stack([music, music, speech, z, music, music, music, music])
    film = write_audio_file(tmp_path / "mix71.wav", eight, sr, layout="7.1")
    assert np.corrcoef(load_audio(film, sr, voice=True), speech)[0, 1] > 0.999
    assert np.abs(load_audio(film, sr, mono=False, keep_layout=True) - eight).max() < 1e-3
    assert np.corrcoef(load_audio(film, sr, channels=(3,)), speech)[0, 1] > 0.999
    stereo = tmp_path / "st.wav"
    write_audio(stereo, "pcm_s16le", np.stack([speech, music]), sr)
    assert np.allclose(load_audio(stereo, sr, voice=True), load_audio(stereo, sr))
