"""Lipsync Studio: lip-sync dubbing for 2D and stereoscopic video, with a 3D face mesh per frame.

The package reads as the pipeline: ``media`` in, ``face`` tracking, ``sync`` engines, ``stereo``,
then export, with ``engine`` running the stages and ``ui`` / ``cli`` driving them.
Nothing below ``ui`` imports Qt.
"""

from __future__ import annotations

__version__ = "0.1.0"
