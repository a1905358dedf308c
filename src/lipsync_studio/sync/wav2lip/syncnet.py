"""Wav2Lip's SyncNet expert (``SyncNet_color`` in the official ``models/syncnet.py``), layer for layer.

It embeds five consecutive face crops (the lower halves only: 5 × BGR = 15 channels, 48×96) and the mel
window that starts at the first of them (1×80×16) into two unit 512-vectors; their cosine similarity says
how well the mouth follows the sound (trained with a binary cross-entropy on it: 1 in sync, 0 off).

Keys: ``face_encoder.<l>.conv_block.{0,1}.*`` (l = 0…16) and ``audio_encoder.<l>.conv_block.{0,1}.*``
(l = 0…13).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .blocks import ConvBnRelu, audio_encoder, down, res

SYNC_T = 5  #: frames per expert window (200 ms at 25 fps)


class SyncNetColor(nn.Module):
    """The expert: ``model(mel, faces) → (audio_embedding, face_embedding)``, both L2-normalised.

    Inputs are ``mel: (B, 1, 80, 16)`` and ``faces: (B, 15, 48, 96)`` (five lower-half crops, BGR in
    [0, 1], concatenated on channels in time order); outputs are two ``(B, 512)`` unit vectors. The official
    network has no variants, so the constructor takes no arguments.
    """

    def __init__(self) -> None:
        super().__init__()
        self.face_encoder = nn.Sequential(
            ConvBnRelu(15, 32, 7, 1, 3),                          # 48×96
            ConvBnRelu(32, 64, 5, (1, 2), 1), res(64), res(64),   # 46×47
            down(64, 128), res(128), res(128), res(128),          # 23×24
            down(128, 256), res(256), res(256),                   # 12×12
            down(256, 512), res(512), res(512),                   # 6×6
            down(512, 512),                                       # 3×3
            ConvBnRelu(512, 512, 3, 1, 0),                        # 1×1
            ConvBnRelu(512, 512, 1, 1, 0),
        )
        self.audio_encoder = audio_encoder(n_res256=2)

    def forward(self, mel: torch.Tensor, faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Embed mel windows and face windows (shapes in the class docstring)."""
        face = self.face_encoder(faces).flatten(1)
        audio = self.audio_encoder(mel).flatten(1)
        return F.normalize(audio, p=2, dim=1), F.normalize(face, p=2, dim=1)
