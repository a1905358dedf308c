"""Interlaced video: which field comes first, and the picture at one moment out of a frame of two fields.

An interlaced frame (broadcast 1080i, PAL/NTSC 576i/480i) holds two pictures taken half a frame apart, woven line by
line: the *first* field (its even rows when the top field comes first, "TFF"; its odd rows for "BFF") and the
second. Wherever something moved between the two, the woven frame shows combs: a face tracked on them, or a donor
mouth warped from them, comes out striped (a warp resamples rows of two moments into a smear). So every picture the
app *looks at* is one moment, the first field's (:func:`unweave`), while what it writes back keeps both fields where
it did not draw (a writer in the clip's field order passes the decoded frame through) and is declared interlaced in
the clip's field order, which a broadcast chain and a player's deinterlacer need.
"""

from __future__ import annotations

import numpy as np

PROGRESSIVE = "progressive"
TOP_FIRST = "tff"
BOTTOM_FIRST = "bff"

#: FFmpeg's ``AVFieldOrder`` (``codec_context.field_order``) as the field a player shows first: 1 progressive;
#: 2 TT and 5 BT (bottom coded first, top shown first) top first; 3 BB and 4 TB bottom first; 0 unknown.
_SHOWN_FIRST = {1: PROGRESSIVE, 2: TOP_FIRST, 5: TOP_FIRST, 3: BOTTOM_FIRST, 4: BOTTOM_FIRST}
#: What a writer declares for each order (TT, BB: coded and shown in the same order, as encoders write them).
FFMPEG_CODE = {PROGRESSIVE: 1, TOP_FIRST: 2, BOTTOM_FIRST: 3}

#: Luma difference (levels) by which a row must lie beyond both rows around it to zigzag (:func:`unweave`). At 8 a
#: real talking head's woven frames combed 4.8-7.6 and came out 2.3-3.0 (the clip, progressive: 2.28,
#: the tests' ``comb_energy``), and 0.5 % of a progressive frame's pixels were touched (a lower level takes a sharp
#: picture's own detail for combs, a higher one leaves faint combs on skin).
COMB_LEVELS = 8


def field_order_of(code: int | None, interlaced_frame: bool, codec: str = "", height: int = 0) -> str:
    """The field order a stream declares (``codec_context.field_order``), or, where it declares none, what its
    first decoded frame says: an interlaced frame of an undeclared order is top field first (HD's order), but
    standard-definition DV's, which is always bottom field first (FFmpeg's DV decoder declares none)."""
    order = _SHOWN_FIRST.get(int(code or 0))
    if order is not None:
        return order
    if not interlaced_frame:
        return PROGRESSIVE
    return BOTTOM_FIRST if codec == "dvvideo" and height in (480, 576) else TOP_FIRST


def is_interlaced(order: str | None) -> bool:
    """Whether ``order`` is one of the two interlaced orders."""
    return order in (TOP_FIRST, BOTTOM_FIRST)


def describe(order: str | None) -> str:
    """``interlaced, top field first`` and the like; empty for progressive video."""
    if order == TOP_FIRST:
        return "interlaced, top field first"
    if order == BOTTOM_FIRST:
        return "interlaced, bottom field first"
    return ""


def unweave(img: np.ndarray, order: str, first_row: int = 0) -> np.ndarray:
    """The first field's moment of an interlaced picture: wherever the second field's rows comb against the
    first's, they are interpolated from the first field's rows around them (four taps); elsewhere (whatever did not
    move) both fields' rows stay, at full height.

    Parameters
    ----------
    img: (H, W, 3) or (H, W) uint8, a whole frame or a band of one.
    order: :data:`TOP_FIRST` or :data:`BOTTOM_FIRST` (anything else: ``img`` comes back as it is).
    first_row: the frame row ``img``'s first row is (a band's parity decides which of its rows are which field).

    Returns
    -------
    A new array like ``img`` (``img`` itself for progressive video or a band too thin to tell).
    """
    if not is_interlaced(order) or img.shape[0] < 5:
        return img
    import cv2

    h = img.shape[0]
    # Rows of the second field, in img's own numbering: odd frame rows when the top field comes first.
    s = (1 if order == TOP_FIRST else 0) ^ (first_row & 1)
    luma = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    lp = np.ascontiguousarray(np.pad(luma, ((1, 1), (0, 0)), mode="reflect"))
    # A zigzag: a row beyond both rows around it, the same way, by more than the threshold and by not much less on
    # one side than on the other. A comb is a zigzag of a second-field row next to a zigzag of a first-field row
    # (fields alternating); a thin line that did not move is a zigzag alone: beside it a row lies far from the
    # line and level with the row beyond it. (OpenCV's saturating uint8 operations: a tenth of numpy's time.)
    c, up, dn = lp[1:-1], lp[:-2], lp[2:]
    a_up, a_dn = cv2.absdiff(c, up), cv2.absdiff(c, dn)
    lo, hi = cv2.min(a_up, a_dn), cv2.max(a_up, a_dn)
    same_way = cv2.bitwise_not(cv2.bitwise_xor(cv2.compare(c, up, cv2.CMP_GT), cv2.compare(c, dn, cv2.CMP_GT)))
    zig = cv2.bitwise_and(cv2.bitwise_and(cv2.compare(lo, COMB_LEVELS, cv2.CMP_GT), same_way),
                          cv2.compare(cv2.multiply(lo, 4), hi, cv2.CMP_GT)) > 0
    n = len(range(s, h, 2))
    zp = np.pad(zig, ((1, 1), (0, 0)))  # zp[j] is row j - 1's
    comb = zig[s::2] & (zp[s:s + 2 * n:2] | zp[s + 2:s + 2 + 2 * n:2])
    if not comb.any():
        return img.copy()
    # Grow the combed area a little (a comb's ends stand out less than its middle): along the row, and to the
    # field's rows above and below.
    comb = cv2.dilate(comb.view(np.uint8), np.ones((3, 3), np.uint8)) > 0
    # The second field's combed rows interpolated from the first field's rows around them (OpenCV's filter over the
    # band of rows that comb, mirrored at the frame's edges, which keeps each row in its field), kept where it combs.
    out = img.copy()
    combed = np.flatnonzero(comb.any(axis=1))
    i0, i1 = int(combed[0]), int(combed[-1]) + 1
    r0 = s + 2 * i0
    a, b = max(0, r0 - 3), min(h, s + 2 * i1 + 2)
    interp = cv2.filter2D(np.ascontiguousarray(img[a:b]), -1, _FIELD_TAPS, borderType=cv2.BORDER_REFLECT_101)
    second, where = out[s::2][i0:i1], comb[i0:i1]
    second[where] = interp[r0 - a::2][:i1 - i0][where]
    return out


#: The four taps that interpolate a row from its field's neighbours (rows -3, -1, +1, +3).
_FIELD_TAPS = (np.array([-1, 0, 9, 0, 9, 0, -1], np.float32) / 16).reshape(7, 1)
