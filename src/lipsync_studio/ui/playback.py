"""Playback: the picture follows a clock, the sound goes out through sounddevice, both in step.

With sound, the sound card is the clock: the playhead is where the samples handed to PortAudio are (less
its output latency), so picture and sound cannot drift. Without an audio device (or PortAudio), the wall
clock drives the picture and :attr:`Player.sound_status` says why there is no sound. J/K/L shuttle: L
plays forward (again: 2×, 4×), J backward, K stops; only 1× forward plays sound.
"""

from __future__ import annotations

import logging
import threading
import time
from fractions import Fraction

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal

log = logging.getLogger("lipsync_studio.ui.playback")

#: Sample rate of the sound the player plays (mono).
PLAY_SR = 48_000


def probe_output_device() -> str:
    """``""`` when a sound output device is usable, else a sentence saying why there is no sound."""
    try:
        import sounddevice as sd
    except OSError as exc:  # PortAudio missing
        return f"No sound: the PortAudio library is missing ({exc}); install libportaudio2"
    except Exception as exc:  # noqa: BLE001 - any import failure means no sound, never a crash
        return f"No sound: sounddevice cannot start ({exc})"
    try:
        sd.query_devices(kind="output")
    except Exception:  # noqa: BLE001 - PortAudioError or ValueError: no default output
        return "No sound: this computer has no audio output device (picture playback still works)"
    return ""


def load_play_audio(path: str, at_picture: bool = False, stream_index: int | None = None,
                    channels: tuple[int, ...] | None = None) -> np.ndarray:
    """The sound of ``path`` as ``(n,) float32`` mono at :data:`PLAY_SR` (for the tasks thread); ``at_picture``: a
    clip's own sound, from its first frame (see :func:`~..media.audio.load_audio`); ``stream_index``: that audio
    stream of the file (None: its main one); ``channels``: only these of it (from 1)."""
    from ..media.audio import load_audio
    from ..media.warnings import collecting_media_warnings

    with collecting_media_warnings():  # a damaged track still plays up to the damage (and a job's notes stay its own)
        return load_audio(path, sr=PLAY_SR, mono=True, at_picture=at_picture, stream_index=stream_index,
                          channels=channels)


class Player(QObject):
    """Drives the playhead. Signals: ``position_changed(position: int)`` (show this frame),
    ``state_changed(playing: bool, speed: float)``, ``sound_status(text: str)`` (``""`` when sound works)."""

    position_changed = Signal(int)
    state_changed = Signal(bool, float)
    sound_status = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.n_frames = 0
        self.fps: Fraction = Fraction(25)
        self.position = 0
        self.speed = 0.0
        self.loop = False
        self.volume = 0.8
        self.hear = "dub"
        self.offset_s = 0.0
        self.sound_ok: bool | None = None  # None: not probed yet
        self.sounds: dict[str, np.ndarray] = {}
        self._stream = None
        self._lock = threading.Lock()
        self._samples: np.ndarray | None = None
        self._cursor = 0
        self._fed = 0
        self._t0 = 0.0
        self._p0 = 0
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)

    @property
    def playing(self) -> bool:
        """Whether the playhead is moving."""
        return self.speed != 0.0

    # -- set-up ----------------------------------------------------------------------------------------
    def set_sound_device(self, status: str) -> None:
        """Record the result of :func:`probe_output_device`."""
        self.sound_ok = status == ""
        self.sound_status.emit(status)

    def set_timeline(self, n_frames: int, fps: Fraction) -> None:
        """Length and rate of what plays."""
        self.n_frames, self.fps = int(n_frames), Fraction(fps)
        if self.position >= self.n_frames:
            self.stop()

    def set_sound(self, role: str, samples: np.ndarray | None) -> None:
        """The clip's sound (``role="clip"``) or the dub (``"dub"``) at :data:`PLAY_SR`, or None."""
        if samples is None:
            self.sounds.pop(role, None)
        else:
            self.sounds[role] = samples

    def set_position(self, position: int) -> None:
        """Where the playhead is (the session's position); a running playback continues from there."""
        if position != self.position:
            self.position = int(position)
            if self.playing:
                self._restart_clock()

    # -- control ---------------------------------------------------------------------------------------
    def play(self, speed: float = 1.0) -> None:
        """Play at ``speed`` (negative: backward)."""
        if self.n_frames <= 1 or speed == 0:
            return self.stop()
        if speed > 0 and self.position >= self.n_frames - 1:
            self.position = 0
            self.position_changed.emit(0)
        if speed < 0 and self.position <= 0:
            self.position = self.n_frames - 1
            self.position_changed.emit(self.position)
        self.speed = float(speed)
        self._restart_clock()
        self._timer.start(max(4, int(500 / float(self.fps))))
        self.state_changed.emit(True, self.speed)

    def stop(self) -> None:
        """Pause where it is."""
        was = self.playing
        self.speed = 0.0
        self._timer.stop()
        self._stop_sound()
        if was:
            self.state_changed.emit(False, 0.0)

    def toggle(self) -> None:
        """Play forward at 1× or pause."""
        self.stop() if self.playing else self.play(1.0)

    def shuttle(self, direction: int) -> None:
        """J (``-1``) and L (``+1``): start that way at 1×, or double the speed up to 8×."""
        if self.playing and np.sign(self.speed) == direction:
            self.play(direction * min(8.0, abs(self.speed) * 2))
        else:
            self.play(float(direction))

    # -- clock -----------------------------------------------------------------------------------------
    def _restart_clock(self) -> None:
        self._stop_sound()
        self._t0 = time.perf_counter()
        self._p0 = self.position
        if self.speed == 1.0 and self.sound_ok and self.volume > 0:
            self._start_sound()

    def _tick(self) -> None:
        fps = float(self.fps)
        if self._stream is not None:
            with self._lock:
                fed = self._fed
            latency = float(getattr(self._stream, "latency", 0.0) or 0.0)
            elapsed = max(0.0, fed / PLAY_SR - latency)
        else:
            elapsed = time.perf_counter() - self._t0
        pos = self._p0 + int(np.floor(elapsed * fps * self.speed + 1e-9))
        if pos >= self.n_frames or pos < 0:
            if self.loop:
                self.position = 0 if self.speed > 0 else self.n_frames - 1
                self.position_changed.emit(self.position)
                self._restart_clock()
                return
            self.position = min(max(0, pos), self.n_frames - 1)
            self.position_changed.emit(self.position)
            self.stop()
            return
        if pos != self.position:
            self.position = pos
            self.position_changed.emit(pos)

    # -- sound -----------------------------------------------------------------------------------------
    def _start_sound(self) -> None:
        samples = self.sounds.get(self.hear)
        if samples is None:
            return
        t = self.position / float(self.fps) - (self.offset_s if self.hear == "dub" else 0.0)
        with self._lock:
            self._samples = samples
            self._cursor = int(round(t * PLAY_SR))
            self._fed = 0
        try:
            import sounddevice as sd

            self._stream = sd.OutputStream(samplerate=PLAY_SR, channels=1, dtype="float32",
                                           callback=self._callback, latency="low")
            self._stream.start()
        except Exception as exc:  # noqa: BLE001 - the device went away: play on without sound
            self._stream = None
            self.sound_ok = False
            self.sound_status.emit(f"No sound: the audio device failed ({exc})")

    def _stop_sound(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except Exception:  # noqa: BLE001
                pass

    def _callback(self, outdata, frames, time_info, status) -> None:  # PortAudio's thread
        with self._lock:
            samples, c, vol = self._samples, self._cursor, self.volume
            self._cursor += frames
            self._fed += frames
        out = outdata[:, 0]
        out[:] = 0.0
        if samples is None:
            return
        lo, hi = max(0, c), min(len(samples), c + frames)
        if hi > lo:
            out[lo - c:hi - c] = samples[lo:hi] * vol
