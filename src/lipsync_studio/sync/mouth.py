"""The speaker's mouth in a head-normalised frame: shapes to compare, a region to redraw, a space to store.

Per clip, the speaker's reference shape is the median face after aligning every frame on rigid points.
Per frame, a 2D similarity (rotation, scale, translation in the image plane) maps the reference onto the
frame's rigid points; its inverse brings the frame's landmarks into the reference frame, where mouths of
different frames can be compared and exchanged whatever the head does.

The **lower face** is every point below the nose, plus a ring of margin points pushed outward from the jaw
line, so that a chin that drops (or rises) has room to move inside the redrawn region.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..face.smoothing import RIGID_POINTS, reference_shape
from ..face.track import LIPS_INNER, LIPS_OUTER, N_SURFACE, FaceTrack

UPPER_INNER, LOWER_INNER = 13, 14
CORNERS = (61, 291)
EYE_CORNERS = (33, 263)
SUBNASALE = 2
UPPER_LIP_TOP = 0
CHIN = 152
#: The inner lip contour's two halves (corners 78 and 308 belong to the upper one).
UPPER_INNER_LIP = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LOWER_INNER_LIP = (95, 88, 178, 87, 14, 317, 402, 318, 324)
#: Points that follow the lower lip and the jaw when the mouth opens (below the mouth corners).
LOWER_LIP = (146, 91, 181, 84, 17, 314, 405, 321, 375, 95, 88, 178, 87, 14, 317, 402, 318, 324)
#: Points that hold still while the mouth speaks, at many depths: the nose's tip, base and wings, the cheeks beside
#: them, the face's outline at the cheekbones, and the eye corners (for the height). Their layout changes only with
#: the head's turn (the similarity that normalises a frame cannot take that out).
STILL_POINTS = (33, 133, 362, 263, 1, 4, 5, 2, 98, 327, 129, 358, 64, 294, 50, 280, 116, 345, 123, 352, 36, 266, 234, 454, 93, 323)


def never_moves(gap: np.ndarray) -> bool:
    """Whether a clip's mouth, its inner-lip gap per frame ``gap`` (eye distances, NaN where absent), never moves:
    the gap's 5-95 % range under 0.03 (a still photo, a face that never speaks; six real talking heads 0.13-0.22).
    Such a clip shows nothing of how its mouth opens or spreads: a typical mouth stands in."""
    gap = np.asarray(gap, np.float64)
    gap = gap[np.isfinite(gap)]
    return not len(gap) or float(np.ptp(np.percentile(gap, [5, 95]))) < 0.03


def similarity_2d(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(2, 3) matrix of the least-squares 2D similarity mapping ``src`` (N, 2) onto ``dst`` (N, 2)."""
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    den = (a ** 2).sum()
    sa = (a[:, 0] * b[:, 0] + a[:, 1] * b[:, 1]).sum() / den
    sb = (a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]).sum() / den
    m = np.array([[sa, -sb, 0.0], [sb, sa, 0.0]])
    m[:, 2] = md - m[:, :2] @ ms
    return m


def apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine matrix to (N, 2) points."""
    return pts @ m[:, :2].T + m[:, 2]


def invert(m: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine matrix (its 2x2 part inverted in closed form: ``np.linalg.inv`` costs ~0.2 ms a
    call, and a clip's mouth space inverts one per frame)."""
    (a, b), (c, d) = m[:, :2]
    inv = np.array([[d, -b], [-c, a]], np.float64) / (a * d - b * c)
    return np.hstack([inv, -(inv @ m[:, 2])[:, None]])


#: Landmarks of the yaw proxy: the nose tip and the face's outline at the cheekbones (right, left of the image).
NOSE_TIP, CHEEK_R, CHEEK_L = 1, 234, 454


def head_turn(normalized: np.ndarray) -> np.ndarray:
    """A yaw proxy per frame: where the nose tip sits between the cheek outlines, -0.5..0.5 (0: frontal; it
    moves about 0.013 per degree of turn near frontal, by FaceMesh's depth). It agrees with the yaw of FaceMesh's
    eye-corner depths (r 0.99 on six real talking heads).

    Parameters
    ----------
    normalized: (T, 468, 2) landmarks in the reference frame (NaN where absent).

    Returns
    -------
    (T,) float64, NaN where absent.
    """
    x = normalized[:, [NOSE_TIP, CHEEK_R, CHEEK_L], 0].astype(np.float64)
    span = x[:, 2] - x[:, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        turn = (x[:, 0] - x[:, 1]) / span - 0.5
    return np.where(np.abs(span) > 1e-6, turn, np.nan)


@dataclass
class MouthSpace:
    """The speaker's mouths over a clip, in the reference frame.

    Attributes
    ----------
    reference: (468, 2) reference landmarks (pixels of the reference frame).
    eye_dist: distance between the outer eye corners in the reference (the unit of shape features).
    pose: (T, 2, 3) per-frame similarity reference → frame (identity where absent).
    normalized: (T, 468, 2) each frame's landmarks in the reference frame (NaN where absent).
    present: (T,) bool.
    region: indices of the lower-face points (redrawn area).
    jaw: indices of the region's outline points that get margin points.
    triangles: (M, 3) triangles over ``region`` points followed by the margin points (indices into the
        array returned by :meth:`region_points`).
    depth: (T, 468) each landmark's depth in reference pixels (nearer is smaller; NaN where absent), or None.
    """

    reference: np.ndarray
    eye_dist: float
    pose: np.ndarray
    normalized: np.ndarray
    present: np.ndarray
    region: np.ndarray
    jaw: np.ndarray
    triangles: np.ndarray
    depth: np.ndarray | None = None
    _turn_maps: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_track(cls, track: FaceTrack) -> "MouthSpace":
        """Build the mouth space of a face track."""
        import cv2

        lm = np.nan_to_num(track.landmarks[:, :N_SURFACE, :])
        present = track.present.copy()
        ref = reference_shape(lm, present)[:, :2]
        rigid = list(RIGID_POINTS)
        T = len(present)
        pose = np.tile(np.array([[1.0, 0, 0], [0, 1.0, 0]]), (T, 1, 1))
        normalized = np.full((T, N_SURFACE, 2), np.nan)
        depth = np.full((T, N_SURFACE), np.nan)
        for t in np.flatnonzero(present):
            m = similarity_2d(ref[rigid], lm[t, rigid, :2])
            pose[t] = m
            normalized[t] = apply(invert(m), lm[t, :, :2])
            if lm.shape[2] > 2:
                depth[t] = lm[t, :, 2] / np.hypot(m[0, 0], m[1, 0])
        eye = float(np.linalg.norm(ref[EYE_CORNERS[0]] - ref[EYE_CORNERS[1]]))
        # From just under the nose: a smiling upper lip rises to within a tenth of an eye distance of it, and
        # the region's top edge must clear it by the feather's width, or the frame's own lip shows through.
        below = ref[:, 1] > ref[SUBNASALE, 1] + 0.03 * eye
        region = np.flatnonzero(below)
        # The region's outline: its convex hull in the reference; margin points go out from the part of it
        # below the upper lip (room for a dropping chin; none above, where they would reach into the nose).
        hull = cv2.convexHull(ref[region].astype(np.float32), returnPoints=False).ravel()
        jaw = region[hull]
        jaw = jaw[ref[jaw, 1] > ref[UPPER_LIP_TOP, 1]]
        pts = np.vstack([ref[region], cls._margin(ref, jaw, eye)])
        triangles = cls._delaunay(pts)
        return cls(ref, eye, pose, normalized, present, region, jaw, triangles,
                   depth if lm.shape[2] > 2 else None)

    @staticmethod
    def _margin(shape: np.ndarray, jaw: np.ndarray, eye: float) -> np.ndarray:
        """Margin points: the outline pushed outward (away from the mouth centre) by 0.22 eye distances."""
        centre = shape[list(LIPS_OUTER)].mean(0)
        d = shape[jaw] - centre
        d /= np.linalg.norm(d, axis=1, keepdims=True) + 1e-9
        return shape[jaw] + d * 0.22 * eye

    @staticmethod
    def _delaunay(pts: np.ndarray) -> np.ndarray:
        """(K, 3) Delaunay triangles of ``pts`` as point indices (OpenCV's; scipy.spatial costs 0.6 s to import)."""
        import cv2

        # Subdiv2D starts from a triangle around its rectangle: far enough away, the thin triangles along the
        # hull stay (a tight rectangle loses some of them to its virtual corners).
        span = float(np.ptp(pts, axis=0).max()) + 1.0
        lo = pts.min(0) - 200 * span
        hi = pts.max(0) + 200 * span
        sub = cv2.Subdiv2D((int(np.floor(lo[0])), int(np.floor(lo[1])), int(np.ceil(hi[0] - lo[0])) + 1,
                            int(np.ceil(hi[1] - lo[1])) + 1))
        p32 = pts.astype(np.float32)
        ids = {}
        for k, (x, y) in enumerate(p32):
            vertex = sub.insert((float(x), float(y)))
            ids.setdefault(vertex, k)  # a repeated point is one vertex: the first index stands for it
        # Subdiv2D numbers its vertices from 4 (0-3 are its virtual outer triangle's corners).
        tris = []
        for e in sub.getTriangleList():
            corners = []
            for x, y in e.reshape(3, 2):
                v = sub.findNearest((float(x), float(y)))[0]
                corners.append(ids.get(v, -1))
            if min(corners) >= 0:
                tris.append(corners)
        tris = np.asarray(tris, np.int32).reshape(-1, 3)
        # Subdiv2D may still drop a sliver along the hull: then the triangles do not tile the hull, and
        # qhull (exact, slow to import) does it.
        a, b, c = (pts[tris[:, k]].astype(np.float64) for k in range(3))
        covered = 0.5 * np.abs(np.cross(b - a, c - a)).sum()
        h = pts[cv2.convexHull(p32, returnPoints=False).ravel()].astype(np.float64)
        hull_area = 0.5 * abs(np.dot(h[:, 0], np.roll(h[:, 1], -1)) - np.dot(h[:, 1], np.roll(h[:, 0], -1)))
        if len(tris) == 0 or abs(covered - hull_area) > 1e-7 * max(hull_area, 1.0):
            from scipy.spatial import Delaunay

            return Delaunay(pts).simplices.astype(np.int32)
        return tris

    def region_points(self, shape: np.ndarray) -> np.ndarray:
        """(R + J, 2) the region's points of a full (468, 2) shape, then its margin points."""
        return np.vstack([shape[self.region], self._margin(shape, self.jaw, self.eye_dist)])

    # -- the head's turn ------------------------------------------------------------------------------
    def turn_map(self, donor: int, target: int) -> np.ndarray:
        """(5,) coefficients ``c`` that put frame ``donor``'s face in frame ``target``'s head turn, in the
        reference frame: x' = c0 + c1 x + c2 z and y' = c3 + c4 y for a donor point at (x, y, z) (z: its depth,
        nearer is smaller); fitted on :data:`STILL_POINTS`, which lie at many depths (nose tip to cheek outline).

        A head turned about its vertical axis moves what is near (the lips, the nose) across the face against
        what is far (the cheeks' outline), and narrows the face; the similarity that normalises each frame fits
        one scale and a roll, so a turned donor's mouth drawn on a frontal head sits off-centre, its corners at
        the wrong places and the whole a little too tall. ``(0, 1, 0, 0, 1)`` (no change) where depth is
        unknown or the fit is not plausible.
        """
        key = (int(donor), int(target))
        c = self._turn_maps.get(key)
        if c is None:
            if len(self._turn_maps) >= 1 << 16:  # a long clip previewed frame by frame: bounded
                self._turn_maps.clear()
            c = self._turn_maps[key] = self._fit_turn(donor, target)
        return c

    def _fit_turn(self, donor: int, target: int) -> np.ndarray:
        """:meth:`turn_map`, fitted (each pair once: the engine asks for it when it plans and again when it draws,
        two least-squares fits that were half a millisecond of every drawn frame)."""
        ident = np.array([0.0, 1.0, 0.0, 0.0, 1.0])
        if self.depth is None:
            return ident
        idx = list(STILL_POINTS)
        d, t, zd = self.normalized[donor, idx], self.normalized[target, idx], self.depth[donor, idx]
        if not (np.isfinite(d).all() and np.isfinite(zd).all() and np.isfinite(t).all()):
            return ident
        one = np.ones(len(idx))
        cx, *_ = np.linalg.lstsq(np.column_stack([one, d[:, 0], zd]), t[:, 0], rcond=None)
        cy, *_ = np.linalg.lstsq(np.column_stack([one, d[:, 1]]), t[:, 1], rcond=None)
        # A real turn scales across by a ratio of cosines and moves by depth times a difference of sines
        # (|sin| <= 0.7 between two frames of one talking head); anything beyond is a bad fit.
        if not (0.8 <= cx[1] <= 1.25 and abs(cx[2]) <= 0.7 and 0.85 <= cy[1] <= 1.18):
            return ident
        return np.concatenate([cx, cy])

    def turned_shape(self, donor: int, target: int) -> np.ndarray:
        """(468, 2) frame ``donor``'s normalised shape in frame ``target``'s head turn (:meth:`turn_map`)."""
        c = self.turn_map(donor, target)
        out = self.normalized[donor].copy()
        if self.depth is not None:
            out[:, 0] = c[0] + c[1] * out[:, 0] + c[2] * self.depth[donor]
            out[:, 1] = c[3] + c[4] * out[:, 1]
        return out

    # -- features ------------------------------------------------------------------------------------
    def gap(self, shape: np.ndarray) -> np.ndarray:
        """Inner-lip gap in eye distances for (…, 468, 2) normalised shapes."""
        return (shape[..., LOWER_INNER, 1] - shape[..., UPPER_INNER, 1]) / self.eye_dist

    def width(self, shape: np.ndarray) -> np.ndarray:
        """Mouth-corner distance in eye distances."""
        d = shape[..., CORNERS[1], :] - shape[..., CORNERS[0], :]
        return np.linalg.norm(d, axis=-1) / self.eye_dist

    def features(self) -> np.ndarray:
        """(T, 2) gap and width of every frame (NaN where absent)."""
        return np.stack([self.gap(self.normalized), self.width(self.normalized)], 1)

    @cached_property
    def outline_triangles(self) -> np.ndarray:
        """(M,) bool: the triangles with a corner on the region's outline along the jaw or on a margin point
        beyond it (where a donor's face ends and its hair or background begins)."""
        outline = np.concatenate([np.flatnonzero(np.isin(self.region, self.jaw)),
                                  np.arange(len(self.region), len(self.region) + len(self.jaw))])
        return np.isin(self.triangles, outline).any(1)

    def _motion_per_unit(self, feature: int) -> np.ndarray | None:
        """(len(region), 2) each region point's motion per eye distance of one mouth feature (0: the inner-lip
        gap, 1: the width), in normalised pixels: its position fitted over the clip's frames as a linear function
        of that feature, the other one and the head's turn (:func:`head_turn`), so that neither of those leaks into
        it. None where the clip shows too little (fewer than 30 faces, or a feature that hardly changes)."""
        ok = self.present & np.isfinite(self.normalized[:, self.region]).all(axis=(1, 2))
        if ok.sum() < 30:
            return None
        feats = self.features()[ok]
        if np.std(feats[:, feature]) < 0.01:
            return None
        # Centred and scaled regressors; one that hardly changes (a clip that never opens, a head that never
        # turns) is left out rather than fitted to its rounding noise, and so is one that changes with the feature
        # itself (|r| > 0.95): the two cannot be told apart, and the fit would trade huge opposite coefficients.
        turn = np.nan_to_num(head_turn(self.normalized[ok]))
        x = np.column_stack([feats[:, feature], feats[:, 1 - feature], turn])
        x = x - x.mean(0)
        sd = x.std(0)
        r = (x.T @ x[:, 0]) / (len(x) * np.maximum(sd * sd[0], 1e-12))
        keep = np.flatnonzero((sd > np.array([0.0, 1e-3, 1e-3])) & ((np.abs(r) < 0.95) | (np.arange(3) == 0)))
        y = self.normalized[ok][:, self.region].reshape(int(ok.sum()), -1)
        coef, *_ = np.linalg.lstsq(x[:, keep] / sd[keep], y - y.mean(0), rcond=None)
        return (coef[0] / sd[0]).reshape(len(self.region), 2)

    @cached_property
    def spread(self) -> np.ndarray | None:
        """(len(region), 2) how this speaker's lower face moves per eye distance of mouth width, in normalised
        pixels (:meth:`_motion_per_unit`), or None.

        A spread mouth is more than corners pulled apart: its corners rise, its lips thin and the cheeks beside
        them move; a rounded one pouts. Drawn so, a donor's width change is seen: on six real talking heads the
        width that MediaPipe reads on the results followed the real mouth at r 0.337 against 0.316 with the
        corners alone pulled (better on five of the six, worse on none; opening and shut frames unchanged).

        Toward the jaw outline the fit counts only as far as the outline itself moves there (:attr:`_outline_share`:
        the chin fully, nothing from the mouth's height up to the ear, where the jaw hinges). Fitted freely the
        outline by the ear followed whatever went with the width in the clip (Radio2 A: a head turn, 0.6-0.9 eye
        distances per eye distance of width, more than the corners move), and the frame's own jaw edge moved so cut
        a notch under the ear (Radio2 A->B 3-7). Six real heads' cross-dubs (frozen): opening / width / shut 0.470 /
        0.346 / 0.635 -> 0.470 / 0.351 / 0.645, width up in 10 of 12 directions; with :attr:`jaw_drop` held the same
        way 0.470 / 0.359 / 0.638 (width up in 10 of 12 again).
        """
        motion = self._motion_per_unit(1)
        return None if motion is None else motion * self._outline_share[:, None]

    @cached_property
    def jaw_rows(self) -> np.ndarray:
        """(len(jaw),) where the jaw outline's points lie among the region's (rows of region-wide arrays)."""
        return np.searchsorted(self.region, self.jaw)

    @cached_property
    def jaw_drop(self) -> np.ndarray | None:
        """(len(jaw), 2) how this speaker's jaw outline moves per eye distance of inner-lip gap (normalised
        pixels; :meth:`_motion_per_unit`), or None. On six real talking heads the chin moved 0.05-0.58 (mean 0.28)
        of the gap's change: the lips open and close more than the jaw does. From the mouth's height up to the ear the
        outline stays (the jaw hinges there; :attr:`spread`)."""
        drop = self._motion_per_unit(0)
        return None if drop is None else drop[self.jaw_rows] * self._outline_share[self.jaw_rows, None]

    @cached_property
    def _outline_weight(self) -> np.ndarray:
        """(len(region),) how much of the jaw outline's motion each region point takes: 0 on the lips and within
        0.15 eye distances of them, rising smoothly to 1 on the outline (:attr:`jaw_field`)."""
        ref = self.reference
        pts = ref[self.region]
        lips = ref[list(LIPS_OUTER) + list(LIPS_INNER)]
        d_l = np.linalg.norm(pts[:, None] - lips[None], axis=2).min(1)
        d_j = np.linalg.norm(pts[:, None] - ref[self.jaw][None], axis=2).min(1)
        keep = 0.15 * self.eye_dist
        t = np.clip((d_l - keep) / np.maximum(d_l - keep + d_j, 1e-9), 0.0, 1.0)
        w = t * t * (3 - 2 * t)
        w[self.jaw_rows] = 1.0
        return w

    @cached_property
    def _outline_share(self) -> np.ndarray:
        """(len(region),) how far each region point moves with the width (:attr:`spread`): fully near the lips,
        toward the outline as much as the outline there moves (:attr:`jaw_field`: the chin fully, nothing from the
        mouth's height up to the ear)."""
        return 1.0 - self._outline_weight + self.jaw_field.sum(1)

    @cached_property
    def jaw_field(self) -> np.ndarray:
        """(len(region), len(jaw)) how far each region point follows a move of the jaw outline's points.

        Each outline point moves all the way at the chin and less up the sides (none at the mouth's height):
        moving the sides fully too turned triangles over beside a turned head's cheek (on six real heads 23
        output frames had five or more, against 6 now), drawing the hair beyond it as dark slivers in the cheek.
        The rest follows: not at all on the lips and within 0.15 eye distances of them, smoothly more toward the
        outline, each outline point's share falling with distance (a Gaussian of 0.35 eye distances). A field
        reaching the lips themselves softened the mouth measurably (bench/looks.py, six real heads: sharpness
        0.937 against 0.942)."""
        ref = self.reference
        pts = ref[self.region]
        jaw = ref[self.jaw]
        d_j = np.linalg.norm(pts[:, None] - jaw[None], axis=2)
        k = np.exp(-0.5 * (d_j / (0.35 * self.eye_dist)) ** 2)
        field = self._outline_weight[:, None] * k / np.maximum(k.sum(1, keepdims=True), 1e-12)
        field[self.jaw_rows] = 0.0
        field[self.jaw_rows, np.arange(len(self.jaw))] = 1.0
        mouth_y, chin_y = ref[list(LIPS_OUTER), 1].mean(), jaw[:, 1].max()
        low = np.clip((jaw[:, 1] - mouth_y) / max(chin_y - mouth_y, 1e-6), 0.0, 1.0)
        return field * (low * low * (3 - 2 * low))[None, :]

    @cached_property
    def chin_residual(self) -> np.ndarray:
        """(T,) where each frame's chin sits (normalised height, eye distances) beyond what its inner-lip gap, its
        width and its head's turn explain, fitted over the clip: a head pitched otherwise, a jaw held otherwise.
        NaN where absent (all NaN for fewer than 10 faces)."""
        out = np.full(len(self.present), np.nan)
        ok = self.present & np.isfinite(self.normalized[:, CHIN]).all(1)
        if ok.sum() < 10:
            return out
        turn = np.nan_to_num(head_turn(self.normalized[ok]))
        x = np.column_stack([np.ones(int(ok.sum())), self.features()[ok], turn])
        y = self.normalized[ok, CHIN, 1]
        coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        out[ok] = (y - x @ coef) / self.eye_dist
        return out

    def moved_jaw(self, shape: np.ndarray, d_gap: float, d_width: float = 0.0) -> np.ndarray:
        """(len(jaw), 2) ``shape``'s jaw outline moved as this speaker's jaw moves when the mouth opens ``d_gap``
        and widens ``d_width`` (eye distances): :attr:`jaw_drop` and :attr:`spread`, or :meth:`open_shape`'s
        drop where the clip cannot tell."""
        if self.jaw_drop is None:
            return self.open_shape(shape, d_gap, d_width)[self.jaw] if abs(d_gap) >= 0.005 or d_width else \
                shape[self.jaw]
        jaw = shape[self.jaw] + self.jaw_drop * d_gap
        if d_width and self.spread is not None:
            jaw = jaw + self.spread[self.jaw_rows] * d_width
        return jaw

    def follow_jaw(self, shape: np.ndarray, jaw: np.ndarray) -> np.ndarray:
        """``shape`` with its jaw outline moved toward ``jaw`` ((len(jaw), 2)) and the rest of its lower face
        following (:attr:`jaw_field`: all the way at the chin, less up the sides; the lips stay)."""
        out = shape.copy()
        out[self.region] += self.jaw_field @ (jaw - shape[self.jaw])
        return out

    @cached_property
    def _drop_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """(vert, w), each (len(region),): how far each region point follows a drop of the lower lip
        (:meth:`open_shape`); ``vert`` is the fall-off from the lower lip to the chin alone, ``w`` that times the
        fall-off to the cheeks (for a mouth that never moves, :attr:`still`, the lower lip's in an arc). They depend
        on the clip alone: computed once (they were half a millisecond of every drawn frame)."""
        ref = self.reference
        chin_y = ref[CHIN, 1]
        mouth_x = ref[list(LIPS_OUTER), 0].mean()
        half_w = 0.5 * np.linalg.norm(ref[CORNERS[1]] - ref[CORNERS[0]])
        pts = self.region
        x, y = ref[pts, 0], ref[pts, 1]
        # Points on or below the lower lip move: the lower lip fully, the chin 80 %, in between smoothly;
        # the upper lip and everything above the lower lip's line stays.
        lower = np.array(LOWER_LIP)
        # The line is the INNER lower lip's: the lower lip's body lies below it and moves with it (a line through
        # the inner and outer points together zigzags, left the lip's middle ring behind, and folded triangles).
        inner_lower = np.array(LOWER_INNER_LIP)
        order = np.argsort(ref[inner_lower, 0])
        lip_line = np.interp(x, ref[inner_lower[order], 0], ref[inner_lower[order], 1])
        # The upper lip never drops: shut in the reference (a still photo of closed lips), its inner points lie on the
        # lower one's line, and taken as below it the middle of the upper lip went down with the jaw (a white V of
        # drawn teeth hung from it, and the corners' edge teeth streaked).
        below = ((y >= lip_line - 1e-6) & ~np.isin(pts, UPPER_INNER_LIP)) | np.isin(pts, lower)
        vert = np.where(below, np.interp(y - lip_line, [0.0, max(chin_y - ref[LOWER_INNER, 1], 1e-3)], [1.0, 0.8]), 0.0)
        vert[np.isin(pts, lower)] = 1.0
        side = np.exp(-np.maximum(np.abs(x - mouth_x) - 0.5 * half_w, 0) ** 2 / (0.6 * half_w) ** 2)
        if self.still:
            # A mouth that never moves (a photo) has no open frame of its own: this drop draws all of its opening.
            # The lower lip parts from the upper in an arc, held at the corners (as the chin, its points beside
            # the corners dropped 80 % of the middle's: the opening had steep sides, a box, and a seam at a
            # corner), the skin below going over to the chin's drop half-way down. (In a clip that speaks its own
            # open frames give the opening its shape and this drop adds the rest: there the arc moved the
            # cross-reconstruction's opening / width / shut 0.506 / 0.379 / 0.592 -> 0.504 / 0.375 / 0.598.)
            arc = np.sqrt(np.clip(1.0 - ((x - mouth_x) / half_w) ** 2, 0.0, 1.0))
            t = np.clip((y - lip_line) / max(0.5 * (chin_y - ref[LOWER_INNER, 1]), 1e-3), 0.0, 1.0)
            side = np.minimum(side, arc + (1.0 - arc) * t * t * (3 - 2 * t))
        return vert, vert * side

    @cached_property
    def still(self) -> bool:
        """Whether the mouth never moves in the clip (:func:`never_moves`)."""
        return never_moves(self.gap(self.normalized[self.present]) if self.present.any() else np.zeros(0))

    def open_shape(self, shape: np.ndarray, d_gap: float, d_width: float = 0.0) -> np.ndarray:
        """A normalised shape with the lower lip and jaw dropped by ``d_gap`` and the mouth ``d_width`` (eye
        distances) wider.

        The drop falls off smoothly from the lower lip (full) through the chin (80 %) to the cheeks (0). The width
        changes the way this speaker's own mouth does (:attr:`spread`), or, where the clip does not show it, by
        moving the corners.
        """
        out = shape.copy()
        pts = self.region
        vert, w = self._drop_weights
        if d_gap >= 0:
            out[pts, 1] += w * d_gap * self.eye_dist
        else:
            # Closing: each point of the lower inner lip moves toward the upper inner lip above it (the
            # lips meet along their whole width, covering the teeth); what lies below follows its part of
            # the lip, fading toward the chin.
            upper = np.array(UPPER_INNER_LIP)
            lower_inner = np.array(LOWER_INNER_LIP)
            uo = np.argsort(shape[upper, 0])
            lo_ = np.argsort(shape[lower_inner, 0])
            ux, uy = shape[upper[uo], 0], shape[upper[uo], 1]
            lx, ly = shape[lower_inner[lo_], 0], shape[lower_inner[lo_], 1]
            frac = min(0.92, -d_gap / max(float(self.gap(shape)), 1e-6))  # leave a hair: no folded triangles
            lip_dy = frac * (np.interp(lx, ux, uy) - ly)  # ≤ 0: upward
            dy = np.interp(shape[pts, 0], lx, lip_dy)
            out[pts, 1] += vert * dy
        if d_width and self.spread is not None:
            out[pts] += self.spread * d_width
        elif d_width:
            ref = self.reference
            half_w = 0.5 * np.linalg.norm(ref[CORNERS[1]] - ref[CORNERS[0]])
            for c, sgn in ((CORNERS[0], -1), (CORNERS[1], 1)):
                near = np.exp(-np.sum((ref[pts] - ref[c]) ** 2, 1) / (0.35 * half_w) ** 2)
                out[pts, 0] += sgn * near * 0.5 * d_width * self.eye_dist
        return out
