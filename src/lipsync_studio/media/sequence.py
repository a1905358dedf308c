"""Read a clip's frames in any order a plan asks for (forward, backward, looped) in bounded memory.

Backward runs (the ping-pong extension of a clip) are decoded in blocks: decode a block of frames forward
from its keyframe, then hand them out in reverse. The block size follows a memory budget. A frame the order asks
for again soon (the frames just before a ping-pong's turn, which its backward run asks for next) is kept from the
first time, within the same budget, instead of being decoded again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from .video import VideoReader

#: Forward jumps up to this many frames decode through instead of seeking.
_SKIP_THROUGH = 48


def frames_in_order(reader: VideoReader, indices: Iterable[int], *, max_bytes: int = 256 << 20,
                    planes: bool = False, rgb: bool = True) -> Iterator[np.ndarray]:
    """Yield the clip's frame for each timeline index in ``indices``.

    Parameters
    ----------
    reader:
        An open clip.
    indices:
        Timeline frame indices in any order; runs going forward or backward one frame at a time are cheap.
    max_bytes:
        Memory budget for the blocks a backward run decodes.
    planes, rgb:
        As :meth:`VideoReader.iter_frames`: frames as :class:`~.video.DecodedFrame` keeping the decoder's planes
        (``rgb``: with their RGB converted at once). A frame repeated is the same object each time.
    """
    info = reader.info
    frame_bytes = max(1, int(info.width * info.height * (3 * rgb + 1.5 * planes)))
    block_len = int(max(4, min(240, max_bytes // frame_bytes)))
    order = [int(j) for j in indices]
    # Where each position's frame is asked for next by a backward step (None: never so, or not within twice
    # block_len positions: a ping-pong's backward run reaches the frame k before its turn 2k positions later).
    # Decoded once, such a frame is kept for that use (index -> (frame, position of the use); at most block_len
    # of them): a backward run decodes its block again from the keyframe before it, on a clip with one keyframe
    # every 250 frames the whole clip up to the turn (the drawing stalled 0.3 s at a 720p clip's turn). Forward
    # jumps back (a loop) cost a decode from one keyframe and keep nothing.
    horizon = 2 * block_len
    next_use: list[int | None] = [None] * len(order)
    seen: dict[int, int] = {}
    for p in range(len(order) - 1, -1, -1):
        q = seen.get(order[p])
        if q is not None and q - p <= horizon and order[q - 1] == order[q] + 1:
            next_use[p] = q
        seen[order[p]] = p
    kept: dict[int, tuple[np.ndarray, int]] = {}

    fwd: Iterator[tuple[int, np.ndarray]] | None = None
    fwd_next = 0  # index the forward iterator yields next
    block: dict[int, np.ndarray] = {}
    prev_index: int | None = None
    prev_img: np.ndarray | None = None
    try:
        for p, j in enumerate(order):
            if j == prev_index and prev_img is not None:
                _keep(kept, j, prev_img, next_use[p], block_len)
                yield prev_img
                continue
            if j in kept:
                img = kept.pop(j)[0]
            elif j in block:
                img = block[j]
            elif prev_index is not None and j == prev_index - 1:
                # Going backward: decode the block that ends at j, forward from its start (with the frames kept,
                # no more than the budget).
                lo = max(0, j - max(4, block_len - len(kept)) + 1)
                block = dict(reader.iter_frames(lo, j + 1, planes=planes, rgb=rgb))
                img = block[j]
            else:
                block = {}
                if fwd is None or j < fwd_next or j - fwd_next > _SKIP_THROUGH:
                    if fwd is not None:
                        fwd.close()
                    fwd = reader.iter_frames(j, planes=planes, rgb=rgb)
                    fwd_next = j
                img = None
                for i, im in fwd:
                    fwd_next = i + 1
                    if i == j:
                        img = im
                        break
                if img is None:
                    raise IndexError(f"frame {j} is outside the clip (0..{info.n_frames - 1})")
            _keep(kept, j, img, next_use[p], block_len)
            prev_index, prev_img = j, img
            yield img
    finally:
        if fwd is not None:
            fwd.close()


def _keep(kept: dict, j: int, img, next_at: int | None, most: int) -> None:
    """Keep frame ``j`` for its next use at position ``next_at`` (None: drop it); at most ``most`` frames are kept:
    past that, the one needed last makes way."""
    if next_at is None:
        kept.pop(j, None)
        return
    kept[j] = (img, next_at)
    if len(kept) > most:
        del kept[max(kept, key=lambda k: kept[k][1])]
