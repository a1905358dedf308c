"""Face3d-processed 300W-LP for PRNet: image + UV position map pairs, a held-out split, the paper's augmentation.

**Format** (as face3d's ``examples/8_generate_posmap_300WLP.py`` writes it): a folder of pairs ``NAME.jpg`` (the
256×256 face crop, RGB) and ``NAME.npy`` ((256, 256, 3) float position map: for every UV pixel the x, y of that
point of the face in the crop's pixels, y down, and z on the same scale, min z = 0). Sub-folders are searched too,
so ``300W_LP/AFW/…`` style trees work. Images of other sizes are rejected with the file named.

**Split** (:func:`split_pairs`): by file, deterministic and independent of the machine: the pairs are ordered by
the CRC-32 of their path relative to the folder and the first ``ceil(holdout · n)`` (at least one when there are two
or more pairs) are held out.

**Augmentation** (:func:`augment`, Feng et al. 2018 §4): a rotation by an angle drawn uniformly in ±45° about
the crop centre (127.5, 127.5), applied to the image (bilinear, black outside) and to the position map's x, y
(z unchanged), and a per-channel colour scale drawn in [0.6, 1.4] (then clipped to [0, 1]). The paper's
occlusion augmentation is not done.

**Randomness**: the order of epoch ``e`` and the augmentation of batch ``b`` come from generators seeded with
``(seed, e)`` and ``(seed, e, b)``, so any step can be reproduced from the step number alone (this is what makes
resumed training identical to uninterrupted training).
"""

from __future__ import annotations

import math
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lipsync_studio.errors import UserError
from lipsync_studio.face.prnet.uv_data import UV_SIZE

MAX_ANGLE_DEG = 45.0
COLOR_SCALE = (0.6, 1.4)
CENTRE = (UV_SIZE - 1) / 2


class PositionMapDataError(UserError):
    """A training folder or one of its files is missing, unreadable or malformed."""


@dataclass(frozen=True)
class Pair:
    """One training example on disk: the crop image and its position map."""

    image: Path
    position_map: Path

    @property
    def name(self) -> str:
        """The file stem (``NAME`` of ``NAME.jpg``)."""
        return self.image.stem


def list_pairs(directory: str | os.PathLike[str]) -> list[Pair]:
    """Every ``NAME.jpg`` with a ``NAME.npy`` beside it under ``directory`` (recursively), sorted by path."""
    directory = Path(directory)
    if not directory.is_dir():
        raise PositionMapDataError("the training data folder does not exist", directory,
                                   "give a folder of NAME.jpg + NAME.npy pairs (face3d-processed 300W-LP)")
    pairs = [Pair(jpg, jpg.with_suffix(".npy")) for jpg in sorted(directory.rglob("*.jpg"))
             if jpg.with_suffix(".npy").is_file()]
    if not pairs:
        raise PositionMapDataError("no NAME.jpg + NAME.npy pairs in the training data folder", directory,
                                   "make them with face3d's 8_generate_posmap_300WLP.py or "
                                   "`render_training_pairs`")
    return pairs


def split_pairs(pairs: list[Pair], holdout: float = 0.1, root: Path | None = None) -> tuple[list[Pair], list[Pair]]:
    """(training, held-out) pairs: deterministic by file name (see the module docstring)."""
    if not 0 <= holdout < 1:
        raise ValueError(f"holdout must be in [0, 1), not {holdout}")

    def key(p: Pair) -> tuple[int, str]:
        rel = p.image.relative_to(root).as_posix() if root is not None else p.image.name
        return zlib.crc32(rel.encode("utf-8")), rel

    ordered = sorted(pairs, key=key)
    n_out = math.ceil(holdout * len(ordered)) if holdout > 0 else 0
    if holdout > 0 and len(ordered) >= 2:
        n_out = max(1, min(n_out, len(ordered) - 1))
    held = sorted(ordered[:n_out], key=lambda p: p.image)
    train = sorted(ordered[n_out:], key=lambda p: p.image)
    return train, held


def read_pair(pair: Pair) -> tuple[np.ndarray, np.ndarray]:
    """(image (256, 256, 3) float32 RGB in [0, 1], position map (256, 256, 3) float32 crop pixels)."""
    import cv2

    bgr = cv2.imread(str(pair.image), cv2.IMREAD_COLOR)
    if bgr is None:
        raise PositionMapDataError("not a readable image", pair.image)
    if bgr.shape[:2] != (UV_SIZE, UV_SIZE):
        raise PositionMapDataError(f"the crop is {bgr.shape[1]}×{bgr.shape[0]}, not {UV_SIZE}×{UV_SIZE}",
                                   pair.image, "crop the faces to 256×256 as face3d does")
    try:
        pos = np.load(pair.position_map, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise PositionMapDataError(f"not a readable .npy position map ({type(exc).__name__})",
                                   pair.position_map) from None
    if pos.shape != (UV_SIZE, UV_SIZE, 3) or pos.dtype.kind != "f":
        raise PositionMapDataError(f"a position map must be ({UV_SIZE}, {UV_SIZE}, 3) floats, this is "
                                   f"{pos.shape} {pos.dtype}", pair.position_map)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    return rgb, pos.astype(np.float32)


def augment(image: np.ndarray, position_map: np.ndarray, rng: np.random.Generator, *,
            max_angle_deg: float = MAX_ANGLE_DEG,
            color_scale: tuple[float, float] = COLOR_SCALE) -> tuple[np.ndarray, np.ndarray]:
    """The paper's augmentation of one pair (see the module docstring); returns new arrays.

    Parameters
    ----------
    image: (256, 256, 3) float32 RGB in [0, 1]. position_map: (256, 256, 3) float32 crop pixels.
    rng: the generator the angle and the three colour scales are drawn from (in that order).
    """
    import cv2

    angle = float(rng.uniform(-max_angle_deg, max_angle_deg))
    scales = rng.uniform(color_scale[0], color_scale[1], size=3).astype(np.float32)
    matrix = cv2.getRotationMatrix2D((CENTRE, CENTRE), angle, 1.0)  # (2, 3), image pixels → rotated pixels
    rotated = cv2.warpAffine(image, matrix, (UV_SIZE, UV_SIZE), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    pos = position_map.copy()
    xy = position_map[..., :2] @ matrix[:, :2].T.astype(np.float32) + matrix[:, 2].astype(np.float32)
    pos[..., :2] = xy
    return np.clip(rotated * scales, 0.0, 1.0).astype(np.float32), pos.astype(np.float32)


class PositionMapDataset:
    """Pairs read on demand (300W-LP is ~100 GB as float arrays) and served as augmented batches.

    Parameters
    ----------
    pairs: the files. augment_data: apply :func:`augment` (training) or not (evaluation).
    cache: keep every pair in memory once read (small sets, tests).
    """

    def __init__(self, pairs: list[Pair], *, augment_data: bool = True, cache: bool = False) -> None:
        self.pairs = list(pairs)
        self.augment_data = augment_data
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] | None = {} if cache else None

    def item(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Pair ``i`` as read (no augmentation): image (256, 256, 3) in [0, 1], position map (256, 256, 3)."""
        if self._cache is None:
            return read_pair(self.pairs[i])
        if i not in self._cache:
            self._cache[i] = read_pair(self.pairs[i])
        return self._cache[i]

    def __len__(self) -> int:
        return len(self.pairs)

    def steps_per_epoch(self, batch_size: int) -> int:
        """Batches per epoch (the last one may be smaller)."""
        return math.ceil(len(self) / batch_size)

    def batch(self, epoch: int, index: int, batch_size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Batch ``index`` of ``epoch``: images (B, 3, 256, 256) float32 in [0, 1], position maps (B, 3, 256, 256).

        The order of the epoch and the augmentation depend only on (seed, epoch, index).
        """
        order = np.random.default_rng([seed, epoch]).permutation(len(self)) if self.augment_data \
            else np.arange(len(self))
        chosen = order[index * batch_size:(index + 1) * batch_size]
        rng = np.random.default_rng([seed, epoch, index])
        images, positions = [], []
        for i in chosen:
            image, pos = self.item(int(i))
            if self.augment_data:
                image, pos = augment(image, pos, rng)
            images.append(image.transpose(2, 0, 1))
            positions.append(pos.transpose(2, 0, 1))
        return np.ascontiguousarray(np.stack(images)), np.ascontiguousarray(np.stack(positions))

    def batches(self, epoch: int, batch_size: int, seed: int = 0, start: int = 0) -> Iterator[tuple[int, np.ndarray,
                                                                                                   np.ndarray]]:
        """(index, images, position maps) for the batches of ``epoch`` from batch ``start`` on."""
        for index in range(start, self.steps_per_epoch(batch_size)):
            yield (index, *self.batch(epoch, index, batch_size, seed))
