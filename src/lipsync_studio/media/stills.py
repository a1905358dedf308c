"""Photos in the HEIF family: HEIC (an iPhone's photos since 2017, many Android phones') and AVIF.

FFmpeg reads such a file as a one-frame *video* at 1 frame per second: the result of syncing an iPhone photo was a
1 fps video, its mouth still for a second at a time. A phone's photo is moreover stored as a grid of 512 px tiles
beside a small thumbnail, each a picture of its own to FFmpeg. Pillow reads the whole picture (``pillow-heif`` for
HEIC, Pillow's own AVIF support), turned as the file says (``irot``/``imir``). It is decoded once into an
uncompressed TIFF in the analysis cache (keyed by the file's content), and that TIFF is what the rest of the app
opens in its place (:func:`still_source`, called by :func:`~.container.open_input`): a photo like any other from
there on, named by its own format. Uncompressed: a 12 MP one reads in 0.08 s, as fast as a JPEG, at each of a
sync's several opens (as a PNG 0.46 s, and 1.3 s to write).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..errors import MediaError

#: Major brands of the ``ftyp`` box of a HEIF/AVIF still image, and the format's name (image *sequences*, ``msf1``,
#: ``hevc``, ``avis``, are left to FFmpeg: they are videos).
STILL_BRANDS = {b"heic": "HEIC", b"heix": "HEIC", b"heim": "HEIC", b"heis": "HEIC", b"mif1": "HEIF", b"avif": "AVIF"}
#: Bumped when the decoding changes (the cached pictures are made anew).
_DECODE_VERSION = "2"


def still_format(path: str | Path) -> str | None:
    """``"HEIC"``, ``"HEIF"`` or ``"AVIF"`` when ``path`` is a HEIF-family still image (read from its ``ftyp`` box,
    whatever its name), else None. A generic ``mif1`` file is named by the coding its brands list."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError:
        return None
    if len(head) < 16 or head[4:8] != b"ftyp":
        return None
    kind = STILL_BRANDS.get(head[8:12])
    if kind == "HEIF":
        size = min(int.from_bytes(head[:4], "big"), len(head))
        brands = {head[i:i + 4] for i in range(16, size - 3, 4)}
        kind = "AVIF" if b"avif" in brands else "HEIC" if brands & {b"heic", b"heix"} else kind
    return kind


def _decode(path: Path, kind: str):
    """The picture as a Pillow image (RGB, or RGBA with its alpha), turned as the file says."""
    if kind == "AVIF":
        from PIL import Image, ImageOps

        img = Image.open(path)
        img.load()
        img = ImageOps.exif_transpose(img)  # Pillow gives AVIF's irot/imir as an EXIF orientation
    else:
        import pillow_heif

        # libheif applies the file's rotation and mirror; a 10-bit (HDR) photo comes down to 8 bits.
        img = pillow_heif.open_heif(path, convert_hdr_to_8bit=True).to_pillow()
    return img.convert("RGBA" if "A" in img.getbands() else "RGB")


def still_source(path: Path) -> Path:
    """The file to demux for ``path``: itself, or for a HEIF-family photo the TIFF it is decoded into (once: kept in
    the analysis cache, or in a temporary folder where the cache cannot be written)."""
    kind = still_format(path)
    if kind is None:
        return path
    from .cache import content_fingerprint, keyed_path, store

    out = keyed_path("stills", content_fingerprint(path), f"tiff {_DECODE_VERSION}", ".tif")
    if out.is_file():
        return out
    try:
        img = _decode(path, kind)
    except Exception as exc:  # noqa: BLE001 - a damaged or unsupported file: its own message, said as ours
        said = (str(exc).strip().splitlines() or [""])[0] or type(exc).__name__
        article = "an" if kind == "AVIF" else "a"
        raise MediaError(f"cannot be read as {article} {kind} photo ({said})", path=path,
                         hint="the file is damaged, or of a kind this app cannot read; a JPEG or PNG of it "
                              "can be") from exc
    if not store(out, lambda tmp: img.save(tmp, format="TIFF")):
        out = Path(tempfile.mkdtemp(prefix="lss-still-")) / f"{path.stem}.tif"
        img.save(out, format="TIFF")
    return out
