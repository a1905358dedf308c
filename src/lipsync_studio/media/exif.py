"""A still photo's EXIF orientation: how a viewer turns the stored picture to show it.

A phone camera stores its sensor's picture as it was read out and records in the JPEG's EXIF which way it was held
(tag 0x0112, Orientation): a portrait photo is stored on its side with "turn 90 degrees clockwise". Viewers, editors
and browsers turn it; the image decoder does not. Read as stored, a portrait photo was synced and written on its
side (the face sideways in the result).

Only the JPEG's own EXIF block is read (APP1, ``Exif\\0\\0``, then the TIFF header and the first IFD's entries).
"""

from __future__ import annotations

import struct
from pathlib import Path

#: EXIF Orientation -> (degrees counter-clockwise the stored picture is turned to show it, mirrored left-right
#: before that). 1: as stored; 3: upside down; 6: turn 90 clockwise; 8: turn 90 counter-clockwise; 2, 4, 5, 7 the
#: same four with a mirror (a front camera's selfie on some phones).
ORIENTATIONS = {1: (0, False), 2: (0, True), 3: (180, False), 4: (180, True),
                5: (90, True), 6: (270, False), 7: (270, True), 8: (90, False)}


def jpeg_orientation(path: str | Path) -> int:
    """The EXIF Orientation (1-8) of a JPEG file, 1 where it has none (or is not a JPEG, or its EXIF is damaged)."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
            if head != b"\xff\xd8":
                return 1
            while True:
                marker = f.read(4)
                if len(marker) < 4 or marker[0] != 0xFF:
                    return 1
                kind, length = marker[1], struct.unpack(">H", marker[2:])[0]
                if kind in (0xDA, 0xD9):  # the picture's data begins: no EXIF before it
                    return 1
                body = f.read(max(length - 2, 0))
                if kind == 0xE1 and body[:6] == b"Exif\x00\x00":
                    return _tiff_orientation(body[6:])
    except OSError:
        return 1


def _tiff_orientation(tiff: bytes) -> int:
    """The Orientation entry of a TIFF block's first IFD (1 where absent or unreadable)."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return 1
    end = "<" if tiff[:2] == b"II" else ">"
    (first,) = struct.unpack(end + "I", tiff[4:8])
    if first + 2 > len(tiff):
        return 1
    (count,) = struct.unpack(end + "H", tiff[first:first + 2])
    for k in range(count):
        at = first + 2 + 12 * k
        if at + 12 > len(tiff):
            return 1
        tag, kind = struct.unpack(end + "HH", tiff[at:at + 4])
        if tag == 0x0112 and kind == 3:  # SHORT, its value in the entry's first two value bytes
            (value,) = struct.unpack(end + "H", tiff[at + 8:at + 10])
            return value if value in ORIENTATIONS else 1
    return 1
