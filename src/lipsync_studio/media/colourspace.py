"""A video's colour: the YUV matrix, primaries, transfer and range its pixels are in, carried to what we write.

A decoded picture becomes RGB through its own matrix (FFmpeg reads the stream's colour tags); what we write goes
back to YUV through a matrix too, and a player turns it into RGB again with the matrix the file *says*. Written
untagged, a file is read by guesswork: players take BT.709 for HD pictures and BT.601 for smaller ones, and
FFmpeg's own scaler BT.601 for all. A 720p camera clip (tagged BT.709) came out of a sync converted with BT.601
and untagged: players showed the whole picture shifted in colour against the clip (a saturated green 8 levels
off in green, skin a few levels redder). Now the output is converted with the clip's own matrix and carries the
clip's tags; its bit depth follows the clip's (an HDR phone clip, 10-bit HLG or PQ in BT.2020, stays 10-bit and
HDR; through the engine its picture goes as 8-bit RGB, so its finest gradations are those of 8 bits).

Codes are those of ITU-T H.273 (FFmpeg's ``AVColorSpace``, ``AVColorPrimaries``, ``AVColorTransferCharacteristic``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UNSPECIFIED = 2
#: (Kr, Kb) of the YUV matrices we convert with ourselves; unspecified is read as BT.601, as FFmpeg reads it.
_KRKB = {1: (0.2126, 0.0722), 2: (0.299, 0.114), 5: (0.299, 0.114), 6: (0.299, 0.114), 9: (0.2627, 0.0593)}
_MATRIX_NAMES = {1: "BT.709", 5: "BT.601", 6: "BT.601", 9: "BT.2020"}
_TRANSFER_NAMES = {16: "PQ", 18: "HLG"}
#: Transfers of high dynamic range pictures: SMPTE ST 2084 (PQ) and ARIB STD-B67 (HLG).
HDR_TRANSFERS = frozenset(_TRANSFER_NAMES)


@dataclass(frozen=True)
class Colour:
    """How a stream's pixel values are to be read.

    Attributes
    ----------
    matrix, primaries, transfer: H.273 codes (2: unspecified).
    full_range: True for full-range (0-255) YUV, False for limited (16-235), the norm of video.
    bits: bits per sample of the stored pixels (8, 10, 12).
    """

    matrix: int = UNSPECIFIED
    primaries: int = UNSPECIFIED
    transfer: int = UNSPECIFIED
    full_range: bool = False
    bits: int = 8

    @staticmethod
    def of_stream(codec_context) -> "Colour":
        """The colour a decoder's context declares (``av`` video codec context)."""
        pix = codec_context.pix_fmt or ""
        bits = 12 if "12" in pix else 10 if ("10" in pix or pix.startswith("p010")) else 8
        full = int(getattr(codec_context, "color_range", 0) or 0) == 2 or pix.startswith("yuvj")
        return Colour(int(codec_context.colorspace or UNSPECIFIED), int(codec_context.color_primaries or UNSPECIFIED),
                      int(codec_context.color_trc or UNSPECIFIED), full, bits)

    @property
    def hdr(self) -> bool:
        """A high dynamic range transfer (PQ or HLG)."""
        return self.transfer in HDR_TRANSFERS

    @property
    def conversion_matrix(self) -> int:
        """The matrix our own RGB to YUV conversions use for this colour: its own where we know it, else BT.709 (and
        the written file then says BT.709)."""
        return self.matrix if self.matrix in _KRKB else 1

    def written(self) -> "Colour":
        """The colour a file we write from pictures of this colour declares: the same primaries and transfer, the
        matrix we convert with, limited range (full range only where the source was and said so)."""
        return Colour(self.conversion_matrix, self.primaries, self.transfer, False, self.bits)

    def describe(self) -> str:
        """A few words for ``probe``: ``BT.709``, ``HDR HLG, BT.2020, 10-bit``; empty when nothing is declared."""
        parts = []
        if self.hdr:
            parts.append(f"HDR {_TRANSFER_NAMES[self.transfer]}")
        if self.matrix in _MATRIX_NAMES:
            parts.append(_MATRIX_NAMES[self.matrix])
        if self.full_range:
            parts.append("full range")
        if self.bits != 8:
            parts.append(f"{self.bits}-bit")
        return ", ".join(parts)


def same_conversion(a: int, b: int) -> bool:
    """Whether YUV matrices ``a`` and ``b`` (H.273 codes) convert alike (unspecified is BT.601)."""
    return _KRKB.get(a, _KRKB[1]) == _KRKB.get(b, _KRKB[1])


#: The colour of what we write when nothing else is said (as before: BT.601 conversion, nothing declared).
PLAIN = Colour()


def yuv_from_rgb(matrix: int) -> np.ndarray:
    """(3, 4) float32: rows Y, U, V of limited-range 8-bit YUV from R, G, B (0-255) and 1, for ``matrix`` (an H.273
    code of :data:`_KRKB`; others as BT.709)."""
    kr, kb = _KRKB.get(matrix, _KRKB[1])
    kg = 1.0 - kr - kb
    y = np.array([kr, kg, kb]) * 219.0 / 255.0
    u = (np.array([0.0, 0.0, 1.0]) - np.array([kr, kg, kb])) / (2.0 * (1.0 - kb)) * 224.0 / 255.0
    v = (np.array([1.0, 0.0, 0.0]) - np.array([kr, kg, kb])) / (2.0 * (1.0 - kr)) * 224.0 / 255.0
    return np.array([[*y, 16.0], [*u, 128.0], [*v, 128.0]], np.float32)


def srgb_to_linear(v: np.ndarray) -> np.ndarray:
    """sRGB-encoded values (0..1) to linear light (0..1): the IEC 61966-2-1 curve."""
    v = np.asarray(v)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(v: np.ndarray) -> np.ndarray:
    """Linear light (0..1) to sRGB-encoded values (0..1)."""
    v = np.asarray(v)
    return np.where(v <= 0.0031308, 12.92 * v, 1.055 * np.power(np.maximum(v, 0.0031308), 1 / 2.4) - 0.055)
