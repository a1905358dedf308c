"""The face mesh's fixed topology: triangles rebuilt from FaceMesh's tessellation edges.

MediaPipe ships the surface as 1,322 undirected edges over 468 points, not as triangles. Every triangle is
a 3-clique of that edge graph; two cliques (beside the nose wings) are not faces — all three of their edges
are shared by three cliques — and are dropped, which leaves a manifold surface of 852 triangles with four
holes: the outline, the mouth and the two eyes. The eyes are closed with fans (a textured eye looks right);
the mouth stays open, so the lips part instead of stretching a membrane.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .track import LIPS_INNER, N_SURFACE


@dataclass(frozen=True)
class FaceTopology:
    """Triangles and hole loops of the 468-point FaceMesh surface.

    Attributes
    ----------
    triangles: (M, 3) int32 vertex indices (winding not yet oriented; see :func:`orient`).
    mouth_loop: the inner-lip boundary, in order.
    eye_loops: the two eye boundaries, in order.
    outline: the outer boundary, in order.
    """

    triangles: np.ndarray
    mouth_loop: tuple[int, ...]
    eye_loops: tuple[tuple[int, ...], ...]
    outline: tuple[int, ...]


def _edges() -> set[tuple[int, int]]:
    from .tracker import _import_mediapipe

    mp = _import_mediapipe()
    return {tuple(sorted(e)) for e in mp.solutions.face_mesh.FACEMESH_TESSELATION}


def _loops(boundary: list[tuple[int, int]]) -> list[tuple[int, ...]]:
    adj: dict[int, list[int]] = {}
    for a, b in boundary:
        adj.setdefault(a, []).append(b)
        adj.setdefault(b, []).append(a)
    seen: set[int] = set()
    loops = []
    for start in adj:
        if start in seen:
            continue
        loop, prev, cur = [start], None, start
        seen.add(start)
        while True:
            nxt = [n for n in adj[cur] if n != prev and n not in seen]
            if not nxt:
                break
            prev, cur = cur, nxt[0]
            seen.add(cur)
            loop.append(cur)
        loops.append(tuple(loop))
    return loops


@lru_cache(maxsize=1)
def face_topology() -> FaceTopology:
    """Build (once) the triangles and holes of the FaceMesh surface from MediaPipe's tessellation."""
    edges = _edges()
    adj: dict[int, set[int]] = {}
    for a, b in edges:
        adj.setdefault(a, set()).add(b)
        adj.setdefault(b, set()).add(a)
    cliques = {tuple(sorted((a, b, c))) for a, b in edges for c in adj[a] & adj[b]}
    use = Counter(e for t in cliques for e in itertools.combinations(t, 2))
    tris = [t for t in cliques if not all(use[e] > 2 for e in itertools.combinations(t, 2))]
    use = Counter(e for t in tris for e in itertools.combinations(t, 2))
    loops = _loops([e for e, n in use.items() if n == 1])
    mouth = next(lp for lp in loops if set(lp) == set(LIPS_INNER))
    outline = max(loops, key=len)
    eyes = tuple(lp for lp in loops if lp is not mouth and lp is not outline)
    fills = []
    for lp in eyes:  # a fan from the first point closes each eye
        fills += [(lp[0], lp[k], lp[k + 1]) for k in range(1, len(lp) - 1)]
    triangles = np.array(sorted(tris) + fills, np.int32)
    assert triangles.max() < N_SURFACE
    return FaceTopology(triangles, mouth, eyes, outline)


def orient(triangles: np.ndarray, frontal: np.ndarray) -> np.ndarray:
    """Wind every triangle counter-clockwise seen from the front (normals toward the viewer), consistently.

    Each connected piece takes its winding from its most frontal triangle and passes it on across shared
    edges (a neighbour runs a shared edge the other way), so triangles seen edge-on at the sides of the face,
    whose own normal's z is too small to trust, are wound like the surface around them.

    Parameters
    ----------
    triangles: (M, 3) int; frontal: (N, 3) vertices in a right-handed frame with +z toward the viewer.
    """
    from collections import deque

    a, b, c = (frontal[triangles[:, k]] for k in range(3))
    nz = np.cross(b - a, c - a)[:, 2]
    out = triangles.copy()
    by_edge: dict[tuple[int, int], list[int]] = {}
    for k, t in enumerate(out):
        for e in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])):
            by_edge.setdefault((min(e), max(e)), []).append(k)
    done = np.zeros(len(out), bool)
    for seed in np.argsort(-np.abs(nz)):
        if done[seed]:
            continue
        if nz[seed] < 0:
            out[seed] = out[seed][::-1]
        done[seed] = True
        queue = deque([int(seed)])
        while queue:
            t = out[queue.popleft()]
            for i, j in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])):
                for n in by_edge[(min(i, j), max(i, j))]:
                    if done[n]:
                        continue
                    u = out[n]
                    if any((u[m], u[(m + 1) % 3]) == (i, j) for m in range(3)):  # same direction: flip
                        out[n] = u[::-1]
                    done[n] = True
                    queue.append(n)
    return out


def rasterize_uv(uv: np.ndarray, triangles: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Which triangle covers each texel of a ``size``² UV atlas, with barycentric weights.

    Parameters
    ----------
    uv: (N, 2) in [0, 1] (u right, v up, as in OBJ).
    triangles: (M, 3) int.

    Returns
    -------
    tri_id: (size, size) int32, -1 where no triangle covers the texel (row 0 = top = v 1).
    bary: (size, size, 3) float32 barycentric weights of the texel centre.
    """
    from .raster import rasterize

    px = np.stack([uv[:, 0] * size, (1 - uv[:, 1]) * size], 1)
    cover = rasterize(px, triangles, (size, size))
    bary = np.zeros((size, size, 3), np.float32)
    bary[cover.ys, cover.xs] = cover.bary
    return cover.ids((size, size)), bary


def nearest_covered(covered: np.ndarray) -> np.ndarray:
    """(H·W,) int64: for every pixel of ``covered`` ((H, W) bool), the flat index of the nearest covered pixel
    (itself when covered); what fills an atlas's texels outside every triangle without a seam."""
    import cv2

    _, labels = cv2.distanceTransformWithLabels((~covered).astype(np.uint8), cv2.DIST_L2, 5,
                                                labelType=cv2.DIST_LABEL_PIXEL)
    ys, xs = np.nonzero(covered)
    lut = np.zeros(labels.max() + 1, np.int64)
    lut[labels[ys, xs]] = ys * covered.shape[1] + xs
    return lut[labels].reshape(-1)
