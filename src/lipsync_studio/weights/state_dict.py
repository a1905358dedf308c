"""The one checked loader for every network's weights: clean keys, compare, load strictly, explain in words.

Wav2Lip and its SyncNet expert, syncnet_python's SyncNet, PRNet (from PyTorch or converted TensorFlow
weights) and the paper's stereo cycle model all go through :func:`load_checked_state_dict`: every key the
network has must be in the file with the same shape and the file may hold no other keys (the one allowance:
batch-norm ``num_batches_tracked`` counters, used only in training, may be missing). What does not match is
reported as a :class:`CheckpointError` naming the file, the network and what differs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UserError

if TYPE_CHECKING:
    import torch
    from torch import nn

_OPTIONAL_SUFFIXES = ("num_batches_tracked",)


class CheckpointError(UserError):
    """A weight file cannot be used: missing, not a PyTorch file, damaged, or weights of another network."""


def strip_module_prefix(state: Mapping[str, "torch.Tensor"]) -> dict[str, "torch.Tensor"]:
    """Drop the ``module.`` that ``DataParallel`` puts before every key (only at the start of a key)."""
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}


def _shape(t: "torch.Tensor") -> str:
    return "×".join(map(str, t.shape)) or "scalar"


def load_checked_state_dict(model: "nn.Module", state: Mapping[str, "torch.Tensor"], *, network: str,
                            path: str | Path | None = None, hint: str | None = None,
                            identify: Callable[[Iterable[str]], str | None] | None = None,
                            error: type[UserError] = CheckpointError) -> None:
    """Load ``state`` into ``model`` strictly, or raise an error that says what is wrong, in words.

    Parameters
    ----------
    model : nn.Module
        The network to fill (on any device; a model built on the "meta" device takes the tensors as they are).
    state : mapping
        ``{key: tensor}``; ``module.`` prefixes are removed here.
    network : str
        What the model is, in the user's words (``"the Wav2Lip generator"``), for messages.
    path : path, optional
        The file the weights came from, named in messages.
    hint : str, optional
        What the user can do about a mismatch.
    identify : callable, optional
        ``identify(keys) -> name or None``: names the network a file belongs to when it is not this one.
    error : type
        The error raised (a :class:`~lipsync_studio.errors.UserError`; e.g. PRNet's own).

    Raises
    ------
    CheckpointError
        Missing, extra or differently shaped tensors (or ``error`` when given).
    """
    import torch

    state = strip_module_prefix(state)
    own = model.state_dict()
    missing = [k for k in own if k not in state and not k.endswith(_OPTIONAL_SUFFIXES)]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        looks_like = identify(state.keys()) if identify is not None else None
        if looks_like is not None and not looks_like.startswith(network):
            raise error(f"holds the weights of {looks_like}, not {network}", path=path, hint=hint)
        parts = []
        if missing:
            parts.append(f"{len(missing)} of its {len(own)} tensors are missing (first: {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} tensors are not part of it (first: {unexpected[0]})")
        if wrong:
            k = wrong[0]
            parts.append(f"{len(wrong)} tensors have other sizes (first: {k} is {_shape(state[k])} in the file, "
                         f"{_shape(own[k])} in the network)")
        what = ("a modified version of it (other layer sizes or extra layers)" if looks_like or identify is None
                else "another network")
        raise error(f"does not fit {network}: " + "; ".join(parts) + f". It looks like {what}",
                    path=path, hint=hint or "only the official network is supported")
    on_meta = any(t.is_meta for t in own.values())
    full = dict(state)
    for k in own:
        if k not in full:  # an optional counter
            full[k] = torch.zeros((), dtype=own[k].dtype) if on_meta else own[k]
    with torch.no_grad():
        model.load_state_dict(full, strict=True, assign=on_meta)
