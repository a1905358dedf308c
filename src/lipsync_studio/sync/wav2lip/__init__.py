"""Wav2Lip (Prajwal et al., ACM MM 2020) inside Lipsync Studio: the networks, their checkpoints, the official
preprocessing, a predictor and the lip-sync engine.

Submodules: :mod:`.network` (generator), :mod:`.syncnet` (SyncNet expert), :mod:`.checkpoint` (reading and
writing weights), :mod:`.preprocess` (model inputs), :mod:`.predictor` (numpy in, numpy out),
:mod:`.engine` (the ``wav2lip`` engine). Nothing here imports torch until it is used.
"""

from __future__ import annotations

__all__ = ["Wav2LipEngine", "Wav2LipPredictor", "Wav2LipSettings", "CheckpointError", "load_wav2lip",
           "load_syncnet_expert", "read_state_dict", "save_checkpoint"]


def __getattr__(name: str):
    if name in ("Wav2LipEngine", "Wav2LipSettings"):
        from . import engine

        return getattr(engine, name)
    if name == "Wav2LipPredictor":
        from .predictor import Wav2LipPredictor

        return Wav2LipPredictor
    if name in ("CheckpointError", "load_wav2lip", "load_syncnet_expert", "read_state_dict", "save_checkpoint"):
        from . import checkpoint

        return getattr(checkpoint, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
