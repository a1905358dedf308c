"""The Wav2Lip generator as a function from numpy crops and mel windows to numpy mouths.

The facade owns everything torch: eval mode, ``inference_mode``, the device (the caller's, else CUDA → MPS
→ CPU), the precision (float16 on CUDA, float32 elsewhere), batching (halved automatically when the device
runs out of memory), and the numpy ⇄ tensor conversion with shape checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...inference import BatchRunner, default_dtype, pick_device
from .preprocess import IMG_SIZE, face_input, mel_input

if TYPE_CHECKING:
    import torch

    from .network import Wav2Lip

#: First batch size tried per device type (halved on out-of-memory).
DEFAULT_BATCH = {"cuda": 128, "mps": 64, "cpu": 16}


class Wav2LipPredictor:
    """Run the Wav2Lip generator on face crops and mel windows.

    Parameters
    ----------
    model:
        The generator (e.g. from :func:`~lipsync_studio.sync.wav2lip.checkpoint.load_wav2lip`); it is moved to
        the device and precision and put in eval mode.
    device:
        ``"cpu"``, ``"cuda"``, ``"mps"``…; None chooses CUDA, then MPS, then the CPU.
    half:
        Half precision; None means "on CUDA only".
    batch_size:
        Frames per forward pass; None picks :data:`DEFAULT_BATCH` for the device. Halved automatically on
        out-of-memory, and kept halved.
    """

    def __init__(self, model: Wav2Lip, *, device: str | torch.device | None = None, half: bool | None = None,
                 batch_size: int | None = None) -> None:
        self.device = pick_device(device)
        self.dtype = default_dtype(self.device, half)
        self.model = model.to(device=self.device, dtype=self.dtype).eval()
        self._runner = BatchRunner(batch_size or DEFAULT_BATCH.get(self.device.type, 16), self.device)

    @classmethod
    def from_checkpoint(cls, path: str | Path, **kwargs) -> "Wav2LipPredictor":
        """Load the generator from any official checkpoint form (see :mod:`.checkpoint`) and wrap it."""
        from .checkpoint import load_wav2lip

        return cls(load_wav2lip(path), **kwargs)

    @property
    def batch_size(self) -> int:
        """Frames per forward pass now (after any halving)."""
        return self._runner.batch_size

    @property
    def halvings(self) -> int:
        """How often the batch was halved because memory ran out."""
        return self._runner.halvings

    def forward(self, faces: np.ndarray, mels: np.ndarray) -> np.ndarray:
        """The network's raw output for prepared inputs.

        Parameters
        ----------
        faces:
            (B, 6, 96, 96) float32 (from :func:`~.preprocess.face_input`).
        mels:
            (B, 1, 80, 16) float32 (from :func:`~.preprocess.mel_input`).

        Returns
        -------
        numpy.ndarray
            (B, 3, 96, 96) float32 BGR in [0, 1].
        """
        import torch

        faces = np.asarray(faces, dtype=np.float32)
        mels = np.asarray(mels, dtype=np.float32)
        if faces.ndim != 4 or faces.shape[1:] != (6, IMG_SIZE, IMG_SIZE):
            raise ValueError(f"faces must be (B, 6, {IMG_SIZE}, {IMG_SIZE}), got {faces.shape}")
        if mels.ndim != 4 or mels.shape[1:] != (1, 80, 16):
            raise ValueError(f"mels must be (B, 1, 80, 16), got {mels.shape}")
        if len(faces) != len(mels):
            raise ValueError(f"{len(faces)} faces but {len(mels)} mel windows; give one window per face")
        if len(faces) == 0:
            return np.zeros((0, 3, IMG_SIZE, IMG_SIZE), np.float32)

        def run(start: int, stop: int) -> np.ndarray:
            with torch.inference_mode():
                f = torch.from_numpy(faces[start:stop]).to(self.device, self.dtype, non_blocking=True)
                m = torch.from_numpy(mels[start:stop]).to(self.device, self.dtype, non_blocking=True)
                return self.model(m, f).float().cpu().numpy()

        return np.concatenate(self._runner.run(run, len(faces)), axis=0)

    def predict(self, crops: np.ndarray, mel_windows: np.ndarray) -> np.ndarray:
        """Synced faces for 96×96 crops and their mel windows.

        Parameters
        ----------
        crops:
            (B, 96, 96, 3) uint8 RGB face crops (from :func:`~.preprocess.crop_face`); each is its own
            reference, as in the official inference.
        mel_windows:
            (B, 80, 16) float32 mel windows, one per crop.

        Returns
        -------
        numpy.ndarray
            (B, 96, 96, 3) uint8 RGB faces whose lower half follows the mel. The official code truncates
            ``x * 255`` to uint8; this rounds (no systematic half-level darkening).
        """
        out = self.forward(face_input(crops), mel_input(mel_windows))
        return np.rint(out[:, ::-1].transpose(0, 2, 3, 1) * 255.0).clip(0, 255).astype(np.uint8)
