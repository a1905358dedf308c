"""The stereo cycle model at inference: the exported ``stereo_cycle.pt`` loaded (checked) into a predictor.

File format (written by :func:`lipsync_studio.train.stereo_cycle.train.export`)::

    {"format": "lipsync-studio/stereo-cycle", "version": 1, "config": StereoCycleConfig.to_dict(),
     "state_dict": StereoCycleModel state dict (``generator.*``: Wav2Lip keys; ``g_l.*``, ``g_r.*``),
     "step": int}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from .model import StereoCycleConfig, StereoCycleModel, f_w

EXPORT_FORMAT = "lipsync-studio/stereo-cycle"


class StereoCyclePredictor:
    """Inference facade: ``eval()``, ``no_grad``, device, numpy ⇄ tensor with shape checks.

    :meth:`predict` takes uint8 RGB crops like :class:`~lipsync_studio.sync.wav2lip.predictor.Wav2LipPredictor`
    and returns the synced left face and the right face made from it.
    """

    def __init__(self, model: StereoCycleModel, device: str | torch.device | None = None) -> None:
        self.device = torch.device(device or "cpu")
        self.model = model.to(self.device).eval()

    def forward(self, faces: np.ndarray, mels: np.ndarray, right: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
        """Prepared inputs → ``(left, right)``, each (B, 3, 96, 96) float32 BGR in [0, 1].

        ``faces`` (B, 6, 96, 96) from :func:`~lipsync_studio.sync.wav2lip.preprocess.face_input`; ``mels``
        (B, 1, 80, 16); ``right`` (B, 3, 96, 96) BGR [0, 1] right-eye crops (cut with the left box), optional.
        """
        faces = np.asarray(faces, np.float32)
        mels = np.asarray(mels, np.float32)
        if faces.ndim != 4 or faces.shape[1:] != (6, 96, 96):
            raise ValueError(f"faces must be (B, 6, 96, 96), got {faces.shape}")
        if mels.shape != (len(faces), 1, 80, 16):
            raise ValueError(f"mels must be ({len(faces)}, 1, 80, 16), got {mels.shape}")
        if right is not None and np.shape(right) != (len(faces), 3, 96, 96):
            raise ValueError(f"right must be ({len(faces)}, 3, 96, 96), got {np.shape(right)}")
        with torch.inference_mode():
            r = None if right is None else torch.from_numpy(np.asarray(right, np.float32)).to(self.device)
            left, new_right = self.model.synthesize(torch.from_numpy(mels).to(self.device),
                                                    torch.from_numpy(faces).to(self.device), r)
        return left.float().cpu().numpy(), new_right.float().cpu().numpy()

    def predict(self, crops: np.ndarray, mel_windows: np.ndarray, right_crops: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
        """(B, 96, 96, 3) uint8 RGB left crops + (B, 80, 16) mel windows [+ right crops] → uint8 RGB (left, right)."""
        from ..wav2lip.preprocess import face_input, mel_input

        right = None
        if right_crops is not None:
            right = np.ascontiguousarray(np.asarray(right_crops)[..., ::-1].transpose(0, 3, 1, 2), np.float32) / 255.0
        left, new_right = self.forward(face_input(crops), mel_input(mel_windows), right)

        def img(x: np.ndarray) -> np.ndarray:
            return np.rint(x[:, ::-1].transpose(0, 2, 3, 1) * 255.0).clip(0, 255).astype(np.uint8)
        return img(left), img(new_right)


    def right_face(self, left_faces: np.ndarray, right_crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The right eye's face made from an (already synced) left face: ``Î_r = f_w(G_l(Ĩ_l, I_r), Ĩ_l)``.

        For the stereo job: the left eye goes through the usual Wav2Lip engine (with this model's
        ``generator``); its synced 96×96 crop and the right eye's crop *cut with the same box* give the
        right face and the disparity to move the paste mask with.

        Parameters
        ----------
        left_faces, right_crops : (B, 96, 96, 3) uint8 RGB.

        Returns
        -------
        right : (B, 96, 96, 3) uint8 RGB.
        disparity : (B, 96, 96) float32, px of the 96-px crop, on the right grid (``Î_r(x) = Ĩ_l(x + d(x))``);
            multiply by ``box_width / 96`` for frame pixels.
        """

        def tensor(x: np.ndarray) -> torch.Tensor:
            x = np.asarray(x)
            if x.ndim != 4 or x.shape[1:] != (96, 96, 3) or x.dtype != np.uint8:
                raise ValueError(f"faces must be (B, 96, 96, 3) uint8, got {x.shape} {x.dtype}")
            bgr = np.ascontiguousarray(x[..., ::-1].transpose(0, 3, 1, 2), np.float32) / 255.0
            return torch.from_numpy(bgr).to(self.device)

        if len(left_faces) != len(right_crops):
            raise ValueError(f"{len(left_faces)} left faces but {len(right_crops)} right crops")
        with torch.inference_mode():
            left = tensor(left_faces)
            d = self.model.g_l(left, tensor(right_crops))
            right = f_w(d, left).float().cpu().numpy()
        img = np.rint(right[:, ::-1].transpose(0, 2, 3, 1) * 255.0).clip(0, 255).astype(np.uint8)
        return img, d[:, 0].float().cpu().numpy()


def load_stereo_cycle(path: str | Path, device: str | torch.device | None = None) -> StereoCyclePredictor:
    """Load ``stereo_cycle.pt`` (strict) into a :class:`StereoCyclePredictor`.

    Raises
    ------
    CheckpointError
        The file is not a stereo cycle model or its weights do not fit the network.
    """
    from ...weights.state_dict import CheckpointError, load_checked_state_dict

    path = Path(path)
    try:
        obj: Any = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 — any unreadable file gets the same user message
        raise CheckpointError(f"cannot be read as a stereo cycle model ({exc})", path=path,
                              hint="export one with `lipsync-studio train stereo`") from exc
    if not isinstance(obj, dict) or obj.get("format") != EXPORT_FORMAT:
        raise CheckpointError("is not a stereo cycle model (stereo_cycle.pt)", path=path,
                              hint="a training checkpoint.pt or a Wav2Lip file is not enough: export the model")
    model = StereoCycleModel(StereoCycleConfig(**obj["config"]))
    load_checked_state_dict(model, obj["state_dict"], network="the stereo cycle network", path=path,
                            hint="export it again with `lipsync-studio train stereo`")
    return StereoCyclePredictor(model, device)
