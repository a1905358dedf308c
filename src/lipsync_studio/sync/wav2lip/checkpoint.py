"""Reading and writing the weight files of Wav2Lip's networks (and, through the same reader, SyncNet's).

The official Wav2Lip checkpoints come in three forms, all read here to a plain ``{key: tensor}`` dict:

1. a training checkpoint: a dict ``{"state_dict", "optimizer", "global_step", "global_epoch"}`` whose keys
   may carry a ``module.`` prefix (saved from ``DataParallel``); the optimizer state is ignored;
2. a TorchScript archive (``Wav2Lip-SD-GAN.pt``/``Wav2Lip-SD-NOGAN.pt`` from the README's current links):
   ``torch.jit.load(...).state_dict()``;
3. a bare state dict.

Files are read with ``torch.load(weights_only=True)``, which never runs code from the file. A file whose
pickle holds other Python objects is refused (with the one exception of numpy scalars, which older training
scripts stored as step counters). TorchScript archives must go through ``torch.jit.load``: it builds the
module from TorchScript code (not Python) and only its weights are kept.

Weights are loaded strictly: every key the network has must be in the file with the same shape, and the
file may hold no other keys. The one allowance: batch-norm ``num_batches_tracked`` counters (used only in
training, and absent from files saved by PyTorch < 0.4.1) may be missing. What does not match is reported
in words: which network the file looks like instead, or how many layers are missing or differ.
"""

from __future__ import annotations

import enum
import io
import pickle
import warnings
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...weights.state_dict import CheckpointError, load_checked_state_dict, strip_module_prefix

if TYPE_CHECKING:
    import torch
    from torch import nn

    from .network import Wav2Lip
    from .syncnet import SyncNetColor

__all__ = [
    "CheckpointError", "CheckpointForm", "identify_network", "load_state_dict_strict", "load_syncnet_expert",
    "load_wav2lip", "read_state_dict", "save_checkpoint", "strip_module_prefix",
]

# torch.jit is deprecated in favour of torch.export from PyTorch 2.10 on, but the published Wav2Lip weights
# are TorchScript archives and torch.jit.load is the only reader for them.
_JIT_DEPRECATED = r"`torch\.jit\.\w+` is deprecated"


class CheckpointForm(str, enum.Enum):
    """How a checkpoint file stores its weights."""

    TRAINING = "training"  #: ``{"state_dict": ..., "optimizer": ..., "global_step": ..., ...}``
    TRAINING_DATAPARALLEL = "training-dataparallel"  #: the same with ``module.``-prefixed keys
    TORCHSCRIPT = "torchscript"  #: a TorchScript archive
    STATE_DICT = "state_dict"  #: a bare ``{key: tensor}`` dict


# -- recognising a file --------------------------------------------------------------------------------------
#: Known networks by the key prefixes their state dicts carry (first match wins).
_KNOWN_NETWORKS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    # (what the user should read, prefixes that must all be present, prefixes that must be absent)
    ("the Wav2Lip generator (wav2lip.pth / wav2lip_gan.pth)", ("face_encoder_blocks.", "face_decoder_blocks.",
                                                               "audio_encoder.", "output_block."), ()),
    ("Wav2Lip's visual-quality discriminator (used only for training)", ("face_encoder_blocks.", "binary_pred."),
     ()),
    ("Wav2Lip's SyncNet expert discriminator (lipsync_expert.pth)", ("face_encoder.", "audio_encoder."),
     ("face_decoder_blocks.",)),
    ("SyncNet from syncnet_python (syncnet_v2.model, for LSE-D/LSE-C)", ("netcnnaud.", "netcnnlip."), ()),
    ("the S3FD face detector (s3fd.pth)", ("conv1_1.", "fc7."), ()),
    ("a GFPGAN face restorer", ("stylegan_decoder.",), ()),
)


def identify_network(keys: Iterable[str]) -> str | None:
    """Name the network a state dict belongs to, from its keys (``module.`` prefixes ignored), or None."""
    keys = [k[len("module."):] if k.startswith("module.") else k for k in keys]
    for name, present, absent in _KNOWN_NETWORKS:
        if all(any(k.startswith(p) for k in keys) for p in present) and not any(
                k.startswith(p) for k in keys for p in absent):
            return name
    return None


def _looks_like_html(head: bytes) -> bool:
    text = head.lstrip().lower()
    return text.startswith((b"<!doctype html", b"<html", b"<?xml")) or b"<html" in text[:512]


def _sniff(path: Path) -> str:
    """``"zip"``, ``"torchscript"``, ``"pickle"`` or raise a :class:`CheckpointError` saying what it is."""
    if not path.exists():
        raise CheckpointError("the weight file does not exist", path=path)
    if path.is_dir():
        raise CheckpointError("is a folder, not a weight file", path=path)
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError("the weight file is empty (0 bytes)", path=path,
                              hint="the download failed; download it again")
    with open(path, "rb") as f:
        head = f.read(4096)
    if _looks_like_html(head):
        raise CheckpointError(
            "is a web page (HTML), not model weights", path=path,
            hint="the download saved the page instead of the file; download the raw file again")
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError) as exc:
            raise CheckpointError(
                f"the weight file is damaged or incomplete ({size:,} bytes; its archive index is missing)",
                path=path, hint="the download was probably cut off; download it again") from exc
        if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
            return "torchscript"
        if any(n.endswith("/data.pkl") or n == "data.pkl" for n in names):
            return "zip"
        raise CheckpointError("is a zip archive but not a PyTorch weight file", path=path)
    if len(head) > 1 and head[0] == 0x80 and 2 <= head[1] <= 5:  # a pickle stream: PyTorch's legacy layout
        return "pickle"
    if head.startswith(b"\x93NUMPY"):
        raise CheckpointError("is a numpy array file (.npy), not PyTorch weights", path=path)
    if len(head) > 8 and head[8:10] == b'{"':
        raise CheckpointError("is a safetensors file; this network needs the PyTorch checkpoint", path=path)
    if head.startswith(b"\x1f\x8b"):
        raise CheckpointError("is a gzip archive; unpack it first", path=path)
    raise CheckpointError("is not a PyTorch weight file", path=path,
                          hint="choose the .pth/.pt checkpoint the model's authors publish")


def _torch_load(path: Path) -> Any:
    """``torch.load`` with ``weights_only=True`` (numpy scalars allowed), errors turned into words."""
    import numpy as np
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "numpy" not in str(exc):
            raise _unsafe_or_damaged(path, exc) from exc
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a damaged file
        raise _damaged(path, exc) from exc
    # Older training scripts stored numpy scalars (e.g. the step counter): allow those and nothing else.
    try:
        from numpy._core.multiarray import scalar  # numpy ≥ 2 (and the 1.26 forward-compatible name)
    except ImportError:  # pragma: no cover - older numpy
        from numpy.core.multiarray import scalar
    safe = [scalar, np.dtype, *{type(np.dtype(t)) for t in (np.float64, np.float32, np.int64, np.int32)}]
    try:
        with torch.serialization.safe_globals(safe):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise _unsafe_or_damaged(path, exc) from exc
    except Exception as exc:  # noqa: BLE001
        raise _damaged(path, exc) from exc


def _damaged(path: Path, exc: BaseException) -> CheckpointError:
    return CheckpointError(
        f"the weight file is damaged or incomplete and cannot be read ({type(exc).__name__})", path=path,
        hint="the download was probably cut off; download it again")


def _unsafe_or_damaged(path: Path, exc: BaseException) -> CheckpointError:
    text = str(exc)
    if "Unsupported global" in text or "weights_only" in text.lower():
        return CheckpointError(
            "holds Python objects besides the weights, which Lipsync Studio does not load (they could run code)",
            path=path, hint="use the original checkpoint from the model's authors")
    return _damaged(path, exc)


def _load_torchscript(path: Path) -> dict[str, "torch.Tensor"]:
    import torch

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_JIT_DEPRECATED, category=DeprecationWarning)
            module = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - jit raises RuntimeError with C++ text for damage
        raise _damaged(path, exc) from exc
    return {k: v.detach() for k, v in module.state_dict().items()}


def _is_tensor_dict(obj: Any) -> bool:
    import torch

    return isinstance(obj, Mapping) and len(obj) > 0 and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def read_state_dict(path: str | Path) -> tuple[dict[str, "torch.Tensor"], CheckpointForm]:
    """Read any of the three official checkpoint forms to a clean ``{key: tensor}`` dict on the CPU.

    Parameters
    ----------
    path:
        A ``.pth``/``.pt``/``.model`` file.

    Returns
    -------
    state:
        Keys without ``module.`` prefixes, tensors on the CPU.
    form:
        Which form the file had.

    Raises
    ------
    CheckpointError
        Missing, empty, a web page, not a PyTorch file, damaged/truncated, holding Python objects, or a
        PyTorch file that holds no weights.
    """
    path = Path(path)
    kind = _sniff(path)
    if kind == "torchscript":
        return _load_torchscript(path), CheckpointForm.TORCHSCRIPT
    obj = _torch_load(path)
    if isinstance(obj, Mapping) and "state_dict" in obj and _is_tensor_dict(obj["state_dict"]):
        state = dict(obj["state_dict"])
        prefixed = all(k.startswith("module.") for k in state)
        form = CheckpointForm.TRAINING_DATAPARALLEL if prefixed else CheckpointForm.TRAINING
        return strip_module_prefix(state), form
    if _is_tensor_dict(obj):
        return strip_module_prefix(obj), CheckpointForm.STATE_DICT
    if isinstance(obj, Mapping):
        shown = ", ".join(sorted(map(str, obj))[:6])
        raise CheckpointError(f"is a PyTorch file but holds no network weights (it holds: {shown})", path=path)
    raise CheckpointError(f"is a PyTorch file but holds a {type(obj).__name__}, not network weights", path=path)


# -- loading into a network -----------------------------------------------------------------------------------
def load_state_dict_strict(model: "nn.Module", state: Mapping[str, "torch.Tensor"], *, network: str,
                           path: str | Path | None = None, hint: str | None = None) -> None:
    """Load ``state`` into ``model`` with the project's one checked loader
    (:func:`~lipsync_studio.weights.state_dict.load_checked_state_dict`), naming Wav2Lip's networks when the
    file holds another one."""
    load_checked_state_dict(model, state, network=network, path=path, hint=hint, identify=identify_network)


def _load(model: "nn.Module", path: str | Path, network: str, hint: str) -> CheckpointForm:
    state, form = read_state_dict(path)
    load_state_dict_strict(model, state, network=network, path=path, hint=hint)
    return form


def load_wav2lip(path: str | Path) -> "Wav2Lip":
    """The Wav2Lip generator with the weights of ``path`` (any official form), on the CPU, in eval mode.

    Raises
    ------
    CheckpointError
        The file cannot be read or holds another network's weights (the message says which).
    """
    import torch

    from .network import Wav2Lip

    with torch.device("meta"):  # every tensor comes from the file: skip the random initialisation
        model = Wav2Lip()
    _load(model, path, "the Wav2Lip generator",
          "choose wav2lip.pth or wav2lip_gan.pth, or Wav2Lip-SD-NOGAN.pt / Wav2Lip-SD-GAN.pt")
    return model.eval()


def load_syncnet_expert(path: str | Path) -> "SyncNetColor":
    """Wav2Lip's SyncNet expert with the weights of ``path`` (any official form), on the CPU, in eval mode."""
    import torch

    from .syncnet import SyncNetColor

    with torch.device("meta"):
        model = SyncNetColor()
    _load(model, path, "Wav2Lip's SyncNet expert discriminator", "choose lipsync_expert.pth")
    return model.eval()


# -- writing (tests, and the app's own training) -------------------------------------------------------------
def _example_inputs(model: "nn.Module") -> tuple["torch.Tensor", ...] | None:
    import torch

    from .network import Wav2Lip
    from .syncnet import SyncNetColor

    if isinstance(model, Wav2Lip):
        return torch.zeros(1, 1, 80, 16), torch.zeros(1, 6, 96, 96)
    if isinstance(model, SyncNetColor):
        return torch.zeros(1, 1, 80, 16), torch.zeros(1, 15, 48, 96)
    from ..syncnet_v2 import SyncNetV2

    if isinstance(model, SyncNetV2):
        return torch.zeros(2, 1, 13, 20), torch.zeros(2, 3, 5, 224, 224)
    return None


def save_checkpoint(model: "nn.Module", path: str | Path, form: CheckpointForm | str, *,
                    legacy_format: bool = False) -> Path:
    """Write ``model``'s weights to ``path`` in one of the official forms.

    ``TRAINING`` writes what the official training scripts write (state dict, an Adam optimizer state,
    step and epoch); ``TRAINING_DATAPARALLEL`` the same with ``module.`` before every key; ``TORCHSCRIPT`` a
    traced archive (the generator, the expert and SyncNet v2; other modules are scripted); ``STATE_DICT`` the bare dict.
    ``legacy_format`` writes the pre-1.6 PyTorch file layout (a plain pickle stream, as the 2020 Wav2Lip
    checkpoints are) instead of the zip layout; it does not apply to TorchScript.
    """
    import torch

    path = Path(path)
    form = CheckpointForm(form)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    zip_layout = not legacy_format
    if form is CheckpointForm.STATE_DICT:
        torch.save(state, path, _use_new_zipfile_serialization=zip_layout)
    elif form in (CheckpointForm.TRAINING, CheckpointForm.TRAINING_DATAPARALLEL):
        if form is CheckpointForm.TRAINING_DATAPARALLEL:
            state = {f"module.{k}": v for k, v in state.items()}
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
        torch.save({"state_dict": state, "optimizer": optimizer.state_dict(), "global_step": 0,
                    "global_epoch": 0}, path, _use_new_zipfile_serialization=zip_layout)
    else:
        was_training = model.training
        model.eval()
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=_JIT_DEPRECATED, category=DeprecationWarning)
                example = _example_inputs(model)
                with torch.no_grad():
                    # check_trace would run the network twice more to compare: slow, and the forward
                    # has no data-dependent branches to check.
                    scripted = (torch.jit.trace(model, example, check_trace=False) if example
                                else torch.jit.script(model))
                buffer = io.BytesIO()
                torch.jit.save(scripted, buffer)
        finally:
            model.train(was_training)
        path.write_bytes(buffer.getvalue())
    return path
