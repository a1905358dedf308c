"""What a file says about its stereo packing and its projection (VR180, 360, spatial video), and writing it back.

Read from, in this order of authority:

1. **MP4/MOV boxes** (parsed here, :mod:`.boxes`): Google's Spherical Video V2 in the video sample entry:
   ``st3d`` (stereo mode 0 mono, 1 top-bottom, 2 left-right, 3 custom, 4 right-left) and ``sv3d`` > ``svhd``
   + ``proj`` > ``prhd`` (pose, 16.16 degrees) + one of ``equi`` (crop bounds, 0.32 fixed point), ``cbmp``
   (cube layout, padding) or ``mshp`` (one mesh, or one per eye; raw or raw-deflate); the older V1 XML in a
   track-level ``uuid`` box (``ffcc8263-f855-4a93-8814-587a02521fdd``); Apple's ``vexu``/``hfov`` and an
   ``lhvC`` (MV-HEVC, two views in one HEVC stream).
2. **Matroska/WebM** (parsed here): the video track's ``StereoMode`` and ``Projection`` elements.
3. **The decoder** (PyAV/FFmpeg, first frames): how many views an HEVC stream decodes to (two: MV-HEVC, even
   without an ``lhvC``; :mod:`.mvhevc`), and as a fallback the frame-packing SEI and what FFmpeg made of the
   container (its side data). (FFmpeg 8 reports a VR180 mesh as a plain full equirectangular sphere, which
   is why the boxes are read here first.)

:func:`write_vr_metadata` puts the boxes back into an MP4/MOV (the ``moov`` is rewritten and the chunk offsets
moved; the media data is copied untouched), atomically: a temporary name, then a rename.
"""

from __future__ import annotations

import math
import re
import struct
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MediaError
from .boxes import Box, parse_boxes, read_moov, rewrite_moov, video_tracks
from .container import check_readable

SPHERICAL_V1_UUID = bytes.fromhex("ffcc8263f8554a938814587a02521fdd")

#: st3d stereo_mode -> our words; the app's layout names are in :attr:`VRMetadata.layout`.
ST3D_MODES = {0: "mono", 1: "top-bottom", 2: "left-right", 3: "custom", 4: "right-left"}
_MODE_LAYOUT = {"mono": "mono", "top-bottom": "tb", "left-right": "sbs", "right-left": "sbs-rl",
                "bottom-top": "tb-rl"}
_LAYOUT_ST3D = {"mono": 0, "tb": 1, "half-tb": 1, "sbs": 2, "half-sbs": 2, "sbs-rl": 4, "half-sbs-rl": 4}
#: Matroska StereoMode values we can use (the others interleave rows, columns, frames or are anaglyphs).
MKV_STEREO = {0: "mono", 1: "left-right", 2: "bottom-top", 3: "top-bottom", 11: "right-left"}
MKV_PROJECTION = {0: "rectilinear", 1: "equirectangular", 2: "cubemap", 3: "mesh"}


@dataclass(frozen=True)
class Mesh:
    """One projection mesh of an ``mshp`` box.

    Attributes
    ----------
    xyz: (N, 3) float32 vertex positions, OpenGL axes (-Z forward, +X right, +Y up).
    uv: (N, 2) float32 texture coordinates, origin at the lower left, as stored (before the stereo adjustment).
    triangles: (M, 3) int32 vertex indices (strips and fans expanded).
    """

    xyz: np.ndarray
    uv: np.ndarray
    triangles: np.ndarray


@dataclass(frozen=True)
class VRMetadata:
    """The stereo packing and projection a file declares.

    Attributes
    ----------
    stereo: ``mono``, ``top-bottom``, ``left-right``, ``right-left``, ``bottom-top``, ``custom``, or None when
        nothing says; ``views``: 2 for MV-HEVC (two views in one stream), else 1.
    projection: ``equirectangular``, ``cubemap``, ``mesh``, ``rectilinear``, ``fisheye`` ... or None.
    source: where it was read (``st3d/sv3d``, ``spherical-v1``, ``matroska``, ``frame-packing SEI``, ``mv-hevc``,
        ``decoder``), or ``none``.
    pose: (yaw, pitch, roll) degrees; equi_bounds: (top, bottom, left, right) cropped fractions; cubemap:
        (layout, padding); meshes: the mesh(es) of a mesh projection.
    fov: (horizontal, vertical) degrees the picture covers, when known.
    metadata_source: the tool that wrote ``sv3d`` (its ``svhd``).
    entry_boxes: the sample-entry boxes as found (``st3d``, ``sv3d``, ``vexu``, ``hfov``: raw bytes, written back
        unchanged); track_boxes: the same for the track (the V1 ``uuid``).
    notes: what was odd (an unknown stereo mode, a CRC mismatch, V1 and V2 disagreeing).
    """

    stereo: str | None = None
    projection: str | None = None
    source: str = "none"
    views: int = 1
    pose: tuple[float, float, float] = (0.0, 0.0, 0.0)
    equi_bounds: tuple[float, float, float, float] | None = None
    cubemap: tuple[int, int] | None = None
    meshes: tuple[Mesh, ...] = ()
    fov: tuple[float, float] | None = None
    metadata_source: str | None = None
    entry_boxes: tuple[tuple[bytes, bytes], ...] = ()
    track_boxes: tuple[tuple[bytes, bytes], ...] = ()
    notes: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False)
    frame_size: tuple[int, int] | None = None

    @property
    def found(self) -> bool:
        """True when the file declares a stereo packing or a projection."""
        return self.stereo is not None or self.projection is not None or self.views > 1

    @property
    def layout(self) -> str | None:
        """The app's layout name (``tb``, ``sbs``, ``sbs-rl``, ``tb-rl``, ``mono``) or None when not declared."""
        if self.views > 1:  # two views in one stream: the readers give them side by side (media.mvhevc)
            return "sbs"
        if self.stereo == "custom" and len(self.meshes) == 2:
            return _layout_from_meshes(self.meshes)
        name = _MODE_LAYOUT.get(self.stereo) if self.stereo else None
        if name in (None, "mono") or self.frame_size is None:
            return name  # st3d: full packing (what VR uses)
        # Matroska StereoMode and the frame-packing SEI do not say whether each eye is squeezed: the frame's
        # shape does (the rule detection uses: full-SBS eyes are not narrow, full-TB eyes are not wide).
        w, h = self.frame_size
        half = (w // 2) / max(h, 1) < 0.95 if name.startswith("sbs") else w / max(h // 2, 1) > 1.9
        return ("half-" + name) if half else name

    @property
    def spherical(self) -> bool:
        """True when the picture is a projection of the sphere (not a flat picture)."""
        return self.projection in ("equirectangular", "cubemap", "mesh", "fisheye", "half-equirectangular")

    def as_dict(self) -> dict[str, Any]:
        """A plain summary for ``probe --json`` (meshes as counts, boxes as types and sizes)."""
        return {"stereo": self.stereo, "layout": self.layout, "views": self.views, "projection": self.projection,
                "fov_deg": None if self.fov is None else [round(self.fov[0], 1), round(self.fov[1], 1)],
                "pose_deg": list(self.pose), "equi_bounds": None if self.equi_bounds is None else
                [round(b, 6) for b in self.equi_bounds], "cubemap": self.cubemap,
                "meshes": [{"vertices": len(m.xyz), "triangles": len(m.triangles)} for m in self.meshes],
                "source": self.source, "metadata_source": self.metadata_source,
                "boxes": [f"{t.decode('latin-1')} ({len(b)} B)" for t, b in self.entry_boxes + self.track_boxes],
                "notes": list(self.notes)}

    def summary(self) -> str:
        """One line for ``probe``: what the file says and where it says it."""
        if not self.found:
            return "no stereo or projection metadata"
        parts = []
        if self.views > 1:
            parts.append("MV-HEVC, two views (spatial video), read as full side by side")
        if self.stereo:
            parts.append(f"stereo {self.stereo}" + (f" ({self.layout})" if self.layout else ""))
        if self.projection:
            proj = self.projection
            if self.meshes:
                proj += f" ({len(self.meshes)} mesh{'es' if len(self.meshes) > 1 else ''}, " \
                        f"{sum(len(m.xyz) for m in self.meshes)} vertices)"
            parts.append(f"projection {proj}")
        if self.fov:
            parts.append(f"field of view {self.fov[0]:.0f}° x {self.fov[1]:.0f}°")
        if any(self.pose):
            parts.append("pose yaw/pitch/roll " + "/".join(f"{a:g}" for a in self.pose) + "°")
        return ", ".join(parts) + f"  [from {self.source}]"

    def for_layout(self, layout: str) -> "VRMetadata | None":
        """The metadata to write on an output packed as ``layout`` (an app layout name), or None if it cannot say.

        The projection boxes are kept; ``st3d`` is rewritten to the output's packing. A stereo-custom mesh pair
        has its packing baked into the meshes' texture coordinates, so it fits only its own packing.
        """
        if self.views > 1:
            # The views become one packed picture, which st3d describes; Apple's vexu/hfov describe views in
            # layers of one HEVC stream and would mislead a player on a packed output.
            mode = _LAYOUT_ST3D.get(layout)
            if mode is None:
                return None
            kept = tuple((t, b) for t, b in self.entry_boxes if t not in (b"vexu", b"hfov"))
            return replace(self, views=1, stereo=None, entry_boxes=kept)._restereo(mode)
        meta = self if self.entry_boxes else self._with_boxes()
        if layout == meta.layout:
            return meta
        mode = _LAYOUT_ST3D.get(layout)
        if mode is None or meta.stereo == "custom":
            return None
        return meta._restereo(mode)

    def _with_boxes(self) -> "VRMetadata":
        """The MP4 boxes for metadata read from elsewhere (Matroska's Projection carries the same payloads)."""
        boxes = []
        mode = {v: k for k, v in ST3D_MODES.items()}.get(self.stereo or "")
        if mode is not None:
            boxes.append((b"st3d", st3d_box(mode)))
        private = self.raw.get("projection_private", b"")
        if self.projection == "equirectangular":
            boxes.append((b"sv3d", sv3d_equirect_box(self.equi_bounds or (0, 0, 0, 0), self.pose)))
        elif self.projection == "mesh" and private:
            boxes.append((b"sv3d", sv3d_mesh_box(private, self.pose)))
        return replace(self, entry_boxes=tuple(boxes))

    def _restereo(self, mode: int) -> "VRMetadata":
        boxes = tuple((t, b) for t, b in self.entry_boxes if t != b"st3d")
        st3d = (b"st3d", st3d_box(mode))
        # st3d comes before sv3d (the RFC's order).
        return replace(self, stereo=ST3D_MODES[mode], entry_boxes=(st3d,) + boxes,
                       track_boxes=tuple((t, _v1_with_mode(b, ST3D_MODES[mode])) for t, b in self.track_boxes))


# -- box builders ---------------------------------------------------------------------------------------

def st3d_box(mode: int) -> bytes:
    """An ``st3d`` box (FullBox v0) with this stereo mode."""
    return struct.pack(">I4sIB", 13, b"st3d", 0, mode)


def sv3d_equirect_box(bounds: tuple[float, float, float, float] = (0, 0, 0, 0),
                      pose: tuple[float, float, float] = (0, 0, 0), source: str = "Lipsync Studio") -> bytes:
    """An ``sv3d`` box for an equirectangular projection cropped by ``bounds`` (top, bottom, left, right)."""
    equi = Box(b"equi", struct.pack(">I4I", 0, *(min(0xFFFFFFFF, int(round(b * 2 ** 32))) for b in bounds)))
    return _sv3d(equi, pose, source)


def sv3d_mesh_box(mshp_payload: bytes, pose: tuple[float, float, float] = (0, 0, 0),
                  source: str = "Lipsync Studio") -> bytes:
    """An ``sv3d`` box around an ``mshp`` payload (version/flags, crc, encoding, meshes)."""
    return _sv3d(Box(b"mshp", mshp_payload), pose, source)


def _sv3d(proj_data: Box, pose, source: str) -> bytes:
    prhd = Box(b"prhd", struct.pack(">I3i", 0, *(int(round(a * 65536)) for a in pose)))
    svhd = Box(b"svhd", b"\0\0\0\0" + source.encode() + b"\0")
    return Box(b"sv3d", children=[svhd, Box(b"proj", children=[prhd, proj_data])]).serialize()


def _v1_with_mode(box: bytes, mode: str) -> bytes:
    """A V1 ``uuid`` box with its StereoMode element changed to ``mode``."""
    words = {"mono": "mono", "top-bottom": "top-bottom", "left-right": "left-right"}.get(mode)
    xml = box[24:].decode("utf-8", "replace")
    if words is None or "StereoMode>" not in xml:
        return box
    xml = re.sub(r"(StereoMode>)[^<]*(<)", rf"\g<1> {words} \g<2>", xml)
    return Box(b"uuid", SPHERICAL_V1_UUID + xml.encode()).serialize()


# -- the mesh box ---------------------------------------------------------------------------------------

class _Bits:
    """Big-endian, most-significant-bit-first reader."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, n: int) -> int:
        if n == 0:
            return 0
        end = self.pos + n
        if end > 8 * len(self.data):
            raise ValueError("the mesh data is cut off")
        byte0, byte1 = self.pos >> 3, (end + 7) >> 3
        value = int.from_bytes(self.data[byte0:byte1], "big")
        value >>= (8 * (byte1 - byte0) - (end - 8 * byte0))
        self.pos = end
        return value & ((1 << n) - 1)

    def align(self) -> None:
        self.pos = (self.pos + 7) & ~7


def _zigzag(n: int) -> int:
    return (n >> 1) if n % 2 == 0 else -((n + 1) >> 1)


def parse_mesh(payload: bytes) -> Mesh:
    """One ``mesh`` box payload (see the Spherical Video V2 RFC) as arrays."""
    bits = _Bits(payload)
    n_coord = bits.read(32) & 0x7FFFFFFF
    if n_coord > len(payload) // 4:
        raise ValueError(f"{n_coord} coordinates in {len(payload)} bytes")
    coords = np.frombuffer(payload, ">f4", n_coord, 4).astype(np.float32)
    bits.pos = 8 * (4 + 4 * n_coord)
    n_vert = bits.read(32) & 0x7FFFFFFF
    ccsb = max(1, math.ceil(math.log2(n_coord * 2))) if n_coord else 1
    if n_vert * 5 * ccsb > 8 * len(payload):
        raise ValueError(f"{n_vert} vertices in {len(payload)} bytes")
    idx = np.zeros((n_vert, 5), np.int64)
    cur = [0, 0, 0, 0, 0]
    for i in range(n_vert):
        for k in range(5):
            cur[k] += _zigzag(bits.read(ccsb))
            idx[i, k] = cur[k]
    bits.align()
    if n_vert and (idx.min() < 0 or idx.max() >= n_coord):
        raise ValueError("a vertex points outside the coordinate list")
    verts = coords[idx] if n_vert else np.zeros((0, 5), np.float32)
    n_lists = bits.read(32) & 0x7FFFFFFF
    vcsb = max(1, math.ceil(math.log2(n_vert * 2))) if n_vert else 1
    tris: list[np.ndarray] = []
    prev = 0
    for _ in range(n_lists):
        texture = bits.read(8)
        kind = bits.read(8)
        count = bits.read(32) & 0x7FFFFFFF
        if count * vcsb > 8 * len(payload):
            raise ValueError(f"a vertex list of {count} indices in {len(payload)} bytes")
        ids = np.empty(count, np.int64)
        for j in range(count):
            prev += _zigzag(bits.read(vcsb))
            ids[j] = prev
        bits.align()
        if count and (ids.min() < 0 or ids.max() >= n_vert):
            raise ValueError("a triangle points outside the vertex list")
        if texture != 0:
            continue  # a static image, not the video
        if kind == 0:
            t = ids[:count - count % 3].reshape(-1, 3)
        elif kind == 1:  # strip: every other triangle flipped to keep the winding
            t = np.array([(ids[k], ids[k + 1], ids[k + 2]) if k % 2 == 0 else (ids[k + 1], ids[k], ids[k + 2])
                          for k in range(count - 2)], np.int64).reshape(-1, 3)
        elif kind == 2:
            t = np.array([(ids[0], ids[k], ids[k + 1]) for k in range(1, count - 1)], np.int64).reshape(-1, 3)
        else:
            raise ValueError(f"unknown vertex list type {kind}")
        tris.append(t)
    triangles = np.concatenate(tris).astype(np.int32) if tris else np.zeros((0, 3), np.int32)
    return Mesh(verts[:, :3].copy(), verts[:, 3:].copy(), triangles)


class _BitWriter:
    def __init__(self) -> None:
        self.value, self.n = 0, 0

    def write(self, v: int, n: int) -> None:
        self.value = (self.value << n) | (v & ((1 << n) - 1))
        self.n += n

    def align(self) -> None:
        self.write(0, (-self.n) % 8)

    def bytes(self) -> bytes:
        self.align()
        return self.value.to_bytes(self.n // 8, "big")


def _zz(n: int) -> int:
    return 2 * n if n >= 0 else -2 * n - 1


def encode_mesh(mesh: Mesh) -> bytes:
    """A ``mesh`` box (header included) holding ``mesh`` as one triangle list (the inverse of :func:`parse_mesh`)."""
    verts = np.concatenate([mesh.xyz, mesh.uv], axis=1).astype(">f4")
    coords, inverse = np.unique(verts.ravel(), return_inverse=True)
    idx = inverse.reshape(-1, 5)
    out = _BitWriter()
    out.write(len(coords), 32)
    body = coords.astype(">f4").tobytes()
    ccsb = max(1, math.ceil(math.log2(len(coords) * 2))) if len(coords) else 1
    vw = _BitWriter()
    vw.write(len(verts), 32)
    prev = [0] * 5
    for row in idx:
        for k in range(5):
            vw.write(_zz(int(row[k]) - prev[k]), ccsb)
            prev[k] = int(row[k])
    vw.align()
    tris = np.asarray(mesh.triangles, np.int64).ravel()
    vcsb = max(1, math.ceil(math.log2(len(verts) * 2))) if len(verts) else 1
    vw.write(1, 32)
    vw.write(0, 8)  # texture 0: the video
    vw.write(0, 8)  # triangles
    vw.write(len(tris), 32)
    last = 0
    for i in tris:
        vw.write(_zz(int(i) - last), vcsb)
        last = int(i)
    vw.align()
    return Box(b"mesh", out.bytes() + body + vw.bytes()).serialize()


def mshp_payload(meshes: "list[Mesh] | tuple[Mesh, ...]", compress: bool = True) -> bytes:
    """An ``mshp`` payload (version/flags, CRC, encoding, meshes) for :func:`sv3d_mesh_box`."""
    body = b"".join(encode_mesh(m) for m in meshes)
    enc = b"dfl8" if compress else b"raw "
    if compress:
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        body = c.compress(body) + c.flush()
    return b"\0\0\0\0" + struct.pack(">I", zlib.crc32(enc + body)) + enc + body


def parse_mshp(payload: bytes) -> tuple[list[Mesh], list[str]]:
    """The meshes of an ``mshp`` payload (after the box header: version/flags, crc, encoding, boxes)."""
    notes: list[str] = []
    if len(payload) < 12:
        raise ValueError("the mshp box is cut off")
    crc, enc = struct.unpack_from(">I4s", payload, 4)
    body = payload[12:]
    if zlib.crc32(payload[8:]) != crc:
        notes.append("the mesh box's CRC does not match its contents")
    if enc == b"dfl8":
        try:
            body = zlib.decompress(body, -15)
        except zlib.error as exc:
            raise ValueError(f"the mesh data does not inflate ({exc})") from None
    elif enc != b"raw ":
        raise ValueError(f"unknown mesh encoding '{enc.decode('latin-1', 'replace')}'")
    meshes = [parse_mesh(b.head) for b in parse_boxes(body, parent=b"mshp") if b.type == b"mesh"]
    if not meshes:
        raise ValueError("the mshp box holds no mesh")
    return meshes, notes


def mesh_fov(meshes: tuple[Mesh, ...]) -> tuple[float, float]:
    """(horizontal, vertical) degrees spanned by the first mesh's vertex directions."""
    xyz = meshes[0].xyz.astype(np.float64)
    xyz = xyz / np.maximum(np.linalg.norm(xyz, axis=1, keepdims=True), 1e-12)
    lon = np.degrees(np.arctan2(xyz[:, 0], -xyz[:, 2]))
    lat = np.degrees(np.arcsin(np.clip(xyz[:, 1], -1, 1)))
    return float(np.ptp(lon)), float(np.ptp(lat))


def _layout_from_meshes(meshes: tuple[Mesh, ...]) -> str | None:
    """The packing a stereo-custom mesh pair implies (each eye's texture coordinates cover one half)."""
    (lu, lv), (ru, rv) = (m.uv.mean(0) for m in meshes[:2])
    if abs(lu - ru) > abs(lv - rv):
        return "sbs" if lu < ru else "sbs-rl"
    return "tb" if lv > rv else "tb-rl"  # v grows upwards: the top half has the larger v


# -- MP4 / MOV ------------------------------------------------------------------------------------------

def _fixed(v: int, bits: int) -> float:
    return v / float(1 << bits)


def _from_sample_entry(entry: Box, trak: Box, path: Path) -> VRMetadata:
    notes: list[str] = []
    fields: dict[str, Any] = {}
    entry_boxes = tuple((c.type, c.serialize()) for c in entry.children
                        if c.type in (b"st3d", b"sv3d", b"vexu", b"hfov"))
    track_boxes = tuple((c.type, c.serialize()) for c in trak.children
                        if c.type == b"uuid" and c.head[:16] == SPHERICAL_V1_UUID)
    sources = []
    st3d = entry.child(b"st3d")
    if st3d is not None:
        if len(st3d.head) < 5:
            raise MediaError(f"damaged 'st3d' box at byte {st3d.offset} ({len(st3d.head)} bytes)", path=path)
        mode = st3d.head[4]
        fields["stereo"] = ST3D_MODES.get(mode)
        if mode not in ST3D_MODES:
            notes.append(f"unknown st3d stereo mode {mode}")
        sources.append("st3d")
    sv3d = entry.child(b"sv3d")
    if sv3d is not None:
        sources.append("sv3d")
        svhd = sv3d.child(b"svhd")
        if svhd is not None and len(svhd.head) > 4:
            fields["metadata_source"] = svhd.head[4:].split(b"\0")[0].decode("utf-8", "replace")
        proj = sv3d.child(b"proj")
        if proj is None:
            raise MediaError(f"damaged 'sv3d' box at byte {sv3d.offset}: no 'proj' box", path=path)
        prhd = proj.child(b"prhd")
        if prhd is not None and len(prhd.head) >= 16:
            fields["pose"] = tuple(_fixed(v, 16) for v in struct.unpack_from(">3i", prhd.head, 4))
        for c in proj.children:
            if c.type == b"equi":
                if len(c.head) < 20:
                    raise MediaError(f"damaged 'equi' box at byte {c.offset}", path=path)
                b = tuple(_fixed(v, 32) for v in struct.unpack_from(">4I", c.head, 4))
                fields.update(projection="equirectangular", equi_bounds=b,
                              fov=(360.0 * (1 - b[2] - b[3]), 180.0 * (1 - b[0] - b[1])))
            elif c.type == b"cbmp":
                if len(c.head) < 12:
                    raise MediaError(f"damaged 'cbmp' box at byte {c.offset}", path=path)
                fields.update(projection="cubemap", cubemap=struct.unpack_from(">2I", c.head, 4), fov=(360.0, 180.0))
            elif c.type == b"mshp":
                try:
                    meshes, more = parse_mshp(c.head)
                except ValueError as exc:
                    raise MediaError(f"damaged 'mshp' (mesh projection) box at byte {c.offset}: {exc}",
                                     path=path) from None
                notes += more
                fields.update(projection="mesh", meshes=tuple(meshes), fov=mesh_fov(tuple(meshes)))
        if "projection" not in fields:
            notes.append("sv3d names no projection this app knows")
    hfov = entry.child(b"hfov")
    if hfov is not None and len(hfov.head) >= 4:  # Apple: thousandths of a degree, horizontal only
        notes.append(f"horizontal field of view {struct.unpack_from('>I', hfov.head[-4:])[0] / 1000.0:g}° "
                     "(Apple hfov)")
        sources.append("hfov")
    views = 1
    if entry.child(b"lhvC") is not None:  # a second HEVC layer: MV-HEVC, two views in one stream
        views = 2
        sources.append("mv-hevc")
        fields.setdefault("projection", "rectilinear")
    if entry.child(b"vexu") is not None:
        sources.append("vexu")
        from .mvhevc import eye_order

        eyes = eye_order(entry_boxes)
        said = [f"{k} eye view" for k in ("left", "right") if eyes.get(k)]
        if eyes.get("reversed"):
            said.append("eye views reversed (the base view is the right eye)")
        if eyes.get("hero"):
            said.append(f"hero eye {eyes['hero']}")
        if eyes.get("baseline_mm") is not None:
            said.append(f"camera baseline {eyes['baseline_mm']:g} mm")
        if eyes.get("projection"):
            said.append(f"projection kind '{eyes['projection']}'")
        if said:
            notes.append("Apple vexu: " + ", ".join(said))
    v1 = _parse_v1(track_boxes[0][1][24:]) if track_boxes else {}
    if v1:
        if "stereo" not in fields and v1.get("stereo"):
            fields["stereo"] = v1["stereo"]
        if "projection" not in fields and v1.get("projection"):
            fields["projection"] = v1["projection"]
            if v1.get("fov"):
                fields["fov"] = v1["fov"]
        elif v1.get("projection") and fields.get("projection") != v1["projection"]:
            notes.append(f"the older V1 metadata says {v1['projection']}; the V2 boxes ({fields['projection']}) win")
        sources.append("spherical-v1")
    if not sources:
        return VRMetadata()
    return VRMetadata(source="/".join(sources), views=views, entry_boxes=entry_boxes, track_boxes=track_boxes,
                      notes=tuple(notes), raw={"v1": v1}, **fields)


def _parse_v1(xml: bytes) -> dict[str, Any]:
    """The fields of a Spherical Video V1 XML block we use."""
    text = xml.decode("utf-8", "replace")

    def tag(name: str) -> str | None:
        m = re.search(rf"<GSpherical:{name}>\s*([^<]*?)\s*</GSpherical:{name}>", text)
        return m.group(1) if m else None

    out: dict[str, Any] = {}
    if (tag("Spherical") or "").lower() != "true":
        return out
    out["projection"] = (tag("ProjectionType") or "equirectangular").lower()
    mode = (tag("StereoMode") or "").lower()
    out["stereo"] = mode if mode in ("mono", "top-bottom", "left-right") else None
    try:
        w, h = float(tag("CroppedAreaImageWidthPixels")), float(tag("CroppedAreaImageHeightPixels"))
        fw, fh = float(tag("FullPanoWidthPixels")), float(tag("FullPanoHeightPixels"))
        out["fov"] = (360.0 * w / fw, 180.0 * h / fh)
    except (TypeError, ValueError, ZeroDivisionError):
        pass
    return out


def _read_mp4(path: Path) -> VRMetadata:
    found = read_moov(path)
    if found is None:
        return VRMetadata()
    moov = found[1][0]
    tracks = video_tracks(moov)
    if not tracks:
        return VRMetadata()
    trak, entry = tracks[0]
    return _from_sample_entry(entry, trak, path)


# -- Matroska / WebM ------------------------------------------------------------------------------------

def _vint(data: bytes, pos: int, keep_marker: bool) -> tuple[int, int]:
    """An EBML variable-length integer at ``pos``: (value, bytes used); -1 for 'unknown size'."""
    if pos >= len(data):
        raise ValueError("cut off")
    first = data[pos]
    if first == 0:
        raise ValueError(f"bad length byte at {pos}")
    n = 8 - first.bit_length() + 1
    if pos + n > len(data):
        raise ValueError("cut off")
    value = int.from_bytes(data[pos:pos + n], "big")
    if not keep_marker:
        value &= (1 << (7 * n)) - 1
        if value == (1 << (7 * n)) - 1:
            return -1, n
    return value, n


def _ebml(data: bytes, start: int, end: int):
    """Yield (id, payload start, payload end) of the elements in ``data[start:end]``."""
    pos = start
    while pos < end:
        eid, n = _vint(data, pos, True)
        size, m = _vint(data, pos + n, False)
        body = pos + n + m
        stop = end if size < 0 else body + size
        yield eid, body, min(stop, end), stop > end
        if size < 0 and eid not in (0x18538067,):
            return
        pos = stop


def _read_matroska(path: Path) -> VRMetadata:
    with open(path, "rb") as f:
        data = f.read(8 << 20)  # Tracks come before the first Cluster, near the start
    try:
        for eid, b0, b1, _ in _ebml(data, 0, len(data)):
            if eid != 0x18538067:  # Segment
                continue
            for sid, s0, s1, cut in _ebml(data, b0, b1):
                if sid == 0x1F43B675:  # Cluster: the tracks are behind us
                    break
                if sid != 0x1654AE6B:  # Tracks
                    continue
                if cut:
                    raise ValueError("the Tracks element is cut off")
                for tid, t0, t1, _ in _ebml(data, s0, s1):
                    if tid != 0xAE:
                        continue
                    meta = _matroska_track(data, t0, t1)
                    if meta is not None:
                        return meta
    except ValueError as exc:
        raise MediaError(f"damaged Matroska structure ({exc})", path=path,
                         hint="the file is damaged or was cut off; re-export it") from None
    return VRMetadata()


def _uint(data: bytes, a: int, b: int) -> int:
    return int.from_bytes(data[a:b], "big")


def _matroska_track(data: bytes, t0: int, t1: int) -> VRMetadata | None:
    kind, video = None, None
    for eid, a, b, _ in _ebml(data, t0, t1):
        if eid == 0x83:
            kind = _uint(data, a, b)
        elif eid == 0xE0:
            video = (a, b)
    if kind != 1 or video is None:
        return None
    fields: dict[str, Any] = {}
    notes: list[str] = []
    size = [0, 0]
    for eid, a, b, _ in _ebml(data, *video):
        if eid in (0xB0, 0xBA):
            size[eid == 0xBA] = _uint(data, a, b)
        elif eid == 0x53B8:
            mode = _uint(data, a, b)
            fields["stereo"] = MKV_STEREO.get(mode)
            if mode not in MKV_STEREO:
                notes.append(f"Matroska StereoMode {mode} (interleaved or anaglyph) is not a packing this app reads")
        elif eid == 0x7670:
            private = b""
            pose = [0.0, 0.0, 0.0]
            for pid, c, d, _ in _ebml(data, a, b):
                if pid == 0x7671:
                    fields["projection"] = MKV_PROJECTION.get(_uint(data, c, d), "unknown")
                elif pid == 0x7672:
                    private = bytes(data[c:d])
                elif pid in (0x7673, 0x7674, 0x7675):
                    fmt = ">f" if d - c == 4 else ">d"
                    pose[pid - 0x7673] = struct.unpack(fmt, data[c:d])[0] if d - c in (4, 8) else 0.0
            fields["pose"] = tuple(pose)
            proj = fields.get("projection")
            if proj == "equirectangular":
                bounds = struct.unpack_from(">4I", private, 4) if len(private) >= 20 else (0, 0, 0, 0)
                b = tuple(_fixed(v, 32) for v in bounds)
                fields.update(equi_bounds=b, fov=(360.0 * (1 - b[2] - b[3]), 180.0 * (1 - b[0] - b[1])))
            elif proj == "cubemap" and len(private) >= 12:
                fields.update(cubemap=struct.unpack_from(">2I", private, 4), fov=(360.0, 180.0))
            elif proj == "mesh":
                meshes, more = parse_mshp(private)
                notes += more
                fields.update(meshes=tuple(meshes), fov=mesh_fov(tuple(meshes)))
            fields["raw"] = {"projection_private": private}
    if not fields:
        return VRMetadata()
    return VRMetadata(source="matroska", notes=tuple(notes), frame_size=(size[0], size[1]) if all(size) else None,
                      **fields)


# -- decoder side data ----------------------------------------------------------------------------------

_FF_STEREO = {1: "left-right", 2: "top-bottom"}
_FF_PROJ = {0: "equirectangular", 1: "cubemap", 2: "equirectangular", 3: "half-equirectangular",
            4: "rectilinear", 5: "fisheye"}


def frame_side_data(frame) -> list:
    """A decoded frame's side data (``av.sidedata.SideData`` each). PyAV up to 18.1.0 iterates a frame's side data
    as the items themselves, 18.1.1 as a mapping's keys (their types): read both ways (18.1.1 turned every stereo
    and VR clip's probe into "'Type' object has no attribute 'type'")."""
    container = frame.side_data
    return [item if hasattr(item, "type") else container[item] for item in container]


def _read_side_data(path: Path) -> VRMetadata:
    """What FFmpeg attaches to the first decoded frame: frame-packing SEI, container stereo/spherical data."""
    import av

    from .container import open_input, picture_stream

    fields: dict[str, Any] = {}
    try:
        with open_input(path) as c:
            picture = picture_stream(c)
            if picture is None:
                return VRMetadata()
            for frame in c.decode(picture):
                try:
                    side_data = frame_side_data(frame)
                except ValueError:  # a side data type PyAV does not know (an MV-HEVC view id): skip them all
                    side_data = []
                for sd in side_data:
                    kind = getattr(sd.type, "name", str(sd.type))
                    raw = bytes(sd)
                    if kind == "STEREO3D" and len(raw) >= 12:
                        t, flags, view = struct.unpack_from("<3i", raw)
                        mode = _FF_STEREO.get(t)
                        if mode == "left-right" and flags & 1:
                            mode = "right-left"
                        elif mode == "top-bottom" and flags & 1:
                            mode = "bottom-top"
                        elif t == 0:
                            mode = "mono"
                        fields["stereo"] = mode or f"ffmpeg stereo type {t}"
                    elif kind == "SPHERICAL" and len(raw) >= 4:
                        fields["projection"] = _FF_PROJ.get(struct.unpack_from("<i", raw)[0], "unknown")
                if fields:
                    fields["frame_size"] = (frame.width, frame.height)
                break
    except (av.error.FFmpegError, MediaError):
        return VRMetadata()
    if not fields:
        return VRMetadata()
    return VRMetadata(source="decoder (frame-packing SEI or container side data)", **fields)


# -- the entry points -----------------------------------------------------------------------------------

def _kind(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(12)
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot"):
        return "mp4"
    return "other"


def read_vr_metadata(path: str | Path, *, side_data: bool = True) -> VRMetadata:
    """The stereo packing and projection ``path`` declares (see the module doc for where it looks).

    Parameters
    ----------
    path : path
        Any media file.
    side_data : bool
        Fall back to the decoder's side data of the first frame (costs one frame's decode).

    Returns
    -------
    VRMetadata
        ``found`` is False when nothing is declared (then only the pictures can tell).

    Raises
    ------
    MediaError
        The file cannot be read, or a box/element the metadata lives in is damaged (named, with its offset).
    """
    p = check_readable(path)
    kind = _kind(p)
    meta = VRMetadata()
    if kind == "mp4":
        meta = _read_mp4(p)
    elif kind == "matroska":
        meta = _read_matroska(p)
    if meta.views < 2:
        from .mvhevc import count_views

        if count_views(p) == 2:  # what the decoder gives decides (FFmpeg's muxer writes no lhvC)
            meta = replace(meta, views=2, projection=meta.projection or "rectilinear",
                           source="mv-hevc (two views decoded)" if meta.source == "none"
                           else f"{meta.source}/mv-hevc (two views decoded)")
    if not meta.found and side_data:
        meta = _read_side_data(p)
    return meta


def write_vr_metadata(path: str | Path, meta: VRMetadata, out: str | Path | None = None) -> Path:
    """Put ``meta``'s boxes into the first video track of an MP4/MOV file.

    Any ``st3d``/``sv3d``/``vexu``/``hfov`` already in the sample entry, and a V1 ``uuid`` in the track, are
    replaced. The media data is copied byte for byte; only the ``moov`` changes (and the chunk offsets when it
    precedes the media).

    Parameters
    ----------
    path : path
        The MP4/MOV to change.
    meta : VRMetadata
        Its ``entry_boxes`` and ``track_boxes`` are written.
    out : path, optional
        Where to write; default: ``path`` itself, replaced atomically (a temporary sibling, then a rename).

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    MediaError
        ``path`` is not an MP4/MOV with a video track, or its structure is damaged.
    """
    from .output import atomic_output

    p = check_readable(path)
    if _kind(p) != "mp4":
        raise MediaError("VR metadata can only be written into MP4/MOV files", path=p,
                         hint="write the output as .mp4 or .mov")
    found = read_moov(p)
    if found is None:
        raise MediaError("has no 'moov' box", path=p)
    moov_at, tops = found
    moov = tops[0]
    tracks = video_tracks(moov)
    if not tracks:
        raise MediaError("has no video track to put VR metadata on", path=p)
    trak, entry = tracks[0]
    ours = {b"st3d", b"sv3d", b"vexu", b"hfov"}
    kept = [c for c in entry.children if c.type not in ours]
    new = [parse_boxes(b, parent=entry.type)[0] for _, b in meta.entry_boxes]
    # After the codec's own boxes, before the optional trailing ones (clap, pasp), as the RFC asks.
    at = next((k for k, c in enumerate(kept) if c.type in (b"clap", b"pasp")), len(kept))
    entry.children = kept[:at] + new + kept[at:]
    trak.children = [c for c in trak.children if not (c.type == b"uuid" and c.head[:16] == SPHERICAL_V1_UUID)]
    trak.children += [parse_boxes(b, parent=b"trak")[0] for _, b in meta.track_boxes]
    final = Path(out) if out is not None else p
    with atomic_output(final) as tmp:
        rewrite_moov(p, moov, moov_at, tmp)
    return final
