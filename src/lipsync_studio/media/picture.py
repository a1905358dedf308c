"""What a result keeps of its clip's picture: colour, pixel shape, field order and time code, carried as one.

Every writer of a clip's own pictures (a sync, an export, a range, a stereo result) declares what the clip declared,
so the result plays, conforms and broadcasts like the clip it replaces. Each property has its own module (colour:
:mod:`.colourspace`, fields: :mod:`.fields`, time code: :mod:`.timecode`); this is the one value that goes from a
clip's :class:`~.video.VideoInfo` to a :class:`~.writer.VideoWriter`, so a property added later reaches every
writer at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction

from .colourspace import PLAIN, Colour
from .fields import PROGRESSIVE
from .timecode import timecode_after


@dataclass(frozen=True)
class PictureFormat:
    """How the pictures written are to be shown.

    Attributes
    ----------
    colour: YUV matrix, primaries, transfer, range and depth (:class:`~.colourspace.Colour`); default: BT.601 and
        nothing declared (pictures we made ourselves).
    sample_aspect: the shape of a displayed pixel (width / height), 1 for square.
    field_order: ``progressive``, ``tff`` or ``bff`` (:mod:`.fields`).
    timecode: the first frame's SMPTE time code, or None.
    """

    colour: Colour = PLAIN
    sample_aspect: Fraction = Fraction(1)
    field_order: str = PROGRESSIVE
    timecode: str | None = None

    def from_frame(self, first: int, fps: Fraction | float) -> "PictureFormat":
        """The same for a range of the clip that starts at its frame ``first`` (its time code moves on)."""
        if not self.timecode or first == 0:
            return self
        return replace(self, timecode=timecode_after(self.timecode, first, fps))

    def colour_only(self) -> "PictureFormat":
        """Only the colour kept: for pictures drawn at another size or shape from the clip's (a rendered face
        mesh, eyes packed side by side), whose pixel shape, fields and timing are not the clip's own."""
        return PictureFormat(colour=self.colour)


PLAIN_PICTURE = PictureFormat()
