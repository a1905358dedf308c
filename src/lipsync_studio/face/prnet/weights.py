"""Load PRNet weights into :class:`~.network.ResFCN256`: the official TensorFlow checkpoint or a PyTorch state dict.

The official weights are ``256_256_resfcn256_weight.index`` + ``.data-00000-of-00001`` (a TensorFlow 1 checkpoint,
read by :mod:`.tf_checkpoint` without TensorFlow). Their variables map to our layers like this::

    resfcn256/Conv/…                                → stem.conv.weight, stem.bn.*
    resfcn256/resBlock{,_1…_9}/shortcut/weights     → res_blocks.{i}.shortcut.weight
    resfcn256/resBlock…/Conv, Conv_1/…              → res_blocks.{i}.conv1, conv2 (.conv.weight, .bn.*)
    resfcn256/resBlock…/Conv_2/weights              → res_blocks.{i}.conv3.weight
    resfcn256/resBlock…/BatchNorm/…                 → res_blocks.{i}.bn.*
    resfcn256/Conv2d_transpose{,_1…_16}/…           → up_blocks.{j}.conv.weight, up_blocks.{j}.bn.*
    …/BatchNorm/{gamma, beta, moving_mean, moving_variance} → bn.{weight, bias, running_mean, running_var}

Kernels are transposed to PyTorch's layout: a conv's ``[kh, kw, in, out]`` → ``[out, in, kh, kw]`` and a transposed
conv's ``[kh, kw, out, in]`` → ``[in, out, kh, kw]`` (both are the axis order (3, 2, 0, 1)). Anything else in the
checkpoint (Adam's ``…/Adam``, ``…/Adam_1`` slots, ``beta1_power``, ``beta2_power``) is ignored and never read.

A PyTorch file is a state dict of this module (optionally inside ``{"state_dict": …}`` and with ``module.``
prefixes from DataParallel), loaded with ``weights_only=True`` and ``strict=True``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lipsync_studio.errors import UserError

if TYPE_CHECKING:
    import torch

    from lipsync_studio.face.prnet.network import ResFCN256

TF_CHECKPOINT_NAME = "256_256_resfcn256_weight"
"""File prefix of the official checkpoint (``Data/net-data/`` in the PRNet repository)."""

TF_SCOPE = "resfcn256"
_BN_NAMES = (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"),
             ("running_var", "moving_variance"))
_TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt")


class PRNetWeightsError(UserError):
    """PRNet weights are missing, unreadable, incomplete, of the wrong shape, or not PRNet's."""


def _suffix(i: int) -> str:
    return "" if i == 0 else f"_{i}"


def tf_variable_map(model: ResFCN256) -> dict[str, tuple[str, str]]:
    """``{torch state-dict key: (TensorFlow variable name, kind)}`` for every tensor of ``model``.

    ``kind`` is ``"conv"``, ``"conv_transpose"`` or ``"vector"`` (BatchNorm parameters and statistics). The
    ``num_batches_tracked`` counters have no TensorFlow counterpart and are not listed.
    """
    table: dict[str, tuple[str, str]] = {}

    def bn(torch_prefix: str, tf_scope: str) -> None:
        for ours, theirs in _BN_NAMES:
            table[f"{torch_prefix}.{ours}"] = (f"{tf_scope}/{theirs}", "vector")

    def conv_bn(torch_prefix: str, tf_scope: str, kind: str) -> None:
        table[f"{torch_prefix}.conv.weight"] = (f"{tf_scope}/weights", kind)
        bn(f"{torch_prefix}.bn", f"{tf_scope}/BatchNorm")

    conv_bn("stem", f"{TF_SCOPE}/Conv", "conv")
    for i, block in enumerate(model.res_blocks):
        scope = f"{TF_SCOPE}/resBlock{_suffix(i)}"
        if block.shortcut is not None:
            table[f"res_blocks.{i}.shortcut.weight"] = (f"{scope}/shortcut/weights", "conv")
        conv_bn(f"res_blocks.{i}.conv1", f"{scope}/Conv", "conv")
        conv_bn(f"res_blocks.{i}.conv2", f"{scope}/Conv_1", "conv")
        table[f"res_blocks.{i}.conv3.weight"] = (f"{scope}/Conv_2/weights", "conv")
        bn(f"res_blocks.{i}.bn", f"{scope}/BatchNorm")
    for j in range(len(model.up_blocks)):
        conv_bn(f"up_blocks.{j}", f"{TF_SCOPE}/Conv2d_transpose{_suffix(j)}", "conv_transpose")
    return table


def _tf_shape(torch_shape: tuple[int, ...], kind: str) -> tuple[int, ...]:
    if kind == "vector":
        return torch_shape
    a, b, kh, kw = torch_shape  # conv: (out, in, kh, kw); conv_transpose: (in, out, kh, kw)
    return (kh, kw, b, a)


def _shape_text(shape: tuple[int, ...]) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def _examples(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def state_dict_from_tf(tensors: Mapping[str, np.ndarray], model: ResFCN256 | None = None,
                       *, source: str | os.PathLike[str] | None = None) -> dict[str, torch.Tensor]:
    """Convert TensorFlow variables (``{name: array}`` in TensorFlow layout) to a ResFCN256 state dict.

    Parameters
    ----------
    tensors:
        At least the 245 PRNet variables; other names are ignored.
    model:
        The module whose layout to fill (a fresh :class:`ResFCN256` when None).
    source:
        The file the tensors came from, named in error messages.

    Raises
    ------
    PRNetWeightsError
        Naming what is missing or of the wrong shape, or saying the tensors are not PRNet's at all.
    """
    import torch

    from lipsync_studio.face.prnet.network import ResFCN256

    model = model if model is not None else ResFCN256()
    table = tf_variable_map(model)
    reference = model.state_dict()
    _check_tf_names(set(tensors), {tf for tf, _ in table.values()}, list(tensors), source)
    bad = []
    out: dict[str, torch.Tensor] = {}
    for key, (tf_name, kind) in table.items():
        value = np.asarray(tensors[tf_name])
        expected = _tf_shape(tuple(reference[key].shape), kind)
        if tuple(value.shape) != expected:
            bad.append(f"{tf_name} is {_shape_text(value.shape)}, not {_shape_text(expected)}")
            continue
        if value.dtype.kind != "f":
            bad.append(f"{tf_name} holds {value.dtype} numbers, not floating point")
            continue
        tensor = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
        out[key] = tensor.permute(3, 2, 0, 1).contiguous() if kind != "vector" else tensor
    if bad:
        raise PRNetWeightsError(f"the PRNet checkpoint does not fit ResFCN256: {_examples(bad)}", source,
                                "this checkpoint is of a different network size or version than PRNet's")
    for key, value in reference.items():
        if key.endswith("num_batches_tracked"):
            out[key] = torch.zeros_like(value)
    return out


def _check_tf_names(present: set[str], needed: set[str], order: list[str],
                    source: str | os.PathLike[str] | None) -> None:
    missing = sorted(needed - present)
    if not missing:
        return
    if len(missing) == len(needed):
        found = [n for n in order if n][:3]
        what = f"e.g. {', '.join(found)}" if found else "nothing"
        raise PRNetWeightsError(f"this is not a PRNet checkpoint: none of the {len(needed)} tensors of PRNet's "
                                f"network ({TF_SCOPE}/Conv/weights …) is in it; it holds {len(present)} tensors, "
                                f"{what}", source, f"PRNet's weights are {TF_CHECKPOINT_NAME}.index and .data-"
                                "00000-of-00001 from the PRNet repository")
    raise PRNetWeightsError(f"this PRNet checkpoint is incomplete: {len(missing)} of the {len(needed)} tensors "
                            f"the network needs are missing ({_examples(missing)})", source,
                            "download the checkpoint again")


def tf_variables_from_state_dict(state_dict: Mapping[str, torch.Tensor],
                                 model: ResFCN256 | None = None) -> dict[str, np.ndarray]:
    """The inverse of :func:`state_dict_from_tf`: ``{TensorFlow variable name: float32 array}`` in TF layout."""
    from lipsync_studio.face.prnet.network import ResFCN256

    model = model if model is not None else ResFCN256()
    out = {}
    for key, (tf_name, kind) in tf_variable_map(model).items():
        value = state_dict[key].detach().cpu().float()
        if kind != "vector":
            value = value.permute(2, 3, 1, 0)
        out[tf_name] = np.ascontiguousarray(value.numpy())
    return out


def save_tf_checkpoint(model: ResFCN256, prefix: str | os.PathLike[str],
                       extra: Mapping[str, np.ndarray] | None = None) -> Path:
    """Write ``model``'s weights as a checkpoint in the official PRNet layout (names, shapes, float32).

    ``extra`` adds more variables (e.g. optimizer slots) as TensorFlow's saver would. Returns the ``.index`` path.
    """
    from lipsync_studio.face.prnet.tf_checkpoint import write_tf_checkpoint

    tensors = tf_variables_from_state_dict(model.state_dict(), model)
    tensors.update(extra or {})
    return write_tf_checkpoint(prefix, tensors)


def read_tf_state_dict(path: str | os.PathLike[str], *, verify: bool = True) -> dict[str, torch.Tensor]:
    """Read the official PRNet TensorFlow checkpoint (its prefix, ``.index`` or ``.data-*`` file) as a state dict.

    Only PRNet's 245 variables are read (and checksummed when ``verify``); optimizer slots are skipped.
    """
    from lipsync_studio.face.prnet.network import ResFCN256
    from lipsync_studio.face.prnet.tf_checkpoint import TFCheckpoint, TFCheckpointError

    model = ResFCN256()
    try:
        checkpoint = TFCheckpoint(path)
        needed = [tf for tf, _ in tf_variable_map(model).values()]
        _check_tf_names(set(checkpoint.names), set(needed), checkpoint.names, checkpoint.index_file)
        tensors = checkpoint.read_all(needed, verify=verify)
    except TFCheckpointError as exc:
        raise PRNetWeightsError(exc.message, exc.path, exc.hint) from None
    return state_dict_from_tf(tensors, model, source=checkpoint.index_file)


def read_torch_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a PyTorch state dict of :class:`ResFCN256` and check it against the module's keys and shapes.

    Accepts a bare state dict or one under ``state_dict`` / ``model`` / ``model_state_dict``; strips ``module.``
    prefixes; fills absent BatchNorm ``num_batches_tracked`` counters with 0.
    """
    import torch

    from lipsync_studio.face.prnet.network import ResFCN256

    path = Path(path)
    if not path.is_file():
        raise PRNetWeightsError("PRNet weights file not found", path)
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise PRNetWeightsError(f"not a PyTorch weights file that can be read safely ({type(exc).__name__})",
                                path, "save the weights with torch.save(model.state_dict(), …)") from None
    if isinstance(loaded, Mapping):
        for key in ("state_dict", "model_state_dict", "model"):
            if isinstance(loaded.get(key), Mapping):
                loaded = loaded[key]
                break
    if not isinstance(loaded, Mapping) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise PRNetWeightsError("the file does not hold a state dict (a mapping of names to tensors)", path)
    state = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in loaded.items()}
    reference = ResFCN256().state_dict()
    if not any(k in reference for k in state):
        raise PRNetWeightsError(f"this is not a PRNet state dict: none of its {len(state)} tensors has a name of "
                                f"Lipsync Studio's ResFCN256 (stem.conv.weight …); it holds e.g. "
                                f"{_examples(list(state))}", path,
                                "convert the official TensorFlow checkpoint, or load it directly")
    for key, value in reference.items():
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = torch.zeros_like(value)
    missing = [k for k in reference if k not in state]
    unexpected = [k for k in state if k not in reference]
    wrong = [f"{k} is {_shape_text(tuple(state[k].shape))}, not {_shape_text(tuple(v.shape))}"
             for k, v in reference.items() if k in state and state[k].shape != v.shape]
    problems = []
    if missing:
        problems.append(f"{len(missing)} tensors are missing ({_examples(missing)})")
    if unexpected:
        problems.append(f"{len(unexpected)} are not part of the network ({_examples(unexpected)})")
    if wrong:
        problems.append(f"{len(wrong)} have the wrong shape ({_examples(wrong)})")
    if problems:
        raise PRNetWeightsError("the PRNet state dict does not fit ResFCN256: " + "; ".join(problems), path)
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def _torch_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*") if p.suffix in _TORCH_SUFFIXES and p.is_file())


def find_weights(directory: str | os.PathLike[str]) -> Path | None:
    """The PRNet weights in ``directory``: the official ``.index`` if present, else its only ``*.pth``/``*.pt``.

    None when there are none, or several PyTorch files and no official checkpoint (ambiguous).
    """
    directory = Path(directory)
    official = directory / f"{TF_CHECKPOINT_NAME}.index"
    if official.is_file():
        return official
    candidates = _torch_files(directory)
    return candidates[0] if len(candidates) == 1 else None


def read_state_dict(path: str | os.PathLike[str], *, verify: bool = True) -> dict[str, torch.Tensor]:
    """A ResFCN256 state dict from any supported weights path.

    ``path`` may be a TensorFlow checkpoint (prefix, ``.index`` or ``.data-*``), a PyTorch file, or a folder holding
    one of them (e.g. ``models/prnet``).
    """
    from lipsync_studio.face.prnet.tf_checkpoint import checkpoint_prefix, index_path

    path = Path(path)
    if path.is_dir():
        found = find_weights(path)
        if found is None and len(_torch_files(path)) > 1:
            names = ", ".join(p.name for p in _torch_files(path))
            raise PRNetWeightsError(f"several PyTorch weight files in this folder ({names})", path,
                                    "keep one, or give the file itself")
        if found is None:
            raise PRNetWeightsError("no PRNet weights in this folder", path,
                                    f"put {TF_CHECKPOINT_NAME}.index and {TF_CHECKPOINT_NAME}.data-00000-of-00001 "
                                    "here (from the PRNet repository), or one .pth file")
        path = found
    if path.suffix in _TORCH_SUFFIXES:
        return read_torch_state_dict(path)
    if path.name.endswith(".index") or ".data-" in path.name or index_path(checkpoint_prefix(path)).exists():
        return read_tf_state_dict(path, verify=verify)
    if not path.exists():
        raise PRNetWeightsError("PRNet weights file not found", path)
    raise PRNetWeightsError("not a PRNet weights file: expected a TensorFlow checkpoint (.index + .data-00000-of-"
                            "00001) or a PyTorch state dict (.pth)", path)


def load_prnet(path: str | os.PathLike[str], *, verify: bool = True) -> ResFCN256:
    """A :class:`ResFCN256` in eval mode on the CPU holding the weights at ``path`` (see :func:`read_state_dict`).

    The state dict is loaded strictly by the project's one checked loader; every mismatch is reported in words.
    """
    from lipsync_studio.face.prnet.network import ResFCN256

    model = ResFCN256()
    load_prnet_state(model, read_state_dict(path, verify=verify), path)
    return model.eval()


def load_prnet_state(model: ResFCN256, state: Mapping[str, torch.Tensor], path: str | os.PathLike[str]) -> None:
    """Fill ``model`` with ``state`` through the project's one checked loader (mismatches in words)."""
    from lipsync_studio.weights.state_dict import load_checked_state_dict

    load_checked_state_dict(model, state, network="PRNet (ResFCN256)", path=path, error=PRNetWeightsError,
                            hint="use PRNet's official weights or a file made by `lipsync-studio train prnet`")
