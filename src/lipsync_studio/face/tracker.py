"""Track faces through a clip with MediaPipe FaceMesh: stable ids, re-detection, no-face frames marked.

FaceMesh in video mode follows faces frame to frame. Its short-range detector misses faces that are small
in a large frame, so when a known face is lost the tracker looks again in a crop around where it was, and a
full-range face detector looks for faces FaceMesh has not picked up (every few frames while faces are followed, on
every frame while one was just lost); each is measured in a crop. The searches look again only where the picture
has changed away from the faces followed (before a still background, once); in a picture with nobody in it,
FaceMesh too looks only when it changed, and every few frames whatever it shows. Detections are linked to tracks
by box overlap, and a face that comes back after a cutaway as it left is joined to its track again
(:func:`rejoin_tracks`).
"""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

import numpy as np

from ..media.prefetch import InOrder
from .smoothing import SmoothingSettings, smooth_landmarks
from .track import N_LANDMARKS, N_SURFACE, ClipFaces, FaceTrack


@dataclass(frozen=True)
class TrackerSettings:
    """What the tracker does.

    Attributes
    ----------
    max_faces: most faces tracked at once.
    min_confidence: FaceMesh / detector confidence to accept a face.
    redetect_every: frames between searches for new faces with the full-range detector.
    glance_every: frames between quick looks for new faces near the camera (short-range detector) while fewer
        than ``max_faces`` are followed: a face that walks in is followed within this many frames.
    max_gap_s: a face lost for longer than this comes back as a new track, unless it comes back as it left
        (:func:`rejoin_tracks`).
    min_track_s: tracks shorter than this are dropped as noise.
    rejoin_look: how alike (:func:`context_look`, mean Lab dE) a face coming back and the one that left at its
        place and size must look to be taken as the same face again; 0: never.
    cut_look, cut_face_look: a face whose look changes from one frame to the next by more than ``cut_look``
        (:func:`context_look`: the face and around it) and whose own colours (:func:`face_look`: inside its box)
        change by more than ``cut_face_look`` is another face: a cut to another person framed alike (same place,
        same size, which box overlap alone linked) starts a new track. On six real talking heads the looks changed
        from frame to frame by 5 and 7.1 at most (the surroundings' by 10 over four frames); between two of them by
        20-36 and 7.4-26 (two women of one radio studio: 25 and 7.4). Both must change: a background flickering
        between green and magenta beside an unchanged face changed the first by 155 and the second by 4.2 at most,
        and is no cut. 0: never split.
    smoothing: temporal smoothing settings.
    """

    max_faces: int = 4
    min_confidence: float = 0.5
    redetect_every: int = 12
    glance_every: int = 4
    max_gap_s: float = 1.0
    min_track_s: float = 0.2
    rejoin_look: float = 12.0
    cut_look: float = 15.0
    cut_face_look: float = 5.0
    smoothing: SmoothingSettings = field(default_factory=SmoothingSettings)

    def key(self) -> str:
        """A stable text form (for the analysis cache), with the tracker's :data:`TRACKS_VERSION`."""
        return f"v{TRACKS_VERSION}|" + repr(sorted(asdict(self).items()))


#: What the tracker makes of a clip, as the analysis cache keys it: raise it whenever the same clip and settings
#: would give other tracks (detection, linking, joining, smoothing), or tracks cached by the older code are taken
#: for the new code's (the head-pose fit batched in 69f26cd moved smoothed landmarks by 1e-4 px; syncs that found
#: the tracks cached went on drawing with the old ones, and no cross-dub of that session told the two apart).
TRACKS_VERSION = 4


class _ImportedOnFirstUse(types.ModuleType):
    """Stands in for a module in ``sys.modules`` until one of its attributes is asked for, then imports it.

    MediaPipe's ``solutions`` package imports its drawing helpers, and they import ``matplotlib.pyplot`` (0.35 s
    of MediaPipe's 0.5 s import with the package itself, on the tracking pass's critical path; the face tracker
    never draws with it).
    """

    def __getattr__(self, attr: str):
        import importlib

        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        real = importlib.import_module(self.__name__)
        self.__dict__.update(real.__dict__)  # whoever holds this object now holds the real module's names
        return getattr(real, attr)


def _import_mediapipe():
    """Import MediaPipe; keep cv2's Qt plugin path out of the environment (it breaks PySide6)."""
    before = os.environ.get("QT_QPA_PLATFORM_PLUGIN_PATH")
    if "mediapipe" not in sys.modules and "matplotlib.pyplot" not in sys.modules:
        pyplot = sys.modules["matplotlib.pyplot"] = _ImportedOnFirstUse("matplotlib.pyplot")
        if "matplotlib" not in sys.modules:
            # ``import matplotlib.pyplot as plt`` imports the package itself too (0.14 s more); its placeholder
            # hands out pyplot's without importing anything.
            package = sys.modules["matplotlib"] = _ImportedOnFirstUse("matplotlib")
            package.pyplot = pyplot
    import mediapipe as mp

    if before is None:
        os.environ.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)
    return mp


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _same_place(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether box ``a`` is a face already at box ``b``: they overlap (IoU over 0.2) or ``a``'s centre is in ``b``."""
    return _iou(a, b) > 0.2 or (b[0] <= (a[0] + a[2]) / 2 <= b[2] and b[1] <= (a[1] + a[3]) / 2 <= b[3])


def landmark_box(lm: np.ndarray) -> np.ndarray:
    """``x0, y0, x1, y1`` of a face's surface landmarks (the first 468 of ``(478, ≥2)``, in pixels)."""
    pts = lm[:N_SURFACE, :2]
    return np.concatenate([pts.min(0), pts.max(0)])


#: One landmark of a serialised ``NormalizedLandmarkList`` holding x, y and z alone: the list's field tag (1,
#: length-delimited), the landmark's length (15), then each coordinate's tag (fields 1-3, 32-bit) and its float.
_LANDMARK_WIRE = np.dtype([("tag", "u1"), ("size", "u1"), ("tx", "u1"), ("x", "<f4"), ("ty", "u1"), ("y", "<f4"),
                           ("tz", "u1"), ("z", "<f4")])


def landmark_array(landmarks) -> np.ndarray:
    """(N, 3) float32 x, y, z of a MediaPipe ``NormalizedLandmarkList``.

    Read from the message's serialised bytes when every landmark holds x, y and z alone (what FaceMesh gives): the
    same floats at a seventh of the cost of reading 478 landmarks' fields one by one in Python (0.19 ms a face a
    frame); any other layout is read field by field.
    """
    n = len(landmarks.landmark)
    raw = landmarks.SerializeToString()
    if n and len(raw) == n * _LANDMARK_WIRE.itemsize:
        r = np.frombuffer(raw, _LANDMARK_WIRE)
        if ((r["tag"] == 0x0A) & (r["size"] == 15) & (r["tx"] == 0x0D) & (r["ty"] == 0x15) & (r["tz"] == 0x1D)).all():
            return np.stack([r["x"], r["y"], r["z"]], 1)
    return np.array([(p.x, p.y, p.z) for p in landmarks.landmark], np.float32)


#: The periodic searches for new faces look again only where the picture away from the faces followed has changed
#: since they last looked (:meth:`FaceDetector._scene_changed`): every SCENE_STEP-th pixel, by SCENE_LEVELS grey levels
#: in at least SCENE_CELLS places.
SCENE_STEP, SCENE_LEVELS, SCENE_CELLS = 16, 24, 4

#: A face whose box overlaps where it was the frame before by less than this (intersection over union) has jumped:
#: it is measured afresh (:meth:`FaceDetector._measure_afresh`). Frame to frame on six real talking heads the boxes
#: overlapped by 0.865 at least (0.79 once, the second frame of a clip, as FaceMesh settles on it); a cut from a wide
#: shot to a close-up of the same face, 0.59.
JUMP_IOU = 0.75

#: A track keeps its face's look (:func:`context_look`, 3 kB) every LOOK_EVERY frames, at most LOOKS_KEPT of them
#: (then every other one, at twice the step); a face coming back is compared by the first RETURN_LOOKS of its own
#: (:func:`rejoin_tracks`).
LOOK_EVERY, LOOKS_KEPT, RETURN_LOOKS = 12, 256, 3
#: The shape of a look (:func:`context_look`).
LOOK_SHAPE = (16, 16, 3)
#: The most moments of one face (all its tracks joined so far) that a face coming back is compared with.
GROUP_MOMENTS = 64


class FaceDetector:
    """Per-frame face landmarks (478 per face, in pixels) with crop rescue for small or lost faces."""

    def __init__(self, settings: TrackerSettings = TrackerSettings()) -> None:
        mp = _import_mediapipe()
        self.settings = settings
        conf = settings.min_confidence
        fm = mp.solutions.face_mesh
        self._fm = fm
        # FaceMesh in video mode runs its face detector on every frame where it follows fewer faces than it may
        # (1.7-2 ms of a 720p frame's 5-6 ms; the landmarks come out the same): it starts with one face and is
        # rebuilt for more when the tracker knows more. New faces are looked for every few frames instead: near
        # ones with the short-range detector (the one FaceMesh runs), every face with the full-range one.
        self._video_faces = 1
        self._video = self._video_mesh(1)
        # What each periodic search saw last (a coarse grey picture of the frame): one that would see the same
        # scene again is not run (:meth:`_scene_changed`).
        self._last_seen: dict[str, np.ndarray] = {}
        self._crop_mesh = fm.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True,
                                      min_detection_confidence=conf)
        self._detector = mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=conf)
        self._near = mp.solutions.face_detection.FaceDetection(model_selection=0, min_detection_confidence=conf)

    def _video_mesh(self, faces: int):
        conf = self.settings.min_confidence
        return self._fm.FaceMesh(static_image_mode=False, max_num_faces=faces, refine_landmarks=True,
                                 min_detection_confidence=conf, min_tracking_confidence=conf)

    def close(self) -> None:
        """Release MediaPipe's graphs."""
        for g in (self._video, self._crop_mesh, self._detector, self._near):
            g.close()

    @staticmethod
    def _to_px(landmarks, w: int, h: int, x0: float = 0, y0: float = 0, cw: int | None = None,
               ch: int | None = None) -> np.ndarray:
        cw, ch = cw or w, ch or h
        a = landmark_array(landmarks)
        a[:, 0] = a[:, 0] * cw + x0
        a[:, 1] = a[:, 1] * ch + y0
        a[:, 2] = a[:, 2] * cw
        return a

    def _in_crop(self, frame: np.ndarray, box: np.ndarray, grow: float = 2.0) -> np.ndarray | None:
        h, w = frame.shape[:2]
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        side = max(box[2] - box[0], box[3] - box[1]) * grow
        x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
        x1, y1 = int(min(w, cx + side / 2)), int(min(h, cy + side / 2))
        if x1 - x0 < 16 or y1 - y0 < 16:
            return None
        crop = np.ascontiguousarray(frame[y0:y1, x0:x1])
        res = self._crop_mesh.process(crop)
        if not res.multi_face_landmarks:
            return None
        return self._to_px(res.multi_face_landmarks[0], w, h, x0, y0, x1 - x0, y1 - y0)

    def detect(self, frame: np.ndarray, index: int, known: list[np.ndarray]) -> list[np.ndarray]:
        """Landmarks of every face in ``frame``.

        Parameters
        ----------
        frame: (H, W, 3) uint8 RGB.
        index: frame number (schedules the periodic searches for new faces).
        known: boxes ``x0, y0, x1, y1`` of faces recently tracked, to look for again if FaceMesh lost them.

        Returns
        -------
        list of (478, 3) float32 landmark arrays in pixels.
        """
        h, w = frame.shape[:2]
        if not known and not self._scene_changed("empty", frame, []) and index % self.settings.glance_every:
            # No face followed nor just lost, and the picture as it was when last looked at (a still shot with
            # nobody in it): nothing new to find. Looked at again every ``glance_every`` frames all the same.
            return []
        want = min(self.settings.max_faces, len(known))
        if want > self._video_faces:
            self._video.close()
            self._video, self._video_faces = self._video_mesh(want), want
        res = self._video.process(frame)
        found = [self._to_px(f, w, h) for f in (res.multi_face_landmarks or [])]
        if self._jumped(found, known):
            found = self._measure_afresh(frame, found)
        boxes = [landmark_box(f) for f in found]
        for kb in known:
            if len(found) >= self.settings.max_faces:
                break
            if all(_iou(kb, b) < 0.3 for b in boxes):
                lm = self._in_crop(frame, kb)
                # The crop (twice the lost face's box) may hold a face already found beside it: not a second one.
                if lm is not None and not any(_same_place(landmark_box(lm), b) for b in boxes):
                    found.append(lm)
                    boxes.append(landmark_box(lm))
        if len(found) < self.settings.max_faces:
            if not found:
                # No face: the full-range search, on every frame where one was just lost (``known``), else where the
                # picture changed since it last looked, and every ``redetect_every`` frames whatever the picture.
                if known or self._scene_changed("far", frame, boxes) or index % self.settings.redetect_every == 0:
                    self._add_new_faces(self._detector, frame, found, boxes)
            elif index % self.settings.redetect_every == 0:
                if self._scene_changed("far", frame, boxes):
                    self._add_new_faces(self._detector, frame, found, boxes)
            elif index % self.settings.glance_every == 0:
                if self._scene_changed("near", frame, boxes):
                    self._add_new_faces(self._near, frame, found, boxes)
        return found[: self.settings.max_faces]

    @staticmethod
    def _jumped(found: list[np.ndarray], known: list[np.ndarray]) -> bool:
        """Whether a face FaceMesh followed is far from where it was (a cut to a closer or wider shot of it, a whip
        pan): overlapping a known box, but by less than :data:`JUMP_IOU`."""
        for lm in found:
            best = max((_iou(landmark_box(lm), kb) for kb in known), default=0.0)
            if 0.0 < best < JUMP_IOU:
                return True
        return False

    def _measure_afresh(self, frame: np.ndarray, found: list[np.ndarray]) -> list[np.ndarray]:
        """The faces of ``frame`` measured by a FaceMesh that follows nothing yet, twice over the frame.

        FaceMesh in video mode measures each face in the area where its landmarks of the frame before lay: after a
        cut from a wide shot to a close-up the face overflows that area, and its landmarks came out 22 px off (a
        410 px face; 8.5 px the frame after, 3 the next; steady frames 1-2 px) while it found its way over three
        frames: the mouth drawn there was drawn beside the mouth. Its detector's area (a new graph's first pass)
        gives 2.9 px; a second pass in the area those landmarks make, 1.4. Where the fresh graph finds fewer faces,
        the followed ones stand.
        """
        h, w = frame.shape[:2]
        self._video.close()
        self._video = self._video_mesh(self._video_faces)
        self._video.process(frame)
        res = self._video.process(frame)
        again = [self._to_px(f, w, h) for f in (res.multi_face_landmarks or [])]
        return again if len(again) >= len(found) else found

    def _scene_changed(self, search: str, frame: np.ndarray, boxes: list[np.ndarray]) -> bool:
        """Whether the frame, away from the faces followed, differs from what ``search`` last looked at (and if so,
        it is remembered as what that search looks at now).

        The periodic searches for new faces (2 ms for the near one, 5.5 ms for the full-range one at 720p) found
        nothing new on most frames of a talking head before a still background: a face that comes in changes the
        picture where no followed face is. Compared on every sixteenth pixel's green, smoothed over 3 x 3: a change
        of :data:`SCENE_LEVELS` levels in :data:`SCENE_CELLS` or more places counts (a face 0.1 of a 640 px frame
        wide covers about 16 of them; a compressed still picture's noise stays under 10 levels).
        """
        import cv2

        step = SCENE_STEP
        grey = cv2.blur(np.ascontiguousarray(frame[::step, ::step, 1]), (3, 3)).astype(np.int16)
        before = self._last_seen.get(search)
        changed = before is None or before.shape != grey.shape
        if not changed:
            moved = np.abs(grey - before) >= SCENE_LEVELS
            for b in boxes:  # the followed faces move and talk, with their hair and shoulders: not a new face
                w, h = b[2] - b[0], b[3] - b[1]
                x0, y0 = int(max((b[0] - 0.5 * w) // step, 0)), int(max((b[1] - 0.5 * h) // step, 0))
                moved[y0:, x0:int((b[2] + 0.5 * w) // step) + 2] = False
            changed = int(moved.sum()) >= SCENE_CELLS
        if changed:
            self._last_seen[search] = grey
        return changed

    def _add_new_faces(self, detector, frame: np.ndarray, found: list[np.ndarray], boxes: list[np.ndarray]) -> None:
        """Each face ``detector`` finds in ``frame`` that none of ``boxes`` holds, measured in a crop around it."""
        h, w = frame.shape[:2]
        for d in detector.process(frame).detections or []:
            rb = d.location_data.relative_bounding_box
            db = np.array([rb.xmin * w, rb.ymin * h, (rb.xmin + rb.width) * w, (rb.ymin + rb.height) * h])
            if any(_same_place(db, b) for b in boxes):
                continue
            lm = self._in_crop(frame, db, grow=2.2)
            if lm is not None:
                found.append(lm)
                boxes.append(landmark_box(lm))


class _Linker:
    """Links per-frame detections into tracks by box overlap, unless the face's look jumps (a cut to another face
    in the same place: ``cut_look``, see :class:`TrackerSettings`)."""

    def __init__(self, n_frames: int, max_gap: int, cut_look: float = 0.0, cut_face_look: float = 0.0) -> None:
        self.n = n_frames
        self.max_gap = max_gap
        self.cut_look, self.cut_face_look = cut_look, cut_face_look
        self.frames: dict[int, dict[int, np.ndarray]] = {}  # track id → {frame: landmarks}
        self.last: dict[int, tuple[int, np.ndarray]] = {}  # track id → (frame, box)
        self.next_id = 0
        # track id → its face (box, context_look) as (frame, box, look): every few frames (:data:`LOOK_EVERY`, fewer
        # as a track grows long); and its latest look
        self.looks: dict[int, list[tuple[int, np.ndarray, np.ndarray]]] = {}
        self.look_step: dict[int, int] = {}
        self.last_look: dict[int, np.ndarray] = {}
        self.last_moment: dict[int, tuple[int, np.ndarray, np.ndarray]] = {}
        self.last_face: dict[int, np.ndarray] = {}  # track id → face_look at its latest frame

    def known_boxes(self, index: int) -> list[np.ndarray]:
        return [b for (f, b) in self.last.values() if index - f <= self.max_gap]

    def add(self, index: int, detections: list[np.ndarray], frame: np.ndarray | None = None) -> None:
        """Link ``detections`` of frame ``index`` (``frame``, where given, is where their looks are taken)."""
        live = [(tid, f, b) for tid, (f, b) in self.last.items() if index - f <= self.max_gap]
        boxes = [landmark_box(d) for d in detections]
        looks = [context_look(frame, b) for b in boxes] if frame is not None else [None] * len(detections)
        own = [face_look(frame, b) for b in boxes] if frame is not None else [None] * len(detections)
        pairs = sorted(((_iou(b, boxes[k]), tid, k) for tid, _, b in live for k in range(len(detections))),
                       reverse=True)
        used_t, used_d = set(), set()
        for iou, tid, k in pairs:
            if iou < 0.2 or tid in used_t or k in used_d:
                continue
            if self._cut(tid, looks[k], own[k]):
                continue  # another face where this one was: a cut
            used_t.add(tid)
            used_d.add(k)
            self._put(tid, index, detections[k], boxes[k], looks[k], own[k])
        for k, d in enumerate(detections):
            if k not in used_d:
                self._put(self.next_id, index, d, boxes[k], looks[k], own[k])
                self.next_id += 1

    def moments(self) -> dict[int, list[tuple[int, np.ndarray, np.ndarray]]]:
        """Track id → the moments kept of its face, ``(frame, box, look)`` in frame order, its latest one last."""
        out = {}
        for tid, kept in self.looks.items():
            latest = self.last_moment[tid]
            out[tid] = kept + [latest] if latest[0] != kept[-1][0] else list(kept)
        return out

    def _cut(self, tid: int, look: np.ndarray | None, own: np.ndarray | None) -> bool:
        """Whether a detection looking like ``look`` (and ``own`` inside its box) is another face than track
        ``tid`` was at its latest frame (see :class:`TrackerSettings`' ``cut_look``)."""
        before, before_own = self.last_look.get(tid), self.last_face.get(tid)
        if self.cut_look <= 0 or look is None or own is None or before is None or before_own is None:
            return False
        return look_distance(look, before) > self.cut_look and look_distance(own, before_own) > self.cut_face_look

    def _put(self, tid: int, index: int, lm: np.ndarray, box: np.ndarray, look: np.ndarray | None,
             own: np.ndarray | None = None) -> None:
        new = tid not in self.frames
        self.frames.setdefault(tid, {})[index] = lm
        self.last[tid] = (index, box)
        if look is not None:
            kept = self.looks.setdefault(tid, [])
            step = self.look_step.setdefault(tid, LOOK_EVERY)
            if new or not kept or index - kept[-1][0] >= step:
                kept.append((index, box, look))
                if len(kept) > LOOKS_KEPT:  # a long track: every other one, at twice the step from now on
                    self.looks[tid], self.look_step[tid] = kept[::2], 2 * step
            self.last_look[tid] = look
            self.last_moment[tid] = (index, box, look)
        if own is not None:
            self.last_face[tid] = own


def face_look(frame: np.ndarray, box: np.ndarray) -> np.ndarray:
    """(8, 8, 3) float32 Lab (L in 0..100) of the face alone: its upper middle, brows to nose and cheek to cheek
    (skin, eyes, brows, glasses; not the mouth, which speech changes, nor the hair and background around the face,
    which :func:`context_look` holds and which show in the box's corners beside a round face)."""
    bw, bh = box[2] - box[0], box[3] - box[1]
    return _lab_cells(frame, box[0] + 0.15 * bw, box[1] + 0.15 * bh, box[2] - 0.15 * bw, box[1] + 0.6 * bh, 8)


def look_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean Lab dE between two looks (:func:`context_look`) over the cells both have; NaN where none (neither
    alike nor unlike: compared, it is never over a limit nor under one)."""
    d = float(_look_distances(a, b[None])[0])
    return d if np.isfinite(d) else float("nan")


def context_look(frame: np.ndarray, box: np.ndarray) -> np.ndarray:
    """(16, 16, 3) float32 Lab (L in 0..100) of a face and what lies around it: the square twice the face box's
    larger side, centred on it (hair, shoulders, the background beside), at 16 x 16."""
    cx, cy = 0.5 * (box[0] + box[2]), 0.5 * (box[1] + box[3])
    r = max(box[2] - box[0], box[3] - box[1], 2.0)
    return _lab_cells(frame, cx - r, cy - r, cx + r, cy + r, 16)


def _lab_cells(frame: np.ndarray, x0: float, y0: float, x1: float, y1: float, cells: int) -> np.ndarray:
    """(cells, cells, 3) float32 Lab (L in 0..100) of the frame's area ``x0..x1, y0..y1`` (clipped to the frame;
    NaN where less than 2 px is left)."""
    import cv2

    h, w = frame.shape[:2]
    x0, y0, x1, y1 = int(max(x0, 0)), int(max(y0, 0)), int(min(x1, w)), int(min(y1, h))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return np.full((cells, cells, 3), np.nan, np.float32)
    # Every k-th pixel (about 4 x 4 of them for each cell), averaged into the cell: 0.07 ms for a 1080p face's
    # 16 x 16 surroundings, where the area average of every pixel took 2.2.
    k = max(1, min(x1 - x0, y1 - y0) // (4 * cells))
    small = cv2.resize(np.ascontiguousarray(frame[y0:y1:k, x0:x1:k]), (cells, cells), interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    return lab * np.array([100 / 255, 1, 1], np.float32) - np.array([0, 128, 128], np.float32)


def absorb_blips(frames: dict[int, dict[int, np.ndarray]], min_len: int) -> dict[int, dict[int, np.ndarray]]:
    """Tracks shorter than ``min_len`` frames that fill a hole of another track, at its place, given back to it.

    A camera flash changes a face's look for a frame or two as a cut does (:class:`TrackerSettings`' ``cut_look``):
    those frames became a track of their own, dropped as too short, and the speaker went unsynced there, while the
    face before and after the flash was one track. A short track whose first frame follows one of another track's
    (within two frames) and whose last frame precedes another of its frames, with its boxes overlapping that
    track's on both sides, is that face.
    """
    out = {tid: dict(fr) for tid, fr in frames.items()}
    for tid, fr in frames.items():
        if len(fr) >= min_len:
            continue
        a, b = min(fr), max(fr)
        for oid, other in out.items():
            if oid == tid or len(other) < min_len or any(k in other for k in fr):
                continue
            before = [k for k in range(a - 2, a) if k in other]
            after = [k for k in range(b + 1, b + 3) if k in other]
            if before and after and _iou(landmark_box(other[before[-1]]), landmark_box(fr[a])) >= 0.2 \
                    and _iou(landmark_box(other[after[0]]), landmark_box(fr[b])) >= 0.2:
                other.update(fr)
                del out[tid]
                break
    return out


def rejoin_tracks(frames: dict[int, dict[int, np.ndarray]], looks: dict[int, list[tuple[int, np.ndarray, np.ndarray]]],
                  most_unlike: float) -> dict[int, dict[int, np.ndarray]]:
    """Tracks joined where a face comes back as it was: the same face after a cutaway.

    A face gone for longer than the linker waits (a cutaway, another shot) comes back as a new track, and a sync
    follows one track: the speaker after a cutaway was left unsynced (a clip whose talking head returned after a
    10 s cutaway had one half drawn, or none where the dub ended first). A later track is the same face as an
    earlier one that had ended before it began when it comes back as that face was at some moment of it: at its
    place (centres within half a face), size (within 1.5x) and look (:func:`context_look`, mean Lab dE below
    ``most_unlike``), compared between the first :data:`RETURN_LOOKS` moments kept of the later track and every one
    kept of the earlier ones. The face as it left alone was not enough: a speaker who turned her head before a
    cutaway and came back facing the camera differed from her last look by 18; one whose last shot was a close-up
    came back in the wide shot she had started in; each stayed a face of its own. On six real talking heads, looks of
    one clip's face 4 s apart differed by 2.7-7.7 at the nearest (by up to 19 at a given pair of moments); two
    different people, each framed as a centred talking head, by 20.6 at the nearest: a face that looks less alike
    than ``most_unlike`` stays a face of its own (a wrong join would lend one person's mouth to another).

    Parameters
    ----------
    frames: track id → {frame: landmarks}.
    looks: track id → moments kept of its face as it went, ``(frame, box, look)`` in frame order.
    most_unlike: the largest dE taken as the same face; 0 joins nothing.

    Returns
    -------
    track id → {frame: landmarks}, later tracks merged into the earlier ones they continue.
    """
    if most_unlike <= 0 or len(frames) < 2:
        return frames
    order = sorted(frames, key=lambda t: (min(frames[t]), -len(frames[t])))  # at one start, the longest first
    # Every moment kept, of every track taken so far, side by side (a film's hundreds of shots are compared in a
    # few array operations per track, not pair by pair in Python: 200 tracks took 4.6 s so).
    total = sum(len(looks.get(t, [])) for t in frames)
    boxes = np.zeros((total, 4))
    kept_looks = np.zeros((total, *LOOK_SHAPE), np.float32)
    coarse = np.zeros((total, 4, 4, 3), np.float32)  # each look's 4 x 4 block means: a bound to prune by
    owner = np.zeros(total, np.int64)  # the group each moment belongs to
    alive = np.zeros(total, bool)  # compared with: a group keeps at most GROUP_MOMENTS, spread over its time
    members: dict[int, list[int]] = {}  # group → its moments alive, in the order taken
    used = 0
    last = np.full(max(frames) + 1, -1, np.int64)  # group → its last frame (a moment's group has one)
    groups: dict[int, dict[int, np.ndarray]] = {}
    for tid in order:
        fr = frames[tid]
        start = min(fr)
        moments = looks.get(tid, [])
        best, best_d = None, most_unlike
        earlier = np.flatnonzero(alive[:used] & (last[owner[:used]] < start))
        for _, box, look in moments[:RETURN_LOOKS] if len(earlier) else []:
            there = earlier[_alike_places(box, boxes[earlier])]
            # The blocks' distance is never more than the cells' (the mean of a norm is at least the norm of the
            # mean): a moment whose blocks are already too unlike is not looked at cell by cell.
            there = there[_look_distances(_blocks(look), coarse[there]) < best_d] if len(there) else there
            if not len(there):
                continue
            d = _look_distances(look, kept_looks[there])
            k = int(np.argmin(d))
            if d[k] < best_d:
                best, best_d = int(owner[there[k]]), float(d[k])
        gid = tid if best is None else best
        groups.setdefault(gid, {}).update(fr)
        mine = members.setdefault(gid, [])
        for _, box, look in moments:
            boxes[used], kept_looks[used], coarse[used], owner[used], alive[used] = box, look, _blocks(look), gid, True
            mine.append(used)
            used += 1
        if len(mine) > GROUP_MOMENTS:  # every other one given up (a face seen in many shots)
            alive[mine[1::2]] = False
            members[gid] = mine[::2]
        last[gid] = max(last[gid], max(fr))
    return groups


def _alike_places(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n,) bool: whether face box ``a`` and each of boxes ``b`` ((n, 4)) are at one place (centres within half a
    face) and size (within 1.5x)."""
    size = max(a[2] - a[0], a[3] - a[1])
    other = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
    centre = np.hypot(0.5 * (a[0] + a[2] - b[:, 0] - b[:, 2]), 0.5 * (a[1] + a[3] - b[:, 1] - b[:, 3]))
    big, small = np.maximum(size, other), np.minimum(size, other)
    return (centre <= 0.5 * big) & (big <= 1.5 * small)


def _blocks(look: np.ndarray) -> np.ndarray:
    """(4, 4, 3) the means of a look's 4 x 4 blocks of cells (NaN where a block has no cell).

    Summed and counted here, not ``np.nanmean``: its warning for an empty block would want ``catch_warnings``,
    which swaps process-wide state under the app's other threads (see :mod:`~..media.warnings`)."""
    cells = look.reshape(4, LOOK_SHAPE[0] // 4, 4, LOOK_SHAPE[1] // 4, 3)
    seen = np.isfinite(cells)
    count = seen.sum(axis=(1, 3))
    total = np.where(seen, cells, 0.0).sum(axis=(1, 3))
    return np.where(count > 0, total / np.maximum(count, 1), np.nan).astype(np.float32)


def _look_distances(look: np.ndarray, others: np.ndarray) -> np.ndarray:
    """(n,) :func:`look_distance` from ``look`` to each of ``others`` ((n, ...) of its shape); inf where no cell is
    shared."""
    d = np.linalg.norm(others - look, axis=-1).reshape(len(others), -1)
    ok = np.isfinite(d)
    count = ok.sum(axis=1)
    return np.where(count > 0, np.where(ok, d, 0.0).sum(axis=1) / np.maximum(count, 1), np.inf)


def track_faces(frames: Iterable[tuple[int, np.ndarray]], n_frames: int, fps: float, width: int, height: int,
                settings: TrackerSettings = TrackerSettings(), advance: Callable[[int], None] | None = None,
                keep: Callable[[int, np.ndarray, list[np.ndarray]], None] | None = None) -> ClipFaces:
    """Track every face through a stream of frames.

    Parameters
    ----------
    frames:
        ``(index, (H, W, 3) uint8 RGB)`` in timeline order (e.g. ``VideoReader.iter_frames()``).
    n_frames, fps, width, height:
        The clip's timeline and frame size.
    advance:
        Called with 1 after each frame (progress and cancellation: it may raise).
    keep:
        Called with ``(index, frame, detections)`` for every frame (e.g. to keep crops while the frame is
        decoded anyway); ``detections`` are the raw ``(478, 3)`` landmarks, as stored in the tracks' ``raw``.
        Called in frame order from one background thread, a few frames behind the tracking; every call has
        returned when this function does (its error raised here).

    Returns
    -------
    ClipFaces
        Tracks renumbered 0, 1, ... by first appearance, smoothed; tracks shorter than
        ``settings.min_track_s`` dropped.
    """
    detector = FaceDetector(settings)
    linker = _Linker(n_frames, max(1, int(round(settings.max_gap_s * fps))), settings.cut_look,
                     settings.cut_face_look)
    processed = 0
    # ``keep`` runs in a thread of its own, in frame order, a few frames behind: the frames wait for FaceMesh on
    # this thread (the pass's critical path), and keeping crops (~0.5 ms a 720p frame) need not add to it.
    kept_later = InOrder(keep, depth=4, name="keep") if keep is not None else None
    try:
        for index, frame in frames:
            found = detector.detect(frame, index, linker.known_boxes(index))
            linker.add(index, found, frame)
            if kept_later is not None:
                kept_later.put(index, frame, found)
            processed += 1
            if advance is not None:
                advance(1)
        if kept_later is not None:
            kept_later.finish()
    finally:
        if kept_later is not None:
            kept_later.abandon()
        detector.close()
    # A short range is not noise: the minimum track length never exceeds what was looked at.
    min_len = max(1, min(max(3, int(round(settings.min_track_s * fps))), processed))
    joined = rejoin_tracks({tid: fr for tid, fr in absorb_blips(linker.frames, min_len).items() if len(fr) >= min_len},
                           linker.moments(), settings.rejoin_look)
    kept = sorted((min(fr), tid) for tid, fr in joined.items())
    tracks: dict[int, FaceTrack] = {}
    for new_id, (_, tid) in enumerate(kept):
        raw = np.full((n_frames, N_LANDMARKS, 3), np.nan, np.float32)
        present = np.zeros(n_frames, bool)
        for f, lm in joined[tid].items():
            if f < n_frames:
                raw[f] = lm
                present[f] = True
        smooth = smooth_landmarks(np.nan_to_num(raw), present, fps, settings.smoothing)
        smooth[~present] = np.nan
        tracks[new_id] = FaceTrack(new_id, smooth, raw, present)
    return ClipFaces(tracks, n_frames, fps, width, height, settings_key=settings.key())
