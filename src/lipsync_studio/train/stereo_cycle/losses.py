"""The training objective of the stereo cycle model: every term weighted by :class:`LossWeights`, every term logged.

Terms (images BGR in [0, 1], (B·T, 3, 96, 96); T = 5 consecutive frames per sample):

| name | what | default weight | source |
|---|---|---|---|
| ``w2l_l1`` | L1(Ĩ_l, I_l): Wav2Lip's reconstruction of the left face | 1.0 | Wav2Lip |
| ``stereo_l1`` | L1(Î_r, I_r) + L1(Î_l, I_l): each eye made from the other | 1.0 | Pilzer (image L1) |
| ``cycle_l1`` | L1(f_w(-d_l, Î_r), I_l) + L1(f_w(d_r, Î_l), I_r): round trips | 0.1 | Pilzer / CycleGAN |
| ``lr_consistency`` | L1(d_l, f_w(-d_l, d_r)): the two disparities agree | 0.1 | Pilzer |
| ``sync`` | BCE(cos(expert(mel), expert(lower halves of Ĩ_l)), 1), frozen expert | 0.03 | Wav2Lip HQ ``syncnet_wt`` |
| ``adv`` | LSGAN generator terms ``(D_l(Ĩ_l) − 1)² + (D_r(Î_r) − 1)²`` | 0.07 | Wav2Lip ``disc_wt`` |

The discriminators' own loss (``disc``: LSGAN, real → 1, fake → 0, both eyes) is minimised by their own
optimiser. Under mixed precision (:mod:`lipsync_studio.train.amp`) the networks run in autocast but every term is
computed in fp32: the outputs are cast up, and the cosine similarity and BCE of the sync term run with autocast
disabled (CUDA autocast refuses ``binary_cross_entropy``; a half-precision log near 1 is too coarse). The paper suspected that the combined L1 terms over-constrained its model: set any weight to 0
to study that (a zero-weight term is still computed and logged).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...sync.stereo_cycle.model import CycleOutputs, PatchDiscriminator, f_w
from .weights import TERMS, LossWeights

__all__ = ["TERMS", "LossWeights", "discriminator_loss", "generator_terms", "sync_loss", "weighted_total"]


def expert_faces(left: torch.Tensor, t: int = 5) -> torch.Tensor:
    """(B·T, 3, 96, 96) consecutive faces → (B, 3·T, 48, 96): lower halves in time order (the expert's input)."""
    bt, c, h, w = left.shape
    if bt % t:
        raise ValueError(f"{bt} faces do not split into windows of {t}")
    return left.view(bt // t, t * c, h, w)[:, :, h // 2:]


def sync_loss(expert: torch.nn.Module, mel: torch.Tensor, left: torch.Tensor, t: int = 5) -> torch.Tensor:
    """Wav2Lip's expert sync loss: BCE of the cosine similarity (clamped to (0, 1]) against 1.

    ``mel`` (B, 1, 80, 16) is the window starting at each sample's first frame; ``left`` (B·T, 3, 96, 96).
    """
    a, v = expert(mel, expert_faces(left, t))
    with torch.autocast(a.device.type, enabled=False):
        cos = F.cosine_similarity(a.float(), v.float()).clamp(1e-7, 1.0)
        return F.binary_cross_entropy(cos, torch.ones_like(cos))


def generator_terms(out: CycleOutputs, left: torch.Tensor, right: torch.Tensor, sync_mel: torch.Tensor,
                    expert: torch.nn.Module, d_left: PatchDiscriminator, d_right: PatchDiscriminator,
                    t: int = 5) -> dict[str, torch.Tensor]:
    """Every generator term, unweighted, by name (:data:`TERMS`); fp32 whatever the networks ran in."""
    return {
        "w2l_l1": F.l1_loss(out.left.float(), left),
        "stereo_l1": F.l1_loss(out.right.float(), right) + F.l1_loss(out.left_from_right.float(), left),
        "cycle_l1": F.l1_loss(out.left_cycle.float(), left) + F.l1_loss(out.right_cycle.float(), right),
        "lr_consistency": F.l1_loss(out.d_l.float(), f_w(-out.d_l, out.d_r)),
        "sync": sync_loss(expert, sync_mel, out.left, t),
        "adv": ((d_left(out.left).float() - 1) ** 2).mean() + ((d_right(out.right).float() - 1) ** 2).mean(),
    }


def weighted_total(terms: dict[str, torch.Tensor], weights: LossWeights) -> torch.Tensor:
    """The generator's objective: Σ weight · term."""
    w = weights.to_dict()
    return sum(w[k] * terms[k] for k in TERMS)  # type: ignore[return-value]


def discriminator_loss(out: CycleOutputs, left: torch.Tensor, right: torch.Tensor, d_left: PatchDiscriminator,
                       d_right: PatchDiscriminator) -> torch.Tensor:
    """LSGAN discriminator loss on both eyes (fakes detached), in fp32."""
    def one(d: PatchDiscriminator, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return 0.5 * (((d(real).float() - 1) ** 2).mean() + (d(fake.detach()).float() ** 2).mean())
    return one(d_left, left, out.left) + one(d_right, right, out.right)
