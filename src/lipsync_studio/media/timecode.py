"""A clip's start time code (SMPTE ``HH:MM:SS:FF``; ``;`` before the frames for drop-frame), carried to what we write.

Editing software places a shot by its time code; a result that loses it cannot be conformed back into the cut.
A file's time code is its first frame's; a range written alone starts that many frames later.
"""

from __future__ import annotations

import re
from fractions import Fraction

_TC = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2,3})$")


def nominal_rate(fps: float | Fraction) -> int:
    """Frames per time-code second (``round(fps)``, at least 1): 30 at 29.97 fps, 24 at 23.976."""
    return max(1, int(round(float(fps))))


def _dropped(rate: int, drop_frame: bool) -> int:
    """Frame numbers skipped at each minute but every tenth: 2 at 30, 4 at 60; none without drop-frame."""
    return rate // 15 if drop_frame and rate % 30 == 0 else 0


def _parse(timecode: str, fps: float | Fraction) -> tuple[int, int, int] | None:
    """(frame count since 00:00:00:00, frames per time-code second, frame numbers dropped a minute) of
    ``timecode``; None when it is not one (a file's own tag can say anything)."""
    m = _TC.match(str(timecode).strip())
    if m is None:
        return None
    rate = nominal_rate(fps)
    h, mi, s, sep, f = int(m[1]), int(m[2]), int(m[3]), m[4], int(m[5])
    drop = _dropped(rate, sep in ";,")
    minutes = 60 * h + mi
    return (3600 * h + 60 * mi + s) * rate + f - drop * (minutes - minutes // 10), rate, drop


def timecode_frames(timecode: str, fps: float | Fraction) -> int | None:
    """Frames from 00:00:00:00 to ``timecode`` at ``fps`` (drop-frame counted as such); None when it is not one."""
    got = _parse(timecode, fps)
    return None if got is None else got[0]


def timecode_after(timecode: str, frames: int, fps: float | Fraction) -> str | None:
    """The time code ``frames`` frames after ``timecode`` at ``fps`` (drop-frame kept as such: ``;``); None when
    ``timecode`` is not one."""
    got = _parse(timecode, fps)
    if got is None:
        return None
    n, rate, drop = got
    n = (n + int(frames)) % (24 * 3600 * rate - drop * (24 * 60 - 24 * 6))  # past midnight: round the clock
    if drop:
        per_ten, per_min = rate * 600 - 9 * drop, rate * 60 - drop
        tens, rest = divmod(n, per_ten)
        n += 9 * drop * tens + (drop * ((rest - drop) // per_min) if rest > drop else 0)
    ff, secs = n % rate, n // rate
    return f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}{';' if drop else ':'}{ff:02d}"
