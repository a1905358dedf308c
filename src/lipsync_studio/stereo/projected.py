"""Faces in a VR clip, found and synced in flat perspective views of the sphere (see :mod:`.projection`).

A face in a 360 or VR180 picture is bent by the projection, the more the farther it is from the picture's
centre; tracked and warped as if it were flat, its mouth would be drawn in the wrong shape. So:

1. :meth:`ProjectedFaces.find` looks for faces in perspective views spread over the sphere (a few frames of
   the left eye), and turns the speaker's (the largest face's) detections into a direction and a size;
2. one perspective view per eye is made around that direction, the same for both eyes (:meth:`views`): in it
   the face looks as in a flat clip, so tracking, syncing and carrying the change to the other eye run there
   unchanged, and the two views are a stereo pair (same orientation, cameras a baseline apart);
3. :meth:`paste` maps the pixels the sync changed back into each eye's projection; every other pixel of the
   eye stays as it was.

A one-eye (monoscopic) 360 clip is the simple case of the same: one projection, one view, nothing carried to
another eye (``ProjectedFaces(projection)``, :meth:`ProjectedFaces.for_one_eye`).

The mesh of a VR clip's face is therefore in the metric space of the perspective view it was found in (a
pinhole camera of :attr:`PerspectiveView.focal` px).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from ..media.video import changed_pixels
from .projection import PerspectiveView, SphereProjection, lonlat_to_dir, projection_for, view_around


@dataclass(frozen=True)
class FoundFace:
    """A face seen in the sphere: its direction (3,), its angular width (radians), how many sampled frames
    saw it."""

    direction: np.ndarray
    angle: float
    seen: int


def search_views(proj: SphereProjection, fov_deg: float = 80.0, size: int = 320) -> list[PerspectiveView]:
    """Perspective views that together cover what ``proj`` shows, overlapping by half a view (so a face up to
    half the field of view across is whole in one: a close-up's face spans 30-40 degrees)."""
    ys, xs = np.mgrid[0:proj.height:8, 0:proj.width:8].astype(np.float64)
    d = proj.to_direction(xs, ys)
    ok = np.isfinite(d).all(-1)
    lon = np.degrees(np.arctan2(d[ok][:, 0], d[ok][:, 2]))
    lat = np.degrees(np.arcsin(np.clip(-d[ok][:, 1], -1, 1)))
    step = 0.5 * fov_deg
    views = []
    full_circle = np.ptp(lon) > 300
    lo, hi = (-180.0, 180.0 - step) if full_circle else (lon.min() + fov_deg / 3, lon.max() - fov_deg / 3)
    yaws = np.arange(lo, hi + 1e-6, step) if hi > lo else np.array([0.5 * (lon.min() + lon.max())])
    plo, phi = lat.min() + fov_deg / 3, lat.max() - fov_deg / 3
    pitches = np.arange(0.0, phi + 1e-6, step)
    pitches = np.concatenate([-np.arange(step, -plo + 1e-6, step)[::-1], pitches]) if plo < 0 else pitches
    for p in pitches:
        for y in yaws:
            views.append(PerspectiveView(math.radians(float(y)), math.radians(float(p)), math.radians(fov_deg), size))
    return views


class ProjectedFaces:
    """Finding, viewing and putting back a face in a VR clip's eyes (two, or the one of a monoscopic clip).

    Parameters
    ----------
    left, right : SphereProjection
        Each eye's projection (:func:`.projection.projection_for`); ``right`` None for a one-eye clip (360 without
        stereo): then the right eye's arguments and results are None throughout.
    """

    def __init__(self, left: SphereProjection, right: SphereProjection | None = None) -> None:
        self.projections = (left, right)
        self.view: PerspectiveView | None = None
        self.right_view: PerspectiveView | None = None
        self.face: FoundFace | None = None

    @classmethod
    def for_clip(cls, info) -> "ProjectedFaces | None":
        """For a :class:`~.layout.StereoInfo` whose file declares a sphere projection; None for a flat clip."""
        meta = getattr(info, "vr", None)
        if meta is None or not meta.spherical:
            return None
        left = projection_for(meta, info.eye_width, info.eye_height, 0)
        right = projection_for(meta, info.eye_width, info.eye_height, 1)
        if left is None or right is None:
            return None
        return cls(left, right)

    @classmethod
    def for_one_eye(cls, meta, width: int, height: int) -> "ProjectedFaces | None":
        """For a monoscopic clip (``width`` x ``height`` px) whose :class:`~lipsync_studio.media.vrmeta.VRMetadata`
        ``meta`` declares a sphere projection and no stereo packing; None for a flat or stereo clip, or a
        projection this app cannot map."""
        if meta is None or not meta.spherical or meta.layout not in (None, "mono"):
            return None
        proj = projection_for(meta, width, height, 0)
        return cls(proj) if proj is not None else None

    def find(self, frames: Iterable, fov_deg: float = 80.0, min_confidence: float = 0.5
             ) -> FoundFace | None:
        """Look for faces in the left eye's ``frames`` (a few, spread over the clip) through perspective views;
        keep the one seen largest and most often, and make :attr:`view` around it. ``frames`` may be
        ``(left, right)`` pairs: then :attr:`right_view` is rectified to the left view (:meth:`rectify`).

        Returns
        -------
        FoundFace or None
            None when no view of any frame shows a face.
        """
        from ..face.tracker import _import_mediapipe

        mp = _import_mediapipe()
        proj = self.projections[0]
        views = search_views(proj, fov_deg)
        hits: list[tuple[np.ndarray, float]] = []
        frames_kept = []
        with mp.solutions.face_detection.FaceDetection(model_selection=1,
                                                       min_detection_confidence=min_confidence) as det:
            for eye in frames:
                if isinstance(eye, tuple):  # (left, right): the right eye is for rectify
                    frames_kept.append(eye)
                    eye = eye[0]
                for v in views:
                    img = np.ascontiguousarray(v.render(eye, proj))
                    res = det.process(img)
                    for d in res.detections or []:
                        b = d.location_data.relative_bounding_box
                        cx, cy = (b.xmin + b.width / 2) * v.size, (b.ymin + b.height / 2) * v.size
                        # A face cut by the view's edge is seen whole in a neighbouring view.
                        if b.xmin < 0.02 or b.ymin < 0.02 or b.xmin + b.width > 0.98 or b.ymin + b.height > 0.98:
                            continue
                        direction = v.rays(np.array(cx), np.array(cy))
                        hits.append((direction, 2 * math.atan(0.5 * b.width * v.size / v.focal)))
        if not hits:
            return None
        dirs = np.array([h[0] for h in hits])
        angles = np.array([h[1] for h in hits])
        # Group detections of one face (within its own width of each other); the biggest group of the largest.
        best, best_score = None, -1.0
        for i in range(len(hits)):
            near = np.arccos(np.clip(dirs @ dirs[i], -1, 1)) < max(angles[i], 0.05)
            score = near.sum() * np.median(angles[near])
            if score > best_score:
                best, best_score = near, score
        mean = dirs[best].mean(0)
        face = FoundFace(mean / np.linalg.norm(mean), float(np.median(angles[best])), int(best.sum()))
        self.face = face
        self.view = self.view_for(face)
        self.right_view = self.view
        for eye in frames_kept:
            self.rectify(eye[0], eye[1])
            break
        return face

    def rectify(self, left: np.ndarray, right: np.ndarray, rounds: int = 2) -> tuple[float, float]:
        """Make the right eye's view a rectified partner of the left one at the face's depth.

        Two views turned the same way from cameras a baseline apart differ, off the baseline's perpendicular,
        by more than a horizontal shift: the nearer camera sees the face larger, so the rows drift apart away
        from the view's centre. The carry to the other eye (:mod:`.carry`) needs rows that match, so the right
        view's zoom and vertical principal point are set from the face's own points (sparse matches between the
        two views): afterwards a point of the face lies on the same row in both. Returns the (scale, row
        offset) removed in the last round.
        """
        import cv2

        v = self.view
        scale, offset = 1.0, 0.0
        for _ in range(rounds):
            vl = v.render(left, self.projections[0])
            vr = self.right_view.render(right, self.projections[1])
            gl = cv2.cvtColor(vl, cv2.COLOR_RGB2GRAY)
            gr = cv2.cvtColor(vr, cv2.COLOR_RGB2GRAY)
            half = 0.5 * self.face.angle * v.focal * 1.3
            c = 0.5 * (v.size - 1)
            mask = np.zeros_like(gl)
            cv2.rectangle(mask, (int(c - half), int(c - half)), (int(c + half), int(c + 1.3 * half)), 255, -1)
            pts = cv2.goodFeaturesToTrack(gl, 300, 0.005, 3, mask=mask, blockSize=5)
            if pts is None or len(pts) < 12:
                break
            q, st, _ = cv2.calcOpticalFlowPyrLK(gl, gr, pts, None, winSize=(21, 21), maxLevel=3)
            b, st2, _ = cv2.calcOpticalFlowPyrLK(gr, gl, q, None, winSize=(21, 21), maxLevel=3)
            ok = (st[:, 0] == 1) & (st2[:, 0] == 1) & (np.linalg.norm(b[:, 0] - pts[:, 0], axis=1) < 0.5)
            if ok.sum() < 12:
                break
            # Rows measured from the same origin in both views: the carry needs equal rows, not equal offsets.
            yl, yr = pts[ok, 0, 1].astype(np.float64) - c, q[ok, 0, 1].astype(np.float64) - c
            # yr = scale * yl + offset, robustly (a few bad matches on the background)
            a = np.stack([yl, np.ones_like(yl)], 1)
            w = np.ones(len(yl))
            for _ in range(4):
                (scale, offset), *_ = np.linalg.lstsq(a * w[:, None], yr * w, rcond=None)
                r = np.abs(yr - a @ (scale, offset))
                w = (r < max(3 * np.median(r), 0.3)).astype(np.float64)
            rv = self.right_view
            self.right_view = PerspectiveView(rv.yaw, rv.pitch, rv.fov, rv.size, rv.zoom / scale,
                                              (rv.shift[0], (rv.shift[1] - offset) / scale))
        return float(scale), float(offset)

    def view_for(self, face: FoundFace, face_share: float = 0.3, min_face_px: int = 120) -> PerspectiveView:
        """The view the face is synced in: centred on it, the face a ``face_share`` of its width, at least the
        eye's own pixel density and the face at least ``min_face_px`` wide (FaceMesh needs that)."""
        v = view_around(self.projections[0], face.direction, face.angle, face_share=face_share)
        size = max(v.size, int(math.ceil(min_face_px / face_share)))
        return PerspectiveView(v.yaw, v.pitch, v.fov, min(size + size % 2, 640))

    def look_at(self, yaw_deg: float, pitch_deg: float, angle_deg: float) -> PerspectiveView:
        """Set the view by hand (a face at a known direction and width, degrees)."""
        self.face = FoundFace(lonlat_to_dir(math.radians(yaw_deg), math.radians(pitch_deg)), math.radians(angle_deg),
                              0)
        self.view = self.right_view = self.view_for(self.face)
        return self.view

    def views(self, left: np.ndarray, right: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """The (left, right) perspective views of one pair of eyes: ``(size, size, 3)`` each (the right one None
        for a one-eye clip)."""
        vl = self.view.render(left, self.projections[0])
        if self.projections[1] is None or right is None:
            return vl, None
        return vl, self.right_view.render(right, self.projections[1])

    def paste_left(self, left: np.ndarray, before: np.ndarray, after: np.ndarray, whole: bool = True
                   ) -> tuple[np.ndarray, tuple[int, int, int, int] | None]:
        """The left eye with its view's changed pixels mapped back, and the box they may have changed (None: none;
        ``left`` is returned as it is); ``whole`` False: the picture holds that box alone
        (:meth:`~.projection.PerspectiveView.paste_box`)."""
        if after is before:
            return left, None
        return self.view.paste_box(left, self.projections[0], after, changed_pixels(before, after), whole=whole)

    def reads(self, eye: int = 0) -> tuple[int, int, int, int] | None:
        """The pixels of ``eye`` (0 left, 1 right) :meth:`views` and :meth:`paste` read (``x0, y0, x1, y1``), or
        None when its view sees nothing (or the clip has no such eye)."""
        proj, view = self.projections[eye], (self.view, self.right_view)[eye]
        return None if proj is None or view is None else view.reads(proj)

    def paste(self, left: np.ndarray, right: np.ndarray, views_before: tuple[np.ndarray, np.ndarray],
              views_after: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The eyes with each view's changed pixels mapped back (unchanged eyes are returned as they are)."""
        (new_left, _), (new_right, _) = self.paste_boxes(left, right, views_before, views_after)
        return new_left, new_right

    def paste_boxes(self, left: np.ndarray, right: np.ndarray, views_before: tuple[np.ndarray, np.ndarray],
                    views_after: tuple[np.ndarray, np.ndarray], whole: bool = True) -> tuple[tuple, tuple]:
        """:meth:`paste`, each eye with the box of its pixels the paste may have changed: ``((left, box), (right,
        box))``, a box None where the eye is returned as it is; ``whole`` False: each eye returned holds its box
        alone (:meth:`~.projection.PerspectiveView.paste_box`)."""
        out = []
        for eye, proj, view, before, after in zip((left, right), self.projections, (self.view, self.right_view),
                                                   views_before, views_after):
            if after is before or eye is None:
                out.append((eye, None))
                continue
            out.append(view.paste_box(eye, proj, after, changed_pixels(before, after), whole=whole))
        return out[0], out[1]

    def frame_view(self, layout: str = "mono"):
        """The left eye's view of every frame of a clip packed as ``layout`` (``mono`` for a one-eye clip), as a
        :class:`~lipsync_studio.face.analysis.FrameView` for the face tracker and the sync measure."""
        from ..face.analysis import FrameView
        from .layout import StereoLayout, split

        view, proj, packing = self.view, self.projections[0], StereoLayout.parse(layout)
        size = view.size
        return FrameView(
            key=f"vr-view={view.yaw:.5f},{view.pitch:.5f},{view.fov:.5f},{size}|eye={packing.value}:0",
            size=lambda w, h: (size, size),
            crop=lambda frame: np.ascontiguousarray(view.render(split(frame, packing)[0], proj)))

    def write_view_clips(self, pairs: Iterable[tuple[int, np.ndarray, np.ndarray | None]], writers,
                         advance: Callable[[int], None] | None = None) -> None:
        """Write each pair's views to ``writers`` (left, right; right None for a one-eye clip, whose pairs are
        ``(index, frame, None)``): the flat clips the sync runs on."""
        wl, wr = writers
        for _, left, right in pairs:
            vl, vr = self.views(left, right)
            wl.write(vl)
            if wr is not None:
                wr.write(vr)
            if advance is not None:
                advance(1)


@dataclass(frozen=True)
class ClipFaceView:
    """The flat view a VR clip's face is tracked and meshed in (``mesh`` on a 360 or VR180 clip).

    Attributes
    ----------
    frame_view: the view as a :class:`~lipsync_studio.face.analysis.FrameView` of the clip's frames (the left eye
        of a stereo clip, rendered through the projection): what the tracker and the mesher see.
    view: the pinhole view (:class:`.projection.PerspectiveView`); meshes are in its metric space.
    projection: the clip's projection name; layout: its packing (``mono``, ``tb``, ``sbs`` ...).
    """

    frame_view: object
    view: PerspectiveView
    projection: str
    layout: str

    def describe(self) -> dict:
        """What ``sequence.json`` records: where the view looks and how wide it is (degrees), its size and focal
        length (px), which eye of which projection it was rendered from."""
        v = self.view
        return {"projection": self.projection, "eye": "left" if self.layout != "mono" else "the only one",
                "yaw_deg": round(math.degrees(v.yaw), 3), "pitch_deg": round(math.degrees(v.pitch), 3),
                "fov_deg": round(math.degrees(v.fov), 3), "size_px": v.size, "focal_px": round(v.focal, 3),
                "space": "a pinhole camera at the sphere's centre looking along yaw/pitch (yaw right, pitch up); "
                         "the meshes are in millimetres in that camera's frame"}


def clip_face_view(path, samples: int = 5) -> ClipFaceView | None:
    """Find the face of a clip whose file declares a sphere projection and make the flat view around it.

    The face is searched in perspective views over the sphere in ``samples`` frames spread over the clip (the
    left eye of a stereo clip), as the stereo sync does (:meth:`ProjectedFaces.find`).

    Returns
    -------
    ClipFaceView or None
        None for a flat clip, a projection this app cannot map, or when no view shows a face.
    """
    from ..media.video import VideoReader
    from ..media.vrmeta import read_vr_metadata
    from .layout import StereoLayout, split

    meta = read_vr_metadata(path)
    if not meta.spherical:
        return None
    with VideoReader(path) as reader:
        info = reader.info
        layout = StereoLayout.parse(meta.layout) if meta.layout else StereoLayout.MONO
        ew, eh = layout.eye_size(info.width, info.height)
        proj = projection_for(meta, ew, eh, 0)
        if proj is None:
            return None
        faces = ProjectedFaces(proj, proj)
        picks = sorted({int(k) for k in np.linspace(0, info.n_frames - 1, min(samples, info.n_frames)).round()})
        if faces.find(split(reader.frame(i), layout)[0] for i in picks) is None:
            return None
    return ClipFaceView(faces.frame_view(layout.value), faces.view, meta.projection, layout.value)
