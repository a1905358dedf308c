"""Opening media files with PyAV, turning every way a file can be unreadable into a clear error."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import MediaError

if TYPE_CHECKING:  # pragma: no cover
    import av.container


#: A frame-numbered name pattern (``%04d``, ``%d``, ``####``, ``$F4``): a VFX image sequence named as its tools name it.
SEQUENCE_NAME = re.compile(r"%0?\d*d|#{2,}|\$F\d?")
#: What an image sequence's frames are (``shot.0001.dpx``: a number of three digits or more in the name).
SEQUENCE_SUFFIXES = (".dpx", ".exr", ".png", ".tif", ".tiff", ".jpg", ".jpeg")


def _first(folder: Path, n: int = 8) -> list[Path]:
    """Up to ``n`` entries of ``folder`` (never the whole of a folder of 100,000 frames)."""
    out = []
    try:
        for entry in folder.iterdir():
            out.append(entry)
            if len(out) >= n:
                break
    except OSError:
        pass
    return out


def check_readable(path: str | Path) -> Path:
    """Return ``path`` as a Path after checking that it names a non-empty, readable file.

    Raises
    ------
    MediaError
        The file does not exist, is a folder, is empty or cannot be read.
    """
    p = Path(path)
    if not p.exists():
        if SEQUENCE_NAME.search(p.name):  # shot.%04d.png, shot.####.dpx: a VFX image sequence's pattern
            raise MediaError("image sequences are not read", path=p, hint="make one video of the frames first (e.g. "
                             "ffmpeg -framerate 24 -i 'shot.%04d.png' -c:v prores_ks shot.mov); one image alone "
                             "is read as a still photo")
        raise MediaError("no such file", path=p, hint="check the path")
    if p.is_dir():
        if any(c.suffix.lower() in SEQUENCE_SUFFIXES and re.search(r"\d{3,}", c.stem) for c in _first(p)):
            raise MediaError("is a folder of images: image sequences are not read", path=p,
                             hint="make one video of the frames first (e.g. ffmpeg -framerate 24 -i "
                             "'shot.%04d.png' -c:v prores_ks shot.mov)")
        raise MediaError("is a folder, not a media file", path=p)
    if p.stat().st_size == 0:
        raise MediaError("the file is empty (0 bytes)", path=p, hint="the copy or download may have failed")
    if not os.access(p, os.R_OK):
        raise MediaError("the file cannot be read (permission denied)", path=p)
    return p


def open_input(path: str | Path) -> "av.container.InputContainer":
    """Open a media file for reading.

    Parameters
    ----------
    path:
        Any file FFmpeg can demux (mp4, mov, mkv, webm, avi, wav, mp3, flac, m4a, ogg, ...), or a HEIC/AVIF photo
        (:func:`~.stills.still_source`).

    Raises
    ------
    MediaError
        The file is missing, empty, not a media file, or its index is missing (a recording that
        was cut off before it finished and whose index sat at the end of the file).
    """
    import av

    from .stills import still_source

    p = check_readable(path)
    source = still_source(p)  # a HEIC/AVIF photo: the TIFF it is decoded into
    try:
        return av.open(str(source), mode="r", metadata_errors="replace")
    except av.error.InvalidDataError as exc:
        hint = "it is not a media file, or it is damaged"
        if p.suffix.lower() in {".mp4", ".mov", ".m4a", ".m4v", ".3gp"}:
            hint = (
                "it is not a media file, or it is damaged; an MP4/MOV cut off before its index "
                "was written cannot be read"
            )
        raise MediaError("cannot be read as audio or video", path=p, hint=hint) from exc
    except av.error.FFmpegError as exc:
        raise MediaError(f"cannot be opened ({exc.strerror or exc})", path=p) from exc


#: FFmpeg's disposition bit of a picture attached to a file (an MP3's or an MP4's cover art), not a video.
_ATTACHED_PIC = 0x400


def picture_stream(container):
    """The container's moving picture: its first video stream that is not an attached picture (the cover art an
    MP3 or an MP4 carries as a one-frame "video" stream), or None. A dub exported with cover art was refused by
    ``probe`` as "no readable video frames (the file is damaged or empty)", and a clip whose cover art comes first
    would have been read as that one picture."""
    for stream in container.streams.video:
        if not is_attached_picture(stream):
            return stream
    return None


def is_attached_picture(stream) -> bool:
    """Whether a video stream is a picture attached to the file (cover art), not a moving picture."""
    return bool(int(stream.disposition) & _ATTACHED_PIC)
