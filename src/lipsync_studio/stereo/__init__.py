"""Stereo 3D: layouts in and out, anaglyph and disparity views, the warp f_w, consistency measures, 2D → stereo.

Modules (heavy ones load on first use, so importing the package stays cheap):

- :mod:`.layout`: ``StereoLayout``, ``split``/``join``, ``detect_layout``, ``StereoReader`` (packed or two files);
- :mod:`.anaglyph`: red-cyan anaglyphs (Dubois by default);
- :mod:`.disparity`: SGBM + WLS + left-right check, colour maps, a content-keyed cache;
- :mod:`.warp`: the paper's f_w, occlusions, moving a disparity map to the other eye;
- :mod:`.writer`: ``StereoWriter`` (any packing, anaglyph, separate files; VR names; frame-packing SEI);
- :mod:`.views`: the viewer's pictures (side by side, anaglyph, disparity colour map);
- :mod:`.faces`: face tracks of one eye, face and mouth masks;
- :mod:`.metrics`: ``evaluate_stereo`` (``eval --stereo``);
- :mod:`.stereoize`: 2D → stereo from the per-frame 3D face (``stereoize``);
- :mod:`.cli`: command-line options and handlers for ``cli.py``.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "StereoLayout": "layout", "split": "layout", "join": "layout", "detect_layout": "layout",
    "StereoReader": "layout", "StereoInfo": "layout",
    "AnaglyphMethod": "anaglyph", "make_anaglyph": "anaglyph",
    "DisparitySettings": "disparity", "DisparityMap": "disparity", "estimate_disparity": "disparity",
    "colorize_disparity": "disparity", "DisparityCache": "disparity",
    "f_w": "warp", "warp_right_to_left": "warp", "warp_left_to_right": "warp", "occlusion_mask": "warp",
    "left_right_check": "warp", "disparity_left_to_right": "warp",
    "side_by_side_view": "views", "anaglyph_view": "views", "disparity_view": "views",
    "OutputLayout": "writer", "StereoWriter": "writer", "stereo_output_paths": "writer",
    "StereoEvalOptions": "metrics", "StereoConsistency": "metrics", "evaluate_stereo": "metrics",
    "StereoizeSettings": "stereoize", "StereoizeOptions": "stereoize", "Stereoizer": "stereoize",
    "stereoize_clip": "stereoize",
}
# Functions named like their module (``anaglyph.anaglyph``, ``stereoize.stereoize``) are exported under
# another name: once a submodule is imported, the package attribute of that name is the module.

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
