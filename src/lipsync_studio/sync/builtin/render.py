"""Drawing a new mouth into a frame: piecewise-affine warp, colour match, mouth interior, the blend (where the lent
face may cover the frame's: :mod:`.masks`).

Everything happens inside the lower-face region's bounding box (and, for a turned head, around the jaw outline:
:func:`move_outline`); the blend mask is exactly zero outside the region, so the rest of the frame stays
pixel-identical to the input.

A donor is resampled once, from its own frame's pixels straight to the output frame (the alignment and the
mouth's shape change composed into one map), with bicubic interpolation: each resampling with a bilinear filter
softens fine detail (lip lines, teeth edges, skin grain) visibly, and there used to be two, one of them a downscale.
(Lanczos over the lips kept more of a donor's pixel-level detail still, but with sharp donors chosen and the grain
matched the drawn mouths were already sharper than the clip's own: on six real heads' cross-dubs the median mouth
sharpness against the source frame was 1.063 with it, 1.035 without, where a real different frame scores 1.002;
at the same opening 1.167 and 1.141 against 1.005; the worst tenth 0.573 and 0.568. No difference shows at 2x.)
Where the blend's feather crosses the mouth, both images' grain keeps its strength (:func:`blend_keeping_grain`).
"""

from __future__ import annotations

import numpy as np

from ...media.colourspace import linear_to_srgb, srgb_to_linear


def _barycentric_map(d: np.ndarray, src_pts: np.ndarray, triangles: np.ndarray, xs: np.ndarray, ys: np.ndarray,
                     ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Source coordinates (float32, shaped as ``ids``) of destination points (xs, ys) lying in triangles ``ids``;
    ``xs`` and ``ys`` broadcast to ``ids``' shape (a row of x and a column of y for a box's pixels).

    A triangle collapsed to a sliver (under half a pixel high: lips pressed together) has no map across it; a point
    assigned to it takes the point of its longest edge nearest to it, mapped along the source's same edge. (Its
    barycentric map, extended by a pixel across a sliver along a closing upper lip, ran 1.5 edge lengths along the
    lip and drew the frame's backdrop, 76 px away, into the lip as a green dash.)
    """
    a_t, b_t, c_t = d[triangles[:, 0]], d[triangles[:, 1]], d[triangles[:, 2]]
    v0_t, v1_t = b_t - a_t, c_t - a_t
    den_t = v0_t[:, 0] * v1_t[:, 1] - v1_t[:, 0] * v0_t[:, 1]
    corners_t = np.stack([a_t, b_t, c_t], 1)
    ends = np.array([[0, 1], [0, 2], [1, 2]])
    lengths_t = np.linalg.norm(corners_t[:, ends[:, 1]] - corners_t[:, ends[:, 0]], axis=2)  # (M, 3) edge lengths
    flat_t = np.abs(den_t) < 0.5 * np.maximum(lengths_t.max(1), 1e-6)  # twice the area < half a pixel x longest edge
    den_t = np.where(flat_t, 1.0, den_t)
    s = src_pts[triangles]  # (M, 3, 2)
    # Per triangle: its two barycentric weights as linear functions of the point, and the source corner and edges
    # they scale; gathered per point (every pixel of a face's box is mapped: the gathers are what costs, in float32
    # half of float64; within a box a few hundred pixels wide that is exact to ~1e-3 px).
    k1x, k1y = v1_t[:, 1] / den_t, -v1_t[:, 0] / den_t
    k2x, k2y = -v0_t[:, 1] / den_t, v0_t[:, 0] / den_t
    table = np.stack([k1x, k1y, -(a_t[:, 0] * k1x + a_t[:, 1] * k1y),
                      k2x, k2y, -(a_t[:, 0] * k2x + a_t[:, 1] * k2y),
                      s[:, 0, 0], s[:, 1, 0] - s[:, 0, 0], s[:, 2, 0] - s[:, 0, 0],
                      s[:, 0, 1], s[:, 1, 1] - s[:, 0, 1], s[:, 2, 1] - s[:, 0, 1]]).astype(np.float32)
    x, y = np.asarray(xs, np.float32), np.asarray(ys, np.float32)
    ids = np.asarray(ids, np.intp)  # converted once, not by each gather
    c = [column.take(ids) for column in table]
    # Clamped: a point just outside its triangle (a map extended beyond the triangles) must not fly off.
    w1 = c[0] * x
    w1 += c[1] * y
    w1 += c[2]
    np.clip(w1, -0.5, 1.5, out=w1)
    w2 = c[3] * x
    w2 += c[4] * y
    w2 += c[5]
    np.clip(w2, -0.5, 1.5, out=w2)
    sx = w1 * c[7]
    sx += w2 * c[8]
    sx += c[6]
    sy = w1 * c[10]
    sy += w2 * c[11]
    sy += c[9]
    flat = flat_t[ids]
    if flat.any():
        f = np.nonzero(flat)
        t = ids[f]
        e = ends[np.argmax(lengths_t[t], 1)]  # (k, 2) the longest edge's corners
        p0, p1 = corners_t[t, e[:, 0]], corners_t[t, e[:, 1]]
        along = p1 - p0
        p = np.stack([np.broadcast_to(x, ids.shape)[f], np.broadcast_to(y, ids.shape)[f]], 1)
        u = np.clip(((p - p0) * along).sum(1) / np.maximum((along * along).sum(1), 1e-12), 0.0, 1.0)
        q0, q1 = s[t, e[:, 0]], s[t, e[:, 1]]
        sx[f] = q0[:, 0] + u * (q1[:, 0] - q0[:, 0])
        sy[f] = q0[:, 1] + u * (q1[:, 1] - q0[:, 1])
    return sx, sy


def upsample_grid(grid: np.ndarray, step: int, width: int, height: int) -> np.ndarray:
    """Bilinear interpolation of a coarse grid at every pixel, exactly aligned with its sample positions.

    Parameters
    ----------
    grid: (gh, gw) values sampled every ``step`` pixels: grid point (i, j) lies at pixel (j*step, i*step); or
        (gh, gw, C), up to four channels, each interpolated as it would be alone (in one pass: two channels cost
        half of two calls).
    step: grid spacing in pixels.
    width, height: size of the result in pixels; pixels beyond the last grid point are extrapolated linearly.

    Returns
    -------
    (height, width) or (height, width, C) float32 values.

    Notes
    -----
    ``cv2.resize`` aligns pixel centres instead, which shifts a grid's values by up to ~1.5 px at step 4.
    One ``cv2.warpAffine`` with the map x -> x/step samples exactly where the grid points lie when ``step``
    divides 32 (OpenCV places bilinear samples on a 1/32 lattice); it costs ~2/3 of the plain NumPy form,
    which serves the other steps. The two agree within ~5e-4 px on pixel coordinates up to ~2000 (float32
    weights).
    """
    import cv2

    g = np.asarray(grid, np.float32)
    if step <= 0 or 32 % step:
        return _upsample_grid_numpy(g, step, width, height)
    # Grid points past the last one, extended linearly, so that every pixel lies between two of them.
    for axis, n in ((1, width), (0, height)):
        size = g.shape[axis]
        extra = max(0, (n - 1 + step - 1) // step + 1 - size)
        if extra:
            last = np.take(g, [size - 1], axis=axis)
            slope = last - np.take(g, [size - 2], axis=axis) if size > 1 else np.zeros_like(last)
            g = np.concatenate([g] + [last + slope * (k + 1) for k in range(extra)], axis=axis)
    inverse = np.array([[1.0 / step, 0.0, 0.0], [0.0, 1.0 / step, 0.0]])
    return cv2.warpAffine(g, inverse, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def _upsample_grid_numpy(g: np.ndarray, step: int, width: int, height: int) -> np.ndarray:
    """``upsample_grid`` for any ``step``, in NumPy."""

    def axis(n: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t = np.arange(n, dtype=np.float32) / step
        i0 = np.minimum(t.astype(np.int64), size - 2) if size > 1 else np.zeros(n, np.int64)
        f = (t - i0).astype(np.float32) if size > 1 else np.zeros(n, np.float32)
        return i0, np.minimum(i0 + 1, size - 1), f

    xi0, xi1, fx = axis(width, g.shape[1])
    yi0, yi1, fy = axis(height, g.shape[0])
    fx = fx.reshape(-1, *([1] * (g.ndim - 2)))  # along the width, each channel alike
    fy = fy.reshape(-1, 1, *([1] * (g.ndim - 2)))
    rows = g[:, xi0] * (1 - fx) + g[:, xi1] * fx  # (gh, width[, C])
    return (rows[yi0] * (1 - fy) + rows[yi1] * fy).astype(np.float32)


def fill_in(img: np.ndarray, mask: np.ndarray, radius: int = 3) -> None:
    """Fill ``img``'s pixels under ``mask`` ((h, w) bool) from those around them (in place): OpenCV's Telea
    inpainting with ``radius``, run on the mask's box and ``radius`` + 2 pixels around it, the most it reads (a whole
    region's inpainting prepared the whole region: ~0.6 ms a 1080p frame for a nostril of a few hundred pixels)."""
    import cv2

    ys, xs = np.nonzero(mask)
    if not len(ys):
        return
    h, w = mask.shape
    m = radius + 2
    x0, y0 = max(int(xs.min()) - m, 0), max(int(ys.min()) - m, 0)
    x1, y1 = min(int(xs.max()) + m + 1, w), min(int(ys.max()) + m + 1, h)
    img[y0:y1, x0:x1] = cv2.inpaint(np.ascontiguousarray(img[y0:y1, x0:x1]), mask[y0:y1, x0:x1].astype(np.uint8),
                                    radius, cv2.INPAINT_TELEA)


def new_donor(last: int | None, source: int | None) -> bool:
    """Whether ``source`` (the clip frame lent now) starts a new run of lent frames after ``last`` (the one lent
    before): neither the same frame nor the one after it in the clip. Corrections measured on a donor (its colour,
    its grain) are smoothed over its run and start afresh with another: it brings its own lighting and noise."""
    return last is not None and source is not None and source not in (last, last + 1)


#: Triangles turned over by a warp with at least this area (px^2) at both ends carry pixels across a fold.
FOLD_AREA = 2.0


def _signed_areas(pts: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """(M,) signed area of each triangle of ``pts`` (positive: counter-clockwise in x-right, y-down pixels)."""
    q = pts[triangles]
    u, v = q[:, 1] - q[:, 0], q[:, 2] - q[:, 0]
    return 0.5 * (u[:, 0] * v[:, 1] - v[:, 0] * u[:, 1])


def piecewise_warp(src: np.ndarray, src_pts: np.ndarray, dst_pts: np.ndarray, triangles: np.ndarray,
                   box: tuple[int, int, int, int], interpolation: int | None = None,
                   split_cover: bool = False, keep_turned: np.ndarray | None = None,
                   exact: tuple[int, int, int, int] | None = None, step: int = 4) -> tuple[np.ndarray, ...]:
    """Warp ``src`` so that each triangle of ``src_pts`` lands on the same triangle of ``dst_pts``.

    Inside ``exact`` every pixel is mapped through its own triangle's affine map; elsewhere the map is computed
    every ``step`` pixels and interpolated between (the map is continuous: 16x less work at step 4, sub-pixel
    differences where neighbouring triangles' maps are alike). Where they differ sharply, at the lips' corners and
    along their contact line, the interpolation read the donor a few pixels off its true place: a small face (a
    160 px head) got dark dots beside its corners, spurs and torn teeth in a third of its frames, a 720p face ~50
    pixels a frame off by more than 40 levels. Mapped per pixel over a whole face's box, a 1080p close-up's cost
    twice what the grid did (a 2000 px face's 17 -> 40 ms): the engine asks it exact around the lips.

    Parameters
    ----------
    src: (h, w, 3) uint8 source image.
    src_pts, dst_pts: (N, 2) corresponding points (source image / destination frame pixels).
    triangles: (M, 3) int triangles over the points.
    box: ``x0, y0, x1, y1`` of the destination area to fill.
    interpolation: an OpenCV interpolation flag (default bicubic: keeps the detail a bilinear filter blurs).
    keep_turned: (M,) bool, triangles drawn even when the map turns them over (inside the face: a fold there
        is the donor's own face, and holes of the frame's own pixels, a piece of its mouth or jaw, read worse).
    exact: ``x0, y0, x1, y1`` (destination frame pixels) where each pixel is mapped exactly; None: all of ``box``.
    step: the grid's spacing elsewhere (pixels).

    Returns
    -------
    warped: (y1-y0, x1-x0, 3) uint8 destination pixels.
    cover: (y1-y0, x1-x0) bool, pixels inside some triangle whose source lies inside ``src``.
    inside: with ``split_cover``, ``cover`` is the triangles' alone and this (y1-y0, x1-x0) bool follows it: the
        pixels whose source lies inside ``src`` (to feather the two edges differently).
    """
    import cv2

    x0, y0, x1, y1 = box
    h, w = y1 - y0, x1 - x0
    d = dst_pts - np.array([x0, y0], np.float64)
    # A triangle the map turns over (its corners in the other order than in the source, both of a real size)
    # carries pixels from across a fold: a donor's head turned far from the frame's folds its far cheek's outline
    # over the face when put in the frame's turn, and the hair or background beyond that outline was drawn as a
    # dark blot inside the cheek. Such triangles are neither covered nor used for the map: the frame keeps its own
    # pixels there. (The lips' collapsed triangles, a pixel or less, stay, and so do those of ``keep_turned``.)
    # On six real heads the engine keeps every fold inside the face: taking those out too showed the frame's own
    # chin or mouth through (lp_d20's opening r 0.40 -> 0.37).
    a_src, a_dst = _signed_areas(src_pts, triangles), _signed_areas(d, triangles)
    turned = (a_src * a_dst < 0) & (np.minimum(np.abs(a_src), np.abs(a_dst)) > FOLD_AREA)
    if keep_turned is not None:
        turned &= ~keep_turned
    # Which triangle each pixel lies in (1 + its index; 0: none). Each triangle filled on its own: one fillPoly over
    # all of them fills by parity, and where two triangles overlap (thin ones folded along the lips, under the
    # nose) it left holes, lines of the frame's own pixels showing through the drawn mouth (a second teeth or lip
    # line). Only triangles that reach the box.
    ids = np.zeros((h, w), np.int32)
    tri_px = np.round(d[triangles] * 16).astype(np.int32)  # (M, 3, 2) pixels, 4 fractional bits
    lo, hi = tri_px.min(1), tri_px.max(1)
    reach = (hi[:, 0] >= -16) & (hi[:, 1] >= -16) & (lo[:, 0] <= w * 16) & (lo[:, 1] <= h * 16) & ~turned
    for k in np.flatnonzero(reach).tolist():
        cv2.fillConvexPoly(ids, tri_px[k], k + 1, lineType=cv2.LINE_8, shift=4)
    ids -= 1
    cover = ids >= 0
    if not cover.any():
        empty = np.zeros((h, w, 3), np.uint8)
        return (empty, cover, np.ones((h, w), bool)) if split_cover else (empty, cover)
    # The grid: grid point (i, j) is pixel (j*step, i*step), its triangle the pixel's; the points outside every
    # triangle (and the row and column past the box) take their nearest covered point's triangle (its affine map
    # extended), so the interpolation stays continuous up to the box's edge.
    gh, gw = (h + step - 1) // step + 1, (w + step - 1) // step + 1
    grid_ids = np.full((gh, gw), -1, np.int32)
    sampled = ids[::step, ::step]
    grid_ids[:sampled.shape[0], :sampled.shape[1]] = sampled
    on = grid_ids >= 0
    if not on.any():  # every triangle falls between the grid's points
        on[0, 0], grid_ids[0, 0] = True, int(ids[cover][0])
    if not on.all():
        _, lab = cv2.distanceTransformWithLabels((~on).astype(np.uint8), cv2.DIST_L2, 3,
                                                 labelType=cv2.DIST_LABEL_PIXEL)
        lut = np.zeros(lab.max() + 1, np.int32)
        lut[lab[on]] = grid_ids[on]
        grid_ids = lut[lab]
    gx = np.arange(gw, dtype=np.float32)[None] * step
    gy = np.arange(gh, dtype=np.float32)[:, None] * step
    sx, sy = _barycentric_map(d, src_pts, triangles, gx, gy, grid_ids)
    # Both coordinates in one pass (a two-channel grid: each channel as it would be alone, at half the cost).
    mxy = upsample_grid(np.dstack([sx, sy]), step, w, h)
    # Exactly, pixel by pixel, where asked (the covered pixels: beyond the triangles the grid's extension serves).
    ex0, ey0, ex1, ey1 = (0, 0, w, h) if exact is None else (
        max(exact[0] - x0, 0), max(exact[1] - y0, 0), min(exact[2] - x0, w), min(exact[3] - y0, h))
    if ex1 > ex0 and ey1 > ey0:
        part = ids[ey0:ey1, ex0:ex1]
        at = part >= 0
        sx, sy = _barycentric_map(d, src_pts, triangles, np.arange(ex0, ex1, dtype=np.float32)[None],
                                  np.arange(ey0, ey1, dtype=np.float32)[:, None], np.maximum(part, 0))
        view = mxy[ey0:ey1, ex0:ex1]
        view[..., 0] = np.where(at, sx, view[..., 0])
        view[..., 1] = np.where(at, sy, view[..., 1])
    flag = cv2.INTER_CUBIC if interpolation is None else interpolation
    # Only what the source holds: beyond its edge (a donor's chin below the bottom of its frame) the remap would
    # repeat the edge's last row into a block of streaks; there the frame keeps its own pixels.
    sh, sw = src.shape[:2]
    mx, my = mxy[..., 0], mxy[..., 1]
    inside = (mx >= -0.5) & (mx <= sw - 0.5) & (my >= -0.5) & (my <= sh - 0.5)
    result = (cover, inside) if split_cover else (cover & inside,)
    # Fixed-point maps (1/32 px): the remap's integer path, markedly faster than float maps for a bicubic.
    m1, m2 = cv2.convertMaps(mxy, None, cv2.CV_16SC2)
    return (cv2.remap(src, m1, m2, flag, borderMode=cv2.BORDER_REPLICATE), *result)


def smooth_warp(plane: np.ndarray, src_pts: np.ndarray, dst_pts: np.ndarray, box: tuple[int, int, int, int],
                sigma: float, step: int = 4) -> np.ndarray:
    """``plane`` moved as the points move, by a smooth map: each pixel of ``box`` reads where the points near it came
    from (their moves averaged with Gaussian weights of ``sigma`` pixels).

    For what has no texture to keep but an outline that must stay smooth: a transparent photo's alpha, moved as the
    face's outline moves (drawn by the blend's own edge, FaceMesh's coarse outline, it showed corners along an
    opened jaw).

    Parameters
    ----------
    plane: (h, w) uint8, in the same pixels as ``src_pts``.
    src_pts, dst_pts: (N, 2) corresponding points (plane pixels / destination frame pixels).
    box: ``x0, y0, x1, y1`` of the destination area to fill.

    Returns
    -------
    (y1-y0, x1-x0) uint8.
    """
    import cv2

    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    gx = np.arange(0, w + step, step, dtype=np.float64) + x0
    gy = np.arange(0, h + step, step, dtype=np.float64) + y0
    pts = np.stack(np.meshgrid(gx, gy), -1).reshape(-1, 2)
    d2 = ((pts[:, None, :] - dst_pts[None]) ** 2).sum(-1)
    wgt = np.exp(-(d2 - d2.min(1, keepdims=True)) / (2.0 * sigma * sigma))  # shifted: far from every point too
    move = (wgt @ (src_pts - dst_pts)) / wgt.sum(1, keepdims=True)
    grid = (pts + move).reshape(len(gy), len(gx), 2).astype(np.float32)
    mxy = cv2.resize(grid, (grid.shape[1] * step, grid.shape[0] * step), interpolation=cv2.INTER_LINEAR)
    mxy = np.ascontiguousarray(mxy[:h, :w])
    return cv2.remap(plane, mxy[..., 0], mxy[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def match_colour(warped: np.ndarray, target: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Per-channel gain and offset, fitted on the feather ring, that make ``warped`` match ``target``.

    Returns (6,) float: gains (3) then offsets (3).
    """
    # One pixel in 16 is plenty for six numbers (the engine smooths them over time); a small face: one in 4.
    for step in (4, 2):
        a = alpha[::step, ::step]
        ring = (a > 0.05) & (a < 0.95)
        if ring.sum() >= 200:
            break
    if ring.sum() < 20:
        return np.array([1, 1, 1, 0, 0, 0], np.float64)
    s = warped[::step, ::step][ring].astype(np.float32)
    t = target[::step, ::step][ring].astype(np.float32)
    gain = np.clip((t.std(0) + 1.0) / (s.std(0) + 1.0), 0.8, 1.25)
    offset = t.mean(0) - gain * s.mean(0)
    return np.concatenate([gain, offset])


def apply_colour(img: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``img`` (uint8, 3 channels) with the gains ``c[:3]`` and offsets ``c[3:]`` applied, rounded to the
    nearest level (truncating would darken every pixel by half a level on average)."""
    import cv2

    lut = np.clip(np.rint(np.arange(256, dtype=np.float32)[:, None] * c[:3] + c[3:]), 0, 255)
    return cv2.LUT(img, lut.astype(np.uint8).reshape(256, 1, 3))


def close_seam(img: np.ndarray, inner: np.ndarray, lips: np.ndarray) -> None:
    """Fill the thin inner-lip polygon of a mouth closed from a wide opening with the shadow where lips meet
    (in place): what is left between them (a hair of the donor's squeezed teeth: a white bar with a jagged edge)
    becomes the dark seam of shut lips.

    Parameters
    ----------
    img: (h, w, 3) uint8 area drawn in.
    inner: (20, 2) the new inner lip contour, pixels of ``img``.
    lips: (h, w) float 0..1 lip band of the new mouth (its colour sets the shadow's).
    """
    import cv2

    band = lips > 0.5
    if band.sum() < 8:
        return
    shadow = np.median(img[band].astype(np.float32), axis=0) * np.float32(0.45)
    h, w = img.shape[:2]
    x0, y0 = np.maximum(np.floor(inner.min(0)).astype(int) - 2, 0)
    x1, y1 = np.minimum(np.ceil(inner.max(0)).astype(int) + 3, [w, h])
    if x1 - x0 < 2 or y1 - y0 < 1:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    pts = np.round((inner - [x0, y0]) * 16).astype(np.int32)
    cv2.fillPoly(mask, [pts], 255, cv2.LINE_AA, shift=4)
    cv2.polylines(mask, [pts], True, 255, 1, cv2.LINE_AA, shift=4)  # the squeezed teeth reach the contour
    a = (mask.astype(np.float32) * np.float32(1 / 255))[..., None]
    area = img[y0:y1, x0:x1]
    img[y0:y1, x0:x1] = np.clip(area * (1 - a) + shadow * a + 0.5, 0, 255).astype(np.uint8)


#: Luma (BT.601) of an RGB colour: ``rgb @ LUMA``.
LUMA = np.array([0.299, 0.587, 0.114], np.float32)
#: Upper teeth from the middle to the corner on each side (central incisor, lateral incisor, canine, two premolars):
#: their share of the arch's quarter turn, and their visible height against the central incisor's.
_TEETH_WIDTH = np.array([1.0, 0.78, 0.8, 0.72, 0.7])
_TEETH_HEIGHT = np.array([1.0, 0.86, 0.95, 0.78, 0.7])
#: The lower row's: narrower incisors (about 5.5 mm against the upper centrals' 8.5); from the canine on, mostly behind
#: the lower lip.
_LOWER_TEETH_WIDTH = np.array([0.65, 0.7, 0.8, 0.75, 0.75])
_LOWER_TEETH_HEIGHT = np.array([1.0, 0.9, 0.5, 0.4, 0.3])


def inner_lip_edges(inner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The upper and the lower edge of an inner-lip contour (20, 2) in FaceMesh's LIPS_INNER order (0 and 10 the
    corners, 1-9 the upper lip, 11-19 the lower one back), each from corner to corner, left to right."""
    upper, lower = inner[:11], inner[[0, *range(19, 9, -1)]]
    return upper[np.argsort(upper[:, 0])], lower[np.argsort(lower[:, 0])]


def _teeth_row(gy: np.ndarray, lip: np.ndarray, toward: int, u: np.ndarray, half: float, band: float,
               widths: np.ndarray, heights: np.ndarray, ivory: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One row of teeth on an arch seen from the front, standing out of a lip's inner edge into the mouth.

    A pixel ``u`` across the mouth (-1..1) looks at the arch's angle arcsin(u), so teeth of equal size narrow
    toward the corners; each tooth's edge rounds off at its sides; the middle teeth lit, those toward the corners
    in the cheeks' shadow, the lip's shadow over their roots; fine dark seams between them opening into notches at
    the biting edge, which is a little translucent; each tooth a shade of its own.

    Parameters
    ----------
    gy: pixel rows; lip: the lip's inner edge in the same shape (y); toward: +1 the row hangs down from the lip
        (upper teeth), -1 stands up from it (lower teeth).
    u: position across the mouth; half: the mouth's half width (pixels); band: the central tooth's visible height.
    widths, heights: per tooth from the middle outward, share of the arch and height against the central one.
    ivory: the teeth's lit colour.

    Returns
    -------
    (on, colour, tooth): how much of each pixel the row covers (0..1), its colour (h, w, 3), and which tooth
    (0: central) each pixel looks at.
    """
    angle = np.abs(np.arcsin(np.clip(u, -1, 1) * 0.97))
    edges = np.concatenate([[0.0], np.cumsum(widths)]) / widths.sum() * (0.5 * np.pi * 0.97)
    k = np.clip(np.searchsorted(edges, angle, side="right") - 1, 0, len(widths) - 1)
    t = np.clip((angle - edges[k]) / (edges[k + 1] - edges[k]), 0, 1)  # 0..1 across each tooth, from the middle
    px_wide = (edges[k + 1] - edges[k]) * half * np.cos(angle)  # the tooth's width on screen (pixels)
    rounded = 1 - 0.18 * (2 * t - 1) ** 8
    length = band * heights[k] * (0.55 + 0.45 * np.cos(angle)) * rounded
    into = (gy - lip) * toward  # how far into the mouth from the lip's edge
    on = np.clip((length - into) / 0.9 + 0.5, 0, 1)
    lit = 0.3 + 0.7 * np.cos(angle) ** 2.5
    below = np.clip(into / np.maximum(length, 1.0), 0, 1)  # 0 at the lip, 1 at the biting edge
    lit = lit * (1 - 0.3 * np.exp(-below / 0.18)) * (1 + 0.04 * np.sin(3.1 * k + 1.0 * np.sign(u)))
    edge_grey = np.array([176, 176, 180], np.float32)
    tooth = ivory + (edge_grey - ivory) * (np.clip((below - 0.8) / 0.2, 0, 1) * 0.5)[..., None]
    seam_px = np.minimum(t, 1 - t) * px_wide
    seam = np.exp(-(seam_px / (0.4 + 0.8 * below ** 4)) ** 2) * (px_wide > 2.5)
    return on, tooth * (lit * (1 - 0.45 * seam))[..., None], k


#: A drawn interior's colours (RGB) where the clip shows none of its own, in a lit face's light.
STOCK_TEETH = np.array([230, 222, 204], np.float32)
STOCK_CAVITY = np.array([58, 20, 24], np.float32)


def _in_light(rgb: np.ndarray, light: float) -> np.ndarray:
    """``rgb`` (0-255) with ``light`` (0..1) of its light, in linear light."""
    if light >= 1.0:
        return rgb.copy()
    return (linear_to_srgb(srgb_to_linear(rgb / 255.0) * float(light)) * 255.0).astype(np.float32)


def paint_interior(img: np.ndarray, inner: np.ndarray, upper: np.ndarray, gap_px: float,
                   strength: float = 1.0, colours: tuple[np.ndarray | None, np.ndarray | None] = (None, None),
                   rows: str = "upper", lower_band: float | None = None, light: float = 1.0) -> None:
    """Draw a mouth interior inside the inner-lip polygon (in place), for a clip with no open mouth to lend.

    Teeth on an arch seen from the front (:func:`_teeth_row`) over a dark cavity with the tongue low in the middle:
    by default the upper teeth hanging from the upper lip, and for a wide opening the tips of the lower incisors
    behind the lower lip. A clip whose own open mouth shows its lower teeth (``rows``) gets those: a photo of a man
    whose upper lip covers his upper teeth, opened wider than the photo, had white upper teeth flash in where the
    drawing took over from his own interior (dark, lower teeth) and go again as the opening fell back. (Before
    the arch: a band shaded from white in the middle to grey at the corners, the same height across, with faint
    seams: on a still photo it read as a chrome bar, not teeth.)

    Parameters
    ----------
    img: (h, w, 3) uint8 area to draw in.
    inner: (20, 2) inner-lip contour (pixels of ``img``), FaceMesh LIPS_INNER order (0 and 10 the corners).
    upper: (n, 2) the upper inner lip, left to right.
    gap_px: the opening in pixels (sets the teeth's height and the blur).
    strength: 0..1, how much of the drawn interior covers what was there (fades it in as the mouth opens).
    colours: the clip's own ``(teeth, cavity)`` RGB (:func:`~.interior.own_interior`; None where its mouths
        show none): the drawn ones take them, so that they do not change colour where the drawing takes over
        from the clip's own interior, stretched as far as it goes (a photo with lips parted on its teeth).
    rows: which teeth show: "upper", "lower" or "both" (the clip's own, :func:`~.interior.own_interior`).
    lower_band: the lower teeth's visible height over the lower lip (pixels; None: 0.6 of the upper's).
    light: the share of the stock colours' light (linear, 0..1) they are drawn with where the clip shows none of
        its own (:func:`~.interior.teeth_light`: a dim photo's teeth are dim too).
    """
    import cv2

    h, w = img.shape[:2]
    # The mouth is dark into its corners: the drawing reaches a little past them along the mouth's line (only partly
    # covered, a wedge's last pixels showed a photo's shut lips, stretched open there, as a light stroke).
    inner = np.asarray(inner, np.float64)
    span = inner[10] - inner[0]
    length = float(np.hypot(*span))
    along = span / max(length, 1e-6) * max(1.0, 0.06 * length)
    drawn = inner.copy()
    drawn[0] -= along
    drawn[10] += along
    x0, y0 = np.maximum(np.floor(drawn.min(0)).astype(int) - 2, 0)
    x1, y1 = np.minimum(np.ceil(drawn.max(0)).astype(int) + 3, [w, h])
    if x1 - x0 < 3 or y1 - y0 < 2:
        return
    off = np.array([x0, y0], np.float64)
    poly = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(poly, [np.round((drawn - off) * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    if poly.max() == 0:
        return
    gy, gx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    ux, uy = upper[:, 0], upper[:, 1]
    top = np.interp(gx, ux, uy).astype(np.float32)  # the upper lip's inner edge above each pixel
    mid = float(ux[0] + ux[-1]) / 2
    half = max(float(ux[-1] - ux[0]) / 2, 1.0)
    u = (gx - mid) / half
    gap = max(gap_px, 1.0)
    depth = np.clip((gy - top) / gap, 0, 1)  # 0 under the upper lip, 1 at the lower lip
    band = max(1.5, min(0.32 * gap, 0.3 * half))  # the upper central incisors' visible height
    ivory = _in_light(STOCK_TEETH, light)
    dark = _in_light(STOCK_CAVITY, light)
    own_teeth, own_cavity = colours
    if own_teeth is not None:  # the measure's median lies a little under the lit middle teeth
        ivory = np.clip(np.asarray(own_teeth, np.float32) * 1.08, 0, 255)
    if own_cavity is not None:
        dark = np.asarray(own_cavity, np.float32) / 0.7  # the cavity's darkest third: its shadowed part
    # The cavity: dark, darkest high under the upper lip and toward the corners; the tongue low in the middle.
    across = np.clip(1 - u * u, 0, 1)
    cavity = dark * (0.45 + 0.55 * depth * across)[..., None]
    tongue_top = top + gap * (0.6 + 0.3 * u * u)
    on_tongue = np.clip((gy - tongue_top) / max(1.0, 0.08 * gap), 0, 1) * min(1.0, gap / 12) * across ** 0.5
    # In a clip's own darker (or lighter) mouth the tongue lies in the same shade.
    shade = float(np.clip((dark @ LUMA) / (STOCK_CAVITY @ LUMA), 0.5, 1.5))
    tongue = np.array([150, 66, 70], np.float32) * shade * (0.7 + 0.3 * np.exp(-np.clip(gy - tongue_top, 0, None)
                                                                         / max(1.0, 0.12 * gap)))[..., None]
    col = cavity + on_tongue[..., None] * (tongue * (0.6 + 0.4 * across[..., None]) - cavity)
    if rows in ("upper", "both"):
        on, tooth, _ = _teeth_row(gy, top, 1, u, half, band, _TEETH_WIDTH, _TEETH_HEIGHT, ivory)
        col = col * (1 - on[..., None]) + tooth * on[..., None]
    # The lower teeth stand up from the lower lip's inner edge: the clip's own row, or for a wide opening the
    # tips of the incisors and canines behind the lip.
    full = rows in ("lower", "both")
    if full or gap > 10:
        lower = inner_lip_edges(inner)[1]
        bottom = np.interp(gx, lower[:, 0], lower[:, 1]).astype(np.float32)
        if full:
            band_low, reach, shadow = (0.6 * band if lower_band is None else max(1.5, lower_band)), 3, 1.0
        else:
            band_low, reach, shadow = band * 0.22 * float(np.clip(gap / 25, 0.4, 1.0)), 2, 0.8
        on, tooth, k = _teeth_row(gy, bottom, -1, u, half, band_low, _LOWER_TEETH_WIDTH, _LOWER_TEETH_HEIGHT, ivory)
        on = on * (k < reach) * (1.0 if full else 0.8)
        col = col * (1 - on[..., None]) + (tooth * shadow) * on[..., None]
    col = cv2.GaussianBlur(col, (0, 0), max(0.4, gap * 0.015))
    a = (poly.astype(np.float32) / 255 * float(np.clip(strength, 0.0, 1.0)))[..., None]
    area = img[y0:y1, x0:x1]
    img[y0:y1, x0:x1] = np.clip(area * (1 - a) + col * a + 0.5, 0, 255).astype(np.uint8)


def blend_keeping_grain(top: np.ndarray, bottom: np.ndarray, alpha: np.ndarray,
                        box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """``alpha * top + (1 - alpha) * bottom`` (uint8 (h, w, 3) each, alpha (h, w) float 0..1), with the fine detail
    inside ``box`` (``x0, y0, x1, y1``; default all) kept at full strength across the blend.

    Averaging two images averages their fine detail away: where ``alpha`` is 0.5, the grain of two frames that do
    not line up keeps half its variance (Laplacian), and a feather across the mouth reads as a soft band. So the
    detail (each image's grey less its 3x3 mean: the grain is in the lightness) is mixed with weights whose squares
    sum to one, ``a / sqrt(a^2 + (1 - a)^2)``, and the rest with ``alpha`` itself: uncorrelated grain keeps its
    strength; where alpha is 0 or 1 the result is exactly the plain blend's.
    """
    import cv2

    out = cv2.blendLinear(top, bottom, alpha, 1.0 - alpha)
    x0, y0, x1, y1 = box if box is not None else (0, 0, alpha.shape[1], alpha.shape[0])
    x0, y0 = max(int(x0), 0), max(int(y0), 0)
    x1, y1 = min(int(x1), alpha.shape[1]), min(int(y1), alpha.shape[0])
    if x1 - x0 < 3 or y1 - y0 < 3:
        return out
    a = alpha[y0:y1, x0:x1]
    mixed = (a > 0.02) & (a < 0.98)
    if not mixed.any():
        return out
    rows, cols = np.flatnonzero(mixed.any(1)), np.flatnonzero(mixed.any(0))
    ya, yb = max(y0 + rows[0] - 1, 0), min(y0 + rows[-1] + 2, alpha.shape[0])
    xa, xb = max(x0 + cols[0] - 1, 0), min(x0 + cols[-1] + 2, alpha.shape[1])

    def detail(img: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(np.ascontiguousarray(img[ya:yb, xa:xb]), cv2.COLOR_RGB2GRAY).astype(np.float32)
        return grey - cv2.blur(grey, (3, 3))

    aa = alpha[ya:yb, xa:xb]
    gain = 1.0 / np.sqrt(aa * aa + (1 - aa) * (1 - aa)) - 1.0  # 0 where alpha is 0 or 1
    extra = gain * (aa * detail(top) + (1 - aa) * detail(bottom))
    # Only inside the box (the pixel around it is read, not written).
    wy0, wy1, wx0, wx1 = max(ya, y0), min(yb, y1), max(xa, x0), min(xb, x1)
    e = extra[wy0 - ya:wy1 - ya, wx0 - xa:wx1 - xa]
    sub = out[wy0:wy1, wx0:wx1].astype(np.float32)
    sub += e[..., None]
    out[wy0:wy1, wx0:wx1] = np.clip(sub + 0.5, 0, 255).astype(np.uint8)
    return out


def near_outline(lent: np.ndarray, own: np.ndarray, most: float) -> np.ndarray:
    """``lent`` ((N, 2) outline points) with each point moved toward its counterpart in ``own`` until it is at most
    ``most`` away (points already that close stay): where a frame's jaw edge may be taken to follow a lent jaw
    (:func:`move_outline`) without going further than the speaker's own jaw goes by more than ``most``."""
    lent, own = np.asarray(lent, np.float64), np.asarray(own, np.float64)
    d = lent - own
    n = np.linalg.norm(d, axis=1, keepdims=True)
    return own + d * np.minimum(1.0, most / np.maximum(n, 1e-12))


def move_outline(image: np.ndarray, own: np.ndarray, moved: np.ndarray, reach: float, extend: float,
                 inner: float | None = None, step: int = 4) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """The pixels around an open outline (a jaw) moved with it.

    Parameters
    ----------
    image: (H, W, 3) uint8 frame.
    own: (N, 2) the outline in ``image`` (pixels), in order along it.
    moved: (N, 2) where its points go.
    reach: how far (px) outside the moved outline, beyond the move itself, the pixels follow it, less and less
        (all the way on it, not at all that far from it).
    inner: the same inside the outline (the side it bends toward; default ``reach``).
    extend: the outline is continued this far (px) past either end by a point that stays put, so the move fades
        out there instead of stopping along a line.
    step: the move is computed every ``step`` pixels and interpolated between.

    Returns
    -------
    ``(x0, y0, x1, y1)`` and the new pixels there (a copy), or None where the outline moves less than half a pixel.

    Only the part of each point's move across the outline is made (along it an edge looks the same, and moving
    the pixels beside the side of a jaw, hair, bent them).

    A lent lower face is drawn to the frame's jaw outline moved as the speaker's jaw moves, and around the chin it
    brings its own neck; beside the chin the frame's own pixels show beyond the lent face. Left where they were, a
    risen jaw there had two outlines: the donor's jaw edge drawn faintly inside the frame's skin (a crease along the
    far jaw of a turned head: KatieHill A->B 5, 14, 26-27) and the frame's own further down (a crescent under the
    chin: Radio34 A->B 89-90). Moving the frame's own jaw edge with the lent one leaves one.

    Only for a turned head (the engine's choice): there FaceMesh's outline lies off the visible jaw and the lines
    showed. On frontal heads the frame's own jaw beside the chin looked right left in place, and moving it cost
    the cross-reconstruction's shut share on six real heads 0.646 -> 0.615 (every lent frame) against 0.623-0.629
    (turned heads only), the drawn mouths unchanged to the pixel: FaceMesh reads closed lips a little more open
    under a risen jaw.

    Each pixel takes its move from the nearest point of the moved outline (a distance transform on a grid every
    ``step`` pixels), weighted by a smooth step from 1 on it to 0 at ``reach`` (``inner``) plus 1.5 times the
    largest move away (so the map never folds), and reads the frame there less that move (bicubic, as the donor is
    drawn; a pixel that does not move comes back exactly).
    """
    import cv2

    own, moved = np.asarray(own, np.float64), np.asarray(moved, np.float64)
    n = len(own)
    if n < 2 or not (np.isfinite(own).all() and np.isfinite(moved).all()):
        return None
    # Only the move across the outline: along it, a jaw's edge stays where it is, and moving the pixels there (along
    # the side of a turned head's jaw, hair) only bent what lies beside it.
    along = np.gradient(moved, axis=0)
    normal = np.stack([-along[:, 1], along[:, 0]], 1) / np.maximum(np.linalg.norm(along, axis=1, keepdims=True), 1e-9)
    move = normal * ((moved - own) * normal).sum(1, keepdims=True)
    moved = own + move
    size = float(np.linalg.norm(move, axis=1).max())
    if size < 0.5:
        return None
    # The outline continued at both ends by a point that stays put.
    ends = []
    for a, b in ((0, 1), (n - 1, n - 2)):
        along = moved[a] - moved[b]
        ends.append(moved[a] + along / max(float(np.linalg.norm(along)), 1e-6) * extend)
    line = np.vstack([ends[0], moved, ends[1]])
    shift = np.vstack([np.zeros((1, 2)), move, np.zeros((1, 2))])
    r = reach + 1.5 * size
    r_in = (reach if inner is None else inner) + 1.5 * size
    h, w = image.shape[:2]
    lo = np.floor(line.min(0) - max(r, r_in)).astype(int)
    hi = np.ceil(line.max(0) + max(r, r_in)).astype(int) + 1
    x0, y0 = max(int(lo[0]), 0), max(int(lo[1]), 0)
    x1, y1 = min(int(hi[0]), w), min(int(hi[1]), h)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    # The move on a coarse grid: the outline drawn into it (each cell on it holds its move), every other cell takes
    # the move of the nearest cell on it, weighted by the distance.
    gw, gh = (x1 - x0 + step - 1) // step + 1, (y1 - y0 + step - 1) // step + 1
    seg = np.linalg.norm(np.diff(line, axis=0), axis=1)
    pos = np.concatenate([[0.0], np.cumsum(seg)])
    at = np.linspace(0.0, pos[-1], max(int(np.ceil(2 * pos[-1] / step)), 2))
    pts = np.stack([np.interp(at, pos, line[:, 0]), np.interp(at, pos, line[:, 1])], 1)
    moves = np.stack([np.interp(at, pos, shift[:, 0]), np.interp(at, pos, shift[:, 1])], 1)
    cells = np.round((pts - [x0, y0]) / step).astype(int)
    ok = (cells[:, 0] >= 0) & (cells[:, 0] < gw) & (cells[:, 1] >= 0) & (cells[:, 1] < gh)
    if not ok.any():
        return None
    cells, moves = cells[ok], moves[ok]
    free = np.ones((gh, gw), np.uint8)
    free[cells[:, 1], cells[:, 0]] = 0
    dist, labels = cv2.distanceTransformWithLabels(free, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    lookup = np.zeros((int(labels.max()) + 1, 2), np.float32)
    lookup[labels[cells[:, 1], cells[:, 0]]] = moves
    # Inside: the outline closed across its ends.
    inside = np.zeros((gh, gw), np.uint8)
    cv2.fillPoly(inside, [np.round((line - [x0, y0]) / step * 16).astype(np.int32)], 1, cv2.LINE_8, shift=4)
    u = np.clip(1.0 - dist * np.where(inside > 0, np.float32(step / r_in), np.float32(step / r)), 0.0, 1.0)
    grid = lookup[labels] * (u * u * (3 - 2 * u))[..., None]
    moving = np.abs(grid).max(2) >= 0.05
    if not moving.any():
        return None
    # Only the part of the box that moves (the grid is cut to it with a cell's margin for the interpolation).
    rows, cols = np.flatnonzero(moving.any(1)), np.flatnonzero(moving.any(0))
    r0, r1 = max(int(rows[0]) - 1, 0), min(int(rows[-1]) + 2, gh)
    c0, c1 = max(int(cols[0]) - 1, 0), min(int(cols[-1]) + 2, gw)
    grid = grid[r0:r1, c0:c1]
    x0, y0 = x0 + c0 * step, y0 + r0 * step
    x1, y1 = min(x0 + (c1 - c0 - 1) * step + 1, x1), min(y0 + (r1 - r0 - 1) * step + 1, y1)
    # Where each pixel reads (the identity less the move; linear, so its interpolation between cells is exact).
    ii, jj = np.mgrid[0:r1 - r0, 0:c1 - c0].astype(np.float32) * np.float32(step)
    reads = np.ascontiguousarray(np.stack([jj, ii], -1) - grid)
    where = upsample_grid(reads, step, x1 - x0, y1 - y0)
    sub = np.ascontiguousarray(image[y0:y1, x0:x1])
    # A pixel that does not move (read exactly at its own place) comes back exactly.
    out = cv2.remap(sub, where, None, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    return (x0, y0, x1, y1), out
