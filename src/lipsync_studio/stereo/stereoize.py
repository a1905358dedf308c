"""2D → stereo: a second eye for a flat talking-head clip, from the speaker's 3D face in every frame.

Depth comes from what the app already knows: the per-frame metric face mesh (:mod:`..face.mesh3d`). Per
frame the mesh's triangles are rasterised into a disparity map (perspective-correct: disparity is affine in
``1/Z``, which is affine across a projected triangle), holes inside the face (mouth, eyes) are filled
smoothly, a head-and-shoulders proxy (hair, ears, neck, body) stands just behind the face's rim with soft
edges, and everything else is a flat background at a chosen disparity. The right eye is then synthesised
from the frame with :func:`.warp.forward_warp` (forward warp, z-buffer,
disocclusions filled from the background side).

Disparity follows parallel virtual cameras: ``d = A / Z + C``, with ``A`` and ``C`` fixed per clip so that
the face's nearest point at its typical distance sits at ``face_disparity`` x width and the background, at
``background_distance`` times the face's distance, at ``background_disparity`` x width. The face keeps its
true relief (a few pixels at 720p), nearer or farther as the head moves. Positive disparity is in front of
the screen (the right eye's image lies to the left of the left eye's).

The same machinery makes stereo test clips with a known disparity (:meth:`Stereoizer.frame` returns it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..job import CancelToken, Job, ProgressCallback, Stage, StageContext, run_collecting_warnings
from ..errors import MediaError, OptionError
from ..face.mesh3d import FaceMesh3D, FaceModel, fill_gaps, mesh_for_frame
from ..face.track import FaceTrack
from ..media.output import check_output_path
from ..media.prefetch import prefetch
from ..media.video import VideoReader, probe_video
from ..media.writer import CONTAINERS, VideoFormat
from .anaglyph import AnaglyphMethod
from .warp import f_w, forward_warp
from .writer import OutputLayout, StereoWriter, stereo_output_paths


@dataclass(frozen=True)
class StereoizeSettings:
    """How much depth a stereoized clip gets.

    Attributes
    ----------
    face_disparity: disparity of the face's nearest point (the nose) at its typical distance, as a fraction
        of the frame width (0.015: 19 px at 1280). Comfortable: 0.01-0.02.
    background_disparity: disparity of the background, as a fraction of the width (0: at the screen plane;
        negative: behind it).
    background_distance: how much farther the background is than the face; sets the face's relief
        (2: a deep face, 10: a flatter one).
    body: put a head-and-shoulders proxy (hair, ears, neck, body) just behind the face's rim.
    """

    face_disparity: float = 0.015
    background_disparity: float = 0.0
    background_distance: float = 3.0
    body: bool = True

    def __post_init__(self) -> None:
        if not -0.1 <= self.background_disparity < self.face_disparity <= 0.1:
            raise OptionError(f"the face's disparity ({100 * self.face_disparity:g}% of the width) must be larger "
                              f"than the background's ({100 * self.background_disparity:g}%), both within ±10%",
                              hint="e.g. --face-disparity 1.5 --background-disparity 0")
        if self.background_distance <= 1.0:
            raise OptionError(f"the background must be farther than the face (distance ratio "
                              f"{self.background_distance:g} given)", hint="use a ratio above 1, e.g. 3")


def rasterize_mesh(points: np.ndarray, values: np.ndarray, triangles: np.ndarray, depth: np.ndarray,
                   shape: tuple[int, int]) -> np.ndarray:
    """Draw per-vertex ``values`` over a triangle mesh's image, interpolated linearly in screen space.

    Parameters
    ----------
    points : np.ndarray
        (N, 2) vertex positions in pixels.
    values : np.ndarray
        (N,) what to interpolate (e.g. disparity, which is affine in screen space for a planar triangle).
    triangles : np.ndarray
        (M, 3) vertex indices.
    depth : np.ndarray
        (N,) distance of each vertex: nearer triangles are drawn over farther ones.
    shape : (H, W)
        The image size.

    Returns
    -------
    np.ndarray
        (H, W) float32, NaN where no triangle covers the pixel centre.
    """
    from ..face.raster import rasterize

    out = np.full(shape, np.nan, np.float32)
    # Painter's order: far triangles first, near ones drawn over them.
    cover = rasterize(points, triangles, shape, order=np.argsort(-depth[triangles].mean(1), kind="stable"))
    out[cover.ys, cover.xs] = cover.interpolate(np.asarray(values, np.float64)[:, None], triangles)[:, 0]
    return out


class Stereoizer:
    """Disparity maps and right eyes for one clip's frames, from its face model.

    Parameters
    ----------
    model : FaceModel
        The clip's canonical face (camera, scale, topology).
    reference_distance : float
        The face's typical distance from the camera (mm); the face's nearest point there gets
        ``settings.face_disparity``.
    settings : StereoizeSettings
        Depth budget.
    """

    def __init__(self, model: FaceModel, reference_distance: float,
                 settings: StereoizeSettings = StereoizeSettings()) -> None:
        self.model, self.settings = model, settings
        self.width, self.height = model.width, model.height
        z_near = float(reference_distance)
        z_bg = z_near * settings.background_distance
        self.near_px = settings.face_disparity * self.width
        self.background_px = settings.background_disparity * self.width
        # d = A / Z + C through (z_near, near_px) and (z_bg, background_px).
        self._a = (self.near_px - self.background_px) / (1.0 / z_near - 1.0 / z_bg)
        self._c = self.background_px - self._a / z_bg

    @classmethod
    def for_track(cls, track: FaceTrack, width: int, height: int,
                  settings: StereoizeSettings = StereoizeSettings()) -> "Stereoizer":
        """A stereoizer for a tracked face: its model, and its median nearest distance as the reference."""
        model = FaceModel.from_track(track, width, height)
        landmarks = fill_gaps(track)
        present = np.flatnonzero(track.present)
        picks = present[np.linspace(0, len(present) - 1, min(len(present), 25)).round().astype(int)]
        nearest = [float(-mesh_for_frame(model, landmarks[i], None).vertices[:, 2].max()) for i in picks]
        return cls(model, float(np.median(nearest)), settings)

    def disparity_of_depth(self, z: np.ndarray) -> np.ndarray:
        """Disparity (px) of points ``z`` mm from the camera."""
        return self._a / np.maximum(np.asarray(z, np.float64), 1e-3) + self._c

    def disparity(self, mesh: FaceMesh3D | None) -> np.ndarray:
        """The (H, W) float32 disparity map of a frame whose face is ``mesh`` (flat background without one)."""
        h, w = self.height, self.width
        bg = self.background_px
        if mesh is None:
            return np.full((h, w), bg, np.float32)
        z = -mesh.vertices[:, 2].astype(np.float64)
        d_vert = self.disparity_of_depth(z)
        pts = mesh.image_points.astype(np.float64)
        face = rasterize_mesh(pts, d_vert, mesh.triangles, z, (h, w))
        covered = np.isfinite(face)
        hull = np.zeros((h, w), np.uint8)
        cv2.fillConvexPoly(hull, cv2.convexHull(np.round(pts * 16).astype(np.int32)), 1, cv2.LINE_8, shift=4)
        inside = hull.astype(bool)
        rim = float(np.percentile(d_vert, 10))
        x0, y0 = pts.min(0)
        x1, y1 = pts.max(0)
        fw, fh = x1 - x0, y1 - y0
        # Holes inside the face (mouth, eyes): a smooth fill from their edges.
        holes = inside & ~covered
        if holes.any():
            bx0, by0 = max(0, int(x0) - 3), max(0, int(y0) - 3)
            bx1, by1 = min(w, int(np.ceil(x1)) + 4), min(h, int(np.ceil(y1)) + 4)
            crop = np.where(covered, face, rim)[by0:by1, bx0:bx1].astype(np.float32)
            filled = cv2.inpaint(crop, holes[by0:by1, bx0:bx1].astype(np.uint8), 3, cv2.INPAINT_TELEA)
            face[by0:by1, bx0:bx1] = np.where(holes[by0:by1, bx0:bx1], filled, face[by0:by1, bx0:bx1])
        face_mask = (inside | covered).astype(np.uint8)
        # Inside the face, the mesh; across a band at its edge, a blend into the proxy, whose level is the
        # face's own edge, so nothing steps at the seam.
        dist = cv2.distanceTransform(face_mask, cv2.DIST_L2, 5)
        edge = np.nan_to_num(face[(dist > 0) & (dist <= 2.5)], nan=rim)
        rim = float(np.median(edge)) if edge.size else rim
        band = max(2.0, 0.08 * fw)
        weight = np.clip(dist / band, 0.0, 1.0)
        out = np.full((h, w), bg, np.float64)
        if self.settings.body:
            cx = 0.5 * (x0 + x1)
            head = np.zeros((h, w), np.uint8)
            cv2.ellipse(head, (int(round(cx)), int(round(y0 + 0.42 * fh))), (int(0.66 * fw), int(0.72 * fh)),
                        0, 0, 360, 1, -1)
            body = np.zeros((h, w), np.uint8)
            neck_y = y1 - 0.15 * fh
            poly = np.array([(cx - 0.32 * fw, neck_y), (cx + 0.32 * fw, neck_y),
                             (cx + 0.4 * fw, y1 + 0.3 * fh), (cx + 1.3 * fw, y1 + 0.65 * fh),
                             (cx + 1.5 * fw, h + fh), (cx - 1.5 * fw, h + fh),
                             (cx - 1.3 * fw, y1 + 0.65 * fh), (cx - 0.4 * fw, y1 + 0.3 * fh)])
            cv2.fillPoly(body, [np.round(poly).astype(np.int32)], 1)
            sigma = max(1.0, 0.05 * fw)
            wh = cv2.GaussianBlur(head.astype(np.float32), (0, 0), sigma)
            wb = cv2.GaussianBlur(body.astype(np.float32), (0, 0), sigma)
            # The body stands a little behind the head.
            out = bg + np.maximum(wh * (rim - bg), wb * 0.8 * (rim - bg))
        else:
            weight = np.clip(cv2.GaussianBlur(face_mask.astype(np.float32), (0, 0), max(1.0, 0.03 * fw)) * 2, 0, 1)
            weight[dist > band] = 1.0
        out = np.where(weight > 0, weight * np.nan_to_num(face, nan=rim) + (1 - weight) * out, out)
        # A light blur removes the rasteriser's stair steps at the face's rim.
        return cv2.GaussianBlur(out.astype(np.float32), (0, 0), 0.8)

    def right_view(self, left: np.ndarray, disparity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The right eye of ``left`` through ``disparity``; returns (right, seen-mask).

        Only the part of the frame whose disparity differs from the background goes through the forward
        warp; the flat background is a plain shift (the same result, much faster).
        """
        h, w = disparity.shape
        bg = self.background_px
        off = np.abs(disparity - bg) > 1e-3
        right = f_w(np.full((h, w), bg, np.float32), left)
        # A shifted background has no source past the frame's edge (the edge column is repeated there).
        src_x = np.arange(w) + bg
        seen = np.broadcast_to((src_x >= -0.5) & (src_x <= w - 0.5), (h, w)).copy()
        if not off.any():
            return right, seen
        rows, cols = np.flatnonzero(off.any(1)), np.flatnonzero(off.any(0))
        m = int(np.ceil(np.abs(disparity).max())) + 3
        r0, r1 = rows[0], rows[-1] + 1
        c0, c1 = max(0, cols[0] - 2 * m), min(w, cols[-1] + 1 + 2 * m)
        part, part_seen, _ = forward_warp(left[r0:r1, c0:c1], disparity[r0:r1, c0:c1])
        # Keep the crop's interior: at its edges sources outside the crop are missing.
        k0 = 0 if c0 == 0 else m
        k1 = (c1 - c0) if c1 == w else (c1 - c0 - m)
        right[r0:r1, c0 + k0:c0 + k1] = part[:, k0:k1]
        seen[r0:r1, c0 + k0:c0 + k1] = part_seen[:, k0:k1]
        return right, seen

    def frame(self, left: np.ndarray, mesh: FaceMesh3D | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(right eye, disparity map, seen-mask) for one frame and its face."""
        disparity = self.disparity(mesh)
        right, seen = self.right_view(left, disparity)
        return right, disparity, seen


# -- the job ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StereoizeOptions:
    """What the user chose for a 2D → stereo conversion.

    Attributes
    ----------
    settings: the depth budget.
    layout: the output layout (full SBS by default: what VR players expect).
    anaglyph: the anaglyph method when ``layout`` is ``anaglyph``.
    fmt: codec and quality.
    face: which face gives the depth (track id; None: the largest).
    vr_name: name full-SBS outputs ``*_LRF_Full_SBS``.
    """

    settings: StereoizeSettings = field(default_factory=StereoizeSettings)
    layout: OutputLayout = OutputLayout.SBS
    anaglyph: AnaglyphMethod = AnaglyphMethod.DUBOIS
    fmt: VideoFormat = field(default_factory=VideoFormat)
    face: int | None = None
    vr_name: bool = False


@dataclass(frozen=True)
class StereoizeResult:
    """What a stereoize job wrote.

    Attributes
    ----------
    outputs: the file(s) written (two for ``separate``); output: the first.
    frames: frames written; layout: the output layout.
    face_disparity_px: the face's nearest point's median disparity over the clip (px).
    background_disparity_px: the background's disparity (px).
    filled_share: share of right-eye pixels no left pixel reached (disocclusions, filled).
    frame_packing: the H.264 frame-packing SEI value written, or None.
    warnings: things the user should know.
    """

    outputs: tuple[Path, ...]
    frames: int
    layout: str
    face_disparity_px: float
    background_disparity_px: float
    filled_share: float
    frame_packing: int | None = None
    warnings: tuple[str, ...] = ()

    @property
    def output(self) -> Path:
        """The (first) file written."""
        return self.outputs[0]


def _open(ctx: StageContext) -> None:
    from ..media.probe import probe

    s = ctx.state
    opts: StereoizeOptions = s["options"]
    info = probe_video(s["video"])
    paths = stereo_output_paths(s["output"], opts.layout, opts.vr_name)
    s["paths"] = [check_output_path(p, inputs=(s["video"],), suffixes=CONTAINERS) for p in paths]
    s["info"] = info
    s["has_audio"] = probe(s["video"])["audio"] is not None
    ctx.advance(1)


def _faces(ctx: StageContext) -> None:
    from ..face.analysis import analyse_faces

    s = ctx.state
    opts: StereoizeOptions = s["options"]
    faces = analyse_faces(s["video"], advance=ctx.advance)
    faces.choose_speaker(opts.face)
    track = faces.speaker_track()
    if track is None:
        raise MediaError("no face was found", path=s["video"],
                         hint="2D → stereo takes its depth from the speaker's face; check that a face is visible")
    s["track"] = track


def _render(ctx: StageContext) -> None:
    s = ctx.state
    opts: StereoizeOptions = s["options"]
    info, track = s["info"], s["track"]
    stereo = Stereoizer.for_track(track, info.width, info.height, opts.settings)
    landmarks = fill_gaps(track)
    audio = info.path if s["has_audio"] else None
    nearest, filled = [], 0
    writer = StereoWriter(s["paths"][0].parent / Path(s["output"]).name, info.fps,
                          info.width, info.height, layout=opts.layout, anaglyph_method=opts.anaglyph, fmt=opts.fmt,
                          audio=audio, audio_seconds=info.duration if audio is not None else None,
                          vr_name=opts.vr_name, audio_at_picture=True, picture=info.picture)
    with writer, VideoReader(info.path) as reader:
        for i, frame in prefetch(reader.iter_frames()):
            mesh = mesh_for_frame(stereo.model, landmarks[i], None, bool(track.present[i]))
            right, disparity, seen = stereo.frame(frame, mesh)
            writer.write(frame, right)
            nearest.append(float(stereo.disparity_of_depth(-mesh.vertices[:, 2].max())))
            filled += int((~seen).sum())
            ctx.advance(1)
    s["result"] = StereoizeResult(tuple(writer.paths), writer.frames_written, opts.layout.value,
                                  float(np.median(nearest)) if nearest else float("nan"), stereo.background_px,
                                  filled / max(1, writer.frames_written * info.width * info.height),
                                  writer.frame_packing)


def build_stereoize_job(video: str | Path, output: str | Path, options: StereoizeOptions | None = None) -> Job:
    """The 2D → stereo conversion as a :class:`Job` (stages ``open``, ``faces``, ``render``)."""
    state: dict[str, Any] = {"video": Path(video), "output": Path(output), "options": options or StereoizeOptions()}
    return Job("stereoize", [
        Stage("open", _open, 1),
        Stage("faces", _faces, lambda st: st["info"].n_frames),
        Stage("render", _render, lambda st: st["info"].n_frames),
    ], state)


def stereoize(video: str | Path, output: str | Path, options: StereoizeOptions | None = None,
              on_progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> StereoizeResult:
    """Make a stereo clip from a 2D talking-head clip (see the module doc).

    Parameters
    ----------
    video : path
        The 2D clip (its sound is kept).
    output : path
        The output asked for (``.mp4``, ``.mov``, ``.mkv``, ``.webm``); full SBS gets the VR name.
    options : StereoizeOptions
        Depth budget, layout, codec, face.

    Raises
    ------
    MediaError
        The clip cannot be read or shows no face.
    OutputError
        The output cannot be written.
    """
    job = build_stereoize_job(video, output, options)
    state, notes = run_collecting_warnings(job, on_progress, cancel)
    result: StereoizeResult = state["result"]
    return StereoizeResult(result.outputs, result.frames, result.layout, result.face_disparity_px,
                           result.background_disparity_px, result.filled_share, result.frame_packing, notes)


#: The same function under a name that does not clash with this module's (for ``from lipsync_studio.stereo import``).
stereoize_clip = stereoize
