"""Where and how the sync networks run: device choice, precision, and batches that shrink when memory runs out.

Shared by the Wav2Lip generator, its SyncNet expert and the LSE SyncNet. torch is imported inside the
functions (``lipsync-studio --help`` stays instant).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from .errors import UserError

if TYPE_CHECKING:
    import torch

T = TypeVar("T")


def pick_device(device: "str | torch.device | None" = None) -> "torch.device":
    """The device to run on: the caller's choice, else CUDA, then Apple's MPS, then the CPU.

    Parameters
    ----------
    device:
        ``"cuda"``, ``"cuda:1"``, ``"mps"``, ``"cpu"``, a :class:`torch.device`, or None/``"auto"`` to choose.

    Raises
    ------
    UserError
        The requested device is not present on this machine.
    """
    import torch

    if device is None or (isinstance(device, str) and device.lower() == "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise UserError(f"'{device}' is not a device name", hint="use auto, cpu, cuda, cuda:N or mps") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError("CUDA was asked for but no CUDA GPU is available to PyTorch", hint="use --device cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise UserError(f"there is no GPU {dev.index} (found {torch.cuda.device_count()})")
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise UserError("MPS was asked for but it is not available", hint="use --device cpu")
    return dev


def default_dtype(device: "torch.device", half: bool | None = None) -> "torch.dtype":
    """float16 on CUDA (unless ``half`` is False), float32 elsewhere (or when ``half`` is False).

    MPS stays in float32 by default: half precision there is slower for these small convolutions on many
    machines and some older macOS releases lack fp16 batch norm.
    """
    import torch

    if half is None:
        half = device.type == "cuda"
    return torch.float16 if half else torch.float32


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an accelerator (or CPU allocator) out-of-memory error."""
    import torch

    oom = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    if oom is not None and isinstance(exc, oom):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def _free_cache(device: "torch.device") -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps" and hasattr(torch, "mps"):
        torch.mps.empty_cache()


class BatchRunner:
    """Run a function over items in batches, halving the batch when memory runs out (and remembering it).

    Parameters
    ----------
    batch_size:
        The first batch size tried.
    device:
        Where the function runs (its cache is emptied after an out-of-memory error).
    """

    def __init__(self, batch_size: int, device: "torch.device") -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
        self.batch_size = int(batch_size)
        self.device = device
        self.halvings = 0  #: how often the batch was halved (for reports and tests)

    def run(self, fn: Callable[[int, int], Sequence[T] | T], n: int) -> list[T]:
        """Call ``fn(start, stop)`` over ``range(n)`` in slices; return each call's result in order.

        Raises
        ------
        UserError
            Memory ran out even at batch size 1.
        """
        results: list[T] = []
        start = 0
        while start < n:
            stop = min(n, start + self.batch_size)
            try:
                results.append(fn(start, stop))  # type: ignore[arg-type]
            except (RuntimeError, MemoryError) as exc:
                if not (isinstance(exc, MemoryError) or is_out_of_memory(exc)):
                    raise
                _free_cache(self.device)
                if self.batch_size == 1:
                    raise UserError(
                        f"the {self.device.type.upper()} ran out of memory even one frame at a time",
                        hint="close other programs using the GPU, or run with --device cpu",
                    ) from exc
                self.batch_size = max(1, self.batch_size // 2)
                self.halvings += 1
                continue
            start = stop
        return results
