"""The status bar: passing messages on the left; the clip, the dub, the sound and the job on the right."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel, QStatusBar

from ..job import Progress
from ..app.timecode import format_seconds


def _codec_name(codec: str) -> str:
    return {"h264": "H.264", "hevc": "HEVC", "vp9": "VP9", "prores": "ProRes", "dnxhd": "DNxHD/HR", "mpeg4": "MPEG-4",
            "av1": "AV1"}.get(codec, codec)


class StatusLine(QObject):
    """Fills ``bar`` with permanent labels and shows passing messages.

    A QObject living in the GUI thread, so that worker signals connected to its methods are queued to it.
    """

    def __init__(self, bar: QStatusBar) -> None:
        super().__init__(bar)
        self.bar = bar
        self.job = QLabel("")
        self.clip = QLabel("No clip")
        self.dub = QLabel("No dub")
        self.sound = QLabel("")
        for w in (self.job, self.clip, self.dub, self.sound):
            bar.addPermanentWidget(w)
        self.sound_text = ""

    def flash(self, text: str, ms: int = 6000) -> None:
        """A passing message."""
        self.bar.showMessage(text, ms)

    def set_clip(self, info) -> None:
        """Describe the clip: size, rate, codec, length."""
        if info is None:
            self.clip.setText("No clip")
            return
        shown = info.display_size
        size = f"{info.width}×{info.height}" + (f" (shown {shown[0]}×{shown[1]})" if shown[0] != info.width else "")
        if info.photo:  # a photo has no rate or length of its own: the dub gives both
            turned = " · turned upright" if info.rotation or info.mirrored else ""
            cut = " · transparent" if info.transparent else ""
            self.clip.setText(f"{size} · photo ({info.photo}){cut}{turned}")
            self.clip.setToolTip(str(info.path) + ("\nTransparent around its subject: ProRes (.mov) and VP9 (.webm) "
                                                   "exports keep it" if info.transparent else ""))
            return
        fps = float(info.fps)
        rate = f"{fps:.3f}".rstrip("0").rstrip(".")
        vfr = " (VFR)" if info.vfr else (" interlaced" if info.interlaced else "")
        look = info.colour.describe()
        self.clip.setText(f"{size} · {rate} fps{vfr} · {_codec_name(info.codec)}" + (f" · {look}" if look else "")
                          + (" · transparent" if info.transparent else "") + f" · {format_seconds(info.duration)}")
        self.clip.setToolTip(str(info.path) + ("\nTransparent around its subject: ProRes (.mov) and VP9 (.webm) "
                                               "exports keep it" if info.transparent else ""))

    def set_dub(self, dub) -> None:
        """Describe the dub."""
        if dub is None:
            self.dub.setText("No dub")
            return
        a = dub.audio
        stream = f" · stream #{a.stream_index} of {len(dub.streams)}" if len(getattr(dub, "streams", ())) > 1 else ""
        if getattr(dub, "channels", None):
            which = ", ".join(map(str, dub.channels))
            stream += f" · channel{'s' if len(dub.channels) > 1 else ''} {which} of {a.channels}"
        self.dub.setText(f"Dub: {dub.path.name}{stream} · {a.sample_rate / 1000:g} kHz · "
                         f"{format_seconds(a.duration_s)}")
        self.dub.setToolTip(str(dub.path))

    def set_sound(self, text: str) -> None:
        """Say why there is no sound (``""``: sound works)."""
        self.sound_text = text
        self.sound.setObjectName("statusWarn" if text else "statusOk")
        self.sound.setText("No sound" if text else "Sound on")
        self.sound.setToolTip(text or "Playback plays through the default audio output")
        self.sound.setStyleSheet("")  # re-polish for the new object name
        if text:
            self.flash(text, 10000)

    def set_job(self, text: str) -> None:
        """The running job, or ``""``."""
        self.job.setText(text)

    def show_progress(self, p: Progress) -> None:
        """A compact progress note for the running job."""
        if p.total > 1:
            self.job.setText(f"{p.stage} {100 * p.done // max(1, p.total)}% · {p.rate:.0f} fps")
