"""UV weight masks for PRNet's training loss: the original weighting and the paper's mouth emphasis.

PRNet weights the squared error of each UV pixel of the position map by region (Feng et al. 2018)::

    68 key points : eyes, nose, mouth : rest of the face : neck    =  16 : 4 : 3 : 0      (PRNET_ORIGINAL)

"Exploring 3D Lip Sync Generation" fine-tunes PRNet with the mouth separated out and emphasised::

    68 key points : mouth : eyes, nose : rest of the face : neck   =  16 : 10 : 4 : 3 : 0  (MOUTH_EMPHASIS)

**How the regions are made** (:func:`uv_regions`), all in the 256×256 UV map, from the 68 UV key points
(``uv_kpt_ind``, 68-point convention) and the face mask:

- *key points*: the 68 key-point pixels themselves (dilated by ``keypoint_radius``, default 0 = single pixels, as
  in PRNet's ``uv_weight_mask.png`` which has exactly 68 pixels at 255). They keep their weight even where they fall
  outside the face mask: a landmark is face by definition.
- *mouth*: the convex hull of the outer lip points 48–59 (the inner lip points 60–67 lie inside it), dilated by
  ``margins.mouth`` × the inter-ocular distance.
- *eyes*: for each eye the convex hull of its contour (36–41, 42–47) dilated by ``margins.eyes`` × the
  inter-ocular distance; united with PRNet's own eye region (where ``uv_face.png`` and ``uv_face_eyes.png`` differ)
  when those files are present.
- *nose*: the convex hull of the bridge and nostrils 27–35, dilated by ``margins.nose`` × the inter-ocular
  distance.
- *face*: the face mask (``uv_face_mask.png`` / ``face_ind``). Every region but the key points is intersected with
  it, so the neck and everything outside the face weigh 0 (PRNet's own ``uv_weight_mask.png`` is non-zero on the
  neck; PRNet multiplied by the face mask when training).

The inter-ocular distance is the distance between the two eye centres (means of 36–41 and 42–47) in UV pixels;
dilation uses a disc of that radius. Overlaps are resolved by precedence: key points > mouth > eyes > nose > face.

:func:`official_weight_mask` instead decodes PRNet's ``uv_weight_mask.png`` (value / 16 with 255 read as 256,
giving 16 / 8 / 4 / 3; times the face mask).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from lipsync_studio.face.prnet.uv_data import N_KEYPOINTS, UV_SIZE

if TYPE_CHECKING:
    from lipsync_studio.face.prnet.synthetic import SyntheticUVLayout
    from lipsync_studio.face.prnet.uv_data import PRNetUVData

LIPS = tuple(range(48, 60))
"""Outer lip contour (68-point convention); 60–67 are the inner lip contour."""
INNER_LIPS = tuple(range(60, 68))
LEFT_EYE = tuple(range(36, 42))
RIGHT_EYE = tuple(range(42, 48))
NOSE = tuple(range(27, 36))

# Region labels, in increasing precedence.
OUTSIDE, FACE, NOSE_REGION, EYES_REGION, MOUTH_REGION, KEYPOINTS_REGION = range(6)
REGION_NAMES = {OUTSIDE: "outside (neck)", FACE: "rest of face", NOSE_REGION: "nose", EYES_REGION: "eyes",
                MOUTH_REGION: "mouth", KEYPOINTS_REGION: "key points"}


@dataclass(frozen=True)
class WeightScheme:
    """Loss weight of each UV region."""

    name: str
    keypoints: float
    mouth: float
    eyes: float
    nose: float
    face: float
    outside: float = 0.0

    def by_label(self) -> np.ndarray:
        """(6,) float32 weights indexed by region label (OUTSIDE … KEYPOINTS_REGION)."""
        return np.array([self.outside, self.face, self.nose, self.eyes, self.mouth, self.keypoints],
                        dtype=np.float32)


PRNET_ORIGINAL = WeightScheme("prnet", keypoints=16, mouth=4, eyes=4, nose=4, face=3)
"""PRNet's weighting 16:4:3:0 (key points : eyes, nose, mouth : face : neck)."""

MOUTH_EMPHASIS = WeightScheme("mouth", keypoints=16, mouth=10, eyes=4, nose=4, face=3)
"""The paper's weighting 16:10:4:3:0 (key points : mouth : eyes, nose : face : neck)."""

SCHEMES = {s.name: s for s in (PRNET_ORIGINAL, MOUTH_EMPHASIS)}


@dataclass(frozen=True)
class RegionMargins:
    """Dilation of each key-point hull, as a fraction of the inter-ocular distance."""

    mouth: float = 0.12
    eyes: float = 0.12
    nose: float = 0.10


@dataclass(frozen=True)
class UVRegions:
    """The UV regions the loss weights are assigned to.

    Attributes
    ----------
    labels: (256, 256) uint8
        Region label of each UV pixel (``OUTSIDE`` … ``KEYPOINTS_REGION``), after precedence.
    face_mask: (256, 256) bool
    inter_ocular: float
        Distance between the eye centres in UV pixels (the unit of the margins).
    """

    labels: np.ndarray
    face_mask: np.ndarray
    inter_ocular: float

    def mask(self, label: int) -> np.ndarray:
        """(256, 256) bool: the pixels whose region is ``label``."""
        return self.labels == label


def _hull_mask(points: np.ndarray, margin: float) -> np.ndarray:
    import cv2

    mask = np.zeros((UV_SIZE, UV_SIZE), dtype=np.uint8)
    hull = cv2.convexHull(np.round(points).astype(np.int32).reshape(-1, 1, 2))
    cv2.fillConvexPoly(mask, hull, 1)
    radius = round(margin)
    if radius > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        mask = cv2.dilate(mask, kernel)
    return mask.astype(bool)


def uv_regions(kpt_ind: np.ndarray, face_mask: np.ndarray, eye_mask: np.ndarray | None = None, *,
               margins: RegionMargins = RegionMargins(), keypoint_radius: int = 0) -> UVRegions:
    """Label every UV pixel with its loss region (see the module docstring for the exact construction).

    Parameters
    ----------
    kpt_ind: (2, 68) int
        UV key points, rows u and v (``uv_kpt_ind.txt``).
    face_mask: (256, 256) bool
        The face pixels.
    eye_mask: (256, 256) bool, optional
        PRNet's eye region (``uv_face.png`` ≠ ``uv_face_eyes.png``), united with the eye hulls.
    margins:
        Hull dilations as fractions of the inter-ocular distance.
    keypoint_radius:
        Radius in UV pixels of the disc around each key point (0: the pixel alone).
    """
    kpt = np.asarray(kpt_ind)
    if kpt.shape != (2, N_KEYPOINTS):
        raise ValueError(f"kpt_ind must be (2, {N_KEYPOINTS}), not {kpt.shape}")
    face = np.asarray(face_mask, dtype=bool)
    if face.shape != (UV_SIZE, UV_SIZE):
        raise ValueError(f"face_mask must be ({UV_SIZE}, {UV_SIZE}), not {face.shape}")
    points = kpt.T.astype(np.float64)  # (68, 2) as (u, v)
    left, right = points[list(LEFT_EYE)].mean(axis=0), points[list(RIGHT_EYE)].mean(axis=0)
    iod = float(np.linalg.norm(right - left))

    eyes = _hull_mask(points[list(LEFT_EYE)], margins.eyes * iod) | _hull_mask(points[list(RIGHT_EYE)],
                                                                               margins.eyes * iod)
    if eye_mask is not None:
        eyes |= np.asarray(eye_mask, dtype=bool)
    labels = np.full((UV_SIZE, UV_SIZE), OUTSIDE, dtype=np.uint8)
    labels[face] = FACE
    labels[_hull_mask(points[list(NOSE)], margins.nose * iod) & face] = NOSE_REGION
    labels[eyes & face] = EYES_REGION
    labels[_hull_mask(points[list(LIPS)], margins.mouth * iod) & face] = MOUTH_REGION
    keypoints = np.zeros((UV_SIZE, UV_SIZE), dtype=bool)
    keypoints[kpt[1], kpt[0]] = True
    if keypoint_radius > 0:
        import cv2

        size = 2 * keypoint_radius + 1
        keypoints = cv2.dilate(keypoints.astype(np.uint8),
                               cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))).astype(bool)
    labels[keypoints] = KEYPOINTS_REGION
    return UVRegions(labels=labels, face_mask=face, inter_ocular=iod)


def weight_mask(regions: UVRegions, scheme: WeightScheme | str = MOUTH_EMPHASIS) -> np.ndarray:
    """(256, 256) float32 loss weights: each pixel gets its region's weight under ``scheme``.

    ``scheme`` is a :class:`WeightScheme` or the name ``"prnet"`` (16:4:3:0) / ``"mouth"`` (16:10:4:3:0). The
    weights are the scheme's numbers as they are (not normalised); divide by 16 for PRNet's [0, 1] scale.
    """
    if isinstance(scheme, str):
        if scheme not in SCHEMES:
            raise ValueError(f"unknown weight scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
        scheme = SCHEMES[scheme]
    return scheme.by_label()[regions.labels]


def uv_weight_mask(uv: PRNetUVData | SyntheticUVLayout, scheme: WeightScheme | str = MOUTH_EMPHASIS, *,
                   margins: RegionMargins = RegionMargins(), keypoint_radius: int = 0) -> np.ndarray:
    """(256, 256) float32 loss weights straight from a :class:`~.uv_data.PRNetUVData` (or a synthetic layout).

    Uses its key points, face mask and (when present) eye mask; see :func:`uv_regions` and :func:`weight_mask`.
    """
    regions = uv_regions(uv.kpt_ind, uv.face_mask, getattr(uv, "eye_mask", None), margins=margins,
                         keypoint_radius=keypoint_radius)
    return weight_mask(regions, scheme)


def official_weight_mask(weight_png: np.ndarray, face_mask: np.ndarray | None = None) -> np.ndarray:
    """(256, 256) float32 weights decoded from PRNet's ``uv_weight_mask.png``.

    The image stores weight × 16 (255 for 16, 128, 64, 48); 255 is read as 256 before dividing, so the key points
    weigh exactly 16. Multiplying by ``face_mask`` sets the neck to 0 as the paper states (the image alone does not).
    """
    values = np.asarray(weight_png).astype(np.float32)
    values[values == 255] = 256
    weights = values / 16.0
    if face_mask is not None:
        weights *= np.asarray(face_mask, dtype=np.float32)
    return weights
