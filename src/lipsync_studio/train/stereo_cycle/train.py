"""Training the stereo cycle model: the loop, resumable checkpoints, export to ``stereo_cycle.pt``.

The networks and the exported file's loader live in :mod:`lipsync_studio.sync.stereo_cycle` (train/ only trains).

Checkpoint (``<out>/checkpoint.pt``, ``torch.save`` of plain containers, loaded with ``weights_only=True``)::

    {"format": "lipsync-studio/stereo-cycle-checkpoint", "version": 1, "step": int,
     "config": StereoCycleConfig.to_dict(), "train": TrainConfig.to_dict(),
     "model": state_dict, "disc_left": state_dict, "disc_right": state_dict,
     "opt_g": optimizer state, "opt_d": optimizer state,
     "rng": {"sampler": ByteTensor (the batch sampler's torch.Generator), "torch": ByteTensor (global CPU RNG)},
     "amp": "off" | "fp16" | "bf16" (the precision used), "scaler": GradScaler state ({} unless fp16)}

Resuming restores all of it, so on CPU with the same thread count and precision a run of N steps and a run of k
steps + resume + N − k steps end with identical weights. The expert is never saved (it is frozen and given).
Checkpoints written before mixed precision (no ``amp``, ``scaler``) load as fp32 runs.

Mixed precision (``TrainConfig.amp``, :mod:`lipsync_studio.train.amp`): the forward passes and losses run in
autocast (the terms themselves in fp32, see :mod:`.losses`); with fp16 one gradient scaler serves both
optimisers — each loss is scaled for its backward, each optimiser steps through the scaler, and the scale is
updated once per iteration after both (PyTorch's recipe for several losses and optimisers).

Export (``stereo_cycle.pt``, :func:`export`)::

    {"format": "lipsync-studio/stereo-cycle", "version": 1, "config": StereoCycleConfig.to_dict(),
     "state_dict": StereoCycleModel state dict (``generator.*``: Wav2Lip keys; ``g_l.*``, ``g_r.*``),
     "step": int}
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ...sync.stereo_cycle.model import PatchDiscriminator, StereoCycleConfig, StereoCycleModel
from ...sync.stereo_cycle.predictor import EXPORT_FORMAT
from ..amp import MixedPrecision, Throughput, measure_throughput, resolve_amp
from .dataset import SYNC_T, StereoFaceDataset
from .losses import TERMS, LossWeights, discriminator_loss, generator_terms, weighted_total

CKPT_FORMAT = "lipsync-studio/stereo-cycle-checkpoint"


@dataclass(frozen=True)
class TrainConfig:
    """How to train (all stored in the checkpoint).

    Attributes
    ----------
    steps: total optimiser steps (a resumed run continues to this).
    batch: samples per step (each is ``SYNC_T`` = 5 frames, so ``5 · batch`` faces per forward).
    lr: Adam learning rate of the generators; lr_disc: of the discriminators (Adam betas (0.5, 0.999)).
    weights: the loss weights.
    checkpoint_every: steps between checkpoints (the last step always saves).
    seed: initialisation and batch-sampling seed.
    expert: a SyncNet expert checkpoint (``lipsync_expert.pth``); None uses a *random* frozen expert, which
        only exercises the machinery (set ``weights.sync`` to 0 for real training without one).
    init_wav2lip: Wav2Lip generator weights to start the synced-face generator from (a fresh run only;
        the paper fine-tunes a pretrained Wav2Lip).
    amp: mixed precision, ``auto`` (fp16 on CUDA, off elsewhere), ``off``, ``fp16`` (CUDA) or ``bf16``.
    """

    steps: int = 1000
    batch: int = 4
    lr: float = 1e-4
    lr_disc: float = 1e-4
    weights: LossWeights = field(default_factory=LossWeights)
    checkpoint_every: int = 500
    seed: int = 0
    expert: str | None = None
    init_wav2lip: str | None = None
    amp: str = "auto"

    def to_dict(self) -> dict:
        """Plain values."""
        return asdict(self)


def _expert(path: str | None, seed: int) -> torch.nn.Module:
    from ...sync.wav2lip.checkpoint import load_syncnet_expert
    from ...sync.wav2lip.syncnet import SyncNetColor

    if path is None:
        torch.manual_seed(seed + 1)
        expert = SyncNetColor()
    else:
        expert = load_syncnet_expert(path)
    expert.eval()
    for p in expert.parameters():
        p.requires_grad_(False)
    return expert


class Trainer:
    """Owns the networks, optimisers and sampler of one run; :meth:`step` does one update.

    Parameters
    ----------
    data : StereoFaceDataset
    out_dir : path
        Where ``checkpoint.pt``, ``log.jsonl`` and the export go.
    config, model_config : the run's settings; ignored when resuming (the checkpoint's are used, except
        ``steps`` and ``checkpoint_every``, which may be raised to train further, and ``amp``: a run may go on
        on another machine).

    Raises
    ------
    OptionError
        ``config.amp`` asks for a precision the device cannot train in.
    """

    def __init__(self, data: StereoFaceDataset, out_dir: str | Path, config: TrainConfig = TrainConfig(),
                 model_config: StereoCycleConfig = StereoCycleConfig(), device: str | None = None) -> None:
        self.data, self.out = data, Path(out_dir)
        self.device = torch.device(device or "cpu")
        self.precision = MixedPrecision(resolve_amp(config.amp, self.device), self.device)
        self.ckpt_path = self.out / "checkpoint.pt"
        state = None
        if self.ckpt_path.exists():
            state = torch.load(self.ckpt_path, map_location="cpu", weights_only=True)
            if state.get("format") != CKPT_FORMAT:
                raise ValueError(f"{self.ckpt_path} is not a stereo cycle checkpoint")
            saved = dict(state["train"])
            saved["weights"] = LossWeights(**saved["weights"])
            saved.update(steps=config.steps, checkpoint_every=config.checkpoint_every, amp=config.amp)
            config, model_config = TrainConfig(**saved), StereoCycleConfig(**state["config"])
        self.config, self.model_config = config, model_config
        torch.manual_seed(config.seed)
        self.model = StereoCycleModel(model_config).to(self.device)
        self.d_left = PatchDiscriminator().to(self.device)
        self.d_right = PatchDiscriminator().to(self.device)
        self.expert = _expert(config.expert, config.seed).to(self.device)
        self.opt_g = torch.optim.Adam(self.model.parameters(), lr=config.lr, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(list(self.d_left.parameters()) + list(self.d_right.parameters()),
                                      lr=config.lr_disc, betas=(0.5, 0.999))
        self.sampler = torch.Generator().manual_seed(config.seed)
        self.step_no = 0
        if state is None and config.init_wav2lip is not None:
            from ...sync.wav2lip.checkpoint import load_state_dict_strict, read_state_dict

            if model_config.generator != "wav2lip":
                raise ValueError("init_wav2lip needs the wav2lip generator")
            weights, _ = read_state_dict(config.init_wav2lip)
            load_state_dict_strict(self.model.generator, weights, network="the Wav2Lip generator",
                                  path=config.init_wav2lip)
        if state is not None:
            self.model.load_state_dict(state["model"])
            self.d_left.load_state_dict(state["disc_left"])
            self.d_right.load_state_dict(state["disc_right"])
            self.opt_g.load_state_dict(state["opt_g"])
            self.opt_d.load_state_dict(state["opt_d"])
            self.sampler.set_state(state["rng"]["sampler"])
            torch.set_rng_state(state["rng"]["torch"])
            self.precision.load_state_dict(state.get("scaler"))
            self.step_no = int(state["step"])

    def batch(self, indices: list[int] | None = None) -> dict[str, torch.Tensor]:
        """The next batch (drawn with the run's sampler), frames folded into the batch axis."""
        if indices is None:
            indices = torch.randint(len(self.data), (self.config.batch,), generator=self.sampler).tolist()
        items = [self.data[i] for i in indices]
        out = {}
        for k in items[0]:
            x = torch.stack([it[k] for it in items]).to(self.device)
            out[k] = x if k == "sync_mel" else x.flatten(0, 1)
        return out

    def step(self, batch: dict[str, torch.Tensor] | None = None) -> dict[str, float]:
        """One generator update and one discriminator update; the logged numbers (every term, unweighted)."""
        b = self.batch() if batch is None else batch
        self.model.train()
        amp = self.precision
        with amp.autocast():
            out = self.model(b["mel"], b["faces"], b["right"])
            terms = generator_terms(out, b["left"], b["right"], b["sync_mel"], self.expert, self.d_left,
                                    self.d_right, SYNC_T)
            total = weighted_total(terms, self.config.weights)
        self.opt_g.zero_grad(set_to_none=True)
        amp.backward(total)
        amp.step(self.opt_g)
        with amp.autocast():
            d_loss = discriminator_loss(out, b["left"], b["right"], self.d_left, self.d_right)
        self.opt_d.zero_grad(set_to_none=True)  # also drops what the generator's adv term left in D's grads
        amp.backward(d_loss)
        amp.step(self.opt_d)
        amp.update()  # once, after both optimisers
        self.step_no += 1
        log = {k: float(terms[k].detach()) for k in TERMS}
        log.update(total=float(total.detach()), disc=float(d_loss.detach()), step=self.step_no)
        return log

    def save(self) -> Path:
        """Write ``checkpoint.pt`` (atomically: a temporary file renamed)."""
        state = {"format": CKPT_FORMAT, "version": 1, "step": self.step_no,
                 "config": self.model_config.to_dict(), "train": self.config.to_dict(),
                 "model": self.model.state_dict(), "disc_left": self.d_left.state_dict(),
                 "disc_right": self.d_right.state_dict(), "opt_g": self.opt_g.state_dict(),
                 "opt_d": self.opt_d.state_dict(),
                 "rng": {"sampler": self.sampler.get_state(), "torch": torch.get_rng_state()},
                 "amp": self.precision.mode, "scaler": self.precision.state_dict()}
        self.out.mkdir(parents=True, exist_ok=True)
        tmp = self.ckpt_path.with_suffix(".tmp")
        torch.save(state, tmp)
        tmp.replace(self.ckpt_path)
        return self.ckpt_path

    def run(self, on_log: Callable[[dict[str, float]], None] | None = None) -> list[dict[str, float]]:
        """Train up to ``config.steps``; append each step's numbers to ``log.jsonl``; checkpoint as configured.

        ``log.jsonl`` gets ``{"event": "start", "step", "device", "amp"}`` first, then one line per step.
        """
        logs = []
        self.out.mkdir(parents=True, exist_ok=True)
        with open(self.out / "log.jsonl", "a") as f:
            f.write(json.dumps({"event": "start", "step": self.step_no, "device": str(self.device),
                                "amp": self.precision.mode}) + "\n")
            while self.step_no < self.config.steps:
                t0 = time.perf_counter()
                log = self.step()
                log["seconds"] = time.perf_counter() - t0
                f.write(json.dumps(log) + "\n")
                logs.append(log)
                if on_log is not None:
                    on_log(log)
                if self.step_no % self.config.checkpoint_every == 0 or self.step_no >= self.config.steps:
                    self.save()
        return logs

    def benchmark(self, steps: int, warmup: int = 2) -> Throughput:
        """Training throughput: ``warmup`` untimed then ``steps`` timed :meth:`step` calls (batch drawing
        included); writes nothing (but the steps do train the networks in memory)."""
        def one() -> int:
            self.step()
            return self.config.batch

        return measure_throughput(one, steps=steps, warmup=warmup, device=self.device, procedure="stereo",
                                  amp=self.precision.mode, sample=f"runs of {SYNC_T} frames")

    def export(self, path: str | Path | None = None) -> Path:
        """Save the inference model as ``stereo_cycle.pt`` (format in the module docstring; fp32 weights)."""
        self.out.mkdir(parents=True, exist_ok=True)
        return export(self.model, path or self.out / "stereo_cycle.pt", self.step_no)


def export(model: StereoCycleModel, path: str | Path, step: int = 0) -> Path:
    """Write the inference file (generator + both disparity nets; no discriminators, no optimiser)."""
    path = Path(path)
    torch.save({"format": EXPORT_FORMAT, "version": 1, "config": model.config.to_dict(), "step": int(step),
                "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}, path)
    return path
