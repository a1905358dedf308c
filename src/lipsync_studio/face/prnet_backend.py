"""The PRNet mesh backend for the ``mesh`` job: used when its weights and uv data are in the models folder.

PRNet gives a 43,867-vertex face per frame (a fixed topology), in the frame's pixels. For the OBJ sequence
the vertices are turned right-handed (x right, y up, z toward the viewer) and scaled to millimetres with the
clip's canonical face (the built-in model's scale), so both backends export in the same units; the texture is
PRNet's own UV map: the frame sampled at the position map.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .mesh3d import FaceMesh3D, FaceModel
from .topology import orient


def prnet_folder(models_dir: Path | None = None) -> Path:
    """``<models>/prnet``: the weights and ``uv-data/``."""
    from ..weights import default_models_dir

    return (models_dir or default_models_dir()) / "prnet"


def prnet_available(models_dir: Path | None = None) -> bool:
    """Whether PRNet's weights and uv data are present."""
    from .prnet.weights import find_weights

    folder = prnet_folder(models_dir)
    return folder.is_dir() and find_weights(folder) is not None and (folder / "uv-data" / "face_ind.txt").is_file()


class PRNetMesher:
    """Per-frame PRNet meshes in the OBJ exporter's form.

    Parameters
    ----------
    model: the clip's canonical face (for the millimetre scale and the camera).
    folder: the PRNet models folder; device: torch device (default: the best present).
    """

    def __init__(self, model: FaceModel, folder: Path | None = None, device: str | None = None) -> None:
        from ..inference import pick_device
        from .prnet.predictor import PRNetPredictor

        self.model = model
        self.predictor = PRNetPredictor.from_directory(folder or prnet_folder(), device=pick_device(device))
        uv = self.predictor.uv
        coords = np.asarray(uv.uv_coords, np.float64)  # (V, 2) x=col, y=row in the 256 grid
        self.uv = np.stack([coords[:, 0] / 256.0, 1.0 - coords[:, 1] / 256.0], 1).astype(np.float32)
        self._triangles: np.ndarray | None = None

    def mesh(self, frame: np.ndarray, landmarks: np.ndarray, measured: bool) -> tuple[FaceMesh3D, np.ndarray]:
        """The face in ``frame`` (box from our tracked landmarks) and its (256, 256, 3) uint8 UV texture."""
        import cv2

        from .prnet.predictor import box_from_landmarks

        face = self.predictor.predict(frame, box_from_landmarks(landmarks[:, :2]))
        mm = self.model.mm_per_px
        h, w = frame.shape[:2]
        v = face.vertices.astype(np.float64)
        gl = np.stack([(v[:, 0] - w / 2) * mm, (h / 2 - v[:, 1]) * mm, (v[:, 2] - v[:, 2].mean()) * mm], 1)
        depth = self.model.focal_px * mm  # the face at the pinhole's distance for its pixel scale
        gl[:, 2] -= depth
        if self._triangles is None:
            self._triangles = orient(np.asarray(face.triangles, np.int64), gl).astype(np.int32)
        pos = face.position_map.astype(np.float32)
        texture = cv2.remap(frame, pos[..., 0], pos[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        mesh = FaceMesh3D(gl.astype(np.float32), self._triangles, self.uv, face.colors.astype(np.float32),
                          np.eye(3, dtype=np.float32), np.array([0, 0, -depth], np.float32),
                          face.vertices[:, :2].astype(np.float32), measured)
        return mesh, texture
