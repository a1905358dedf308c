"""The sync job end to end: output length follows the dub, picture policies, audio is the dub, safety."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest import read_code, write_audio_streams, write_clip, write_tone, write_two_shot_clip

from lipsync_studio.job import CancelToken, Progress
from lipsync_studio.engine.sync_job import SyncOptions, SyncRequest, run_sync
from lipsync_studio.errors import Cancelled, MediaError, OutputError
from lipsync_studio.media.audio import load_audio
from lipsync_studio.media.timeline import plan_output
from lipsync_studio.media.video import VideoReader, probe_video
from lipsync_studio.media.writer import VideoFormat


def _codes(path: Path) -> list[int]:
    with VideoReader(path) as r:
        return [read_code(img) for _, img in r.iter_frames()]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("pingpong", [0, 1, 2, 3, 4, 3, 2, 1, 0, 1, 2]),
        ("loop", [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0]),
        ("hold", [0, 1, 2, 3, 4, 4, 4, 4, 4, 4, 4]),
    ],
)
def test_longer_dub_extends_the_picture_by_policy(policy, expected):
    plan = plan_output(5, Fraction(25), 11 / 25, extend=policy)
    assert plan.n_out == 11
    assert plan.source_indices().tolist() == expected


def test_policies_that_keep_the_clip_length():
    assert plan_output(5, Fraction(25), 11 / 25, extend="trim-audio").n_out == 5
    assert plan_output(50, Fraction(25), 1.0).n_out == 25
    padded = plan_output(50, Fraction(25), 1.0, shorten="pad-silence")
    assert padded.n_out == 50 and padded.audio_seconds == 2.0


def test_sync_follows_a_longer_dub_with_a_ping_pong_picture_and_the_dub_as_sound(clip50, dub3s, tmp_path):
    before = (_sha(clip50), _sha(dub3s))
    out = tmp_path / "out.mp4"
    events: list[Progress] = []
    result = run_sync(SyncRequest(clip50, dub3s, out), on_progress=events.append)
    assert result.output == out and out.exists()
    info = probe_video(out)
    assert info.n_frames == 75 and abs(info.duration - 3.0) <= 1 / 25
    codes = _codes(out)
    assert codes[:50] == list(range(50))
    assert codes[50:] == [48 - k for k in range(25)]  # back from 48: no repeated frame at the turn
    # The sound is the dub (440 Hz), not the clip's own tone (220 Hz), and lasts as long as the picture.
    sound = load_audio(out, sr=16000)
    assert abs(len(sound) / 16000 - 3.0) < 0.05
    spectrum = np.abs(np.fft.rfft(sound[1600:-1600]))
    assert abs(np.argmax(spectrum) * 16000 / (len(sound) - 3200) - 440) < 5
    # Progress reached the end of every stage, in order.
    stages = [e.stage for e in events]
    assert stages.index("open") < stages.index("render")
    last = [e for e in events if e.stage == "render"][-1]
    assert last.done == last.total == 75
    assert (_sha(clip50), _sha(dub3s)) == before  # inputs untouched


def test_shorter_dub_trims_the_picture_or_pads_silence(clip50, tmp_path):
    dub = write_tone(tmp_path / "short.m4a", 1.2)
    trimmed = run_sync(SyncRequest(clip50, dub, tmp_path / "trim.mp4"))
    assert trimmed.frames == 30 and probe_video(trimmed.output).n_frames == 30
    padded = run_sync(SyncRequest(clip50, dub, tmp_path / "pad.mkv", SyncOptions(shorten="pad-silence")))
    assert probe_video(padded.output).n_frames == 50
    sound = load_audio(padded.output, sr=16000)
    assert abs(len(sound) / 16000 - 2.0) < 0.05
    assert np.sqrt(np.mean(sound[: 16000]**2)) > 0.1 and np.sqrt(np.mean(sound[24000:]**2)) < 1e-3


def test_a_silent_dub_is_synced_with_a_warning_that_says_so(clip50, tmp_path):
    """A dub of silence (the wrong track, a music-and-effects stem) gave a result whose mouth stayed shut throughout
    and said nothing; a dub with sound in it gets no such warning."""
    from lipsync_studio.media.audio_writer import write_audio

    quiet = tmp_path / "hum.wav"  # dither at -66 dBFS
    write_audio(quiet, np.random.default_rng(0).uniform(-5e-4, 5e-4, 32000).astype(np.float32), 16000)
    result = run_sync(SyncRequest(clip50, quiet, tmp_path / "silent.mp4", SyncOptions(measure=False)))
    notes = [n for n in result.warnings if "is silent" in n]
    assert len(notes) == 1 and "hum.wav" in notes[0] and "dBFS" in notes[0] and result.output.exists()
    # Shifted in time (a copy of it is what the engine hears), it is still the user's file that is named.
    shifted = run_sync(SyncRequest(clip50, quiet, tmp_path / "later.mp4", SyncOptions(measure=False),
                                   dub_offset_ms=200))
    notes = [n for n in shifted.warnings if "is silent" in n]
    assert len(notes) == 1 and notes[0].startswith(f"{quiet}:")
    loud = run_sync(SyncRequest(clip50, write_tone(tmp_path / "tone.wav", 2.0), tmp_path / "tone.mp4",
                                SyncOptions(measure=False)))
    assert not any("is silent" in n for n in loud.warnings)


def _two_stream_dub(path: Path, seconds: float = 2.0) -> Path:
    """A delivery with two audio streams: #0 a 300 Hz tone titled "M&E", #1 a 700 Hz tone titled "Dialogue"."""
    t = np.arange(int(seconds * 48000)) / 48000
    return write_audio_streams(path, [(0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32) for hz in (300, 700)],
                               titles=("M&E", "Dialogue"))


def _tone_power(path: Path, hz: float) -> float:
    sound = load_audio(path, 16000)
    spectrum = np.abs(np.fft.rfft(sound))
    freqs = np.fft.rfftfreq(len(sound), 1 / 16000)
    return float(spectrum[np.abs(freqs - hz) < 20].sum())


def test_a_dub_with_several_audio_streams_says_which_it_heard_and_syncs_the_one_chosen(clip50, tmp_path):
    """A delivery often holds the mix, the M&E and the dialogue as streams of one file. Synced to its main stream
    (the M&E here), the mouth followed the music and nothing said there was a dialogue stream; now the job names the
    streams and the one it heard, and ``dub_stream`` makes it hear (and carry) the dialogue."""
    dub = _two_stream_dub(tmp_path / "delivery.mkv")
    first = run_sync(SyncRequest(clip50, dub, tmp_path / "main.mp4", SyncOptions(measure=False)))
    notes = [n for n in first.warnings if "audio streams" in n]
    assert len(notes) == 1 and "#0 M&E" in notes[0] and "#1 Dialogue" in notes[0] and "--dub-stream" in notes[0]
    assert _tone_power(first.output, 300) > 10 * _tone_power(first.output, 700)
    chosen = run_sync(SyncRequest(clip50, dub, tmp_path / "dialogue.mp4", SyncOptions(measure=False, dub_stream=1)))
    assert not any("audio streams" in n for n in chosen.warnings)
    assert _tone_power(chosen.output, 700) > 10 * _tone_power(chosen.output, 300)  # heard and carried
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # its copy is gone
    with pytest.raises(MediaError, match=r"no stream #5 .*audio: \[0, 1\]"):
        run_sync(SyncRequest(clip50, dub, tmp_path / "none.mp4", SyncOptions(measure=False, dub_stream=5)))
    assert not (tmp_path / "none.mp4").exists()


def test_cancel_leaves_nothing_under_the_final_name(clip50, dub3s, tmp_path):
    out = tmp_path / "cancelled.mp4"
    token = CancelToken()

    def on_progress(ev: Progress) -> None:
        if ev.stage == "render" and ev.done >= 10:
            token.cancel()

    with pytest.raises(Cancelled):
        run_sync(SyncRequest(clip50, dub3s, out), on_progress=on_progress, cancel=token)
    assert list(tmp_path.glob("*cancelled*")) == []


def test_bad_inputs_are_refused_before_any_output(clip50, dub3s, tmp_path):
    video_only = write_clip(tmp_path / "silent.mp4", 10)
    with pytest.raises(MediaError, match="silent.mp4.*no audio stream"):
        run_sync(SyncRequest(clip50, video_only, tmp_path / "o1.mp4"))
    with pytest.raises(OutputError, match="overwrite an input"):
        run_sync(SyncRequest(clip50, dub3s, clip50))
    with pytest.raises(OutputError, match="does not exist"):
        run_sync(SyncRequest(clip50, dub3s, tmp_path / "missing" / "o.mp4"))
    assert not (tmp_path / "o1.mp4").exists()


def test_disk_full_is_reported_as_such_and_cleans_up(clip50, dub3s, tmp_path):
    """A real write limit (RLIMIT_FSIZE) in a child process: the CLI says so, exits 2, leaves no file."""
    import subprocess
    import sys

    out = tmp_path / "big.mp4"
    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (60_000, 60_000))\n"
        "from lipsync_studio.cli import main\n"
        f"sys.exit(main(['-q', 'sync', {str(clip50)!r}, {str(dub3s)!r}, '-o', {str(out)!r}, '--crf', '0']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert str(out) in proc.stderr and ("disk is full" in proc.stderr or "cannot be written" in proc.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([clip50.name, dub3s.name])


@pytest.mark.parametrize(
    ("name", "fmt", "codec", "pix_fmt"),
    [
        ("full_colour.mp4", VideoFormat(pix_fmt="yuv444p"), "h264", "yuv444p"),
        ("small.mkv", VideoFormat(codec="hevc", crf=24, preset="ultrafast"), "hevc", "yuv420p"),
        ("web.webm", VideoFormat(codec="vp9"), "vp9", "yuv420p"),
        ("edit.mov", VideoFormat(codec="prores"), "prores", "yuv422p10le"),
    ],
)
def test_output_codec_and_chroma_are_the_users_choice(clip50, tmp_path, name, fmt, codec, pix_fmt):
    dub = write_tone(tmp_path / "d.wav", 1.0)
    out = run_sync(SyncRequest(clip50, dub, tmp_path / name, SyncOptions(fmt=fmt))).output
    info = probe_video(out)
    assert (info.codec, info.pix_fmt, info.n_frames) == (codec, pix_fmt, 25)
    assert _codes(out) == list(range(25))


def test_a_prores_master_carries_the_dub_exactly_as_delivered(clip50, tmp_path):
    """A master's sound is the dub itself: beside ProRes (or asked for) 24-bit PCM, every sample of a 48 kHz 24-bit
    dub as it was (AAC re-encoded the very sound the result exists for); PCM where it cannot go is refused first."""
    import av
    import soundfile as sf

    from lipsync_studio.media.audio_writer import write_audio

    rng = np.random.default_rng(0)
    t = np.arange(48000 * 2) / 48000
    sf.write(tmp_path / "dub.wav", (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.normal(size=len(t))).astype(
        np.float32), 48000, subtype="PCM_24")
    delivered, _ = sf.read(tmp_path / "dub.wav", dtype="int32")
    for name, fmt in (("master.mov", VideoFormat(codec="prores")), ("edit.mkv", VideoFormat(audio="pcm"))):
        out = run_sync(SyncRequest(clip50, tmp_path / "dub.wav", tmp_path / name, SyncOptions(fmt=fmt))).output
        with av.open(str(out)) as c:
            assert c.streams.audio[0].codec_context.name == "pcm_s24le"
            heard = np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(audio=0)])
        assert len(heard) == len(delivered) and np.array_equal(heard >> 8, delivered >> 8)
    with pytest.raises(OutputError, match="PCM sound cannot go in a .mp4"):
        run_sync(SyncRequest(clip50, tmp_path / "dub.wav", tmp_path / "x.mp4", SyncOptions(fmt=VideoFormat(audio="pcm"))))
    assert not (tmp_path / "x.mp4").exists()
    # A surround dub (a film's 5.1) stays 5.1 in a master, channel for channel (it was folded to stereo).
    six = np.stack([np.sin(2 * np.pi * (200 + 100 * k) * t) * 0.2 for k in range(6)]).astype(np.float32)
    write_audio(tmp_path / "dub51.wav", six, 48000, layout="5.1")
    out = run_sync(SyncRequest(clip50, tmp_path / "dub51.wav", tmp_path / "surround.mov",
                               SyncOptions(fmt=VideoFormat(codec="prores")))).output
    with av.open(str(out)) as c:
        assert c.streams.audio[0].codec_context.layout.name == "5.1"
        heard = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1).astype(np.float64) / 2 ** 31
    heard = heard.reshape(-1, 6).T if heard.shape[0] == 1 else heard
    assert heard.shape == six.shape and np.abs(heard - six).max() < 1e-4
    # Shifted (the job hears a copy of it), it is still 5.1, its channels in place 0.1 s later.
    out = run_sync(SyncRequest(clip50, tmp_path / "dub51.wav", tmp_path / "later.mov",
                               SyncOptions(fmt=VideoFormat(codec="prores")), dub_offset_ms=100)).output
    with av.open(str(out)) as c:
        assert c.streams.audio[0].codec_context.layout.name == "5.1"
        later = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1).astype(np.float64) / 2 ** 31
    later = later.reshape(-1, 6).T if later.shape[0] == 1 else later
    assert np.abs(later[:, 4800:9600] - six[:, :4800]).max() < 1e-3 and np.abs(later[:, :4700]).max() < 1e-4
    # 7.1 too (eight channels: PyAV cannot make or read planar frames of eight; they go packed).
    eight = np.vstack([six, six[:2]])
    write_audio(tmp_path / "dub71.wav", eight, 48000, layout="7.1")
    out = run_sync(SyncRequest(clip50, tmp_path / "dub71.wav", tmp_path / "film.mov",
                               SyncOptions(fmt=VideoFormat(codec="prores")))).output
    assert np.abs(load_audio(out, 48000, mono=False, keep_layout=True) - eight).max() < 1e-4


def test_an_avid_master_is_dnxhr_hq_with_the_dub_as_pcm_and_a_frame_too_small_for_it_is_refused(clip50, tmp_path):
    import av

    clip = write_clip(tmp_path / "hd.mov", 25, size=(320, 192))
    dub = write_tone(tmp_path / "d.wav", 1.0)
    out = run_sync(SyncRequest(clip, dub, tmp_path / "avid.mov", SyncOptions(fmt=VideoFormat(codec="dnxhr")))).output
    with av.open(str(out)) as c:
        v, a = c.streams.video[0].codec_context, c.streams.audio[0].codec_context
        assert (v.name, v.profile, v.pix_fmt, a.name) == ("dnxhd", "DNXHR HQ", "yuv422p", "pcm_s24le")
    assert _codes(out) == list(range(25))
    with pytest.raises(OutputError, match="DNxHR needs frames at least 256 x 120"):
        run_sync(SyncRequest(clip50, dub, tmp_path / "small.mov", SyncOptions(fmt=VideoFormat(codec="dnxhr"))))
    assert not (tmp_path / "small.mov").exists()
    with pytest.raises(OutputError, match="codec dnxhr cannot go in a .mp4"):
        run_sync(SyncRequest(clip, dub, tmp_path / "x.mp4", SyncOptions(fmt=VideoFormat(codec="dnxhr"))))


def test_the_encoder_thread_keeps_each_frame_as_written_and_an_abort_leaves_nothing(tmp_path):
    """Frames are encoded in a thread of their own: a caller reusing one array for every frame still gets
    each frame as it was when written, and leaving with an error stops the thread and removes the file."""
    from fractions import Fraction

    from lipsync_studio.media.video import VideoReader
    from lipsync_studio.media.writer import VideoWriter

    canvas = np.zeros((64, 96, 3), np.uint8)
    out = tmp_path / "reuse.mp4"
    with VideoWriter(out, Fraction(25), 96, 64, fmt=VideoFormat(crf=0, preset="ultrafast")) as w:
        for k in range(12):
            canvas[:] = 20 * k  # the same array, changed right after each write
            w.write(canvas)
    with VideoReader(out) as r:
        levels = [float(f.mean()) for _, f in r.iter_frames()]
    # each frame its own level (RGB -> YUV -> RGB rounds by a level or two; frames were 20 levels apart)
    np.testing.assert_allclose(levels, [20 * k for k in range(12)], atol=2.5)

    stopped = tmp_path / "stopped.mp4"
    with pytest.raises(KeyboardInterrupt):
        with VideoWriter(stopped, Fraction(25), 96, 64) as w:
            for k in range(40):
                w.write(canvas)
            raise KeyboardInterrupt
    import threading

    assert not [t for t in threading.enumerate() if t.name == "encoder"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reuse.mp4"]


def test_a_request_and_its_result_travel_as_json(clip50, dub3s, tmp_path):
    """What a batch task sends and gets back: plain JSON both ways, the request rebuilt exactly."""
    import json

    from lipsync_studio.engine.sync_job import StereoOptions
    from lipsync_studio.media.writer import VideoFormat

    stereo = SyncRequest(clip50, dub3s, tmp_path / "o.mp4", SyncOptions(extend="hold", fmt=VideoFormat(crf=20),
                                                                        face=2, measure=False),
                         dub_offset_ms=-40.0, stereo=StereoOptions(layout="tb", right=dub3s, mode="independent"))
    assert SyncRequest.from_dict(json.loads(json.dumps(stereo.to_dict()))) == stereo
    flat = SyncRequest(clip50, dub3s, tmp_path / "o.mp4", SyncOptions(engine="none"))
    assert SyncRequest.from_dict(json.loads(json.dumps(flat.to_dict()))) == flat
    result = json.loads(json.dumps(run_sync(flat).to_dict()))
    assert result["output"] == str(tmp_path / "o.mp4") and result["frames"] == 75 and result["layout"] == "2d"
    assert result["engine"] == "none" and result["sync"] is None and "render" in result["timings"]


def test_a_clip_without_a_face_ends_with_a_warning_that_the_picture_is_unchanged(tmp_path, dub3s):
    """A sync that found no face to change must not look like a success: the result, the CLI and --json say so."""
    import json
    import subprocess
    import sys

    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, 160, dtype=np.float32)[None, :, None]
    noise = [np.clip(ramp + rng.normal(0, 20, (96, 160, 3)), 0, 255).astype(np.uint8) for _ in range(30)]
    clip = tmp_path / "noface.mp4"
    from lipsync_studio.media.writer import VideoWriter

    with VideoWriter(clip, 25, 160, 96) as w:
        for f in noise:
            w.write(f)
    result = run_sync(SyncRequest(clip, dub3s, tmp_path / "o.mp4", SyncOptions(engine="builtin", measure=False)))
    assert result.unchanged and result.changed_frames == 0
    assert any("picture is unchanged" in w and "noface.mp4" in w for w in result.warnings)

    cmd = [sys.executable, "-m", "lipsync_studio.cli", "-q", "sync", str(clip), str(dub3s), "--engine", "builtin",
           "--no-measure"]
    proc = subprocess.run([*cmd, "-o", str(tmp_path / "cli.mp4")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "warning:" in proc.stderr and "no frame was changed" in proc.stderr
    proc = subprocess.run([*cmd, "-o", str(tmp_path / "json.mp4"), "--json"], capture_output=True, text=True)
    data = json.loads(proc.stdout)
    assert data["changed_frames"] == 0 and any("no frame was changed" in w for w in data["warnings"])
    # Re-timing alone (no engine) is not a failed sync: no such warning.
    plain = run_sync(SyncRequest(clip, dub3s, tmp_path / "p.mp4", SyncOptions(engine="none")))
    assert plain.changed_frames is None and not plain.unchanged and not plain.warnings


def test_eval_of_a_clip_without_a_face_says_it_measured_nothing(tmp_path, dub3s):
    """No mouth seen: the summary must not print an offset and a confidence that are only defaults."""
    from lipsync_studio.media.writer import VideoWriter
    from lipsync_studio.metrics.sync import evaluate_video

    rng = np.random.default_rng(1)
    clip = tmp_path / "noface.mp4"
    with VideoWriter(clip, 25, 160, 96, audio=dub3s) as w:
        for _ in range(30):
            w.write(rng.integers(0, 255, (96, 160, 3), dtype=np.uint8))
    score = evaluate_video(clip)
    assert score.frames_used == 0
    assert score.summary() == "sync not measured: no face was found in the result"


def test_a_pass_gives_its_threads_short_turns_and_puts_the_interval_back(clip50, dub3s, tmp_path):
    # The render pass's decoder and encoder threads win the interpreter lock back after every native call: with
    # Python's 5 ms switch interval each such wait beside the main thread's work cost up to 5 ms (see
    # bench/gil_turns.py). The shorter interval holds only while a pass runs, also when it is cancelled.
    import sys

    before = sys.getswitchinterval()
    seen: list[float] = []
    token: CancelToken | None = None

    def on_progress(ev: Progress) -> None:
        if ev.stage == "render" and 0 < ev.done < ev.total:  # the job's own reports at a stage's ends lie outside
            seen.append(sys.getswitchinterval())
            if token is not None:  # the first report inside the pass: later ones come only 50 ms apart, and a
                token.cancel()     # fast pass may finish between two of them (CI once did)

    run_sync(SyncRequest(clip50, dub3s, tmp_path / "whole.mp4", SyncOptions(engine="none")), on_progress=on_progress)
    assert seen and max(seen) <= 0.001 < before
    assert sys.getswitchinterval() == before
    seen.clear()
    token = CancelToken()
    with pytest.raises(Cancelled):
        run_sync(SyncRequest(clip50, dub3s, tmp_path / "cut.mp4", SyncOptions(engine="none")), on_progress=on_progress,
                 cancel=token)
    assert seen and max(seen) <= 0.001
    assert sys.getswitchinterval() == before


def test_a_second_face_on_screen_beside_the_synced_one_is_named(tmp_path):
    """A two-shot: two faces side by side the whole clip. With no face chosen the largest is synced, which need
    not be the one whose lines the dub holds: the result says so and how to choose the other; chosen, nothing."""
    import cv2

    from lipsync_studio.media.writer import VideoWriter
    from lipsync_studio.samples import PHOTO_OPENING, render_face

    big, small = render_face(PHOTO_OPENING, size=200), render_face(PHOTO_OPENING, size=150)
    clip = tmp_path / "two_shot.mp4"
    with VideoWriter(clip, 25, 640, 360) as w:
        for k in range(50):
            f = np.full((360, 640, 3), 110, np.uint8)
            f[80:280, 40:240] = big
            f[105:255, 420:570] = cv2.flip(small, 1)
            w.write(f)
    dub = write_tone(tmp_path / "dub.wav", 2.0)
    result = run_sync(SyncRequest(clip, dub, tmp_path / "a.mp4", SyncOptions(engine="builtin", measure=False)))
    notes = [w for w in result.warnings if "beside it" in w]
    assert len(notes) == 1 and "two_shot.mp4" in notes[0]
    synced, other = (0, 1) if "face 0, the largest, is synced" in notes[0] else (1, 0)
    assert f"face {other} (frames 0-49)" in notes[0] and f"--face {other}" in notes[0]
    chosen = run_sync(SyncRequest(clip, dub, tmp_path / "b.mp4",
                                  SyncOptions(engine="builtin", measure=False, face=other)))
    assert not any("beside it" in w for w in chosen.warnings)


def test_a_face_in_another_shot_is_named_and_a_second_sync_of_the_result_syncs_it(tmp_path):
    """A clip of two shots with a face each (a cutaway between them): one face is synced, and the result says
    which other face is on screen where it is not; syncing the result again with that face chosen syncs it too."""
    clip = write_two_shot_clip(tmp_path / "two_shots.mp4")
    dub = write_tone(tmp_path / "dub.wav", 4.0)
    first = run_sync(SyncRequest(clip, dub, tmp_path / "a.mp4", SyncOptions(engine="builtin", measure=False)))
    note = [w for w in first.warnings if "only face" in w]
    assert len(note) == 1 and "two_shots.mp4" in note[0]
    synced, left = (0, 1) if "only face 0 is synced" in note[0] else (1, 0)
    assert f"face {left} (frames" in note[0] and "on screen where it is not" in note[0] and f"--face {left}" in note[0]
    assert 0 < first.changed_frames <= 30
    second = run_sync(SyncRequest(tmp_path / "a.mp4", dub, tmp_path / "b.mp4",
                                  SyncOptions(engine="builtin", measure=False, face=left)))
    assert 0 < second.changed_frames <= 30
    assert any(f"only face {left} is synced" in w for w in second.warnings)


def test_a_cut_to_another_person_in_the_same_place_is_another_face_and_is_left_as_it_is(tmp_path):
    """Two people framed alike, one shot after the other with no cutaway between (an interview cut): the boxes
    overlap, but the face does not look the same, so the tracker starts a new face at the cut. Once they were one
    track and the sync drew the first person's mouths into the second person's face."""
    from conftest import write_tone

    from lipsync_studio.face.analysis import analyse_faces
    from lipsync_studio.media.video import VideoReader
    from lipsync_studio.media.writer import VideoWriter
    from lipsync_studio.samples import PHOTO_OPENING, render_face

    face = render_face(PHOTO_OPENING, size=200)
    other = np.ascontiguousarray(face[..., ::-1])  # another person to the eye: another skin, hair and backdrop
    clip = tmp_path / "interview.mp4"
    with VideoWriter(clip, 25, 640, 360) as w:
        for k in range(80):
            f = np.full((360, 640, 3), 120 if k < 40 else 60, np.uint8)
            f[80:280, 220:420] = face if k < 40 else other
            w.write(f)
    faces = analyse_faces(clip)
    spans = sorted((int(np.flatnonzero(t.present)[0]), int(np.flatnonzero(t.present)[-1])) for t in faces.tracks.values())
    assert spans == [(0, 39), (40, 79)]
    out = run_sync(SyncRequest(clip, write_tone(tmp_path / "dub.wav", 3.2), tmp_path / "out.mp4",
                               SyncOptions(engine="builtin", measure=False)))
    assert any("on screen where it is not" in w for w in out.warnings)
    first = 0 if "only face 0 is synced" in " ".join(out.warnings) else 1
    synced, kept = (range(0, 40), range(40, 80)) if first == 0 else (range(40, 80), range(0, 40))

    def change(k: int) -> float:  # mean change over the lower face, beyond the encoders' own
        return float(np.abs(a.frame(k)[190:280, 260:380].astype(int) - b.frame(k)[190:280, 260:380]).mean())

    with VideoReader(clip) as a, VideoReader(out.output) as b:
        assert max(change(k) for k in synced[::3]) > 4.0  # the synced person's mouth was redrawn
        assert max(change(k) for k in kept[::3]) < 1.5  # the other person's face is left as it is


def test_a_camera_flash_is_no_cut_the_face_stays_one_face_in_every_frame(tmp_path):
    """A flash brightens face and background for two frames, which changes the face's look as much as a cut to
    another person does: those frames are still the same face's, not a short face of their own dropped as noise
    (the speaker's mouth was left unsynced there)."""
    from lipsync_studio.face.analysis import analyse_faces
    from lipsync_studio.media.writer import VideoWriter
    from lipsync_studio.samples import PHOTO_OPENING, render_face

    face = render_face(PHOTO_OPENING, size=200)
    clip = tmp_path / "flash.mp4"
    with VideoWriter(clip, 25, 640, 360) as w:
        for k in range(60):
            f = np.full((360, 640, 3), 120, np.uint8)
            f[80:280, 220:420] = face
            if k in (30, 31):
                f = np.clip(f.astype(np.float32) * 2.0 + 40, 0, 255).astype(np.uint8)
            w.write(f)
    faces = analyse_faces(clip)
    assert len(faces.tracks) == 1 and faces.speaker_track().present.all()


def test_faces_named_together_are_one_person_synced_in_every_shot(tmp_path):
    """The same person seen as two faces (two shots the tracker could not join) named together (``--face 0,1``):
    both shots are synced in one run, and nothing is left to warn about; two faces on screen together cannot be
    named as one (the message says where)."""
    from lipsync_studio.cli import face_ids
    from lipsync_studio.errors import OptionError
    from lipsync_studio.face.analysis import analyse_faces

    assert face_ids("3") == 3 and face_ids("0,2") == (0, 2)
    with pytest.raises(Exception, match="not a face id"):
        face_ids("0,x")
    clip = write_two_shot_clip(tmp_path / "two_shots.mp4")
    faces = analyse_faces(clip)
    assert sorted(faces.tracks) == [0, 1]
    dub = write_tone(tmp_path / "dub.wav", 4.0)
    both = run_sync(SyncRequest(clip, dub, tmp_path / "both.mp4",
                                SyncOptions(engine="builtin", measure=False, face=(1, 0))))
    assert both.changed_frames > 30  # frames of both shots (30 each)
    assert not any("only face" in w for w in both.warnings)
    faces.choose_speaker((1, 0))
    assert sorted(faces.tracks) == [1] and faces.speaker_track().present.sum() == 60

    from lipsync_studio.samples import PHOTO_OPENING, render_face
    from lipsync_studio.face.tracker import track_faces

    face = render_face(PHOTO_OPENING, size=150)
    frame = np.full((240, 480, 3), 90, np.uint8)
    frame[40:190, 20:170], frame[40:190, 300:450] = face, face
    pair = track_faces(enumerate([frame] * 10), 10, 25.0, 480, 240)
    assert len(pair.tracks) == 2
    with pytest.raises(OptionError, match="both on screen at frame 0"):
        pair.choose_speaker((0, 1))


def test_a_polyphonic_dubs_dialogue_channels_can_be_chosen(clip50, tmp_path):
    """A polyphonic file of stems (one stream, channels without a surround layout: the M&E on 1-2, the dialogue on
    3) was heard with every channel mixed together, the music with it, and nothing said; now a warning says so, and
    ``dub_channels`` (numbered from 1, as a mixer does) hears and carries only those. A channel the file lacks is
    refused by name before any work."""
    from lipsync_studio.errors import OptionError
    from lipsync_studio.media.audio_writer import write_audio

    t = np.arange(32000) / 16000
    stems = np.stack([np.sin(2 * np.pi * 300 * t), np.sin(2 * np.pi * 300 * t), np.sin(2 * np.pi * 700 * t),
                      0 * t]).astype(np.float32) * 0.3
    poly = write_audio(tmp_path / "stems.wav", stems, 16000, layout="4 channels")
    mixed = run_sync(SyncRequest(clip50, poly, tmp_path / "mixed.mp4", SyncOptions(measure=False)))
    assert any("4 channels" in n and "--dub-channels" in n for n in mixed.warnings)
    chosen = run_sync(SyncRequest(clip50, poly, tmp_path / "dialogue.mp4",
                                  SyncOptions(measure=False, dub_channels=(3,))))
    assert not any("--dub-channels" in n for n in chosen.warnings)
    assert _tone_power(chosen.output, 700) > 10 * _tone_power(chosen.output, 300)
    with pytest.raises(OptionError, match="has 4 channel"):
        run_sync(SyncRequest(clip50, poly, tmp_path / "none.mp4", SyncOptions(measure=False, dub_channels=(5, 6))))
    assert not (tmp_path / "none.mp4").exists()


def test_a_photo_larger_than_4k_is_warned_of_as_a_video_many_players_cannot_play(tmp_path):
    """A phone's 12 MP portrait photo made a 3024 x 4032 H.264 at level 6.0, which phones, TVs and browsers'
    hardware decoders do not play: the user is told, with what to do. A smaller photo is not."""
    from conftest import write_jpeg

    dub = write_tone(tmp_path / "dub.wav", 0.5)
    big = write_jpeg(tmp_path / "phone.jpg", np.full((4032, 3024, 3), 128, np.uint8))
    warned = run_sync(SyncRequest(big, dub, tmp_path / "phone.mp4", SyncOptions(measure=False))).warnings
    assert any("3024x4032" in w and "level 6" in w and "--codec prores" in w for w in warned), warned
    small = write_jpeg(tmp_path / "small.jpg", np.full((240, 320, 3), 128, np.uint8))
    quiet = run_sync(SyncRequest(small, dub, tmp_path / "small.mp4", SyncOptions(measure=False))).warnings
    assert not any("level 6" in w for w in quiet), quiet


def test_an_odd_sized_clip_gives_an_even_result_and_says_so(tmp_path):
    """A 161 x 97 clip (a crop, a screen recording) gives a 162 x 98 result (video encoders take even sizes): an edit
    expecting the clip's own size is told, with what was added. An even one is not."""
    import av
    import cv2

    dub = write_tone(tmp_path / "dub.wav", 0.5)
    still = np.zeros((97, 161, 3), np.uint8)
    still[:, -1] = 200  # the last column, repeated into the added one
    odd = tmp_path / "odd.png"
    cv2.imwrite(str(odd), still)
    out = run_sync(SyncRequest(odd, dub, tmp_path / "odd.mp4", SyncOptions(engine="none", measure=False)))
    assert any("161x97" in w and "162x98" in w and "last column and row repeated" in w for w in out.warnings), \
        out.warnings
    with av.open(str(out.output)) as c:
        frame = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert frame.shape == (98, 162, 3) and frame[:, -1].mean() > 150
    even = run_sync(SyncRequest(write_clip(tmp_path / "even.mp4", 5), dub, tmp_path / "even_out.mp4",
                                SyncOptions(engine="none", measure=False))).warnings
    assert not any("even sizes" in w for w in even), even
