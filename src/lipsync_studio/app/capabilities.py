"""What this machine offers the app (no Qt): the lip-sync engines whose weights are installed, MediaPipe for
the face features, the compute devices; and a stereo clip's layout from its name and pictures.

Every module of the app is part of it; what can be missing is outside it: model weights (Wav2Lip: the
engine is offered once they are in the models folder) and, on an unusual install, MediaPipe. A missing
piece shows as a disabled control whose tooltip says why.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EngineChoice:
    """A lip-sync engine as the Run panel lists it."""

    name: str
    label: str
    available: bool
    reason: str = ""


@dataclass(frozen=True)
class Capabilities:
    """Which optional features can work now, and for each that cannot, why (a tooltip)."""

    engines: tuple[EngineChoice, ...]
    face_mesh: bool
    face_reason: str

    @property
    def obj_export(self) -> bool:
        """OBJ sequences need the face mesh."""
        return self.face_mesh


#: The engine every install has: the picture re-timed to the dub, the mouth as filmed.
RETIME = EngineChoice("none", "None: re-time only", True,
                      "Keeps the mouth as filmed; only the length follows the dub (the baseline to compare with)")
#: How the Run panel names the sync module's engines.
_ENGINE_WORDS = {
    "auto": ("Auto (best installed)", "Wav2Lip when its weights are installed, else the built-in engine"),
    "builtin": ("Built-in (no weights)", "Mouths planned from the dub and drawn from the clip's own frames; needs no weights"),
    "wav2lip": ("Wav2Lip", "The Wav2Lip network (its weights: Sync ▸ Models…)"),
    "none": (RETIME.label, RETIME.reason),
}


def _engines() -> tuple[EngineChoice, ...]:
    """The sync module's engines (``sync.registry.ENGINES``); Wav2Lip is available when its weights are."""
    from ..sync.registry import ENGINES
    from ..weights import weight_path

    out = []
    for name in ENGINES:
        label, why = _ENGINE_WORDS.get(name, (name, ""))
        ok = True
        if name == "wav2lip":
            ok = weight_path("wav2lip") is not None or weight_path("wav2lip_gan") is not None
            if not ok:
                why = "Needs the Wav2Lip weights (wav2lip.pth or wav2lip_gan.pth): add them in Sync ▸ Models…"
        out.append(EngineChoice(name, label, ok, why))
    return tuple(out)


def detect() -> Capabilities:
    """Look at what is installed (cheap: no weights are loaded, MediaPipe is found, not imported)."""
    from importlib.util import find_spec

    has_mesh = find_spec("mediapipe") is not None
    return Capabilities(
        engines=_engines(),
        face_mesh=has_mesh,
        face_reason="" if has_mesh else "The face mesh needs MediaPipe (pip install mediapipe==0.10.21)",
    )


def devices() -> list[tuple[str, str]]:
    """Compute devices present, as ``(key, label)``: always CPU; CUDA and MPS when torch sees them.

    Imports torch (about a second): call it off the GUI thread.
    """
    out = [("auto", "Auto (best available)"), ("cpu", "CPU")]
    try:
        import torch
    except ImportError:
        return out
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            out.append((f"cuda:{i}" if i else "cuda", f"CUDA: {torch.cuda.get_device_name(i)}"))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append(("mps", "Apple GPU (MPS)"))
    return out


def layout_from_name(name: str, width: int = 0, height: int = 0) -> str:
    """A stereo layout (``StereoLayout`` value: ``mono``, ``sbs``, ``half-sbs``, ``tb``, ...) from a file name.

    The stereo module reads the name's tokens (``LRF_Full_SBS``, ``HSBS``, ``TB``, ``RL`` ...); where the
    name does not say full or half, the frame's shape decides (a full side-by-side frame is twice as wide
    as an eye).
    """
    from ..stereo.layout import StereoLayout, layout_from_name as hint_from_name

    hint = hint_from_name(name)
    if not hint.stereo or hint.top_bottom is None:
        return "mono"
    half = hint.half
    if half is None and width and height:
        eye_aspect = (width / 2) / height if not hint.top_bottom else width / (height / 2)
        half = eye_aspect < 0.95 if not hint.top_bottom else eye_aspect > 1.9
    return StereoLayout.compose(top_bottom=bool(hint.top_bottom), half=bool(half),
                                right_first=bool(hint.right_first)).value


def detect_layout(path: str) -> tuple[str, float]:
    """The clip's layout as its file declares it (``st3d``, Matroska StereoMode, ...), else from its pictures
    (``stereo.layout.detect_layout``; decodes a few frames): the layout value and the confidence 0..1. For the
    tasks thread."""
    from ..stereo.vr import resolve_layout

    layout, confidence, _ = resolve_layout(path)
    return layout.value, float(confidence)
