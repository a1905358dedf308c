"""Which files are clips and which are dubs (by extension), for file dialogs, drops and the command line."""

from __future__ import annotations

from pathlib import Path

VIDEO_EXTS = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts")
#: A still photo is a clip too (a portrait made to speak): it has no sound, so it is never the dub.
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif", ".hif", ".avif")
AUDIO_EXTS = (".wav", ".mp3", ".flac", ".m4a", ".aac", ".ogg", ".opus", ".aif", ".aiff", ".wma")

VIDEO_FILTER = ("Video or photo (" + " ".join(f"*{e}" for e in VIDEO_EXTS + IMAGE_EXTS) + ");;Video (" +
                " ".join(f"*{e}" for e in VIDEO_EXTS) + ");;All files (*)")
AUDIO_FILTER = ("Audio or video with sound (" + " ".join(f"*{e}" for e in AUDIO_EXTS + VIDEO_EXTS) +
                ");;All files (*)")


def sort_dropped(paths: list[str], have_clip: bool) -> tuple[str | None, str | None]:
    """Decide which of ``paths`` is the clip and which the dub.

    Videos go to the clip and audio files to the dub. With two videos, the first is the clip and the second
    the dub (its sound). A lone video replaces the clip, and so does a photo (it has no sound: never the dub);
    unknown extensions are tried as the clip when there is none yet, else as the dub.
    """
    clip = dub = None
    for p in paths:
        ext = Path(p).suffix.lower()
        if ext in IMAGE_EXTS:
            clip = clip or p
        elif ext in AUDIO_EXTS:
            dub = dub or p
        elif ext in VIDEO_EXTS:
            if clip is None:
                clip = p
            elif dub is None:
                dub = p
        elif clip is None and not have_clip:
            clip = p
        elif dub is None:
            dub = p
    return clip, dub
