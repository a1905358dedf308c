"""The Wav2Lip generator (Prajwal et al., ACM MM 2020), layer for layer as the official ``models/wav2lip.py``.

A U-Net: the face encoder turns the 6-channel face input (masked frame + reference, 96×96) into features at
96, 48, 24, 12, 6, 3 and 1 px; the audio encoder turns a 80×16 mel window into a 512-vector; the decoder
grows that vector back to 96×96, concatenating the face features of the same size after every block, and the
output block predicts the face (3 channels, sigmoid, BGR in [0, 1]).

Module names reproduce the official state-dict keys: ``face_encoder_blocks.<b>.<l>.conv_block.{0,1}.*``,
``audio_encoder.<l>.conv_block.{0,1}.*``, ``face_decoder_blocks.<b>.<l>.conv_block.{0,1}.*``,
``output_block.0.conv_block.{0,1}.*`` and ``output_block.1.{weight,bias}``.
"""

from __future__ import annotations

import torch
from torch import nn

from .blocks import ConvBnRelu, ConvTransposeBnRelu, audio_encoder, down, res

IMG_SIZE = 96  #: side of the face crops the generator takes and returns (px)
MEL_BANDS, MEL_STEPS = 80, 16  #: one mel window: 80 bands × 16 columns (200 ms)


def _up(cin: int, cout: int) -> ConvTransposeBnRelu:
    """A transposed 3×3 convolution that doubles the size (stride 2, padding 1, output padding 1)."""
    return ConvTransposeBnRelu(cin, cout, 3, 2, 1, 1)


class Wav2Lip(nn.Module):
    """The Wav2Lip generator: ``model(mel, faces) → faces``.

    The official network has no variants, so the constructor takes no arguments (a checkpoint for a
    modified network, e.g. a 192 or 288 px face, is refused by the loader with a message saying so).

    Inputs are ``mel: (B, 1, 80, 16)`` and ``faces: (B, 6, 96, 96)`` (channels 0-2 the frame with its lower
    half zeroed, 3-5 the reference, BGR in [0, 1]); the output is ``(B, 3, 96, 96)`` BGR in [0, 1]. A time
    axis is accepted as in the official code: ``mel (B, T, 1, 80, 16)`` with ``faces (B, 6, T, 96, 96)``
    give ``(B, 3, T, 96, 96)``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.face_encoder_blocks = nn.ModuleList([
            nn.Sequential(ConvBnRelu(6, 16, 7, 1, 3)),                                   # 96
            nn.Sequential(down(16, 32), res(32), res(32)),                               # 48
            nn.Sequential(down(32, 64), res(64), res(64), res(64)),                      # 24
            nn.Sequential(down(64, 128), res(128), res(128)),                            # 12
            nn.Sequential(down(128, 256), res(256), res(256)),                           # 6
            nn.Sequential(down(256, 512), res(512)),                                     # 3
            nn.Sequential(ConvBnRelu(512, 512, 3, 1, 0), ConvBnRelu(512, 512, 1, 1, 0)),  # 1
        ])
        self.audio_encoder = audio_encoder(n_res256=1)
        self.face_decoder_blocks = nn.ModuleList([
            nn.Sequential(ConvBnRelu(512, 512, 1, 1, 0)),                                # 1   → cat → 1024
            nn.Sequential(ConvTransposeBnRelu(1024, 512, 3, 1, 0), res(512)),            # 3   → cat → 1024
            nn.Sequential(_up(1024, 512), res(512), res(512)),                           # 6   → cat → 768
            nn.Sequential(_up(768, 384), res(384), res(384)),                            # 12  → cat → 512
            nn.Sequential(_up(512, 256), res(256), res(256)),                            # 24  → cat → 320
            nn.Sequential(_up(320, 128), res(128), res(128)),                            # 48  → cat → 160
            nn.Sequential(_up(160, 64), res(64), res(64)),                               # 96  → cat → 80
        ])
        self.output_block = nn.Sequential(ConvBnRelu(80, 32, 3, 1, 1), nn.Conv2d(32, 3, 1, 1, 0), nn.Sigmoid())

    def forward(self, mel: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        """Predict faces from mel windows and masked + reference faces (shapes in the class docstring)."""
        batch = mel.shape[0]
        timed = faces.dim() == 5
        if timed:  # fold time into the batch, time-major, as the official code does
            steps = faces.shape[2]
            mel = mel.transpose(0, 1).reshape(steps * batch, *mel.shape[2:])
            faces = faces.permute(2, 0, 1, 3, 4).reshape(steps * batch, *faces.shape[1:2], *faces.shape[3:])
        features: list[torch.Tensor] = []
        x = faces
        for block in self.face_encoder_blocks:
            x = block(x)
            features.append(x)
        x = self.audio_encoder(mel)
        for block in self.face_decoder_blocks:
            x = torch.cat((block(x), features.pop()), dim=1)
        out = self.output_block(x)
        if timed:
            out = out.reshape(-1, batch, *out.shape[1:]).permute(1, 2, 0, 3, 4)
        return out
