"""SyncNet (Chung & Zisserman, "Out of time", ACCV 2016 workshops) in the layout of syncnet_python's ``S``.

This is the network behind LSE-D/LSE-C: its weights ``syncnet_v2.model`` are a plain state dict of ``S``,
whose keys come from four ``Sequential`` attributes and their indices (activations and pools count):

- ``netcnnaud.{0,4,8,11,14,18}`` Conv2d and ``netcnnaud.{1,5,9,12,15,19}`` BatchNorm2d (MFCC branch);
- ``netfcaud.{0,3}`` Linear and ``netfcaud.1`` BatchNorm1d;
- ``netcnnlip.{0,4,8,11,14,18}`` Conv3d and ``netcnnlip.{1,5,9,12,15,19}`` BatchNorm3d (lip branch);
- ``netfclip.{0,3}`` Linear and ``netfclip.1`` BatchNorm1d.

Inputs: MFCC ``(B, 1, 13, 20)`` (13 coefficients × 20 steps of 10 ms = 0.2 s) and lips ``(B, 3, 5, 224, 224)``
(five BGR frames, values 0…255, not normalised). Outputs: ``(B, 1024)`` embeddings, not normalised; in-sync
pairs are close in Euclidean distance.
"""

from __future__ import annotations

import torch
from torch import nn

N_MFCC, MFCC_STEPS = 13, 20  #: one audio window: 13 coefficients × 20 steps (0.2 s)
LIP_FRAMES, LIP_SIZE = 5, 224  #: one video window: 5 frames of 224×224


def _c2(cin: int, cout: int, pool: tuple[tuple[int, int], tuple[int, int]] | None = None,
        kernel: tuple[int, int] = (3, 3), padding: tuple[int, int] = (1, 1), inplace: bool = True) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, (1, 1), padding), nn.BatchNorm2d(cout),
                               nn.ReLU(inplace=inplace)]
    if pool is not None:
        layers.append(nn.MaxPool2d(kernel_size=pool[0], stride=pool[1]))
    return layers


def _c3(cin: int, cout: int, kernel: tuple[int, int, int], stride: tuple[int, int, int] = (1, 1, 1),
        padding: tuple[int, int, int] = (0, 0, 0)) -> list[nn.Module]:
    return [nn.Conv3d(cin, cout, kernel, stride, padding), nn.BatchNorm3d(cout), nn.ReLU(inplace=True)]


def _fc(embedding: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, embedding))


class SyncNetV2(nn.Module):
    """syncnet_python's ``S``: an MFCC branch and a lip branch embedding 0.2 s of audio and video.

    Parameters
    ----------
    embedding:
        Size of the two embeddings (``num_layers_in_fc_layers``; 1024 in the published weights).
    """

    def __init__(self, embedding: int = 1024) -> None:
        super().__init__()
        self.netcnnaud = nn.Sequential(
            *_c2(1, 64, pool=((1, 1), (1, 1))),            # 0-3   13×20
            *_c2(64, 192, pool=((3, 3), (1, 2))),          # 4-7   11×9
            *_c2(192, 384),                                # 8-10
            *_c2(384, 256),                                # 11-13
            *_c2(256, 256, pool=((3, 3), (2, 2))),         # 14-17 5×4
            *_c2(256, 512, kernel=(5, 4), padding=(0, 0), inplace=False),  # 18-20 1×1
        )
        self.netfcaud = _fc(embedding)
        self.netfclip = _fc(embedding)
        self.netcnnlip = nn.Sequential(
            *_c3(3, 96, (5, 7, 7), (1, 2, 2)),                                    # 0-2   1×109×109
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2)),                # 3     54×54
            *_c3(96, 256, (1, 5, 5), (1, 2, 2), (0, 1, 1)),                       # 4-6   26×26
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),  # 7  13×13
            *_c3(256, 256, (1, 3, 3), padding=(0, 1, 1)),                         # 8-10
            *_c3(256, 256, (1, 3, 3), padding=(0, 1, 1)),                         # 11-13
            *_c3(256, 256, (1, 3, 3), padding=(0, 1, 1)),                         # 14-16
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2)),                # 17    6×6
            *_c3(256, 512, (1, 6, 6)),                                            # 18-20 1×1
        )

    def forward_aud(self, mfcc: torch.Tensor) -> torch.Tensor:
        """(B, 1, 13, 20) MFCC windows → (B, embedding)."""
        return self.netfcaud(self.netcnnaud(mfcc).flatten(1))

    def forward_lip(self, lips: torch.Tensor) -> torch.Tensor:
        """(B, 3, 5, 224, 224) BGR 0…255 frame windows → (B, embedding)."""
        return self.netfclip(self.netcnnlip(lips).flatten(1))

    def forward(self, mfcc: torch.Tensor, lips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both embeddings: ``(forward_aud(mfcc), forward_lip(lips))``."""
        return self.forward_aud(mfcc), self.forward_lip(lips)
