"""A talking face made from a real photo: the astronaut portrait that ships with scikit-image.

Each frame is one backward warp (``cv2.remap``) of ``skimage.data.astronaut()`` (512x512 RGB,
Eileen Collins, NASA, public domain): a crop around the face, a small smooth head motion, and a jaw
drop that moves the lower lip and chin down by a displacement that fades out smoothly towards the
cheeks and neck, so there are no seams. Between the lips the photo's own upper teeth stay with the
upper jaw and a dark mouth interior opens below them.

The photo is a smile with the lips slightly parted (the upper teeth show): opening 0 presses the
lower lip up against the upper one (closed mouth), `PHOTO_OPENING` reproduces the photo exactly,
opening 1 is a wide /a/.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import cv2
import numpy as np

from lipsync_studio.samples.head_motion import head_poses
from lipsync_studio.samples.speech_sample import SpeechSample

# Landmarks of the astronaut photo, (x, y) in pixels of the 512x512 image, measured once with
# MediaPipe FaceMesh 0.10.21 (static_image_mode=True, refine_landmarks=True). They are facts about
# the image; mediapipe is not imported here.
#: Inner upper lip, left corner to right corner (landmarks 78 191 80 81 82 13 312 311 310 415 308).
UPPER_INNER_LIP = np.array([
    (203.3, 139.9), (205.9, 140.1), (209.1, 140.7), (212.9, 141.5), (217.6, 142.4), (223.5, 143.2),
    (229.4, 142.9), (234.1, 142.3), (237.8, 141.8), (240.9, 141.6), (243.4, 141.5)])
#: Inner lower lip, same order (landmarks 78 95 88 178 87 14 317 402 318 324 308).
LOWER_INNER_LIP = np.array([
    (203.3, 139.9), (206.4, 143.2), (209.0, 145.5), (212.6, 147.7), (217.3, 149.3), (223.0, 150.1),
    (228.6, 149.7), (233.3, 148.5), (237.1, 146.6), (239.9, 144.6), (243.4, 141.5)])
#: Mouth corners (landmarks 61 and 291), lower lip bottom (17), chin (152), nose tip (1).
MOUTH_CORNERS = np.array([(201.8, 139.2), (245.0, 141.0)])
LOWER_LIP_BOTTOM = (222.7, 154.6)
CHIN = (221.3, 177.4)
NOSE_TIP = (223.4, 130.0)
#: Jaw edges (x) a little below the mouth: FaceMesh jaw points 172 and 397.
JAW_LEFT_X, JAW_RIGHT_X = 184.9, 260.8
#: Bounding box of all 478 FaceMesh landmarks (x0, y0, x1, y1): forehead to chin, cheek to cheek.
FACE_BOX = (179.0, 71.2, 270.7, 177.4)
#: Whole head with hair (x0, y0, x1, y1), read off the photo by eye.
HEAD_BOX = (150.0, 14.0, 302.0, 192.0)

#: The square crop the frames show (x0, y0, side) in photo pixels, centred on the face.
CROP = (105.0, 10.0, 240.0)
#: Inner-lip gap (photo pixels) at the middle of the mouth at opening 1: about half the mouth width.
GAP_MAX = 18.0
_PHOTO_GAP = LOWER_INNER_LIP[5, 1] - UPPER_INNER_LIP[5, 1]
#: The opening at which the frame is the unchanged photo (its lips are parted ~7 px).
PHOTO_OPENING = float(_PHOTO_GAP / GAP_MAX)

_MOUTH_X = 0.5 * (UPPER_INNER_LIP[0, 0] + UPPER_INNER_LIP[-1, 0])
_MOUTH_HALF = 0.5 * (UPPER_INNER_LIP[-1, 0] - UPPER_INNER_LIP[0, 0])
_JAW_X, _JAW_HALF = 0.5 * (JAW_LEFT_X + JAW_RIGHT_X), 0.5 * (JAW_RIGHT_X - JAW_LEFT_X)
_NECK_FALLOFF = 35.0  # photo px below the chin over which the jaw drop fades out
_INTERIOR_DARK = np.array([46.0, 17.0, 15.0])  # RGB of the shadowed mouth cavity
_INTERIOR_TONGUE = np.array([170.0, 82.0, 78.0])  # RGB of the tongue catching light
_LOWER_TEETH = np.array([170.0, 150.0, 140.0])  # RGB of the lower teeth, half hidden in shadow


@functools.lru_cache(maxsize=1)
def astronaut() -> np.ndarray:
    """The (512, 512, 3) uint8 RGB astronaut photo from scikit-image (read-only, loaded once)."""
    from skimage import data

    photo = data.astronaut()
    photo.setflags(write=False)
    return photo


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _upper_lip(x: np.ndarray) -> np.ndarray:
    return np.interp(x, UPPER_INNER_LIP[:, 0], UPPER_INNER_LIP[:, 1])


def _lower_lip(x: np.ndarray) -> np.ndarray:
    return np.interp(x, LOWER_INNER_LIP[:, 0], LOWER_INNER_LIP[:, 1])


def _lens(x: np.ndarray) -> np.ndarray:
    """Shape of an open mouth across its width: 1 in the middle, 0 at and beyond the corners."""
    return np.sqrt(np.clip(1.0 - ((x - _MOUTH_X) / _MOUTH_HALF) ** 2, 0.0, 1.0))


def _jaw_drop(x: np.ndarray, y: np.ndarray, opening: float) -> tuple[np.ndarray, np.ndarray]:
    """Downward displacement (photo px) of the lower face, and the inner-lip gap per column.

    Returns (drop, gap) for head-frame points (x, y): `drop` is how far the photo content seen at
    (x, y) has moved down; `gap` is the target gap between the lips at column x.
    """
    photo_gap = _lower_lip(x) - _upper_lip(x)
    if opening <= PHOTO_OPENING:
        gap = photo_gap * (opening / PHOTO_OPENING)
        # Lips pressed together: overshoot by ~0.7 px, hidden behind the upper lip.
        gap = gap - 0.7 * np.sqrt(_lens(x)) * (1.0 - opening / PHOTO_OPENING)
    else:
        blend = (opening - PHOTO_OPENING) / (1.0 - PHOTO_OPENING)
        gap = photo_gap + blend * (GAP_MAX * _lens(x) ** 0.8 - photo_gap)
    at_lips = gap - photo_gap
    centre = opening * GAP_MAX - _PHOTO_GAP
    # The jaw drops when opening wider than the photo; closing is the lower lip rising alone.
    jaw = max(centre, 0.0) * (
        0.5 + 0.5 * np.cos(np.pi * np.clip((x - _JAW_X) / _JAW_HALF, -1.0, 1.0)))
    lip_y = _lower_lip(x)
    to_chin = _smoothstep((y - lip_y) / (CHIN[1] - LOWER_INNER_LIP[:, 1].max() + 4.0))
    below_chin = 1.0 - _smoothstep((y - CHIN[1]) / _NECK_FALLOFF)
    drop = ((1.0 - to_chin) * at_lips + to_chin * jaw) * below_chin
    return drop, gap


def _head_weight(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """1 on the head (it moves rigidly), fading to 0 over ~30 px outside it (body and room stay)."""
    x0, y0, x1, y1 = HEAD_BOX
    cx, cy, rx, ry = 0.5 * (x0 + x1), 0.5 * (y0 + y1), 0.5 * (x1 - x0), 0.5 * (y1 - y0)
    r = np.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2)
    return 1.0 - _smoothstep((r - 1.0) / 0.3)


def _sample(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return cv2.remap(image, x.astype(np.float32), y.astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REFLECT101)


def _mouth_patch(photo: np.ndarray, hx: np.ndarray, hy: np.ndarray, still: np.ndarray,
                 opening: float, aa: float) -> np.ndarray:
    """Render the jaw drop and mouth cavity for head-frame sample points (hx, hy) of a patch.

    `still` is the patch without the jaw drop; `aa` the anti-aliasing width (photo px).
    Returns the (h, w, 3) uint8 patch.
    """
    drop, gap = _jaw_drop(hx, hy, opening)
    upper, lower = _upper_lip(hx), _lower_lip(hx)
    src_y = hy - drop
    still = still.astype(np.float32)
    moved = _sample(photo, hx, src_y).astype(np.float32)
    below_upper = np.clip((hy - upper) / aa + 0.5, 0.0, 1.0)
    # Coverage of each pixel by the lower lip (in front), the upper teeth, and the cavity between.
    on_lower = np.clip((src_y - lower) / aa + 0.5, 0.0, 1.0)
    on_teeth = np.minimum(np.clip((lower - hy) / aa + 0.5, 0.0, 1.0), 1.0 - on_lower)
    in_cavity = 1.0 - on_lower - on_teeth
    # Mouth cavity: darkest at the back under the teeth, the tongue catching light towards the
    # lower lip, a hint of lower teeth behind the lower lip, all fading into the lip corners.
    opened = np.maximum(gap - (lower - upper), 1.0)
    depth = np.clip((hy - lower) / opened, 0.0, 1.0)
    across = _lens(hx)
    tongue = min(1.0, 1.3 * opening) * _smoothstep((depth - 0.35) / 0.65) * across**1.5
    cavity = _INTERIOR_DARK + (0.9 * tongue)[..., None] * (_INTERIOR_TONGUE - _INTERIOR_DARK)
    cavity = cavity * (0.7 + 0.3 * _smoothstep(depth) + 0.25 * (1.0 - across))[..., None]
    lower_teeth = (0.45 * min(1.0, 2.0 * opening - 0.6) * across**3
                   * _smoothstep((depth - 0.8) / 0.12) * (opened > 6.0))
    if lower_teeth.max() > 0:
        lower_teeth = np.maximum(lower_teeth, 0.0)[..., None]
        cavity = cavity + lower_teeth * (_LOWER_TEETH - cavity)
    # The lower lip's inner edge rolls away from the light: shade its first ~1.5 photo px.
    lip_shade = 1.0 - 0.22 * across * np.clip(1.0 - (src_y - lower) / 1.5, 0.0, 1.0) * (
        (src_y >= lower) & (opening > PHOTO_OPENING))
    moved = moved * lip_shade[..., None]
    mouth = (on_lower[..., None] * moved + on_teeth[..., None] * still
             + in_cavity[..., None] * cavity)
    within = np.clip((_MOUTH_HALF - np.abs(hx - _MOUTH_X)) / aa + 0.5, 0.0, 1.0)[..., None]
    below = below_upper[..., None]
    patch = (1.0 - below) * still + below * (within * mouth + (1.0 - within) * moved)
    return np.clip(patch + 0.5, 0, 255).astype(np.uint8)


#: The largest frame side (px) the talking astronaut is drawn at (the photo is 512 px; its crop is smaller).
MAX_SIZE = 480


def render_face(opening: float, *, size: int = 360, pose: tuple[float, float, float] = (0, 0, 0),
                photo: np.ndarray | None = None) -> np.ndarray:
    """Render one frame of the talking astronaut.

    Parameters
    ----------
    opening : float
        Mouth opening in [0, 1]: 0 closed, `PHOTO_OPENING` the photo as it is, 1 wide open.
    size : int
        Side of the square frame (px); even, at most 480.
    pose : tuple of float
        Head motion (dx, dy, angle): translation in photo pixels and rotation in degrees about
        the neck.
    photo : np.ndarray, optional
        (512, 512, 3) uint8 RGB source; default ``skimage.data.astronaut()``.

    Returns
    -------
    np.ndarray
        (size, size, 3) uint8 RGB frame.
    """
    if size % 2 or not 16 <= size <= MAX_SIZE:
        raise ValueError(f"frame size must be even and between 16 and {MAX_SIZE} px; got {size}")
    if photo is None:
        photo = astronaut()
    x0, y0, side = CROP
    scale = size / side
    grid = (np.arange(size, dtype=np.float32) + 0.5) / scale - 0.5
    gx, gy = np.meshgrid(x0 + grid, y0 + grid)
    # Head motion: the head moves rigidly about the neck, blended out towards body and background.
    dx, dy, angle = pose
    pivot_x, pivot_y = CHIN[0], CHIN[1] + 15.0
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    px, py = gx - pivot_x - dx, gy - pivot_y - dy
    w = _head_weight(gx, gy)
    hx = gx + w * (pivot_x + c * px - s * py - gx)
    hy = gy + w * (pivot_y + s * px + c * py - gy)
    frame = _sample(photo, hx, hy)
    # Only the lower face changes with the opening: render that region alone.
    region = ((hx > JAW_LEFT_X - 4) & (hx < JAW_RIGHT_X + 4)
              & (hy > UPPER_INNER_LIP[:, 1].min() - 4) & (hy < CHIN[1] + _NECK_FALLOFF + 2))
    rows, cols = np.nonzero(region.any(axis=1))[0], np.nonzero(region.any(axis=0))[0]
    if len(rows) and len(cols):
        box = np.s_[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        aa = 0.6 / scale + 0.35  # anti-aliasing width of the lip edges (photo px)
        frame[box] = _mouth_patch(photo, hx[box], hy[box], frame[box],
                                  float(np.clip(opening, 0.0, 1.0)), aa)
    return frame


def talking_face_frames(opening: np.ndarray, *, size: int = 360, head_motion: float = 1.0,
                        seed: int = 0, fps: float = 25.0) -> Iterator[np.ndarray]:
    """Yield frames of the astronaut saying something, one per mouth opening.

    Parameters
    ----------
    opening : np.ndarray
        (T,) mouth opening per video frame in [0, 1] (e.g. `SpeechSample.mouth_opening`).
    size : int
        Side of the square frames (px); even, at most 480.
    head_motion : float
        Scale of the slight head motion (1: sway up to about 3 photo px and 1.5 degrees; 0: still).
    seed : int
        Seed of the head motion path.
    fps : float
        Frame rate (frames/s); sets how fast the head sways.

    Yields
    ------
    np.ndarray
        (size, size, 3) uint8 RGB frames, computed one at a time (bounded memory).
    """
    photo = astronaut()
    opening = np.asarray(opening, dtype=np.float64).ravel()
    poses = head_poses(len(opening), amount=head_motion, seed=seed, fps=fps)
    for value, pose in zip(opening, poses):
        yield render_face(float(value), size=size, pose=tuple(pose), photo=photo)


def talking_clip(speech: SpeechSample, fps: float = 25.0,
                 **kw: Any) -> tuple[Iterator[np.ndarray], int]:
    """Frames of the astronaut speaking `speech`, lips following its mouth model.

    Parameters
    ----------
    speech : SpeechSample
        The audio track; frame i shows ``speech.mouth_opening(i / fps)``.
    fps : float
        Video frame rate (frames/s).
    **kw
        Passed on to `talking_face_frames` (size, head_motion, seed).

    Returns
    -------
    frames : Iterator[np.ndarray]
        (size, size, 3) uint8 RGB frames.
    n_frames : int
        ``ceil(speech.duration * fps)``, the number of frames the iterator yields.
    """
    n = int(np.ceil(speech.duration * fps - 1e-9))
    opening = speech.mouth_opening(np.arange(n) / fps)
    return talking_face_frames(opening, fps=fps, **kw), n


def write_talking_720p(path, n_frames: int = 100):
    """A 1280x720 25 fps clip of the sample face (scaled up, its mouth cycling through five openings every two
    frames, a changing corner so every frame differs) with one keyframe (x264's default): what scrubbing and
    UI responsiveness are checked on. Returns ``path``."""
    from fractions import Fraction

    from lipsync_studio.media.writer import VideoFormat, VideoWriter

    faces = [cv2.resize(render_face(o, size=360), (720, 720)) for o in np.linspace(0, 1, 5)]
    canvas = np.full((720, 1280, 3), 40, np.uint8)
    with VideoWriter(path, Fraction(25), 1280, 720, fmt=VideoFormat(preset="ultrafast", crf=20)) as w:
        for i in range(n_frames):
            canvas[:, 280:1000] = faces[(i // 2) % 5]
            canvas[:24, :120] = (i * 2) % 255
            w.write(canvas)
    return path


def face_box(size: int = 360) -> tuple[float, float, float, float]:
    """The head (with hair) in frame pixels (x0, y0, x1, y1) at rest, for frames of side `size`."""
    x0, y0, side = CROP
    scale = size / side
    hx0, hy0, hx1, hy1 = HEAD_BOX
    return ((hx0 - x0) * scale, (hy0 - y0) * scale, (hx1 - x0) * scale, (hy1 - y0) * scale)
