"""Where a lent lower face may cover the frame's own: the masks of the built-in engine's blend.

The face outlines (the frame's own and the one the donor is drawn to) and how they meet across the chin, the lent
neck under a risen chin, the mouths always covered, the skin that colour and grain are matched on, and what of the
lent face is not skin (a donor's hair or background beside a turned face's mouth, and how far it reaches in from the
far outline). All (h, w) float32 0..1 or bool in the region's pixels; no drawing here (:mod:`.render`).
"""

from __future__ import annotations

import numpy as np


def feathered_mask(cover: np.ndarray, feather: float) -> np.ndarray:
    """(h, w) float32 alpha: 1 well inside ``cover``, falling smoothly to exactly 0 at and beyond its edge."""
    import cv2

    f = max(1.0, feather)
    dist = cv2.distanceTransform(cover.astype(np.uint8), cv2.DIST_L2, 5)
    alpha = np.clip(dist / (2 * f), 0, 1).astype(np.float32)
    alpha = alpha * alpha * (3 - 2 * alpha)  # smoothstep: no visible ridge at the feather's end
    alpha[~cover] = 0.0
    return alpha


def face_mask(ovals: list[np.ndarray], shape: tuple[int, int], inset: float = 0.0) -> np.ndarray:
    """(h, w) float32 0..1: the union of the face ovals (each (N, 2) pixels), each pulled ``inset`` px toward
    its centre (FaceMesh's oval can lie a pixel or two beyond the real jaw line), anti-aliased at its edge."""
    import cv2

    mask = np.zeros(shape, np.uint8)
    for oval in ovals:
        c = oval.mean(0)
        d = oval - c
        n = np.linalg.norm(d, axis=1, keepdims=True) + 1e-9
        oval = c + d * np.maximum(n - inset, 0) / n
        cv2.fillPoly(mask, [np.round(oval * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    return mask.astype(np.float32) * np.float32(1 / 255)


def lent_face_mask(own: np.ndarray, lent: np.ndarray, shape: tuple[int, int], inset: float, chin_x: float,
                   chin_half: float, soft: float = 0.0) -> np.ndarray:
    """(h, w) float32 0..1: where a donor's face may cover the frame's, from the frame's own face oval ``own`` and
    the oval the donor's face is drawn to, ``lent`` ((N, 2) pixels each; :func:`face_mask` with ``inset``).

    Beside the mouth, both (their intersection): beyond the donor's face edge its pixels are hair or background,
    and beyond the frame's own face edge the frame's are. Across the chin (within ``chin_half`` px of ``chin_x``,
    fading out over as much again), either (their union): a chin that drops or rises moves there, and the donor's
    neck under its chin is what a risen chin uncovers.

    The donor's side fades in over ``soft`` px inside its oval: FaceMesh's oval of a turned or tilted head can lie
    a few pixels off its real outline, and a hard edge there drew the donor's own jaw line, shadow or hair as a
    dark stroke across the frame's cheek or chin.
    """
    a = face_mask([own], shape, inset)
    b = face_mask([lent], shape, inset)
    if soft > 0:
        inside = _half_resolution_distance(b > 0.5)
        ramp = np.minimum(inside * np.float32(2 / soft), 1.0)
        b = np.minimum(b, ramp * ramp * (3 - 2 * ramp))
    both = np.minimum(a, b)
    return both + (np.maximum(a, b) - both) * chin_band(shape[1], chin_x, chin_half)


def _half_resolution_distance(mask: np.ndarray) -> np.ndarray:
    """(h, w) float32: each pixel's distance from the edge of the (h, w) bool ``mask`` (0 outside it), measured at
    half resolution and in its pixels (a smooth ramp several pixels wide needs no more)."""
    import cv2

    h, w = mask.shape
    half = cv2.resize(mask.astype(np.uint8), ((w + 1) // 2, (h + 1) // 2), interpolation=cv2.INTER_NEAREST)
    return cv2.resize(cv2.distanceTransform(half, cv2.DIST_L2, 3), (w, h), interpolation=cv2.INTER_LINEAR)


def chin_band(width: int, chin_x: float, chin_half: float) -> np.ndarray:
    """(1, width) float32: 1 within ``chin_half`` px of ``chin_x`` (across the chin), fading to 0 over as much
    again (beside the mouth)."""
    x = np.arange(width, dtype=np.float32)
    t = np.clip((np.abs(x - np.float32(chin_x)) - chin_half) / max(chin_half, 1.0), 0, 1)
    return (1 - t * t * (3 - 2 * t))[None, :]


def under_the_chin(own: np.ndarray, shape: tuple[int, int], reach: float, chin_x: float,
                   chin_half: float) -> np.ndarray:
    """(h, w) float32 0..1: across the chin (:func:`chin_band`), the frame's own face oval ``own`` ((N, 2) pixels)
    and ``reach`` px beyond it, fading out there; 0 elsewhere, and 0 above the oval's lower outline across the
    chin (there the face mask already holds all of this).

    Where the drawn chin rises above the frame's own (the mouth closing more than the frame's), the frame's own
    chin edge lies below the new one: left to the frame, it drew a second chin line (a pale strip and a dark
    curve under the new chin; Radio2 B->A 36-40, lp_d20 A->B 77-79). Reaching past it, the lent neck under the
    new chin covers it and fades into the frame's own neck further down.
    """
    h, w = shape
    out = np.zeros(shape, np.float32)
    if reach <= 0:
        return out
    # Only the part of the picture across the chin, from the lower outline's highest point there down.
    x0, x1 = max(int(chin_x - 2 * chin_half) - 1, 0), min(int(np.ceil(chin_x + 2 * chin_half)) + 2, w)
    near = (np.abs(own[:, 0] - chin_x) <= 2 * chin_half) & (own[:, 1] > own[:, 1].mean())
    near |= np.roll(near, 1) | np.roll(near, -1)  # the outline's segments that cross into the band
    top = own[near, 1].min() if near.any() else own[:, 1].max()
    y0 = min(max(int(np.floor(top)) - 2, 0), h)
    if x1 - x0 < 2 or h - y0 < 2:
        return out
    sh, sw = h - y0, x1 - x0
    # The distance from the outline (rounded around the chin's point, where a grown outline had a spike).
    beyond = _half_resolution_distance(face_mask([own - [x0, y0]], (sh, sw)) <= 0.5)
    ramp = np.clip(1 - beyond * np.float32(2 / reach), 0.0, 1.0)
    out[y0:, x0:x1] = ramp * ramp * (3 - 2 * ramp) * chin_band(sw, chin_x - x0, chin_half)
    return out


def cover_mouth(alpha: np.ndarray, cover: np.ndarray, outers: list[np.ndarray], margin: float,
                corners: np.ndarray | None = None, corner_reach: float = 0.0, corner_edge: float = 0.0) -> None:
    """Raise ``alpha`` (h, w) to 1 over every outer lip contour in ``outers`` ((20, 2) pixels each) and ``margin``
    px around it, falling off smoothly over another ``margin`` (in place). It stays within ``cover`` (the warped
    region), falling to 0 over ``margin`` px before its edge, so the region's edge stays soft.

    ``corners`` ((k, 2) pixels): also a disc of ``corner_reach`` px around each (softened over half of that),
    falling to 0 over ``corner_edge`` px before the region's edge: the frame's own mouth corners, whose dimples and
    smile creases reach beyond the lips (:func:`own_corners`)."""
    import cv2

    h, w = alpha.shape
    pts = np.vstack(outers)
    has_corners = corners is not None and len(corners) > 0 and corner_reach > 0
    if has_corners:
        pts = np.vstack([pts, corners - corner_reach, corners + corner_reach])
    reach = 2 * margin + 2
    x0, y0 = np.maximum(np.floor(pts.min(0) - reach).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(pts.max(0) + reach).astype(int), [w, h])
    if x1 <= x0 or y1 <= y0:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for outer in outers:
        c = outer.mean(0)
        d = outer - c
        n = np.linalg.norm(d, axis=1, keepdims=True) + 1e-9
        grown = c + d * (n + margin) / n - [x0, y0]
        cv2.fillPoly(mask, [np.round(grown * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    soft = cv2.GaussianBlur(mask, (0, 0), max(margin / 2, 0.5)).astype(np.float32) * np.float32(1 / 255)
    edge = cv2.distanceTransform(cover[y0:y1, x0:x1].astype(np.uint8), cv2.DIST_L2, 3)
    ramp = np.minimum(edge * np.float32(1 / max(margin, 1.0)), 1.0)
    sub = alpha[y0:y1, x0:x1]
    np.maximum(sub, soft * ramp * ramp * (3 - 2 * ramp), out=sub)
    if has_corners:
        # Each disc: 1 out to 3/4 of the reach, a smooth step to 0 at 5/4 (a disc blurred by a quarter of its radius,
        # drawn directly in a small box around the corner: a blur of the whole box cost ~1.5 ms a frame).
        r = float(corner_reach)
        for cx, cy in np.asarray(corners, np.float64) - [x0, y0]:
            a0, b0 = max(int(np.floor(cx - 1.25 * r)), 0), max(int(np.floor(cy - 1.25 * r)), 0)
            a1, b1 = min(int(np.ceil(cx + 1.25 * r)) + 1, x1 - x0), min(int(np.ceil(cy + 1.25 * r)) + 1, y1 - y0)
            if a1 <= a0 or b1 <= b0:
                continue
            yy, xx = np.ogrid[b0:b1, a0:a1]
            t = np.clip((np.float32(1.25 * r) - np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)) / np.float32(0.5 * r), 0, 1)
            ramp = np.minimum(edge[b0:b1, a0:a1] * np.float32(1 / max(corner_edge, 1.0)), 1.0)
            part = sub[b0:b1, a0:a1]
            np.maximum(part, (t * t * (3 - 2 * t)).astype(np.float32) * (ramp * ramp * (3 - 2 * ramp)), out=part)


def own_corners(own_outer: np.ndarray, far: int) -> np.ndarray:
    """(k, 2) the frame's own mouth corners (``own_outer``: its (20, 2) outer lip contour, corners at 0 and 10) whose
    surroundings the lent face covers (:func:`cover_mouth`): both, or on a turned head (``far`` +1: its far side is
    the right, -1 the left, 0 not turned) the near one alone. Beyond a far corner the cheek is foreshortened and the
    face's edge, hair or background lie close: there the disc drew the donor's skin over the frame's hair."""
    corners = own_outer[[0, 10]]
    if far == 0:
        return corners
    far_one = int(np.argmax(corners[:, 0])) if far > 0 else int(np.argmin(corners[:, 0]))
    return corners[[1 - far_one]]


def lip_band_mask(outer: np.ndarray, inner: np.ndarray, shape: tuple[int, int], soft: float = 0.0,
                  box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """(h, w) float32 0..1: the lips (outer minus inner contour, (20, 2) pixels each), blurred over ``soft`` px
    (only inside ``box``, ``x0, y0, x1, y1``, which must hold the outer contour and the blur)."""
    import cv2

    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(outer * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    cv2.fillPoly(mask, [np.round(inner * 16).astype(np.int32)], 0, cv2.LINE_AA, shift=4)
    if soft > 0:
        x0, y0, x1, y1 = box if box is not None else (0, 0, shape[1], shape[0])
        if x1 > x0 and y1 > y0:  # (empty where the lips lie beyond the frame's edge: nothing of them to blur)
            mask[y0:y1, x0:x1] = cv2.GaussianBlur(mask[y0:y1, x0:x1], (0, 0), soft)
    return mask.astype(np.float32) * np.float32(1 / 255)


def skin_mask(alpha: np.ndarray, lips: list[np.ndarray], clearance: float) -> np.ndarray:
    """(h, w) bool: the face skin that is lent (``alpha`` > 0.5: inside the face and the region), ``clearance``
    px clear of every outer lip contour in ``lips`` (the colour reference for the skin)."""
    import cv2

    away = np.zeros(alpha.shape, np.uint8)
    for outer in lips:
        c = outer.mean(0)
        d = outer - c
        n = np.linalg.norm(d, axis=1, keepdims=True) + 1e-9
        cv2.fillPoly(away, [np.round((c + d * (n + clearance) / n) * 4).astype(np.int32)], 1, cv2.LINE_8, shift=2)
    return (alpha > 0.5) & (away == 0)


#: How far (in robust standard deviations of the lent skin's Lab colour) a pixel beside the mouth may lie from
#: that skin before it counts as not skin (:func:`beside_mouth_not_skin`), and over how many more it fades in.
NOT_SKIN_SIGMAS = (3.0, 1.5)


def beside_mouth_not_skin(warped: np.ndarray, skin: np.ndarray, outer: np.ndarray, unit: float,
                          oval: np.ndarray | None = None) -> np.ndarray | None:
    """(h, w) float32 0..1: what of a lent face beside its mouth is not skin (its hair or background beyond a turned
    cheek, drawn into the frame's cheek beside the far mouth corner), 0 elsewhere; None where all of it is skin.

    Beside the mouth means: beyond either mouth corner (the outer lip contour's leftmost and rightmost points),
    fading in over 0.1 eye distances from it at the lips' height and over 0.02 from 0.1 under the lower lip down
    (a strongly turned face's far cheek is a few pixels wide there, and its edge, with the donor's hair beyond it,
    was drawn as a dark stroke along the frame's cheek: Radio2 A->B 43-45, 73-74, KatieHill B->A 95-98), no lower
    than 0.6 eye distances under the lower lip (the jaw), and more than 0.05 eye distances from the lips. A pixel
    there is not skin by its Lab distance (OpenCV's 8-bit Lab: L scaled to 0..255) from the lent skin's colour
    (median and spread of ``skin``, one pixel in nine; the spread at least 6 in L, 3 in a and b),
    :data:`NOT_SKIN_SIGMAS`, measured at half resolution, grown by one pixel there (the edge's blended pixels go
    too) and lightly blurred. The chin, between the corners, is left alone (its shadow is skin too), but for a band
    along the lent face's outline (``oval``) and beyond it: 0.15 eye distances wide inside it (fading over 0.05
    more), from 0.1 under the lower lip down. A turned face's far jaw curves in under the mouth, between the
    corners, and the donor's hair at its edge stayed there as a dark patch (Radio2 A->B 6) or line (41).

    Parameters
    ----------
    warped: (h, w, 3) uint8 RGB, the lent face drawn into the frame's area.
    skin: (h, w) bool, its skin away from the lips (the colour reference).
    outer: (20, 2) the drawn outer lip contour, pixels of ``warped``.
    unit: an eye distance in pixels.
    oval: optional (N, 2) the lent face's outline (FaceMesh's face oval as drawn), pixels of ``warped``.
    """
    import cv2

    h, w = skin.shape
    ref = warped[::3, ::3][skin[::3, ::3]]  # one pixel in nine is plenty for a colour's median and spread
    left, right, bottom = float(outer[:, 0].min()), float(outer[:, 0].max()), float(outer[:, 1].max())
    y1 = int(min(h, np.ceil(bottom + 0.6 * unit)))
    if len(ref) < 50 or y1 <= 0:
        return None
    ref_lab = cv2.cvtColor(np.ascontiguousarray(ref[None]), cv2.COLOR_RGB2Lab)[0].astype(np.float32)
    mu = np.median(ref_lab, 0)
    spread = np.maximum(1.4826 * np.median(np.abs(ref_lab - mu), 0), np.array([6.0, 3.0, 3.0], np.float32))
    start, width = NOT_SKIN_SIGMAS
    # At half resolution (the weight is smooth; a quarter of the work): the strips beyond either corner.
    x_left, x_right = int(np.floor(left)), int(np.ceil(right))
    hs, ws = (y1 + 1) // 2, (w + 1) // 2
    small = cv2.resize(np.ascontiguousarray(warped[:y1]), (ws, hs), interpolation=cv2.INTER_AREA)
    weight = np.zeros((hs, ws), np.float32)
    for a, b in ((0, ws),) if oval is not None else ((0, x_left // 2 + 1), (x_right // 2, ws)):
        a, b = max(a, 0), min(b, ws)
        if b - a < 1:
            continue
        lab = cv2.cvtColor(np.ascontiguousarray(small[:, a:b]), cv2.COLOR_RGB2Lab).astype(np.float32)
        lab -= mu
        lab /= spread
        dist = np.sqrt((lab * lab).sum(2) * np.float32(1 / 3))
        weight[:, a:b] = np.clip((dist - start) * np.float32(1 / width), 0, 1)
    # The lips and their edge stay lent, whatever their colour (a dark corner, a shadow under the lower lip).
    _, near_lips = _lips_and_near(outer / 2, (hs, ws), max(1, int(round(0.025 * unit))))
    weight[near_lips] = 0
    if not weight.any():
        return None
    weight = cv2.dilate(weight, np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.uint8))
    weight[near_lips] = 0
    weight = cv2.GaussianBlur(weight, (0, 0), max(0.01 * unit, 0.5))
    full = cv2.resize(weight, (w, y1), interpolation=cv2.INTER_LINEAR)
    xs = np.arange(w, dtype=np.float32)
    beyond = np.maximum(np.float32(left) - xs, xs - np.float32(right))  # px beyond the nearer mouth corner
    ys = np.arange(y1, dtype=np.float32)
    low = bottom + 0.05 * unit  # from here down to 0.05 further the fade from the corner narrows, 0.1 -> 0.02
    fade = np.float32(unit) * (0.1 - 0.08 * np.clip((ys - low) / np.float32(0.05 * unit), 0, 1)).astype(np.float32)
    side = np.clip(beyond[None, :] / fade[:, None], 0, 1)
    if oval is not None:  # the band along the outline, under the mouth
        inside = np.zeros((hs, ws), np.uint8)
        cv2.fillPoly(inside, [np.round(oval * 8).astype(np.int32)], 1, cv2.LINE_8, shift=4)
        depth = cv2.resize(cv2.distanceTransform(inside, cv2.DIST_L2, 3), (w, y1), interpolation=cv2.INTER_LINEAR)
        # and beyond the outline (depth 0): across the chin the lent face may reach past its oval (its neck, what a
        # risen chin uncovers), and a turned jaw's hair lay there too; a dark neck shadow there gives way as well
        band = np.clip(1 - (2 * depth - np.float32(0.15 * unit)) / np.float32(0.05 * unit), 0, 1)
        under = np.clip((ys - low - np.float32(0.05 * unit)) / np.float32(0.05 * unit), 0, 1)
        side = np.maximum(side, band * under[:, None])
    above = np.clip((y1 - ys) / np.float32(0.1 * unit), 0, 1)
    out = np.zeros((h, w), np.float32)
    out[:y1] = full * side * above[:, None]
    return out


def _lips_and_near(outer: np.ndarray, shape: tuple[int, int], reach: int) -> tuple[np.ndarray, np.ndarray]:
    """(lips, near): the (h, w) uint8 area inside the outer lip contour ``outer`` ((20, 2), the mask's pixels) and
    the bool area within ``reach`` px of it (a square's reach), which the not-skin and nostril tests leave lent."""
    import cv2

    lips = np.zeros(shape, np.uint8)
    cv2.fillPoly(lips, [np.round(outer * 16).astype(np.int32)], 1, cv2.LINE_8, shift=4)
    return lips, cv2.dilate(lips, np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)) > 0


#: How much darker (OpenCV's 8-bit Lab lightness, 0..255) than the lent skin around it a small mark over the upper lip
#: must be to be taken for a donor's nostril (:func:`nostril_over_lip`), and its largest size (eye distances).
NOSTRIL_DARKER, NOSTRIL_SIZE = 18.0, 0.1


def nostril_over_lip(warped: np.ndarray, drawn: np.ndarray, outer: np.ndarray, unit: float) -> np.ndarray | None:
    """(h, w) bool: small dark marks of a lent face over its drawn upper lip (between the mouth corners, from the
    lips up), or None where there are none.

    A turned donor's nostril, or the shadow under its nose tip, reaches lower than its face's landmarks between the
    nose and the lip say, and was drawn on the frame's philtrum as a dark notch (KatieHill B->A 40-42, donor turned
    0.15); so did a frontal donor's whose smile lifts its upper lip close under its nose, lent to a frame whose lip
    sits lower (KatieHill B->A 33-35, 67-69: the skin under its nose stretched up to the frame's). Skin colour
    cannot tell it (its lightness lies within the lent skin's own shading), and the frame's own pixels cannot stand
    in for it (they hold the frame's own upper lip there when the drawn one sits lower). A mark narrower than
    :data:`NOSTRIL_SIZE` and :data:`NOSTRIL_DARKER` darker than the skin around it (a morphological black-hat of
    the lightness), at least 0.03 eye distances across and in the upper half between the area's top and the lips,
    is one; the lips and 0.025 eye distances around them are left out. The engine fills it in from the skin around
    it.

    Parameters
    ----------
    warped: (h, w, 3) uint8 RGB, the lent face drawn into the frame's area.
    drawn: (h, w) bool, where ``warped`` holds the lent face (the rest is not looked at).
    outer: (20, 2) the drawn outer lip contour, pixels of ``warped``.
    unit: an eye distance in pixels.
    """
    import cv2

    h, w = warped.shape[:2]
    left, right = float(outer[:, 0].min()), float(outer[:, 0].max())
    x0, x1 = max(int(np.floor(left)), 0), min(int(np.ceil(right)) + 1, w)
    y1 = min(int(np.ceil(outer[:, 1].mean())), h)
    if x1 - x0 < 3 or y1 < 3:
        return None
    light = cv2.cvtColor(np.ascontiguousarray(warped[:y1, x0:x1]), cv2.COLOR_RGB2Lab)[..., 0]
    valid = drawn[:y1, x0:x1]
    if valid.sum() < 16:
        return None
    light[~valid] = np.uint8(np.median(light[valid]))  # no dark edge where the lent face ends
    k = max(3, int(round(NOSTRIL_SIZE * unit)) | 1)
    dark = cv2.morphologyEx(light, cv2.MORPH_BLACKHAT, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    mark = dark > NOSTRIL_DARKER
    lips, near = _lips_and_near(outer - [x0, 0], (y1, x1 - x0), max(1, int(round(0.025 * unit))))
    below = np.cumsum(lips, axis=0) > 0  # at or under the lips' upper edge in each column
    mark &= valid & ~(near | below)
    if not mark.any():
        return None
    # A nostril's piece, not skin texture (stubble, pores, a fine crease): a blob at least 0.03 eye distances
    # across, lying nearer the nose than the lips.
    count, labels, stats, centres = cv2.connectedComponentsWithStats(mark.astype(np.uint8), connectivity=8)
    top = np.argmax(below, axis=0)  # the lips' upper edge per column (0 where the column has no lips)
    lip_top = float(np.median(top[top > 0])) if (top > 0).any() else float(y1)
    keep = np.zeros(count, bool)
    keep[1:] = (stats[1:, cv2.CC_STAT_AREA] >= (0.03 * unit) ** 2) & (centres[1:, 1] < 0.5 * lip_top)
    mark = keep[labels]
    if not mark.any():
        return None
    # Its soft edge too.
    mark = cv2.dilate(mark.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    mark &= valid & ~near
    out = np.zeros((h, w), bool)
    out[:y1, x0:x1] = mark
    return out


def _arc_positions(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """(P,) each of ``points`` (P, 2) as a distance along the closed ``polygon`` (N, 2) (its perimeter from the
    first vertex), at the point of the polygon nearest to it."""
    a = polygon
    b = np.roll(polygon, -1, axis=0)
    seg = b - a
    length = np.hypot(seg[:, 0], seg[:, 1])
    start = np.concatenate([[0.0], np.cumsum(length)[:-1]])
    rel = points[:, None, :] - a[None]  # (P, N, 2)
    t = np.clip((rel * seg[None]).sum(2) / np.maximum(length * length, 1e-9)[None], 0.0, 1.0)
    near = a[None] + t[..., None] * seg[None]
    d2 = ((points[:, None, :] - near) ** 2).sum(2)
    k = np.argmin(d2, 1)
    return start[k] + t[np.arange(len(points)), k] * length[k]


def far_cheek_cut(shape: tuple[int, int], outer: np.ndarray, own_outer: np.ndarray, far: int, start: float,
                  fade: float) -> np.ndarray:
    """(h, w) float32: 1 up to ``start`` px beyond the farther of the two mouths' far corners, falling to 0 over the
    next ``fade`` px, measured along the drawn mouth's axis (from its near corner to its far one).

    On a turned head the far cheek beyond the mouth is foreshortened into a narrow band before the face's edge; a
    lent face put in that turn squeezes its own cheek, its edge and what lies beyond it (hair, an ear stud, the
    background) into that band, and what the not-skin test misses stayed as dark specks and grey streaks on the
    frame's cheek (KatieHill A->B 37-38, B->A 74-77). That band changes little with the mouth: there the frame's own
    cheek is kept.

    Parameters
    ----------
    shape: the mask's (h, w).
    outer, own_outer: (20, 2) the drawn and the frame's own outer lip contours (corners at 0 and 10), mask pixels.
    far: +1 where the far side is the right (larger x), -1 the left.
    start, fade: px.
    """
    ends = outer[[0, 10]].astype(np.float64)
    fi = int(np.argmax(ends[:, 0])) if far > 0 else int(np.argmin(ends[:, 0]))
    near = ends[1 - fi]
    axis = ends[fi] - near
    axis /= max(float(np.hypot(*axis)), 1e-6)
    reach = max(float((ends[fi] - near) @ axis), float(((own_outer[[0, 10]] - near) @ axis).max()))
    h, w = shape
    along = (np.arange(w, dtype=np.float32) - np.float32(near[0]))[None, :] * np.float32(axis[0]) \
        + (np.arange(h, dtype=np.float32) - np.float32(near[1]))[:, None] * np.float32(axis[1])
    return np.clip((reach + start + fade - along) / max(fade, 1e-6), 0.0, 1.0).astype(np.float32)


def hair_reach_cut(not_skin: np.ndarray, oval: np.ndarray, unit: float, corner_x: float, far: int,
                   margin: float = 0.04, fade: float = 0.04) -> np.ndarray | None:
    """(h, w) float32 0..1, a multiplier for a lent face's alpha: where what is not skin (``not_skin``,
    :func:`beside_mouth_not_skin`) reaches in from its outline ``oval`` ((N, 2) pixels) on the far side of a
    turned head (``far`` +1: right of the far mouth corner ``corner_x``, -1: left of it), the lent face ends a
    smooth line ``margin`` eye distances inside the deepest reach along that stretch of outline, fading out over
    ``fade``, and the frame's own pixels fill in up to its own outline. None where nothing reaches in.

    Why: a donor of another turn than the frame's shows its far cheek's edge, and its hair beyond, inside the
    frame's face once put in the frame's turn. The not-skin guard takes out what it can tell from skin, pixel by
    pixel, and left a notch with pale strands of hair in the jaw (Radio2 A->B 55, 74, 81-82, 91; KatieHill A->B
    38, 45) or a line along the far cheek or jaw (Radio2 B->A 42, KatieHill B->A 41; the looks halves' Radio2
    A->B 60): the hair's light strands and the cheek's own edge lie under its threshold. Cutting the lent face at
    a line along the outline, from how deep the hair reaches, takes them with it.

    Only what reaches in sideways counts (seen from the outline point nearest it, no more than ~50 degrees from
    level): under the chin the outline runs level, and the dark there (the neck under a risen chin) is the lent
    face's own (cut there, the frame's own chin line showed under the drawn one). ``unit`` is an eye distance in
    pixels; the work is done at half resolution (2-3 ms on a 320x260 region).
    """
    import cv2

    h, w = not_skin.shape
    hs, ws = (h + 1) // 2, (w + 1) // 2
    half = oval / 2.0
    pts = np.round(half * 16).astype(np.int32)
    inside = np.zeros((hs, ws), np.uint8)
    cv2.fillPoly(inside, [pts], 1, cv2.LINE_8, shift=4)
    small = cv2.resize(not_skin, (ws, hs), interpolation=cv2.INTER_AREA)
    hit = (small > 0.5) & (inside > 0)
    if not hit.any() or inside.all():
        return None
    # Every pixel's distance from the outline (drawn as a line of zeros) and the outline pixel nearest it.
    curve = np.ones((hs, ws), np.uint8)
    cv2.polylines(curve, [pts], True, 0, 1, cv2.LINE_8, shift=4)
    depth, label = cv2.distanceTransformWithLabels(curve, cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL)
    # What touches the outline (hair reaching in), not a dark spot inside the face.
    _, comp = cv2.connectedComponents(hit.astype(np.uint8), connectivity=8)
    touching = np.unique(comp[hit & (depth <= max(1.0, 0.015 * unit))])
    reach = hit & np.isin(comp, touching[touching > 0])
    # Each outline pixel, and its place along the outline.
    cy, cx = np.nonzero(curve == 0)
    where = np.zeros((int(label.max()) + 1, 2), np.float32)
    where[label[cy, cx]] = np.stack([cx, cy], 1)
    yy, xx = np.nonzero(reach)
    to_edge = where[label[yy, xx]] - np.stack([xx, yy], 1)
    keep = (np.abs(to_edge[:, 0]) >= 0.8 * np.abs(to_edge[:, 1])) & ((where[label[yy, xx], 0] - corner_x / 2) * far > 0)
    yy, xx = yy[keep], xx[keep]
    if not len(yy):
        return None
    arc = np.zeros(len(where), np.float32)
    arc[label[cy, cx]] = _arc_positions(np.stack([cx, cy], 1).astype(np.float64), half)
    perimeter = float(np.hypot(*(np.roll(half, -1, axis=0) - half).T).sum())
    bins = max(int(np.ceil(perimeter)), 1)
    deepest = np.full(bins, -np.inf, np.float32)
    np.maximum.at(deepest, np.minimum(arc[label[yy, xx]].astype(np.int64), bins - 1), depth[yy, xx])
    # The cut's line: at each place along the outline, the deepest reach nearby, less one pixel for every pixel
    # away along the outline (a 45-degree taper at either end), plus the margin.
    line = deepest.copy()
    for k in range(1, int(np.ceil(0.15 * unit / 2)) + 1):
        np.maximum(line, np.roll(deepest, k) - k, out=line)
        np.maximum(line, np.roll(deepest, -k) - k, out=line)
    line += np.float32(margin * unit / 2)
    f = np.float32(max(fade * unit / 2, 1.0))
    at = line[np.minimum(arc[label].astype(np.int64), bins - 1)]
    with np.errstate(invalid="ignore"):
        cut = np.clip((at + f - depth) / f, 0.0, 1.0)
    # Beyond the outline, only where it is cut (under the chin the lent neck stays, whatever is cut beside it).
    cut[inside == 0] = np.isfinite(at[inside == 0])
    cut = cv2.GaussianBlur(cut, (0, 0), max(0.01 * unit, 0.5))
    return 1.0 - cv2.resize(cut, (w, h), interpolation=cv2.INTER_LINEAR)
