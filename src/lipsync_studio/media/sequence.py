"""Read a clip's frames in any order a plan asks for (forward, backward, looped) in bounded memory.

Backward runs (the ping-pong extension of a clip) are decoded in blocks: decode a block of frames forward
from its keyframe, then hand them out in reverse. The block size follows a memory budget.
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

    fwd: Iterator[tuple[int, np.ndarray]] | None = None
    fwd_next = 0  # index the forward iterator yields next
    block: dict[int, np.ndarray] = {}
    prev_index: int | None = None
    prev_img: np.ndarray | None = None
    try:
        for j in indices:
            j = int(j)
            if j == prev_index and prev_img is not None:
                yield prev_img
                continue
            if j in block:
                img = block[j]
            elif prev_index is not None and j == prev_index - 1:
                # Going backward: decode the block that ends at j, forward from its start.
                lo = max(0, j - block_len + 1)
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
            prev_index, prev_img = j, img
            yield img
    finally:
        if fwd is not None:
            fwd.close()
