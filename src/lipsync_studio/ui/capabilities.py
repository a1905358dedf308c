"""What the installed engine modules offer the app today (no Qt).

The app is built before some of its engines: lip-sync engines (``sync``), the face tracker and mesh
(``face``) and the stereo tools (``stereo``) arrive in later issues. Each control that needs one asks here,
and a missing piece shows as a disabled control whose tooltip says why. The hooks looked for:

- ``lipsync_studio.sync.available_engines() -> list`` of objects with ``name``, ``label``, ``available``,
  ``reason`` (the engine combo);
- ``lipsync_studio.face.analysis.analyse_faces``, ``face.mesh3d`` and ``engine.mesh_job`` with MediaPipe
  installed (3D view, mesh overlay, OBJ export; see :mod:`.faces`);
- ``lipsync_studio.stereo.views`` (side by side, anaglyph and disparity pictures of a pair) and
  ``stereo.layout`` (packings, detection); ``engine.stereo_sync_job`` (Run and export on a stereo clip).
"""

from __future__ import annotations

import importlib
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
    anaglyph: bool
    anaglyph_reason: str
    disparity: bool
    disparity_reason: str
    stereo_export: bool
    stereo_reason: str

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
    registry = _module("lipsync_studio.sync.registry")
    names = getattr(registry, "ENGINES", None)
    if not names:
        return (RETIME,)
    out = []
    for name in names:
        label, why = _ENGINE_WORDS.get(name, (name, ""))
        ok = True
        if name == "wav2lip":
            from ..weights import weight_path

            ok = weight_path("wav2lip") is not None or weight_path("wav2lip_gan") is not None
            if not ok:
                why = "Needs the Wav2Lip weights (wav2lip.pth or wav2lip_gan.pth): add them in Sync ▸ Models…"
        out.append(EngineChoice(name, label, ok, why))
    return tuple(out)


def _spec(name: str) -> bool:
    """Whether module ``name`` is installed (found without importing it)."""
    from importlib.util import find_spec

    try:
        return find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _module(name: str):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def detect() -> Capabilities:
    """Look at the installed modules (cheap: no weights are loaded)."""
    engines = _engines()

    has_mesh = all(_spec(m) for m in ("lipsync_studio.face.mesh3d", "lipsync_studio.face.analysis",
                                      "lipsync_studio.engine.mesh_job", "mediapipe"))
    has_views = _spec("lipsync_studio.stereo.views") and _spec("lipsync_studio.stereo.layout")
    has_ana = has_views
    has_disp = has_views and _spec("cv2")
    has_stereo_out = _spec("lipsync_studio.engine.stereo_sync_job") and _spec("lipsync_studio.stereo.writer")
    later = "arrives with the {} module"
    return Capabilities(
        engines=engines,
        face_mesh=has_mesh,
        face_reason="" if has_mesh else ("The face mesh needs the face module and MediaPipe "
                                         "(pip install mediapipe==0.10.21)"),
        anaglyph=has_ana,
        anaglyph_reason="" if has_ana else "The anaglyph view " + later.format("stereo"),
        disparity=has_disp,
        disparity_reason="" if has_disp else "The disparity view " + later.format("stereo"),
        stereo_export=has_stereo_out,
        stereo_reason="" if has_stereo_out else "Stereo export " + later.format("stereo"),
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
    as an eye). Without the stereo module only the common tokens are known.
    """
    layout_mod = _module("lipsync_studio.stereo.layout")
    if layout_mod is not None:
        hint = layout_mod.layout_from_name(name)
        if not hint.stereo or hint.top_bottom is None:
            return "mono"
        half = hint.half
        if half is None and width and height:
            eye_aspect = (width / 2) / height if not hint.top_bottom else width / (height / 2)
            half = eye_aspect < 0.95 if not hint.top_bottom else eye_aspect > 1.9
        return layout_mod.StereoLayout.compose(top_bottom=bool(hint.top_bottom), half=bool(half),
                                               right_first=bool(hint.right_first)).value
    parts = set(name.lower().replace("-", "_").replace(".", "_").replace(" ", "_").split("_"))
    if parts & {"hsbs"} or {"half", "sbs"} <= parts:
        return "half-sbs"
    if parts & {"sbs", "lrf", "fsbs", "lr"}:
        return "sbs"
    if parts & {"tb", "ou"}:
        return "tb"
    return "mono"


def detect_layout(path: str) -> tuple[str, float]:
    """The clip's layout as its file declares it (``st3d``, Matroska StereoMode, ...), else from its pictures
    (``stereo.layout.detect_layout``; decodes a few frames): the layout value and the confidence 0..1. For the
    tasks thread."""
    from ..stereo.vr import resolve_layout

    layout, confidence, _ = resolve_layout(path)
    return layout.value, float(confidence)
