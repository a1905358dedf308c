"""The interface every lip-sync engine implements, so the sync job can run any of them.

An engine works in two steps. :meth:`LipSyncEngine.prepare` sees the whole job once (the clip, the dub, the
clip's face tracks and the output plan) and does the per-clip work: load the dub, plan the mouths, load
weights. :meth:`LipSyncEngine.render` is then called once per output frame, in output order, from the sync
job's render stage; its signature is the job's ``FrameTransform``, so ``engine.render`` plugs straight in.

Rules every engine keeps:

- ``render`` returns a frame of the same shape and dtype; pixels it does not mean to change stay identical.
- ``render`` never writes into the frame it is given (the reader may hand the same array out again, e.g.
  when the plan holds a frame); it returns a new array, or the given one unchanged.
- A frame whose source has no face is returned untouched (never an error).
- Memory stays bounded: an engine may keep a small window of frames or predictions, never the whole clip.
- No Qt and no printing: progress goes through ``advance``, problems through typed errors
  (:mod:`lipsync_studio.errors`).
- Optional: ``reads(out_index, src_index) -> (x0, y0, x1, y1) | None`` names the frame's pixels ``render`` will
  read (None: none). The job then converts only those to RGB and hands ``render`` a frame whose ``valid`` box
  (:class:`~lipsync_studio.media.video.PartialRGB`) holds them; an engine that finds it needs more raises
  :class:`WholeFrameNeeded` before it changes any state of its own, and is given the whole frame.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from ..face.track import ClipFaces
    from ..media.timeline import OutputPlan

class WholeFrameNeeded(Exception):
    """Raised by an engine's ``render`` given a frame whose ``valid`` box does not hold what it must read: ask
    again with the whole frame (raised before the engine changed any state, so the second call is the first)."""


#: ``advance(n)``: report ``n`` more units of preparation done (raises ``Cancelled`` when the user cancelled).
#: The unit is one output frame: over a whole :meth:`LipSyncEngine.prepare` an engine reports ``plan.n_out``
#: in total (an engine with little per-frame preparation reports it all at once at the end), so the job can
#: size its "prepare" stage as ``plan.n_out`` without asking the engine.
Advance = Callable[[int], None]


@runtime_checkable
class LipSyncEngine(Protocol):
    """A lip-sync engine: prepared once per job, then asked for each output frame.

    Attributes
    ----------
    name:
        Short identifier shown to the user and accepted by ``--engine`` (``"builtin"``, ``"wav2lip"``).
    """

    name: str

    def prepare(self, clip: Path, dub: Path, faces: ClipFaces, plan: OutputPlan,
                advance: Advance | None = None) -> None:
        """Do the per-job work before the first :meth:`render`.

        Parameters
        ----------
        clip:
            The input video.
        dub:
            The new audio track (any file with sound).
        faces:
            The clip's face tracks (``faces.speaker_track()`` is the face to sync; may be None).
        plan:
            Which clip frame each output frame shows (``plan.source_index(k)``), output fps and length.
        advance:
            Optional progress hook; the engine reports ``plan.n_out`` units in total (see :data:`Advance`).
            It raises ``Cancelled`` when the user cancels.
        """
        ...

    def render(self, out_index: int, src_index: int, frame: np.ndarray) -> np.ndarray:
        """Return output frame ``out_index``: ``frame`` (clip frame ``src_index``, (H, W, 3) uint8 RGB) with
        the speaker's mouth following the dub at that output time.

        Called in increasing ``out_index`` order after :meth:`prepare` during a job (a preview may ask for any
        single frame, also after the job); frames without a face come back unchanged.
        """
        ...
