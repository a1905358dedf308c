"""Mixed precision for the training procedures, and the throughput measure behind ``--bench-steps``.

``--amp`` modes (:data:`AMP_MODES`):

| mode | CUDA | CPU | MPS |
|---|---|---|---|
| ``auto`` (default) | fp16 autocast + gradient scaling | off | off |
| ``fp16`` | fp16 autocast + :class:`torch.amp.GradScaler` | error | error |
| ``bf16`` | bf16 autocast (no scaling: bf16 has fp32's range) | bf16 autocast | error |
| ``off`` | fp32 | fp32 | fp32 |

Autocast runs the forward passes (convolutions, matrix products) in the low precision; the weights, the
optimiser state and the exported files stay fp32, and each procedure computes its loss terms in fp32 (the
networks' outputs cast up, autocast disabled around BCE and cosine similarity). bf16 on a CPU is only
faster where the CPU has bf16 instructions (AVX512-BF16, AMX); elsewhere it is much slower, so ``auto``
never picks it.

Gradient scaling (fp16): a loss is multiplied by the scale before ``backward``; :meth:`MixedPrecision.step`
unscales the gradients and skips the update when they overflowed; :meth:`MixedPrecision.update` adapts the
scale once per iteration, after every optimiser of the iteration has stepped (PyTorch's recipe for several
losses and optimisers with one scaler). The scaler's state is part of each procedure's checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lipsync_studio.errors import OptionError

if TYPE_CHECKING:
    import argparse

    import torch

AMP_MODES = ("off", "auto", "fp16", "bf16")
"""The ``--amp`` choices (see the module docstring)."""

FP16_DEVICES = ("cuda",)
"""Device types fp16 training is offered on (fp16 autocast on a CPU is emulated and gains nothing)."""

BF16_DEVICES = ("cuda", "cpu")
"""Device types bf16 training is offered on."""


def add_amp_options(p: argparse.ArgumentParser) -> None:
    """``--amp``, ``--bench-steps`` and ``--bench-warmup``, shared by ``train prnet`` and ``train stereo``."""
    p.add_argument("--amp", choices=AMP_MODES, default="auto",
                   help="mixed precision: auto (default) = fp16 with gradient scaling on CUDA, off elsewhere; "
                        "bf16 also on the CPU (fast only with AVX512-BF16 or AMX); off = fp32")
    p.add_argument("--bench-steps", type=int, default=None, metavar="N",
                   help="measure instead of training: N timed steps after the warm-up; prints samples/s, s/step, "
                        "device, precision and peak memory, and writes nothing")
    p.add_argument("--bench-warmup", type=int, default=2, metavar="W",
                   help="untimed steps before the --bench-steps ones (default 2)")


def resolve_amp(requested: str, device: str | torch.device) -> str:
    """The precision a run uses: ``"off"``, ``"fp16"`` or ``"bf16"`` for the ``--amp`` choice on ``device``.

    Raises
    ------
    OptionError
        The mode is unknown, or the device cannot train in it (fp16 without CUDA, bf16 on a GPU without it).
    """
    import torch

    dev = torch.device(device)
    if requested not in AMP_MODES:
        raise OptionError(f"unknown mixed precision mode {requested!r}", hint=f"use one of {', '.join(AMP_MODES)}")
    if requested == "auto":
        return "fp16" if dev.type in FP16_DEVICES else "off"
    if requested == "fp16" and dev.type not in FP16_DEVICES:
        raise OptionError(f"--amp fp16 needs a CUDA GPU, and this run is on the {dev.type}",
                          hint="give --device cuda on a machine with an NVIDIA GPU, or use --amp bf16 (CPU) or "
                               "--amp off")
    if requested == "bf16":
        if dev.type not in BF16_DEVICES:
            raise OptionError(f"--amp bf16 is not offered on the {dev.type}", hint="use --amp off")
        if dev.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise OptionError("this GPU cannot compute in bf16", hint="use --amp fp16 or --amp off")
    return requested


class MixedPrecision:
    """Autocast and (for fp16) gradient scaling of one training run.

    Parameters
    ----------
    mode: ``"off"``, ``"fp16"`` or ``"bf16"`` (a resolved mode: see :func:`resolve_amp`).
    device: where the run trains.
    """

    def __init__(self, mode: str, device: str | torch.device) -> None:
        import torch

        if mode not in ("off", "fp16", "bf16"):
            raise ValueError(f"{mode!r} is not a resolved precision (off, fp16, bf16)")
        self.mode = mode
        self.device_type = torch.device(device).type
        self.dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(mode)
        self.scaler = torch.amp.GradScaler(self.device_type) if mode == "fp16" else None

    def autocast(self) -> AbstractContextManager[Any]:
        """The context to run forward passes and losses in (a no-op when off)."""
        import torch

        if self.dtype is None:
            return nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def backward(self, loss: torch.Tensor) -> None:
        """``loss.backward()``, on the scaled loss when scaling."""
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        """``optimizer.step()``; when scaling, on unscaled gradients and skipped if they overflowed."""
        if self.scaler is None:
            optimizer.step()
        else:
            self.scaler.step(optimizer)

    def update(self) -> None:
        """Adapt the scale; call once per iteration, after every optimiser has stepped."""
        if self.scaler is not None:
            self.scaler.update()

    def state_dict(self) -> dict[str, Any]:
        """The scaler's state (``{}`` without one): plain numbers, for the checkpoint."""
        return {} if self.scaler is None else self.scaler.state_dict()

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        """Restore the scaler's state from a checkpoint; a run saved without scaling leaves a fresh scaler."""
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)


def synchronize(device: str | torch.device) -> None:
    """Wait for the device's queued work (CUDA and MPS run asynchronously)."""
    import torch

    dev = torch.device(device)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elif dev.type == "mps":
        torch.mps.synchronize()


def _reset_peak_memory(device: torch.device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    try:  # Linux: writing 5 to clear_refs resets VmHWM to the current resident size
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _peak_memory(device: torch.device) -> tuple[int | None, str]:
    import torch

    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device)), "CUDA max allocated"
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024, "process peak RSS, VmHWM"
    except OSError:
        pass
    return None, "not measured"


@dataclass(frozen=True)
class Throughput:
    """What :func:`measure_throughput` measured.

    Attributes
    ----------
    procedure: ``"prnet"`` or ``"stereo"``. device: e.g. ``"cuda:0"``. amp: the precision used (off, fp16, bf16).
    steps: timed steps (after ``warmup`` untimed ones). samples: samples the timed steps trained on.
    seconds: wall time of the timed steps. peak_memory_bytes: CUDA's max allocated memory, or the process's
        peak resident size (VmHWM) on the CPU, since the warm-up began; None where unknown.
    memory_kind: which of the two ``peak_memory_bytes`` is. sample: what one sample is (units for the reader).
    """

    procedure: str
    device: str
    amp: str
    steps: int
    warmup: int
    samples: int
    seconds: float
    peak_memory_bytes: int | None
    memory_kind: str
    sample: str = "sample"

    @property
    def samples_per_second(self) -> float:
        """Samples trained on per second of the timed steps."""
        return self.samples / self.seconds if self.seconds > 0 else float("inf")

    @property
    def seconds_per_step(self) -> float:
        """Mean wall time of a timed step."""
        return self.seconds / self.steps

    def to_dict(self) -> dict[str, Any]:
        """Plain values, with the derived rates."""
        return {**asdict(self), "samples_per_second": self.samples_per_second,
                "seconds_per_step": self.seconds_per_step}

    def format(self) -> str:
        """One line for a person: rate, step time, device, precision and peak memory."""
        memory = ("peak memory unknown" if self.peak_memory_bytes is None
                  else f"peak memory {self.peak_memory_bytes / 2**20:.0f} MiB ({self.memory_kind})")
        return (f"{self.procedure}: {self.samples_per_second:.3g} samples/s ({self.sample}), "
                f"{self.seconds_per_step:.4g} s/step over {self.steps} steps after {self.warmup} warm-up; "
                f"device {self.device}, amp {self.amp}, {memory}")


def measure_throughput(step: Callable[[], int], *, steps: int, warmup: int, device: str | torch.device,
                       procedure: str, amp: str, sample: str = "sample") -> Throughput:
    """Run ``warmup`` untimed then ``steps`` timed training steps; the device is synchronised around the timing.

    Parameters
    ----------
    step: one training step (data included); returns the number of samples it trained on.
    steps, warmup: timed and untimed steps (``steps`` ≥ 1, ``warmup`` ≥ 0).
    device, procedure, amp, sample: where it runs and what it is, for the report.

    Raises
    ------
    OptionError
        ``steps`` < 1 or ``warmup`` < 0.
    """
    import torch

    if steps < 1 or warmup < 0:
        raise OptionError("the benchmark needs at least one timed step and no negative warm-up",
                          hint="give --bench-steps 1 or more")
    dev = torch.device(device)
    _reset_peak_memory(dev)
    for _ in range(warmup):
        step()
    synchronize(dev)
    samples, start = 0, time.perf_counter()
    for _ in range(steps):
        samples += step()
    synchronize(dev)
    seconds = time.perf_counter() - start
    peak, kind = _peak_memory(dev)
    return Throughput(procedure=procedure, device=str(dev), amp=amp, steps=steps, warmup=warmup, samples=samples,
                      seconds=seconds, peak_memory_bytes=peak, memory_kind=kind, sample=sample)

