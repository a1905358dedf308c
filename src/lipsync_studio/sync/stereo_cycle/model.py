"""The stereo cycle lip-sync networks: the Wav2Lip generator, two disparity generators and the warp f_w.

Following the paper (after Pilzer et al. 2018, "Unsupervised Adversarial Depth Estimation using Cycled
Generative Networks"), re-implemented from the description (the official code carries a non-commercial
licence):

- ``generator`` (:class:`~lipsync_studio.sync.wav2lip.network.Wav2Lip`) makes the synced left face
  ``Ĩ_l`` from a mel window and the masked left crop + reference;
- ``G_l`` (:class:`DisparityNet`) looks at both eyes' crops and predicts the left→right disparity
  ``d_r^(l)`` on the right view's grid; the right face is ``Î_r = f_w(d_r^(l), Ĩ_l)``;
- ``G_r`` predicts the right→left disparity ``d_l^(r)`` on the left grid; ``Î_l = f_w(-d_l^(r), I_r)``;
- the cycle: ``f_w(-d_l, f_w(d_r, Ĩ_l)) ≈ I_l`` and ``f_w(d_r, f_w(-d_l, I_r)) ≈ I_r``.

Disparities are ``max_disparity · sigmoid(·) · width`` pixels (Pilzer: 0.3 of the image width), positive,
in the app's convention (:mod:`lipsync_studio.stereo.warp`): ``Î_r(x) = I_l(x + d_r(x))``.
All images are (B, 3, 96, 96) BGR in [0, 1], as the Wav2Lip generator takes and returns them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..wav2lip.network import IMG_SIZE, Wav2Lip


def f_w(d: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Sample ``image`` at ``x + d(x)`` along each row: bilinear, horizontal only, edges clamped.

    The torch twin of :func:`lipsync_studio.stereo.warp.f_w` (differentiable in both arguments).

    Parameters
    ----------
    d : torch.Tensor
        (B, 1, H, W) or (B, H, W) horizontal offsets in pixels, on the output's grid.
    image : torch.Tensor
        (B, C, H, W).

    Returns
    -------
    torch.Tensor
        (B, C, H, W) warped image, float32 (the warp runs in fp32 under autocast too: half-precision
        sampling coordinates would be off by up to a fifth of a pixel).
    """
    image, d = image.float(), d.float()
    if d.dim() == 3:
        d = d[:, None]
    b, _, h, w = image.shape
    if d.shape != (b, 1, h, w):
        raise ValueError(f"disparity {tuple(d.shape)} does not fit image {tuple(image.shape)}")
    xs = torch.arange(w, device=image.device, dtype=image.dtype).view(1, 1, w)
    ys = torch.arange(h, device=image.device, dtype=image.dtype).view(1, h, 1)
    gx = (xs + d[:, 0]) * (2.0 / max(w - 1, 1)) - 1.0
    gy = (ys * (2.0 / max(h - 1, 1)) - 1.0).expand(b, h, w)
    grid = torch.stack([gx, gy], dim=-1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


@dataclass(frozen=True)
class StereoCycleConfig:
    """The variant of the model (stored in checkpoints and in ``stereo_cycle.pt``).

    Attributes
    ----------
    generator: ``wav2lip`` (the paper's: the official Wav2Lip generator, loadable from Wav2Lip weights) or
        ``tiny`` (:class:`TinyTalkingFace`, same inputs and outputs, ~100× cheaper: for tests and smoke runs
        on a CPU, not for real use).
    disp_channels: width of the disparity U-Net's first level (doubles per level, 3 levels down).
    max_disparity: largest disparity as a fraction of the crop width (Pilzer et al.: 0.3).
    """

    generator: str = "wav2lip"
    disp_channels: int = 16
    max_disparity: float = 0.3

    def __post_init__(self) -> None:
        if self.generator not in GENERATORS:
            raise ValueError(f"unknown generator {self.generator!r}; use one of {', '.join(GENERATORS)}")

    def to_dict(self) -> dict:
        """Plain values (for ``torch.save`` with ``weights_only`` loading)."""
        return asdict(self)


GENERATORS = ("wav2lip", "tiny")


class TinyTalkingFace(nn.Module):
    """A small stand-in for the Wav2Lip generator with the same contract (``model(mel, faces) → faces``).

    ``mel (B, 1, 80, 16)``, ``faces (B, 6, 96, 96)`` → ``(B, 3, 96, 96)`` sigmoid. A 3-level U-Net whose
    bottleneck (12×12) gets the audio embedding added. It exists so the whole procedure can be exercised
    on a CPU in seconds; it learns little.
    """

    def __init__(self, c: int = 16) -> None:
        super().__init__()
        self.e1 = _conv(6, c, 2)           # 48
        self.e2 = _conv(c, 2 * c, 2)       # 24
        self.e3 = _conv(2 * c, 4 * c, 2)   # 12
        self.audio = nn.Sequential(_conv(1, c, 2), _conv(c, 2 * c, 2), _conv(2 * c, 4 * c, 2),
                                   nn.AdaptiveAvgPool2d(1))
        self.d3 = _conv(4 * c, 2 * c)
        self.d2 = _conv(4 * c, c)
        self.d1 = _conv(2 * c, c)
        self.out = nn.Conv2d(c + 6, 3, 3, 1, 1)

    def forward(self, mel: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        """See the class docstring."""
        e1 = self.e1(faces)
        e2 = self.e2(e1)
        x = self.e3(e2) + self.audio(mel)
        x = F.interpolate(self.d3(x), scale_factor=2.0)
        x = F.interpolate(self.d2(torch.cat([x, e2], 1)), scale_factor=2.0)
        x = F.interpolate(self.d1(torch.cat([x, e1], 1)), scale_factor=2.0)
        return torch.sigmoid(self.out(torch.cat([x, faces], 1)).float())


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.ELU())


class DisparityNet(nn.Module):
    """A small U-Net (ELU convs, as monodepth/Pilzer) from two eyes' crops to one disparity map.

    ``forward(a, b)``: (B, 3, H, W) each, concatenated on channels → (B, 1, H, W) disparity in pixels,
    ``max_disparity · sigmoid · W``. H and W must be divisible by 8.
    """

    def __init__(self, channels: int = 16, max_disparity: float = 0.3) -> None:
        super().__init__()
        c = channels
        self.max_disparity = float(max_disparity)
        self.enc0 = nn.Sequential(_conv(6, c), _conv(c, c))
        self.enc1 = nn.Sequential(_conv(c, 2 * c, 2), _conv(2 * c, 2 * c))
        self.enc2 = nn.Sequential(_conv(2 * c, 4 * c, 2), _conv(4 * c, 4 * c))
        self.enc3 = nn.Sequential(_conv(4 * c, 8 * c, 2), _conv(8 * c, 8 * c))
        self.dec2 = _conv(8 * c + 4 * c, 4 * c)
        self.dec1 = _conv(4 * c + 2 * c, 2 * c)
        self.dec0 = _conv(2 * c + c, c)
        self.out = nn.Conv2d(c, 1, 3, 1, 1)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Disparity (B, 1, H, W) in pixels on the grid of the view being made (``a`` is warped onto it)."""
        e0 = self.enc0(torch.cat([a, b], dim=1))
        e1 = self.enc1(e0)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        up = lambda x, ref: F.interpolate(x, size=ref.shape[-2:], mode="nearest")  # noqa: E731
        x = self.dec2(torch.cat([up(e3, e2), e2], 1))
        x = self.dec1(torch.cat([up(x, e1), e1], 1))
        x = self.dec0(torch.cat([up(x, e0), e0], 1))
        return self.max_disparity * torch.sigmoid(self.out(x).float()) * a.shape[-1]  # fp32 px under autocast


class PatchDiscriminator(nn.Module):
    """A small PatchGAN (Pilzer's D: conv 4×4 stride 2, instance norm, leaky ReLU) → (B, 1, 12, 12) scores."""

    def __init__(self, channels: int = 32) -> None:
        super().__init__()
        c = channels
        self.net = nn.Sequential(
            nn.Conv2d(3, c, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(c, 2 * c, 4, 2, 1), nn.InstanceNorm2d(2 * c), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * c, 4 * c, 4, 2, 1), nn.InstanceNorm2d(4 * c), nn.LeakyReLU(0.2),
            nn.Conv2d(4 * c, 1, 3, 1, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, 96, 96) BGR [0, 1] → (B, 1, 12, 12) realness scores (LSGAN: 1 real, 0 fake)."""
        return self.net(x)


@dataclass
class CycleOutputs:
    """Everything one forward pass makes (all (B, C, 96, 96)).

    Attributes
    ----------
    left: Ĩ_l, the synced left face (the Wav2Lip generator's output).
    right: Î_r = f_w(d_r, Ĩ_l), the right face made from it.
    left_from_right: Î_l = f_w(-d_l, I_r), the left face made from the real right one.
    left_cycle: f_w(-d_l, Î_r), back to the left eye; right_cycle: f_w(d_r, Î_l), back to the right eye.
    d_r: left→right disparity on the right grid (px); d_l: right→left disparity on the left grid (px).
    """

    left: torch.Tensor
    right: torch.Tensor
    left_from_right: torch.Tensor
    left_cycle: torch.Tensor
    right_cycle: torch.Tensor
    d_r: torch.Tensor
    d_l: torch.Tensor


class StereoCycleModel(nn.Module):
    """The whole generator side: ``generator`` (Wav2Lip), ``g_l`` (left→right disparity), ``g_r`` (right→left).

    ``forward(mel (B,1,80,16), faces (B,6,96,96), right (B,3,96,96))`` → :class:`CycleOutputs`.
    """

    def __init__(self, config: StereoCycleConfig = StereoCycleConfig()) -> None:
        super().__init__()
        self.config = config
        self.generator = Wav2Lip() if config.generator == "wav2lip" else TinyTalkingFace()
        self.g_l = DisparityNet(config.disp_channels, config.max_disparity)
        self.g_r = DisparityNet(config.disp_channels, config.max_disparity)

    def forward(self, mel: torch.Tensor, faces: torch.Tensor, right: torch.Tensor) -> CycleOutputs:
        """Sync the left face, make the right one through the predicted disparity, and close both cycles."""
        if right.shape[1:] != (3, IMG_SIZE, IMG_SIZE):
            raise ValueError(f"right faces must be (B, 3, {IMG_SIZE}, {IMG_SIZE}), got {tuple(right.shape)}")
        left = self.generator(mel, faces)
        d_r = self.g_l(left, right)
        d_l = self.g_r(right, left)
        new_right = f_w(d_r, left)
        left_from_right = f_w(-d_l, right)
        return CycleOutputs(left, new_right, left_from_right, f_w(-d_l, new_right), f_w(d_r, left_from_right),
                            d_r, d_l)

    @torch.no_grad()
    def synthesize(self, mel: torch.Tensor, faces: torch.Tensor,
                   right: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Inference: the synced left face and the right face warped from it, each (B, 3, 96, 96).

        ``right`` is the right eye's original crop (what the disparity net was trained to look at);
        without it the left crop (channels 3-5 of ``faces``, the reference) stands in — a flat guess.
        """
        left = self.generator(mel, faces)
        other = faces[:, 3:6] if right is None else right
        return left, f_w(self.g_l(left, other), left)
