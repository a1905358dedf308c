"""The two building blocks of Wav2Lip's networks: convolution + batch norm + ReLU, forward and transposed.

The attribute name ``conv_block`` (a two-item ``Sequential``: the convolution, then the batch norm) is what
gives the official checkpoints their keys (``…conv_block.0.weight``, ``…conv_block.1.running_mean``); the
activation has no parameters and so no keys.
"""

from __future__ import annotations

import torch
from torch import nn

IntPair = int | tuple[int, int]


class ConvBnRelu(nn.Module):
    """``Conv2d → BatchNorm2d (→ + input when residual) → ReLU`` (Wav2Lip's ``Conv2d`` block).

    Parameters
    ----------
    cin, cout:
        Input and output channels (equal when ``residual``).
    kernel_size, stride, padding:
        As in :class:`torch.nn.Conv2d`.
    residual:
        Add the block's input to the normalised convolution before the ReLU (a "res" layer).
    """

    def __init__(self, cin: int, cout: int, kernel_size: IntPair, stride: IntPair = 1, padding: IntPair = 0,
                 residual: bool = False) -> None:
        super().__init__()
        if residual and cin != cout:
            raise ValueError(f"a residual block keeps its channel count; got {cin} → {cout}")
        self.conv_block = nn.Sequential(nn.Conv2d(cin, cout, kernel_size, stride, padding), nn.BatchNorm2d(cout))
        self.residual = residual
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_block(x)
        if self.residual:
            out = out + x
        return self.act(out)


class ConvTransposeBnRelu(nn.Module):
    """``ConvTranspose2d → BatchNorm2d → ReLU`` (Wav2Lip's ``Conv2dTranspose`` block; never residual).

    Parameters
    ----------
    cin, cout:
        Input and output channels.
    kernel_size, stride, padding, output_padding:
        As in :class:`torch.nn.ConvTranspose2d` (its weight is shaped ``(cin, cout, k, k)``).
    """

    def __init__(self, cin: int, cout: int, kernel_size: IntPair, stride: IntPair = 1, padding: IntPair = 0,
                 output_padding: IntPair = 0) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ConvTranspose2d(cin, cout, kernel_size, stride, padding, output_padding), nn.BatchNorm2d(cout))
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv_block(x))


def res(channels: int) -> ConvBnRelu:
    """A residual 3×3 layer that keeps size and channels (the tables' "res")."""
    return ConvBnRelu(channels, channels, 3, 1, 1, residual=True)


def down(cin: int, cout: int, stride: IntPair = 2) -> ConvBnRelu:
    """A 3×3 padded convolution that changes channels and (by ``stride``) size."""
    return ConvBnRelu(cin, cout, 3, stride, 1)


def audio_encoder(n_res256: int) -> nn.Sequential:
    """The mel encoder shared by the generator (one res256) and the SyncNet expert (two): 1×80×16 → 512×1×1.

    Indices (the checkpoint keys ``audio_encoder.<i>``): 0 conv 1→32; 1-2 res32; 3 conv 32→64 stride (3,1);
    4-5 res64; 6 conv 64→128 stride 3; 7-8 res128; 9 conv 128→256 stride (3,2); then ``n_res256`` res256;
    then conv 256→512 k3 p0 and conv 512→512 k1.
    """
    layers: list[nn.Module] = [
        ConvBnRelu(1, 32, 3, 1, 1), res(32), res(32),
        down(32, 64, (3, 1)), res(64), res(64),
        down(64, 128, 3), res(128), res(128),
        down(128, 256, (3, 2)),
    ]
    layers += [res(256) for _ in range(n_res256)]
    layers += [ConvBnRelu(256, 512, 3, 1, 0), ConvBnRelu(512, 512, 1, 1, 0)]
    return nn.Sequential(*layers)
