"""Which lip-sync engine runs: the user's choice, or ``auto`` (Wav2Lip when its weights are present)."""

from __future__ import annotations

from ..errors import OptionError
from .base import LipSyncEngine

ENGINES = ("auto", "builtin", "wav2lip", "none")


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
    if name in ("auto", "wav2lip"):
        try:
            from .wav2lip.engine import Wav2LipEngine, find_wav2lip_weights
        except ImportError:
            Wav2LipEngine = None  # noqa: N806 - not installed in this build
        weights = find_wav2lip_weights() if Wav2LipEngine is not None else None
        if weights is not None:
            return Wav2LipEngine(weights, device=None if device == "auto" else device)
        if name == "wav2lip":
            raise OptionError("the Wav2Lip engine needs its weights (wav2lip.pth or wav2lip_gan.pth) "
                              "in the models folder", hint="see models/README.md, or use --engine builtin")
    from .builtin.engine import BuiltinEngine

    return BuiltinEngine()
