"""Faces in one eye of a stereo clip, and the face and mouth regions the stereo measures use.

The tracker runs on the eye's own frames (a packed frame would show the face twice) through the one face
analysis (:func:`~lipsync_studio.face.analysis.analyse_faces` with an eye view), so the stereo sync job, the
stereo measures and training share one cache entry per eye.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from ..face.track import LIPS_OUTER, N_SURFACE, ClipFaces
from ..face.tracker import TrackerSettings
from .layout import StereoReader, eye_view


def track_eye(reader: StereoReader, eye: str = "left", settings: TrackerSettings = TrackerSettings(),
              advance: Callable[[int], None] | None = None, use_cache: bool = True) -> ClipFaces:
    """Track the faces of one eye through a stereo clip (cached).

    Parameters
    ----------
    reader : StereoReader
        The clip.
    eye : str
        ``left`` or ``right``.
    advance : callable, optional
        Called with the number of frames done (progress and cancellation).

    Returns
    -------
    ClipFaces
        Tracks in the eye's pixels (``reader.info.eye_width`` x ``eye_height``).
    """
    if eye not in ("left", "right"):
        raise ValueError(f"eye must be 'left' or 'right', not {eye!r}")
    from ..face.analysis import analyse_faces

    info = reader.info
    if info.right_path is not None or not info.layout.is_stereo:
        path = info.right_path if (eye == "right" and info.right_path is not None) else info.path
        return analyse_faces(path, settings, advance=advance, use_cache=use_cache)
    # A packed clip: the one face analysis, on the eye's half of every frame (cached like the sync job's).
    return analyse_faces(info.path, settings, advance=advance, use_cache=use_cache,
                         eye=eye_view(info.layout, 0 if eye == "left" else 1))


def face_regions(landmarks: np.ndarray, shape: tuple[int, int], mouth_dilate: float = 0.25
                 ) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """The face and mouth masks of one frame, and a box around the face.

    Parameters
    ----------
    landmarks : np.ndarray
        (478, 2+) FaceMesh landmarks (px) of the frame.
    shape : (H, W)
        The eye's size.
    mouth_dilate : float
        How far the mouth mask reaches beyond the outer lip line, as a fraction of the mouth's width
        (covers the lips moving, the chin and the lip shadow an edit touches).

    Returns
    -------
    face : np.ndarray
        (H, W) bool, inside the convex hull of the face surface points.
    mouth : np.ndarray
        (H, W) bool, the outer lip polygon dilated.
    box : (x0, y0, x1, y1)
        The face's bounding box grown by a quarter on each side, clipped to the frame (int px).
    """
    h, w = shape
    pts = np.asarray(landmarks[:N_SURFACE, :2], np.float64)
    face = np.zeros((h, w), np.uint8)
    hull = cv2.convexHull(np.round(pts * 16).astype(np.int32))
    cv2.fillConvexPoly(face, hull, 1, lineType=cv2.LINE_8, shift=4)
    lips = pts[list(LIPS_OUTER)]
    mouth = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mouth, [np.round(lips * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    width = float(np.ptp(lips[:, 0]))
    r = max(2, int(round(mouth_dilate * width)))
    mouth = cv2.dilate(mouth, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    x0, y0 = pts.min(0)
    x1, y1 = pts.max(0)
    gx, gy = 0.25 * (x1 - x0), 0.25 * (y1 - y0)
    box = (max(0, int(x0 - gx)), max(0, int(y0 - gy)), min(w, int(np.ceil(x1 + gx))), min(h, int(np.ceil(y1 + gy))))
    return face.astype(bool), mouth.astype(bool), box
