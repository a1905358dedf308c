"""Which lip-sync engine runs: the user's choice, or ``auto`` (Wav2Lip when its weights are present)."""

from __future__ import annotations

from ..errors import OptionError
from .base import LipSyncEngine

ENGINES = ("auto", "builtin", "wav2lip", "none")


def runs_as(name: str) -> str:
    """The engine ``name`` stands for: ``auto`` is ``wav2lip`` where its weights are found, else ``builtin``."""
    if name != "auto":
        return name
    try:
        from .wav2lip.engine import find_wav2lip_weights
    except ImportError:
        return "builtin"
    return "wav2lip" if find_wav2lip_weights() is not None else "builtin"


def make_engine(name: str, device: str = "auto") -> LipSyncEngine | None:
    """The engine called ``name`` running on ``device``; None for ``none`` (re-time the picture only).

    Raises
    ------
    OptionError
        An unknown name, or ``wav2lip`` without its weights.
    UserError
        ``device`` is not present on this machine.
    """
    if name not in ENGINES:
        raise OptionError(f"unknown lip-sync engine '{name}'", hint="use one of " + ", ".join(ENGINES))
    if name == "none":
        return None
    if device != "auto":
        from ..inference import pick_device

        pick_device(device)  # a device this machine lacks is refused now, with a clear message
    if runs_as(name) == "wav2lip":
        try:
            from .wav2lip.engine import Wav2LipEngine, find_wav2lip_weights
        except ImportError:
            Wav2LipEngine = None  # noqa: N806 - not installed in this build
        weights = find_wav2lip_weights() if Wav2LipEngine is not None else None
        if weights is None:
            raise OptionError("the Wav2Lip engine needs its weights (wav2lip.pth or wav2lip_gan.pth) "
                              "in the models folder", hint="see models/README.md, or use --engine builtin")
        return Wav2LipEngine(weights, device=None if device == "auto" else device)
    from .builtin.engine import BuiltinEngine

    return BuiltinEngine()
