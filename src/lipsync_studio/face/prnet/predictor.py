"""Run PRNet on video frames: crop each face as PRNet does, regress its position map, return the 3D mesh.

The steps follow PRNet's ``api.py`` (``process``, ``net_forward``, ``get_vertices``, ``get_colors``):

1. **Crop.** From a face box (or the min/max of landmarks): centre = box centre, side
   ``size = int(1.6 · (w + h) / 2)``; the similarity that maps the square's corners (top-left, bottom-left,
   top-right) to (0, 0), (0, 255), (255, 0) — scale ``s = 255 / size`` and a translation — warps the image to
   256×256 (bilinear, black outside).
2. **Network.** RGB in [0, 1] → sigmoid output × 281.6 = position map in crop pixels.
3. **Back to the image.** x, y through the inverse similarity; ``z / s``. The result is in image pixels, y down,
   z on the same scale (larger z nearer the camera, PRNet's convention; PRNet's ``demo.py`` flips y only when
   writing OBJ files).
4. **Mesh.** vertices = position map at the 43,867 ``face_ind`` UV pixels; triangles from ``triangles.txt``;
   68 key points at ``uv_kpt_ind``; colours sampled from the image at the vertices (bilinear, clamped to the image;
   PRNet rounds to the nearest pixel and overwrites its vertices in place, which is not done here).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lipsync_studio.face.prnet.uv_data import UV_SIZE, PRNetUVData

if TYPE_CHECKING:
    import torch
    from torch import nn

CROP_SCALE = 1.6
"""Crop side / mean box side (PRNet for a given box or landmarks)."""


@dataclass(frozen=True)
class PRNetFace:
    """One face reconstructed by PRNet, in the pixels of the frame it came from.

    Attributes
    ----------
    vertices: (V, 3) float32
        Mesh vertices (V = 43,867): x, y in image pixels (y down), z on the same scale (larger = nearer).
    triangles: (T, 3) int64
        Vertex indices per triangle (the same array for every face).
    colors: (V, 3) float32
        RGB in [0, 1] sampled from the image at each vertex.
    keypoints: (68, 3) float32
        The 68 landmarks (68-point convention), like ``vertices``.
    position_map: (256, 256, 3) float32
        The full UV position map in image pixels.
    crop_transform: (3, 3) float64
        The similarity from image pixels to crop pixels.
    box: (4,) float64
        The face box (x0, y0, x1, y1) the crop was made from.
    """

    vertices: np.ndarray
    triangles: np.ndarray
    colors: np.ndarray
    keypoints: np.ndarray
    position_map: np.ndarray
    crop_transform: np.ndarray
    box: np.ndarray


def box_from_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """The box (x0, y0, x1, y1) spanned by landmarks (K, 2) or (K, 3) in image pixels, as PRNet takes it."""
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] not in (2, 3) or pts.shape[0] < 2:
        raise ValueError(f"landmarks must be (K, 2) or (K, 3) with K ≥ 2, not {pts.shape}")
    return np.array([pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()])


def crop_transform(box: Sequence[float] | np.ndarray, *, scale: float = CROP_SCALE,
                   resolution: int = UV_SIZE) -> np.ndarray:
    """(3, 3) similarity from image pixels to PRNet crop pixels for a face box (x0, y0, x1, y1).

    Equal to PRNet's ``estimate_transform('similarity', corners, [[0, 0], [0, 255], [255, 0]])`` (the three
    corners fit exactly, so the least-squares similarity is this scale and translation).
    """
    x0, y0, x1, y1 = (float(v) for v in np.asarray(box, dtype=np.float64).reshape(-1)[:4])
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"a face box needs x1 > x0 and y1 > y0, got {(x0, y0, x1, y1)}")
    old_size = (x1 - x0 + y1 - y0) / 2
    center_x, center_y = x1 - (x1 - x0) / 2, y1 - (y1 - y0) / 2
    size = int(old_size * scale)
    if size < 1:
        raise ValueError(f"the face box {(x0, y0, x1, y1)} is too small to crop")
    s = (resolution - 1) / size
    return np.array([[s, 0.0, -s * (center_x - size / 2)],
                     [0.0, s, -s * (center_y - size / 2)],
                     [0.0, 0.0, 1.0]])


def bilinear_sample(image: np.ndarray, x: np.ndarray, y: np.ndarray, *, outside: str = "zero") -> np.ndarray:
    """Sample ``image`` (H, W, C) at pixel positions ``x``, ``y`` (any equal shapes) bilinearly.

    Pixel centres are at integer coordinates. ``outside="zero"`` treats pixels beyond the image as 0 (PRNet's
    crop, skimage ``warp(mode='constant')``); ``"clamp"`` clamps the positions into the image first. Returns
    ``x.shape + (C,)`` float32.
    """
    img = np.asarray(image)
    h, w = img.shape[:2]
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if outside == "clamp":
        x = np.clip(x, 0, w - 1)
        y = np.clip(y, 0, h - 1)
    elif outside != "zero":
        raise ValueError(f"outside must be 'zero' or 'clamp', not {outside!r}")
    x0 = np.floor(x)
    y0 = np.floor(y)
    fx = (x - x0).astype(np.float32)[..., None]
    fy = (y - y0).astype(np.float32)[..., None]
    x0 = x0.astype(np.int64)
    y0 = y0.astype(np.int64)
    out = np.zeros(x.shape + img.shape[2:], dtype=np.float32)
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            xx, yy = x0 + dx, y0 + dy
            inside = (xx >= 0) & (xx < w) & (yy >= 0) & (yy < h)
            values = img[np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)].astype(np.float32)
            out += values * (wx * wy * inside[..., None])
    return out


def _checked_rgb(image: np.ndarray) -> tuple[np.ndarray, float]:
    """The image's RGB channels (no copy) and the factor that maps its values to [0, 1]."""
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise ValueError(f"an image must be (H, W, 3) RGB, not {img.shape}")
    if img.dtype == np.uint8:
        return img[..., :3], 1.0 / 255.0
    if img.dtype.kind != "f":
        raise ValueError(f"an image must be uint8 or float in [0, 1], not {img.dtype}")
    return img[..., :3], 1.0


def crop_face(image: np.ndarray, transform: np.ndarray, resolution: int = UV_SIZE) -> np.ndarray:
    """(resolution, resolution, 3) float32 RGB in [0, 1]: ``image`` warped by ``transform`` (image → crop)."""
    inverse = np.linalg.inv(transform)
    v, u = np.mgrid[0:resolution, 0:resolution].astype(np.float64)
    x = inverse[0, 0] * u + inverse[0, 1] * v + inverse[0, 2]
    y = inverse[1, 0] * u + inverse[1, 1] * v + inverse[1, 2]
    rgb, factor = _checked_rgb(image)
    return bilinear_sample(rgb, x, y, outside="zero") * np.float32(factor)


def uncrop_position_map(position_map: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """Position map (…, 3) from crop pixels to image pixels: x, y through the inverse transform, z / scale.

    The scale is the similarity's (``sqrt|det|`` of its 2×2 part; PRNet's ``tform.params[0, 0]`` for the
    rotation-free crops made here).
    """
    pos = np.asarray(position_map, dtype=np.float64)
    inverse = np.linalg.inv(transform)
    scale = float(np.sqrt(abs(np.linalg.det(transform[:2, :2]))))
    x = inverse[0, 0] * pos[..., 0] + inverse[0, 1] * pos[..., 1] + inverse[0, 2]
    y = inverse[1, 0] * pos[..., 0] + inverse[1, 1] * pos[..., 1] + inverse[1, 2]
    return np.stack([x, y, pos[..., 2] / scale], axis=-1).astype(np.float32)


class PRNetPredictor:
    """PRNet inference: face crops in, meshes in image pixels out, in batches on the caller's device.

    Parameters
    ----------
    model:
        A :class:`~.network.ResFCN256` with weights (see :func:`~.weights.load_prnet`), or any module mapping
        (N, 3, 256, 256) in [0, 1] to a sigmoid position map of the same shape. The predictor moves it to
        ``device`` and ``dtype`` and puts it in eval mode.
    uv:
        PRNet's UV data (:func:`~.uv_data.load_uv_data`).
    device:
        Where to run (``"cuda"``, ``"cpu"``, a ``torch.device``); None keeps the model's current device.
    dtype:
        Network precision; None is float16 on CUDA and float32 elsewhere.
    batch_size:
        Faces per network call.
    """

    def __init__(self, model: nn.Module, uv: PRNetUVData, *, device: str | torch.device | None = None,
                 dtype: torch.dtype | None = None, batch_size: int = 16) -> None:
        import torch

        if device is None:
            tensors = list(model.parameters()) + list(model.buffers())
            device = tensors[0].device if tensors else torch.device("cpu")
        self.device = torch.device(device)
        self.dtype = dtype if dtype is not None else (torch.float16 if self.device.type == "cuda"
                                                      else torch.float32)
        self.model = model.to(device=self.device, dtype=self.dtype).eval()
        self.uv = uv
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, not {batch_size}")
        self.batch_size = batch_size

    @classmethod
    def from_directory(cls, directory: str | os.PathLike[str], *, device: str | torch.device | None = None,
                       dtype: torch.dtype | None = None, batch_size: int = 16,
                       verify: bool = True) -> PRNetPredictor:
        """Load weights and UV data from a PRNet folder (``models/prnet``: the weights, and ``uv-data/``)."""
        from lipsync_studio.face.prnet.uv_data import load_uv_data
        from lipsync_studio.face.prnet.weights import load_prnet

        directory = Path(directory)
        uv = load_uv_data(directory / "uv-data")
        return cls(load_prnet(directory, verify=verify), uv, device=device, dtype=dtype, batch_size=batch_size)

    def position_maps(self, crops: np.ndarray) -> np.ndarray:
        """Run the network on crops (N, 256, 256, 3) float32 RGB in [0, 1] → (N, 256, 256, 3) float32 crop px."""
        import torch

        from lipsync_studio.face.prnet.network import MAX_POSITION

        crops = np.asarray(crops, dtype=np.float32)
        if crops.ndim != 4 or crops.shape[1:] != (UV_SIZE, UV_SIZE, 3):
            raise ValueError(f"crops must be (N, {UV_SIZE}, {UV_SIZE}, 3), not {crops.shape}")
        out = np.empty(crops.shape, dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(crops), self.batch_size):
                batch = torch.from_numpy(np.ascontiguousarray(crops[start:start + self.batch_size]))
                # Plain NCHW: a channels-last view would pick other conv kernels and round differently.
                batch = batch.to(self.device).permute(0, 3, 1, 2).to(self.dtype).contiguous()
                result = self.model(batch)
                if tuple(result.shape[1:]) != (3, UV_SIZE, UV_SIZE):
                    raise ValueError(f"the network returned {tuple(result.shape)}, not (N, 3, 256, 256)")
                result = result.float().permute(0, 2, 3, 1) * MAX_POSITION
                out[start:start + len(batch)] = result.cpu().numpy()
        return out

    def predict_batch(self, images: Sequence[np.ndarray], boxes: Sequence[Sequence[float]] | np.ndarray,
                      ) -> list[PRNetFace]:
        """Reconstruct one face per (image, box) pair.

        Parameters
        ----------
        images:
            N frames (H, W, 3) RGB, uint8 or float in [0, 1]; the same frame may appear several times (one per
            face in it).
        boxes:
            N face boxes (x0, y0, x1, y1) in pixels of their frame (see :func:`box_from_landmarks`).
        """
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4) if len(boxes) else np.zeros((0, 4))
        if len(images) != len(boxes):
            raise ValueError(f"{len(images)} images but {len(boxes)} boxes; give one box per image")
        transforms = [crop_transform(box) for box in boxes]
        crops = np.stack([crop_face(img, t) for img, t in zip(images, transforms, strict=True)]) if len(boxes) \
            else np.zeros((0, UV_SIZE, UV_SIZE, 3), np.float32)
        maps = self.position_maps(crops)
        faces = []
        for image, box, transform, crop_map in zip(images, boxes, transforms, maps, strict=True):
            pos = uncrop_position_map(crop_map, transform)
            vertices = pos.reshape(-1, 3)[self.uv.face_ind]
            rgb, factor = _checked_rgb(image)
            colors = bilinear_sample(rgb, vertices[:, 0], vertices[:, 1], outside="clamp") * np.float32(factor)
            keypoints = pos[self.uv.kpt_ind[1], self.uv.kpt_ind[0]]
            faces.append(PRNetFace(vertices=vertices, triangles=self.uv.triangles, colors=colors,
                                   keypoints=keypoints, position_map=pos, crop_transform=transform,
                                   box=box.copy()))
        return faces

    def predict(self, image: np.ndarray, box: Sequence[float] | np.ndarray | None = None, *,
                landmarks: np.ndarray | None = None) -> PRNetFace:
        """Reconstruct the face in ``image`` given its box (x0, y0, x1, y1) or its landmarks (K, 2)."""
        if (box is None) == (landmarks is None):
            raise ValueError("give either a face box or landmarks")
        return self.predict_batch([image], [box if box is not None else box_from_landmarks(landmarks)])[0]
