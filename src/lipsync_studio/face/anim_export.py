"""One-file face animation: USD (``.usd``/``.usda``/``.usdc``, ``.usdz``) and glTF 2.0 (``.gltf``, ``.glb``).

Both hold the same thing as the OBJ sequence, in the form animation tools import as one object:

- the face's own shape per frame in the head's frame (mm in the scene's units), and the **head pose** (rotation
  and translation, camera space: camera at the origin looking down -z, +y up) as the transform above it;
- one **UV atlas**: the per-texel median of the frames' textures (a per-frame texture would be hundreds of
  images; the median is the speaker's skin with the mouth as it usually looks), or per-vertex colours;
- the clip's frame rate, the frames' times, which face (original or synced) and where it came from.

USD: ``/Face`` (default prim) > ``Head`` (time-sampled transform) > ``Mesh`` (time-sampled points, ``st`` UVs,
a UsdPreviewSurface material); metersPerUnit 0.001, +y up, one time code per frame starting at 1. ``.usdz`` packs
the crate file and its texture into one archive (Apple's Quick Look, Reality Composer).

glTF: one node with the mesh and the head's animated translation and rotation (metres, as glTF wants); the mesh
is a neutral face plus ``K`` **morph targets** (the shape's principal components, scaled so every weight runs
0..1), and one animation drives the node's weights, translation and rotation with one key per frame. A camera
node sits where the clip's camera was. ``.glb`` embeds everything; ``.gltf`` embeds the geometry (a data URI)
and writes the atlas beside it.

Files are written under temporary names and renamed when complete (the texture first, then the file that
names it).
"""

from __future__ import annotations

import base64
import json
import math
import os
import shutil
from pathlib import Path

import numpy as np

from ..errors import OutputError
from .mesh3d import FaceMesh3D, vertex_normals

FORMATS = {".usd": "usd", ".usda": "usd", ".usdc": "usd", ".usdz": "usdz", ".gltf": "gltf", ".glb": "glb"}
SUFFIX = {"usd": ".usd", "usdz": ".usdz", "gltf": ".gltf", "glb": ".glb"}
MAX_ATLAS_SAMPLES = 24  # textures kept for the median atlas
MAX_BASIS_FRAMES = 400  # frames the morph basis is fitted on (all frames are then projected)
MORPH_TOLERANCE_MM = 0.02  # RMS shape error the morph targets may leave


def texture_name(path: Path) -> str:
    """File name of the atlas written beside ``path`` (``face.usd`` → ``face_texture.png``)."""
    return f"{path.stem}_texture.png"


class AnimationWriter:
    """Collects the frames of a mesh export and writes them as one animated file on :meth:`close`.

    Parameters
    ----------
    path: the final file; its extension picks the format (see :data:`FORMATS`).
    fps: the clip's frame rate; n_frames: frames that will be written (for spacing the atlas samples).
    texture: write a UV atlas (True) or per-vertex colours (False).
    hfov_deg, width, height: the clip's camera (for the glTF camera node).
    """

    def __init__(self, path: str | Path, fps: float, n_frames: int, texture: bool = True,
                 hfov_deg: float = 50.0, width: int = 0, height: int = 0) -> None:
        from ..media.output import check_output_path

        self.path = check_output_path(path, suffixes=FORMATS)
        self.format = FORMATS[self.path.suffix.lower()]
        self.fps, self.texture = float(fps), texture
        self.hfov_deg, self.width, self.height = hfov_deg, width, height
        self._every = max(1, n_frames // MAX_ATLAS_SAMPLES)
        self._textures: list[np.ndarray] = []
        self._colors: list[np.ndarray] = []
        self.local: list[np.ndarray] = []
        self.rotations: list[np.ndarray] = []
        self.translations: list[np.ndarray] = []
        self.frames: list[dict] = []
        self.triangles: np.ndarray | None = None
        self.uv: np.ndarray | None = None

    def write(self, number: int, time_s: float, mesh: FaceMesh3D, texture: np.ndarray | None = None) -> None:
        """Add frame ``number`` (1-based, in order); ``texture`` (S, S, 3) uint8 RGB when writing an atlas."""
        if self.triangles is None:
            self.triangles, self.uv = mesh.triangles, mesh.uv
        r = mesh.rotation.astype(np.float64)
        t = mesh.translation.astype(np.float64)
        self.local.append((r.T @ (mesh.vertices.astype(np.float64) - t).T).T.astype(np.float32))
        self.rotations.append(r)
        self.translations.append(t)
        k = len(self.frames)
        if k % self._every == 0:
            if self.texture:
                if texture is None:
                    raise ValueError("a texture is needed when writing a textured animation")
                self._textures.append(texture)
            self._colors.append(mesh.colors)
        self.frames.append({"frame": number, "time_s": round(time_s, 6), "measured": bool(mesh.measured)})

    def atlas(self) -> np.ndarray:
        """(S, S, 3) uint8 RGB: the per-texel median of the sampled frames' textures."""
        return np.median(np.stack(self._textures), axis=0).astype(np.uint8)

    def vertex_colors(self) -> np.ndarray:
        """(N, 3) float32 RGB in [0, 1]: the median of the sampled frames' vertex colours."""
        return np.median(np.stack(self._colors), axis=0).astype(np.float32)

    def close(self, meta: dict) -> Path:
        """Write the file (and its texture) and return the file's path."""
        if not self.frames:
            raise ValueError("no frames to write")
        meta = dict(meta, frames=len(self.frames), fps=self.fps, units="mm", up="+y", forward="-z",
                    first_time_s=self.frames[0]["time_s"],
                    measured=[f["measured"] for f in self.frames])
        tmp_dir = self.path.with_name(f".{self.path.stem}.partial-{os.getpid()}")
        shutil.rmtree(tmp_dir, ignore_errors=True)
        tmp_dir.mkdir()
        try:
            main = tmp_dir / self.path.name
            tex = tmp_dir / texture_name(self.path) if self.texture else None
            if tex is not None:
                import cv2

                if not cv2.imwrite(str(tex), cv2.cvtColor(self.atlas(), cv2.COLOR_RGB2BGR)):
                    raise OSError(f"could not write {tex.name}")
            if self.format in ("usd", "usdz"):
                write_usd(self, main, tex, meta)
            else:
                write_gltf(self, main, tex, meta)
            beside = tex is not None and self.format in ("usd", "gltf")
            if beside:
                os.replace(tex, self.path.with_name(tex.name))
            os.replace(main, self.path)
        except OSError as exc:
            from ..media.output import os_error_to_output_error

            raise os_error_to_output_error(exc, self.path) from exc
        finally:
            shutil.rmtree(tmp_dir, ignore_errors=True)
        return self.path

    def abort(self) -> None:
        """Nothing is on disk before :meth:`close`; drop what was collected."""
        self.local.clear()
        self._textures.clear()


# -- USD -----------------------------------------------------------------------------------------------------
def _pose_matrix(r: np.ndarray, t: np.ndarray):
    """USD's row-vector matrix of ``p ↦ r @ p + t``."""
    from pxr import Gf

    m = np.eye(4)
    m[:3, :3] = r.T
    m[3, :3] = t
    return Gf.Matrix4d(m.tolist())


def write_usd(anim: AnimationWriter, path: Path, texture: Path | None, meta: dict) -> None:
    """Write ``anim`` as a USD stage at ``path`` (``.usdz``: a package with the texture inside)."""
    from pxr import Sdf, Usd, UsdGeom, UsdShade, UsdUtils, Vt

    layer_path = path.with_suffix(".usdc") if path.suffix.lower() == ".usdz" else path
    stage = Usd.Stage.CreateNew(str(layer_path))
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)
    UsdGeom.SetStageMetersPerUnit(stage, 0.001)
    n = len(anim.frames)
    stage.SetTimeCodesPerSecond(anim.fps)
    stage.SetFramesPerSecond(anim.fps)
    stage.SetStartTimeCode(1)
    stage.SetEndTimeCode(n)
    root = UsdGeom.Xform.Define(stage, "/Face")
    stage.SetDefaultPrim(root.GetPrim())
    head = UsdGeom.Xform.Define(stage, "/Face/Head")
    op = head.AddTransformOp()
    mesh = UsdGeom.Mesh.Define(stage, "/Face/Head/Mesh")
    tris = np.asarray(anim.triangles, np.int32)
    mesh.CreateFaceVertexCountsAttr(Vt.IntArray([3] * len(tris)))
    mesh.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(tris.ravel()))
    mesh.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
    mesh.CreateOrientationAttr(UsdGeom.Tokens.rightHanded)
    points = mesh.CreatePointsAttr()
    extent = mesh.CreateExtentAttr()
    for k in range(n):
        code = Usd.TimeCode(k + 1)
        op.Set(_pose_matrix(anim.rotations[k], anim.translations[k]), code)
        pts = anim.local[k]
        points.Set(Vt.Vec3fArray.FromNumpy(pts), code)
        extent.Set(Vt.Vec3fArray.FromNumpy(np.stack([pts.min(0), pts.max(0)])), code)
    pv = UsdGeom.PrimvarsAPI(mesh)
    st = pv.CreatePrimvar("st", Sdf.ValueTypeNames.TexCoord2fArray, UsdGeom.Tokens.vertex)
    st.Set(Vt.Vec2fArray.FromNumpy(np.asarray(anim.uv, np.float32)))
    material = UsdShade.Material.Define(stage, "/Face/Looks/Skin")
    surface = UsdShade.Shader.Define(stage, "/Face/Looks/Skin/Surface")
    surface.CreateIdAttr("UsdPreviewSurface")
    surface.CreateInput("roughness", Sdf.ValueTypeNames.Float).Set(0.8)
    surface.CreateInput("metallic", Sdf.ValueTypeNames.Float).Set(0.0)
    material.CreateSurfaceOutput().ConnectToSource(surface.ConnectableAPI(), "surface")
    if texture is not None:
        reader = UsdShade.Shader.Define(stage, "/Face/Looks/Skin/UV")
        reader.CreateIdAttr("UsdPrimvarReader_float2")
        reader.CreateInput("varname", Sdf.ValueTypeNames.String).Set("st")
        image = UsdShade.Shader.Define(stage, "/Face/Looks/Skin/Texture")
        image.CreateIdAttr("UsdUVTexture")
        image.CreateInput("file", Sdf.ValueTypeNames.Asset).Set(Sdf.AssetPath(texture.name))
        image.CreateInput("sourceColorSpace", Sdf.ValueTypeNames.Token).Set("sRGB")
        image.CreateInput("st", Sdf.ValueTypeNames.Float2).ConnectToSource(reader.ConnectableAPI(), "result")
        rgb = image.CreateOutput("rgb", Sdf.ValueTypeNames.Float3)
        surface.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f).ConnectToSource(rgb)
    else:
        colors = mesh.CreateDisplayColorPrimvar(UsdGeom.Tokens.vertex)
        colors.Set(Vt.Vec3fArray.FromNumpy(anim.vertex_colors()))
    UsdShade.MaterialBindingAPI.Apply(mesh.GetPrim()).Bind(material)
    layer = stage.GetRootLayer()
    layer.customLayerData = {"lipsync_studio": json.dumps(meta)}
    layer.Save()
    if path.suffix.lower() == ".usdz":
        # The package takes the layer and the assets it names (the texture, relative to the layer).
        if not UsdUtils.CreateNewUsdzPackage(Sdf.AssetPath(str(layer_path)), str(path)):
            raise OSError("the USDZ package could not be written")


# -- glTF ----------------------------------------------------------------------------------------------------
def morph_basis(local: np.ndarray, tolerance_mm: float = MORPH_TOLERANCE_MM,
                max_targets: int = 96) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Neutral shape, morph targets and 0..1 weights that rebuild every frame's shape.

    Parameters
    ----------
    local: (T, N, 3) the face's shape per frame (mm).

    Returns
    -------
    neutral: (N, 3); targets: (K, N, 3) displacements; weights: (T, K) in [0, 1];
    rms_error: mm left between ``neutral + weights @ targets`` and ``local``.
    """
    T, N, _ = local.shape
    x = local.reshape(T, -1).astype(np.float64)
    mean = x.mean(0)
    fit = x[np.linspace(0, T - 1, min(T, MAX_BASIS_FRAMES)).round().astype(int)] - mean
    _, _, vt = np.linalg.svd(fit, full_matrices=False)
    coef_all = (x - mean) @ vt.T
    k = 0
    for k in range(0, min(max_targets, len(vt)) + 1):
        err = x - mean - coef_all[:, :k] @ vt[:k]
        if math.sqrt((err ** 2).reshape(T, N, 3).sum(-1).mean()) <= tolerance_mm:
            break
    coef = coef_all[:, :k]
    lo, hi = coef.min(0), coef.max(0)
    span = np.where(hi - lo > 1e-12, hi - lo, 1.0)
    neutral = mean + lo @ vt[:k]
    targets = span[:, None] * vt[:k]
    weights = (coef - lo) / span
    rebuilt = neutral + weights @ targets
    rms = math.sqrt(((rebuilt - x) ** 2).reshape(T, N, 3).sum(-1).mean())
    return (neutral.reshape(N, 3), targets.reshape(k, N, 3), weights, rms)


def _quaternions(rotations: list[np.ndarray]) -> np.ndarray:
    """(T, 4) x, y, z, w unit quaternions, signs kept continuous (so interpolation takes the short way)."""
    from scipy.spatial.transform import Rotation

    q = Rotation.from_matrix(np.stack(rotations)).as_quat()
    for k in range(1, len(q)):
        if q[k] @ q[k - 1] < 0:
            q[k] = -q[k]
    return q.astype(np.float32)


class _Blob:
    """The glTF binary buffer under construction: views and accessors appended 4-byte aligned."""

    def __init__(self, gltf) -> None:
        self.gltf = gltf
        self.data = bytearray()

    def view(self, raw: bytes, target: int | None = None) -> int:
        import pygltflib as g

        while len(self.data) % 4:
            self.data.append(0)
        self.gltf.bufferViews.append(g.BufferView(buffer=0, byteOffset=len(self.data), byteLength=len(raw),
                                                  target=target))
        self.data.extend(raw)
        return len(self.gltf.bufferViews) - 1

    def accessor(self, array: np.ndarray, kind: str, target: int | None = None, bounds: bool = False) -> int:
        import pygltflib as g

        a = np.ascontiguousarray(array)
        ctype = {np.dtype(np.float32): g.FLOAT, np.dtype(np.uint32): g.UNSIGNED_INT}[a.dtype]
        flat = a.reshape(len(a), -1) if kind != "SCALAR" else a.reshape(-1, 1)
        acc = g.Accessor(bufferView=self.view(a.tobytes(), target), componentType=ctype, count=len(flat),
                         type=kind)
        if bounds:
            acc.min = flat.min(0).astype(float).tolist()
            acc.max = flat.max(0).astype(float).tolist()
        self.gltf.accessors.append(acc)
        return len(self.gltf.accessors) - 1


def write_gltf(anim: AnimationWriter, path: Path, texture: Path | None, meta: dict) -> None:
    """Write ``anim`` as glTF 2.0 at ``path`` (``.glb`` binary with everything inside, or ``.gltf``)."""
    import pygltflib as g

    mm = 0.001  # glTF is in metres
    local = np.stack(anim.local).astype(np.float64)
    neutral, targets, weights, rms = morph_basis(local)
    tris = np.asarray(anim.triangles, np.uint32)
    uv = np.asarray(anim.uv, np.float32).copy()
    uv[:, 1] = 1.0 - uv[:, 1]  # glTF's v runs down the image
    gltf = g.GLTF2(asset=g.Asset(generator="Lipsync Studio", version="2.0"))
    blob = _Blob(gltf)
    attrs = g.Attributes(POSITION=blob.accessor((neutral * mm).astype(np.float32), "VEC3", g.ARRAY_BUFFER, True),
                         NORMAL=blob.accessor(vertex_normals(neutral, tris).astype(np.float32), "VEC3",
                                              g.ARRAY_BUFFER),
                         TEXCOORD_0=blob.accessor(uv, "VEC2", g.ARRAY_BUFFER))
    if texture is None:
        rgba = np.concatenate([anim.vertex_colors(), np.ones((len(neutral), 1), np.float32)], 1)
        attrs.COLOR_0 = blob.accessor(rgba.astype(np.float32), "VEC4", g.ARRAY_BUFFER)
    morphs = [g.Attributes(POSITION=blob.accessor((tg * mm).astype(np.float32), "VEC3", g.ARRAY_BUFFER, True))
              for tg in targets]
    prim = g.Primitive(attributes=attrs, indices=blob.accessor(tris.ravel(), "SCALAR", g.ELEMENT_ARRAY_BUFFER),
                       material=0, targets=morphs or None)
    names = [f"shape_{k:02d}" for k in range(len(targets))]
    gltf.meshes.append(g.Mesh(name="Face", primitives=[prim], weights=[0.0] * len(targets) or None,
                              extras={"targetNames": names}))
    pbr = g.PbrMetallicRoughness(metallicFactor=0.0, roughnessFactor=0.8)
    if texture is not None:
        raw = texture.read_bytes()
        if path.suffix.lower() == ".glb":
            gltf.images.append(g.Image(bufferView=blob.view(raw), mimeType="image/png"))
        else:
            gltf.images.append(g.Image(uri=texture.name))
        gltf.samplers.append(g.Sampler(magFilter=g.LINEAR, minFilter=g.LINEAR_MIPMAP_LINEAR))
        gltf.textures.append(g.Texture(source=0, sampler=0))
        pbr.baseColorTexture = g.TextureInfo(index=0)
    gltf.materials.append(g.Material(name="Skin", pbrMetallicRoughness=pbr, doubleSided=True))
    t0 = anim.frames[0]["time_s"]
    times = np.array([f["time_s"] - t0 for f in anim.frames], np.float32)
    quat = _quaternions(anim.rotations)
    trans = (np.stack(anim.translations) * mm).astype(np.float32)
    gltf.nodes.append(g.Node(name="Face", mesh=0, translation=trans[0].tolist(), rotation=quat[0].tolist()))
    aspect = anim.width / anim.height if anim.width and anim.height else 1.0
    yfov = 2 * math.atan(math.tan(math.radians(anim.hfov_deg) / 2) / aspect)
    gltf.cameras.append(g.Camera(type="perspective", name="Clip camera",
                                 perspective=g.Perspective(yfov=yfov, aspectRatio=aspect, znear=0.01)))
    gltf.nodes.append(g.Node(name="Clip camera", camera=0))
    gltf.scenes.append(g.Scene(name="Face", nodes=[0, 1]))
    gltf.scene = 0
    t_acc = blob.accessor(times, "SCALAR", None, True)
    samplers = [g.AnimationSampler(input=t_acc, output=blob.accessor(trans, "VEC3"), interpolation="LINEAR"),
                g.AnimationSampler(input=t_acc, output=blob.accessor(quat, "VEC4"), interpolation="LINEAR")]
    channels = [g.AnimationChannel(sampler=0, target=g.AnimationChannelTarget(node=0, path="translation")),
                g.AnimationChannel(sampler=1, target=g.AnimationChannelTarget(node=0, path="rotation"))]
    if len(targets):
        samplers.append(g.AnimationSampler(input=t_acc, output=blob.accessor(weights.astype(np.float32).ravel(),
                                                                             "SCALAR"), interpolation="LINEAR"))
        channels.append(g.AnimationChannel(sampler=2, target=g.AnimationChannelTarget(node=0, path="weights")))
    gltf.animations.append(g.Animation(name="Speech", samplers=samplers, channels=channels))
    gltf.extras = dict(meta, lipsync_studio=True, morph_rms_error_mm=round(rms, 5))
    data = bytes(blob.data)
    if path.suffix.lower() == ".glb":
        gltf.buffers.append(g.Buffer(byteLength=len(data)))
        gltf.set_binary_blob(data)
        gltf.save_binary(str(path))
    else:
        uri = "data:application/octet-stream;base64," + base64.b64encode(data).decode("ascii")
        gltf.buffers.append(g.Buffer(byteLength=len(data), uri=uri))
        gltf.save_json(str(path))


def animation_format(path: str | Path) -> str | None:
    """``usd``, ``usdz``, ``gltf`` or ``glb`` for a one-file output path; None for anything else (OBJ folder)."""
    return FORMATS.get(Path(path).suffix.lower())


def check_format(path: Path, fmt: str | None) -> tuple[Path, str]:
    """The output path and format for ``mesh -o PATH [--format FMT]``.

    Without a format, the extension decides (no known extension: an OBJ folder). With one, a path without an
    extension gets the format's; a different extension is an error.
    """
    guessed = animation_format(path) or "obj"
    if fmt is None or fmt == guessed:
        return path, guessed
    if fmt == "obj":
        raise OutputError(f"'{path.suffix}' is a one-file animation, not an OBJ folder", path=path,
                          hint="drop --format obj, or give a folder name")
    if path.suffix == "":
        return path.with_suffix(SUFFIX[fmt]), fmt
    raise OutputError(f"the name ends in '{path.suffix}' but --format is {fmt}", path=path,
                      hint=f"name it {path.stem}{SUFFIX[fmt]}")
