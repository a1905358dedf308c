"""Cheap checks that a file is what the manifest says it is, without loading any framework.

Loading a checkpoint properly is the network code's job (``torch.load`` with ``weights_only``); here we only
catch the everyday mistakes before a 400 MB file is copied: the wrong file picked, a failed download saved
as a web page, a truncated copy.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable
from pathlib import Path

from .manifest import WeightFile

#: LevelDB/TensorFlow table footer magic (fixed64, little-endian) that ends every ``.index`` file.
_TF_INDEX_MAGIC = (0xDB4775248B80FB57).to_bytes(8, "little")
_CHUNK = 4 << 20


def _looks_like_html(head: bytes) -> bool:
    start = head.lstrip()[:64].lower()
    return start.startswith((b"<!doctype html", b"<html", b"<head", b"<?xml"))


def check_format(path: Path, spec: WeightFile) -> str | None:
    """Say what is wrong with ``path`` as a ``spec.format`` file, or return None when it looks right.

    The answer is a sentence for the user (no path in it; the caller names the file).
    """
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(4096)
            if size >= 8:
                fh.seek(size - 8)
                tail = fh.read(8)
            else:
                tail = b""
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if size == 0:
        return "is empty"
    if _looks_like_html(head):
        return ("is a web page, not model weights: the download did not finish "
                "(the link may need to be opened in a browser)")
    if size < spec.min_bytes:
        return f"is too small to be these weights ({size:,} bytes)"
    if spec.size is not None and size != spec.size:
        return f"has {size:,} bytes where the published file has {spec.size:,}: it is another file or incomplete"
    fmt = spec.format
    if fmt == "torch":
        if head[:4] == b"PK\x03\x04":
            try:
                with zipfile.ZipFile(path) as zf:
                    names = zf.namelist()
            except (zipfile.BadZipFile, OSError):
                return "is a damaged PyTorch file (its archive cannot be read; the copy may be incomplete)"
            if not any(n.endswith(("/data.pkl", "/constants.pkl")) for n in names):
                return "is a zip archive but not a PyTorch checkpoint"
            return None
        if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
            return None  # the legacy (pre-1.6) torch.save format: a pickle stream
        return "is not a PyTorch checkpoint"
    if fmt == "tf-index":
        return None if tail == _TF_INDEX_MAGIC else "is not a TensorFlow checkpoint index (.index)"
    if fmt == "npy":
        return None if head.startswith(b"\x93NUMPY") else "is not a NumPy array file (.npy)"
    if fmt == "text":
        if b"\x00" in head:
            return "is binary where a text file is expected"
        return None
    return None


def sha256_of(path: Path, on_progress: Callable[[int, int], None] | None = None) -> str:
    """Hex SHA-256 of a file, read in 4 MiB chunks; ``on_progress(done_bytes, total_bytes)`` after each."""
    h = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
            done += len(chunk)
            if on_progress is not None:
                on_progress(done, total)
    return h.hexdigest()
