"""The constant-frame-rate timeline a clip is edited on, and how output frames map to clip frames.

A clip's frames may be spaced unevenly (phones record variable frame rate). Everything in the app works on
a constant-rate timeline: frame ``i`` is at ``i / fps`` seconds from the clip's first frame and shows the
last source frame that starts no later than half a frame after that time.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..errors import OptionError

# Rates a camera or editor aims at; a variable-rate clip is put on the nearest one within 2 %.
STANDARD_RATES: tuple[Fraction, ...] = (
    Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(30),
    Fraction(48), Fraction(50), Fraction(60000, 1001), Fraction(60), Fraction(90), Fraction(100),
    Fraction(120), Fraction(15), Fraction(12), Fraction(10),
)


def snap_rate(rate: float) -> Fraction:
    """Return the standard frame rate within 2 % of ``rate``, else ``rate`` as a fraction (ms precision)."""
    best = min(STANDARD_RATES, key=lambda r: abs(float(r) - rate))
    if abs(float(best) - rate) <= 0.02 * rate:
        return best
    return Fraction(rate).limit_denominator(1001)


@dataclass(frozen=True)
class Timeline:
    """Constant-rate timeline over a clip's source frames.

    Attributes
    ----------
    fps:
        Frames per second of the timeline (exact fraction, e.g. 30000/1001).
    n_frames:
        Number of timeline frames.
    vfr:
        True when the source frames are not evenly spaced and were mapped onto this timeline.
    """

    fps: Fraction
    n_frames: int
    vfr: bool

    @property
    def duration(self) -> float:
        """Duration in seconds (``n_frames / fps``)."""
        return float(self.n_frames / self.fps)

    def time_of(self, index: int) -> float:
        """Time in seconds of timeline frame ``index``."""
        return float(index / self.fps)

    def index_at(self, seconds: float) -> int:
        """Timeline frame showing at ``seconds`` (clamped to the clip)."""
        return int(min(max(math.floor(seconds * float(self.fps) + 1e-6), 0), max(self.n_frames - 1, 0)))

    @classmethod
    def from_frame_times(cls, times: np.ndarray, rate_hint: Fraction | None = None) -> "Timeline":
        """Build the timeline from source frame start times.

        Parameters
        ----------
        times:
            (N,) float64 seconds, any order; each source frame's start.
        rate_hint:
            The rate the container declares; used when the frames are evenly spaced at that rate.
        """
        t = np.sort(np.asarray(times, dtype=np.float64))
        n = len(t)
        if n == 0:
            return cls(fps=rate_hint or Fraction(25), n_frames=0, vfr=False)
        if n == 1:
            return cls(fps=rate_hint or Fraction(25), n_frames=1, vfr=False)
        d = np.diff(t)
        step = float(np.median(d))
        if step <= 0:
            return cls(fps=rate_hint or Fraction(25), n_frames=n, vfr=False)
        # Even spacing, allowing for timestamp rounding (about a millisecond in common time bases).
        even = bool(np.all(np.abs(d - step) <= max(1.5e-3, 0.02 * step)))
        if even:
            # The mean spacing is exact where single timestamps are rounded (MKV counts milliseconds).
            mean_step = (t[-1] - t[0]) / (n - 1)
            if rate_hint and abs(1.0 / float(rate_hint) - mean_step) <= 0.002 * mean_step:
                fps = rate_hint
            else:
                fps = snap_rate(1.0 / mean_step)
            return cls(fps=fps, n_frames=n, vfr=False)
        span = t[-1] - t[0] + step
        fps = snap_rate(n / span)
        return cls(fps=fps, n_frames=max(1, int(round(span * float(fps)))), vfr=True)


class ExtendPolicy(str, enum.Enum):
    """What the picture does when the dub is longer than the clip."""

    PINGPONG = "pingpong"  #: play the clip forward, then backward, ... (no visible jump)
    HOLD = "hold"  #: hold the last frame
    LOOP = "loop"  #: start the clip again (a visible jump)
    TRIM_AUDIO = "trim-audio"  #: keep the clip's length and cut the dub


class ShortenPolicy(str, enum.Enum):
    """What happens when the dub is shorter than the clip."""

    TRIM_PICTURE = "trim-picture"  #: end the picture with the dub
    PAD_SILENCE = "pad-silence"  #: keep the whole clip and pad the dub with silence


@dataclass(frozen=True)
class OutputPlan:
    """How long the output is and which clip frame each output frame shows.

    Attributes
    ----------
    n_out:
        Output frames.
    fps:
        Output frame rate (the clip's timeline rate).
    audio_seconds:
        Length of the output's audio track: the dub, trimmed or padded with silence to ``n_out / fps``.
    n_clip:
        Frames of the clip's timeline.
    extend:
        Policy used when the output is longer than the clip.
    """

    n_out: int
    fps: Fraction
    audio_seconds: float
    n_clip: int
    extend: ExtendPolicy

    def source_index(self, k: int) -> int:
        """Clip frame shown at output frame ``k``."""
        n = self.n_clip
        if k < n:
            return k
        if self.extend is ExtendPolicy.HOLD or n == 1:
            return n - 1
        if self.extend is ExtendPolicy.LOOP:
            return k % n
        period = 2 * (n - 1)
        m = k % period
        return m if m < n else period - m

    def source_indices(self) -> np.ndarray:
        """(n_out,) int64 clip frame index for every output frame."""
        return np.fromiter((self.source_index(k) for k in range(self.n_out)), dtype=np.int64, count=self.n_out)


def plan_output(
    n_clip: int,
    fps: Fraction,
    dub_seconds: float,
    extend: ExtendPolicy | str = ExtendPolicy.PINGPONG,
    shorten: ShortenPolicy | str = ShortenPolicy.TRIM_PICTURE,
) -> OutputPlan:
    """Decide the output's length from the clip, the dub and the user's policies.

    The output follows the dub's length (rounded to whole frames) unless the policy keeps the clip's.
    """
    extend = ExtendPolicy(extend)
    shorten = ShortenPolicy(shorten)
    if n_clip <= 0:
        raise OptionError("the clip has no frames")
    dub_frames = max(1, int(round(dub_seconds * float(fps))))
    if dub_frames > n_clip:
        n_out = n_clip if extend is ExtendPolicy.TRIM_AUDIO else dub_frames
    elif dub_frames < n_clip:
        n_out = n_clip if shorten is ShortenPolicy.PAD_SILENCE else dub_frames
    else:
        n_out = n_clip
    return OutputPlan(n_out=n_out, fps=fps, audio_seconds=float(n_out / fps), n_clip=n_clip, extend=extend)
