"""PRNet's ResFCN256 (Feng et al., ECCV 2018) in PyTorch, layer for layer as the official TensorFlow model.

The network maps a 256×256 RGB face crop in [0, 1] to a 256×256×3 UV position map: for every UV pixel the x, y, z
of that point of the face in the crop's pixels (z on the same scale). The last layer is a sigmoid; the position map
is ``output × MAX_POSITION`` (256 × 1.1 = 281.6). The official layer table (``PRNet/predictor.py``)::

    encoder  Conv 4×4 s1 → 16 ch, then 10 resBlocks (stride, out ch):
             (2,32) (1,32) (2,64) (1,64) (2,128) (1,128) (2,256) (1,256) (2,512) (1,512)   → 8×8×512
    decoder  17 transposed 4×4 convs (stride, out ch):
             (1,512) (2,256) (1,256) (1,256) (2,128) (1,128) (1,128) (2,64) (1,64) (1,64)
             (2,32) (1,32) (2,16) (1,16) (1,3) (1,3) (1,3)                                  → 256×256×3

Every conv has no bias and is followed by BatchNorm (γ and β, ε = 1e-3) and ReLU, except the last, whose
activation is a sigmoid. A resBlock with output C and stride s is: 1×1 conv → C/2 (BN, ReLU); 4×4 conv stride s →
C/2 (BN, ReLU); 1×1 conv → C (no BN, no activation); plus a shortcut (a bare 1×1 conv, stride s, only when the
stride or the channel count changes, else the identity); then BN and ReLU after the sum.

TensorFlow's ``padding='SAME'`` is emulated exactly, including its asymmetry: a conv pads
``max((ceil(n/s) − 1)·s + k − n, 0)`` pixels, the smaller half before; a transposed conv is the adjoint of that
conv (output ``n·s``), so it drops the same pixels from the full transposed output: ``pad_before`` at the start, the
rest at the end. For 4×4 kernels: stride 1 pads (1, 2), stride 2 on even sizes pads (1, 1).

The module holds nothing but layers; checkpoint loading lives in :mod:`.weights`, inference in :mod:`.predictor`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

MAX_POSITION = 256 * 1.1
"""Scale from the sigmoid output to crop pixels (PRNet's ``MaxPos = resolution_inp * 1.1``)."""

RESOLUTION = 256
"""Input and output side in pixels."""

BN_EPS = 1e-3
"""TensorFlow's batch-norm epsilon (``tf.contrib.layers.batch_norm``)."""

BN_MOMENTUM = 1e-3
"""Running-statistics update rate equal to TensorFlow's default decay 0.999 (used only when training)."""

ENCODER = ((2, 32), (1, 32), (2, 64), (1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512), (1, 512))
"""(stride, output channels) of the ten resBlocks, for the official base width 16."""

DECODER = ((1, 512), (2, 256), (1, 256), (1, 256), (2, 128), (1, 128), (1, 128), (2, 64), (1, 64), (1, 64),
           (2, 32), (1, 32), (2, 16), (1, 16), (1, 3), (1, 3), (1, 3))
"""(stride, output channels) of the seventeen transposed convolutions, for the official base width 16."""


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'SAME' padding (before, after) of one dimension of ``size`` pixels."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class Conv2dSame(nn.Conv2d):
    """A bias-free convolution with TensorFlow's 'SAME' padding (asymmetric where TensorFlow's is)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_in, H, W) → (N, C_out, ceil(H/s), ceil(W/s))."""
        top, bottom = same_padding(x.shape[-2], self.kernel_size[0], self.stride[0])
        left, right = same_padding(x.shape[-1], self.kernel_size[1], self.stride[1])
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom))
        return F.conv2d(x, self.weight, None, self.stride)


class ConvTranspose2dSame(nn.ConvTranspose2d):
    """A bias-free transposed convolution with TensorFlow's 'SAME' output size ``n·s`` and alignment.

    TensorFlow's ``conv2d_transpose`` is the adjoint of the 'SAME' conv from ``n·s`` to ``n`` pixels. PyTorch's
    symmetric ``padding`` crops ``pad_before`` pixels from both ends of the full output; when the 'SAME' padding is
    odd (stride 1, kernel 4: (1, 2)) one more pixel is dropped at the end.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1) -> None:
        # The 'SAME' conv from n·s to n pixels pads (n − 1)·s + k − n·s = k − s in total, whatever n is.
        total = max(kernel_size - stride, 0)
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=total // 2, bias=False)
        self._extra = total % 2  # the one more pixel TensorFlow pads after than before

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_in, H, W) → (N, C_out, H·s, W·s)."""
        y = F.conv_transpose2d(x, self.weight, None, self.stride, self.padding)
        if self._extra:
            y = y[..., : y.shape[-2] - self._extra, : y.shape[-1] - self._extra]
        return y


class ConvBNAct(nn.Module):
    """Conv (or transposed conv) → BatchNorm → ReLU or sigmoid; TensorFlow's ``tcl.conv2d``/``conv2d_transpose``
    under PRNet's arg_scope (``normalizer_fn=batch_norm``, no biases)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, *,
                 transpose: bool = False, activation: str = "relu") -> None:
        super().__init__()
        layer = ConvTranspose2dSame if transpose else Conv2dSame
        self.conv = layer(in_channels, out_channels, kernel_size, stride)
        self.bn = nn.BatchNorm2d(out_channels, eps=BN_EPS, momentum=BN_MOMENTUM)
        if activation not in ("relu", "sigmoid"):
            raise ValueError(f"activation must be 'relu' or 'sigmoid', not {activation!r}")
        self.act: nn.Module = nn.ReLU(inplace=True) if activation == "relu" else nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_in, H, W) → (N, C_out, H', W')."""
        return self.act(self.bn(self.conv(x)))


class ResBlock(nn.Module):
    """PRNet's ``resBlock``: 1×1 → 4×4 (stride) → 1×1 convs plus a shortcut, then BN and ReLU after the sum.

    Parameters
    ----------
    in_channels, out_channels:
        Channels in and out; the inner convs use ``out_channels // 2``.
    stride:
        Stride of the 4×4 conv and of the shortcut.
    kernel_size:
        Size of the middle conv (4 in PRNet).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, kernel_size: int = 4) -> None:
        super().__init__()
        if out_channels % 2:
            raise ValueError(f"a resBlock needs an even channel count, not {out_channels}")
        self.shortcut: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = Conv2dSame(in_channels, out_channels, 1, stride)
        self.conv1 = ConvBNAct(in_channels, out_channels // 2, 1)
        self.conv2 = ConvBNAct(out_channels // 2, out_channels // 2, kernel_size, stride)
        self.conv3 = Conv2dSame(out_channels // 2, out_channels, 1)
        self.bn = nn.BatchNorm2d(out_channels, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_in, H, W) → (N, C_out, H/s, W/s)."""
        shortcut = x if self.shortcut is None else self.shortcut(x)
        y = self.conv3(self.conv2(self.conv1(x)))
        return self.act(self.bn(y + shortcut))


class ResFCN256(nn.Module):
    """PRNet's position-map regression network.

    Parameters
    ----------
    base_channels:
        Width of the first layer (16 in PRNet; every other width is a multiple of it). Only 16 loads the official
        weights.

    Input ``(N, 3, 256, 256)`` RGB in [0, 1]; output ``(N, 3, 256, 256)`` in (0, 1) — multiply by
    :data:`MAX_POSITION` for crop pixels (channels x, y, z). Any size divisible by 32 works; 256 is the trained one.
    """

    def __init__(self, base_channels: int = 16) -> None:
        super().__init__()
        scale = base_channels / 16

        def width(channels: int) -> int:
            return channels if channels == 3 else round(channels * scale)

        self.stem = ConvBNAct(3, base_channels, 4, 1)
        blocks = []
        channels = base_channels
        for stride, out in ENCODER:
            blocks.append(ResBlock(channels, width(out), stride))
            channels = width(out)
        self.res_blocks = nn.Sequential(*blocks)
        ups = []
        for i, (stride, out) in enumerate(DECODER):
            last = i == len(DECODER) - 1
            ups.append(ConvBNAct(channels, width(out), 4, stride, transpose=True,
                                 activation="sigmoid" if last else "relu"))
            channels = width(out)
        self.up_blocks = nn.Sequential(*ups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) RGB in [0, 1] → (N, 3, H, W) sigmoid output (position / :data:`MAX_POSITION`)."""
        return self.up_blocks(self.res_blocks(self.stem(x)))
