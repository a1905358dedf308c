"""Time codes ``HH:MM:SS:FF`` for frame indices, and parsing what a user types into the time code field.

Non-drop-frame: a time-code second holds ``round(fps)`` frames (so 29.97 fps counts 30 frames per
time-code second, as editing software does without drop-frame). No Qt here.
"""

from __future__ import annotations

import re
from fractions import Fraction

from ..media.timecode import nominal_rate, timecode_after, timecode_frames


def format_timecode(frame: int, fps: float | Fraction) -> str:
    """``HH:MM:SS:FF`` for frame index ``frame`` (0-based) at ``fps``."""
    rate = nominal_rate(fps)
    frame = max(0, int(frame))
    ff = frame % rate
    total_s = frame // rate
    return f"{total_s // 3600:02d}:{total_s // 60 % 60:02d}:{total_s % 60:02d}:{ff:02d}"


def clip_timecode(frame: int, fps: float | Fraction, start: str | None = None) -> str:
    """The time code of frame ``frame`` of a clip whose first frame is ``start`` (its own time code, as the file
    says it; drop-frame counted as such), or from 00:00:00:00 where it has none."""
    shown = timecode_after(start, max(0, int(frame)), fps) if start else None
    return shown or format_timecode(frame, fps)


def format_seconds(seconds: float) -> str:
    """A duration in words a user reads at a glance: ``4.2 s``, ``1 min 05 s``, ``1 h 02 min``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds // 60 % 60):02d} min"


_TC = re.compile(r"^\s*(?:(\d+)[:;])?(?:(\d+)[:;])?(\d+)[:;](\d+)\s*$")


def parse_timecode(text: str, fps: float | Fraction, frame_base: int = 0, start: str | None = None) -> int:
    """The frame index (0-based) a user means by ``text``.

    Accepts ``HH:MM:SS:FF`` (and shorter ``MM:SS:FF``, ``SS:FF``), a plain frame number (``125``) or
    seconds with a unit (``4.5s``). ``frame_base`` is the number the first frame has where the user reads
    frame numbers (the app shows "frame 1 of N": 1), so a typed frame N lands on the frame shown as N.
    ``start``: the clip's own time code of its first frame, as :func:`clip_timecode` shows it: a whole typed time
    code is then one of the clip's (10:00:04:00 is 4 s into a clip starting at 10:00:00:00); a shorter one
    (``04:00``) still counts from the first frame.

    Raises
    ------
    ValueError
        The text is none of these.
    """
    t = text.strip().lower()
    if not t:
        raise ValueError("empty time code")
    if t.endswith("s") and t[:-1].replace(".", "", 1).isdigit():
        return int(round(float(t[:-1]) * float(fps)))
    if t.isdigit():
        return int(t) - frame_base
    m = _TC.match(t)
    if not m:
        raise ValueError(f"not a time code: {text!r} (use HH:MM:SS:FF, a frame number or seconds like 4.5s)")
    parts = [int(p) for p in m.groups() if p is not None]
    if start and len(parts) == 4:
        first = timecode_frames(start, fps)
        typed = timecode_frames(":".join(f"{p:02d}" for p in parts[:3]) + (";" if ";" in start else ":")
                                + f"{parts[3]:02d}", fps)
        if first is not None and typed is not None:
            return typed - first
    rate = nominal_rate(fps)
    *hms, ff = parts
    seconds = 0
    for p in hms:
        seconds = seconds * 60 + p
    return seconds * rate + ff
