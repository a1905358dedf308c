"""PRNet's UV data files: which UV pixels are face vertices, the mesh triangles, the 68 key points, the masks.

PRNet ships them in ``Data/uv-data``; Lipsync Studio looks for them in ``models/prnet/uv-data``. The files:

============================ ===================================================== ==========
file                         content                                               needed
============================ ===================================================== ==========
``face_ind.txt``             V ints (43,867 for PRNet): flat indices ``v·256 + u``  yes
                             of the UV pixels that are mesh vertices
``triangles.txt``            T×3 ints, 0-based vertex indices (rows of 3)          yes
``uv_kpt_ind.txt``           2×68 ints: row 0 = u (column), row 1 = v (row)        yes
``uv_face_mask.png``         256×256 gray, 255 on the V face pixels                no (made from face_ind)
``uv_weight_mask.png``       256×256 gray, PRNet's training weights × 16           no
``uv_face.png``,             256×256 gray; where they differ are the eyes          no (both or neither)
``uv_face_eyes.png``
``canonical_vertices.npy``   V×3 float, PRNet's mean face (for pose)               no
============================ ===================================================== ==========

Numbers may be written as integers or in ``numpy.savetxt``'s float notation (``1.000000000000000000e+00``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lipsync_studio.errors import UserError

UV_SIZE = 256
"""Side of the UV position map in pixels."""

N_VERTICES = 43867
"""Vertices of PRNet's mesh (face pixels of the official UV layout)."""

N_KEYPOINTS = 68

FACE_IND = "face_ind.txt"
TRIANGLES = "triangles.txt"
KPT_IND = "uv_kpt_ind.txt"
FACE_MASK = "uv_face_mask.png"
WEIGHT_MASK = "uv_weight_mask.png"
FACE_PNG = "uv_face.png"
FACE_EYES_PNG = "uv_face_eyes.png"
CANONICAL = "canonical_vertices.npy"

_HINT = "PRNet's uv-data files come from the Data/uv-data folder of the PRNet repository"


class UVDataError(UserError):
    """A PRNet UV data file is missing, unreadable or inconsistent with the others."""


@dataclass(frozen=True)
class PRNetUVData:
    """PRNet's UV layout, read and checked.

    Attributes
    ----------
    face_ind: (V,) int64
        Flat UV pixel index ``v·256 + u`` of each mesh vertex; vertex i is ``position_map[v_i, u_i]``.
    triangles: (T, 3) int64
        Vertex indices of each mesh triangle.
    kpt_ind: (2, 68) int64
        UV pixel of each of the 68 key points: row 0 = u (column), row 1 = v (row).
    face_mask: (256, 256) bool
        True on the V face pixels.
    weight_mask: (256, 256) uint8 or None
        ``uv_weight_mask.png`` as stored (official weights × 16; see :mod:`.masks`).
    eye_mask: (256, 256) bool or None
        The eyes: where ``uv_face.png`` and ``uv_face_eyes.png`` differ.
    canonical_vertices: (V, 3) float64 or None
        PRNet's mean face.
    directory: Path or None
        Where the files were read from.
    """

    face_ind: np.ndarray
    triangles: np.ndarray
    kpt_ind: np.ndarray
    face_mask: np.ndarray
    weight_mask: np.ndarray | None = None
    eye_mask: np.ndarray | None = None
    canonical_vertices: np.ndarray | None = None
    directory: Path | None = None

    @property
    def n_vertices(self) -> int:
        """Number of mesh vertices V."""
        return int(self.face_ind.size)

    @property
    def uv_coords(self) -> np.ndarray:
        """(V, 2) float32: each vertex's UV pixel (u = column, v = row); divide by 256 for texture coordinates."""
        return np.stack([self.face_ind % UV_SIZE, self.face_ind // UV_SIZE], axis=1).astype(np.float32)

    @property
    def keypoints_uv(self) -> np.ndarray:
        """(68, 2) int64: each key point's UV pixel as (u, v)."""
        return self.kpt_ind.T.copy()


def _read_numbers(path: Path, what: str) -> np.ndarray:
    """A whitespace-separated table of numbers as a 2-D float64 array (rows = lines)."""
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise UVDataError(f"the PRNet {what} file is missing", path, _HINT) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UVDataError(f"cannot read the PRNet {what} file ({type(exc).__name__})", path, _HINT) from None
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if not lines:
        raise UVDataError(f"the PRNet {what} file is empty", path, _HINT)
    width = len(lines[0])
    if any(len(line) != width for line in lines):
        raise UVDataError(f"the PRNet {what} file's lines do not all have {width} numbers", path, _HINT)
    try:
        values = np.array([tok for line in lines for tok in line], dtype=np.float64)
    except ValueError:
        raise UVDataError(f"the PRNet {what} file holds something other than numbers", path, _HINT) from None
    return values.reshape(len(lines), width)


def _as_ints(values: np.ndarray, path: Path, what: str) -> np.ndarray:
    if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
        raise UVDataError(f"the PRNet {what} file holds numbers that are not whole", path, _HINT)
    return values.astype(np.int64)


def read_gray_png(path: str | os.PathLike[str], what: str = "mask") -> np.ndarray:
    """A 256×256 8-bit gray image (colour images are converted, 16-bit ones scaled) as (256, 256) uint8."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise UVDataError(f"the PRNet {what} image is missing", path, _HINT)
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise UVDataError(f"the PRNet {what} image is not a readable image", path, _HINT)
    if image.ndim == 3:
        image = cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2GRAY) if image.shape[2] >= 3 else image[..., 0]
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    if image.dtype != np.uint8 or image.shape != (UV_SIZE, UV_SIZE):
        raise UVDataError(f"the PRNet {what} image is {image.shape[1]}×{image.shape[0]} {image.dtype}, "
                          f"not {UV_SIZE}×{UV_SIZE} 8-bit", path, _HINT)
    return image


def load_uv_data(directory: str | os.PathLike[str]) -> PRNetUVData:
    """Read and check PRNet's UV data files in ``directory`` (see the module docstring for the files).

    Checks: face indices whole, unique and inside the 256×256 map; triangles T×3 within the V vertices; 68 key
    points inside the map; images 256×256; ``uv_face_mask.png`` marking exactly the ``face_ind`` pixels;
    ``canonical_vertices.npy`` V×3. Transposed tables (3×T triangles, 68×2 key points) are accepted.

    Raises
    ------
    UVDataError
        Naming the file and what is wrong with it.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise UVDataError("the PRNet uv-data folder is missing", directory, _HINT)

    path = directory / FACE_IND
    face_ind = _as_ints(_read_numbers(path, "face index"), path, "face index").reshape(-1)
    if face_ind.min() < 0 or face_ind.max() >= UV_SIZE * UV_SIZE:
        raise UVDataError(f"the face indices must lie in 0…{UV_SIZE * UV_SIZE - 1}, this file has "
                          f"{face_ind.min()}…{face_ind.max()}", path, _HINT)
    if np.unique(face_ind).size != face_ind.size:
        raise UVDataError("the face index file lists some UV pixels twice", path, _HINT)
    n = face_ind.size

    path = directory / TRIANGLES
    triangles = _as_ints(_read_numbers(path, "triangle"), path, "triangle")
    if triangles.shape[1] != 3 and triangles.shape[0] == 3:
        triangles = triangles.T.copy()
    if triangles.shape[1] != 3:
        raise UVDataError(f"the triangle file must have 3 numbers a line, it has {triangles.shape[1]}", path, _HINT)
    if triangles.min() < 0 or triangles.max() >= n:
        raise UVDataError(f"the triangles refer to vertices {triangles.min()}…{triangles.max()}, but "
                          f"{FACE_IND} defines {n} (0…{n - 1}); the files come from different PRNet versions",
                          path, _HINT)

    path = directory / KPT_IND
    kpt = _as_ints(_read_numbers(path, "key point"), path, "key point")
    if kpt.shape == (N_KEYPOINTS, 2):
        kpt = kpt.T.copy()
    if kpt.shape != (2, N_KEYPOINTS):
        raise UVDataError(f"the key point file must be 2×{N_KEYPOINTS} (u row, v row), it is "
                          f"{kpt.shape[0]}×{kpt.shape[1]}", path, _HINT)
    if kpt.min() < 0 or kpt.max() >= UV_SIZE:
        raise UVDataError(f"key points must lie in the {UV_SIZE}×{UV_SIZE} map, this file has "
                          f"{kpt.min()}…{kpt.max()}", path, _HINT)

    face_mask = np.zeros(UV_SIZE * UV_SIZE, dtype=bool)
    face_mask[face_ind] = True
    face_mask = face_mask.reshape(UV_SIZE, UV_SIZE)
    path = directory / FACE_MASK
    if path.exists():
        stored = read_gray_png(path, "face mask") > 127
        if not np.array_equal(stored, face_mask):
            raise UVDataError(f"the face mask marks {int(stored.sum())} pixels but {FACE_IND} lists {n}, or other "
                              "ones; the files come from different PRNet versions", path, _HINT)

    path = directory / WEIGHT_MASK
    weight_mask = read_gray_png(path, "weight mask") if path.exists() else None

    eye_mask = None
    face_png, eyes_png = directory / FACE_PNG, directory / FACE_EYES_PNG
    if face_png.exists() or eyes_png.exists():
        plain, without_eyes = read_gray_png(face_png, "face"), read_gray_png(eyes_png, "face-without-eyes")
        eye_mask = plain != without_eyes  # PRNet's demo_texture.py: abs(uv_face_eye - uv_face) > 0

    canonical = None
    path = directory / CANONICAL
    if path.exists():
        try:
            canonical = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise UVDataError(f"the canonical face is not a readable .npy file ({type(exc).__name__})", path,
                              _HINT) from None
        if canonical.shape != (n, 3) or canonical.dtype.kind != "f":
            raise UVDataError(f"the canonical face must be {n}×3 floats, it is {canonical.shape} "
                              f"{canonical.dtype}", path, _HINT)

    return PRNetUVData(face_ind=face_ind, triangles=triangles, kpt_ind=kpt, face_mask=face_mask,
                       weight_mask=weight_mask, eye_mask=eye_mask, canonical_vertices=canonical,
                       directory=directory)
