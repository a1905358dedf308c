"""Red-cyan anaglyphs: one picture for both eyes, to check a stereo pair with cheap glasses.

``out = M_L · rgb_left + M_R · rgb_right`` per pixel, rows of each 3x3 matrix giving the output R, G, B.
The default is Dubois' least-squares red-cyan matrix (the one FFmpeg's ``stereo3d=arcd`` uses), which
keeps most colour with the least ghosting; gray, colour and half-colour are the classic alternatives.

Dubois derived his matrices for linear light, so by default the eyes are decoded from sRGB to linear
floats, mixed, clipped once and encoded back (``linear=False`` mixes the 8-bit values directly, as FFmpeg
does). Everything happens on full RGB before any chroma subsampling: red/cyan detail lives in the chroma
that 4:2:0 halves, so anaglyph videos are written 4:4:4 (``yuv444p``) and stills as PNG.
"""

from __future__ import annotations

from enum import Enum

import cv2
import numpy as np

from ..errors import OptionError
from ..media.colourspace import linear_to_srgb, srgb_to_linear


class AnaglyphMethod(str, Enum):
    """How the two eyes are mixed (red filter on the left eye, cyan on the right)."""

    DUBOIS = "dubois"
    GRAY = "gray"
    COLOR = "color"
    HALF_COLOR = "half-color"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, text: "str | AnaglyphMethod") -> "AnaglyphMethod":
        """A method from its name (``dubois``, ``gray``/``grey``, ``color``/``colour``, ``half-color``)."""
        if isinstance(text, AnaglyphMethod):
            return text
        key = str(text).strip().lower().replace("_", "-").replace("colour", "color").replace("grey", "gray")
        try:
            return cls(key)
        except ValueError:
            raise OptionError(f"unknown anaglyph method '{text}'",
                              hint="use " + ", ".join(m.value for m in cls)) from None


_LUMA = [0.299, 0.587, 0.114]
_ZERO = [0.0, 0.0, 0.0]

#: (M_L, M_R) per method; rows are the output R, G, B. Values from FFmpeg's vf_stereo3d.c (``arcg``,
#: ``arch``, ``arcc``, ``arcd``); Dubois' red-cyan is Sanders & McAllister's least-squares solution.
MATRICES: dict[AnaglyphMethod, tuple[np.ndarray, np.ndarray]] = {
    AnaglyphMethod.DUBOIS: (
        np.array([[0.456, 0.500, 0.176], [-0.040, -0.038, -0.016], [-0.015, -0.021, -0.005]]),
        np.array([[-0.043, -0.088, -0.002], [0.378, 0.734, -0.018], [-0.072, -0.113, 1.226]]),
    ),
    AnaglyphMethod.GRAY: (np.array([_LUMA, _ZERO, _ZERO]), np.array([_ZERO, _LUMA, _LUMA])),
    AnaglyphMethod.HALF_COLOR: (np.array([_LUMA, _ZERO, _ZERO]), np.array([_ZERO, [0, 1, 0], [0, 0, 1]])),
    AnaglyphMethod.COLOR: (np.array([[1, 0, 0], _ZERO, _ZERO]), np.array([_ZERO, [0, 1, 0], [0, 0, 1]])),
}


_DECODE = srgb_to_linear(np.arange(256) / 255.0).astype(np.float32).reshape(1, 256)


#: Linear [0, 1] → sRGB 8-bit, in 65536 steps: fine enough that the steep part near black rounds correctly.
_ENCODE = np.clip(np.round(linear_to_srgb(np.arange(65536) / 65535.0) * 255), 0, 255).astype(np.uint8)


def _encode(linear: np.ndarray) -> np.ndarray:
    """Linear [0, 1] float32 → sRGB uint8 through the 16-bit table."""
    return _ENCODE[(linear * 65535.0 + 0.5).astype(np.uint16)]


def anaglyph(left: np.ndarray, right: np.ndarray, method: "AnaglyphMethod | str" = AnaglyphMethod.DUBOIS,
             *, linear: bool = True, clip_eyes: bool = False) -> np.ndarray:
    """Mix a stereo pair into one red-cyan anaglyph.

    Parameters
    ----------
    left, right : np.ndarray
        (H, W, 3) uint8 RGB eyes.
    method : AnaglyphMethod
        ``dubois`` (default), ``gray``, ``color`` or ``half-color``.
    linear : bool
        Mix in linear light (sRGB decoded); False mixes the 8-bit values as FFmpeg does.
    clip_eyes : bool
        Clip each eye's term to [0, 1] before adding them (Dubois' own description; FFmpeg sums first).

    Returns
    -------
    np.ndarray
        (H, W, 3) uint8 RGB anaglyph.
    """
    if left.shape != right.shape or left.ndim != 3 or left.shape[2] != 3:
        raise ValueError(f"expected two (H, W, 3) RGB eyes of one size, got {left.shape} and {right.shape}")
    m_l, m_r = (m.astype(np.float32) for m in MATRICES[AnaglyphMethod.parse(method)])
    if linear:
        lf, rf = cv2.LUT(left, _DECODE), cv2.LUT(right, _DECODE)
    else:
        lf, rf = left.astype(np.float32) / 255.0, right.astype(np.float32) / 255.0
    # cv2.transform applies a 3x3 matrix to every pixel: out[c] = sum_k m[c, k] * in[k].
    a, b = cv2.transform(lf, m_l), cv2.transform(rf, m_r)
    if clip_eyes:
        a, b = np.clip(a, 0.0, 1.0), np.clip(b, 0.0, 1.0)
    out = np.clip(cv2.add(a, b), 0.0, 1.0)
    if linear:
        return _encode(out)
    return cv2.convertScaleAbs(out, alpha=255.0)
