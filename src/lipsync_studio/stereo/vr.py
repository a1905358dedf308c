"""VR clips at the stereo layer: the packing a file declares, else the one its pictures show.

The file's own metadata (:func:`~lipsync_studio.media.vrmeta.read_vr_metadata`: ``st3d``/``sv3d``, Matroska
``StereoMode``, frame-packing SEI) is the authority; detection from the pictures (:func:`.layout.detect_layout`)
is the fallback, and every answer says which of the two it came from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .layout import StereoLayout, detect_layout


def resolve_layout(path: str | Path) -> tuple[StereoLayout, float, str]:
    """The packing of ``path``: ``(layout, confidence, source)``, source ``metadata`` or ``pictures``."""
    from ..media.vrmeta import read_vr_metadata

    meta = read_vr_metadata(path)
    refuse_second_view(meta, path)
    if meta.layout is not None:
        return StereoLayout.parse(meta.layout), 1.0, "metadata"
    if meta.spherical:
        # A sphere projection declared without a stereo packing is monoscopic (Spherical Video V1/V2 without
        # st3d/StereoMode, Matroska's StereoMode default), whatever the picture looks like
        return StereoLayout.MONO, 1.0, "metadata"
    layout, confidence = detect_layout(path)
    return layout, confidence, "pictures"


def refuse_second_view(meta, path: str | Path, decoded_views: int | None = None) -> None:
    """Raise a clear error for a file that declares two views in one HEVC stream (MV-HEVC: an ``lhvC`` box) when
    the decoder here gives one only (``decoded_views``; read from the file when None): syncing it would silently
    drop the other eye. Two decoded views are read as a side-by-side pair (see :mod:`lipsync_studio.media.mvhevc`)."""
    if meta.views > 1:
        if decoded_views is None:
            from ..media.mvhevc import count_views

            decoded_views = count_views(path)
        if decoded_views >= 2:
            return
        from ..errors import MediaError

        raise MediaError("declares two views in one HEVC stream (MV-HEVC, e.g. Apple spatial video), but its second "
                         "view cannot be decoded here", path=path,
                         hint="convert it to side-by-side or top-bottom first, or give each eye as its own file "
                              "with --right")


def add_picture_layout(report: dict[str, Any]) -> dict[str, Any]:
    """Add ``stereo_from_pictures`` to a :func:`~lipsync_studio.media.probe.probe` report of a video whose file
    declares no packing (the detection the app falls back to); returns the report."""
    vr = report.get("vr")
    if report.get("video") and (vr is None or vr.get("layout") is None):
        layout, confidence = detect_layout(report["file"])
        report["stereo_from_pictures"] = {"layout": layout.value, "confidence": round(confidence, 3),
                                          "source": "pictures"}
    return report


def output_layout(requested: str | None, info) -> str:
    """The output packing of a stereo job: ``requested``, or for ``same``/None the input's own packing.

    ``info`` is the input's :class:`~.layout.StereoInfo`; two separate eye files give full side by side.
    """
    if requested not in (None, "", "same"):
        return requested
    return info.layout.value if info.layout.is_stereo else StereoLayout.SBS.value


def sphere_window_for(path: str | Path):
    """A :class:`~.views.SphereWindow` for a clip whose file declares a sphere projection (360, VR180 mesh,
    cubemap), or None for a flat clip (for the app's tasks thread: reads the metadata and builds the maps' tables)."""
    from ..media.video import probe_video
    from ..media.vrmeta import read_vr_metadata
    from .views import SphereWindow

    meta = read_vr_metadata(path, side_data=False)
    if not meta.spherical:
        return None
    info = probe_video(path)
    layout = StereoLayout.parse(meta.layout) if meta.layout else StereoLayout.MONO
    try:
        window = SphereWindow(meta, *layout.eye_size(info.width, info.height))
    except ValueError:
        return None
    window.layout = layout.value
    return window
