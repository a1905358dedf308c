"""The analysis cache: per-clip results (face tracks, ...) keyed by the clip's content and the settings.

A second run over the same clip, and GUI scrubbing, then cost nothing. The key samples the file's content
(size, start, end and spread-out blocks) rather than its name or date, so a copied or renamed clip still
hits the cache and an edited one does not.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

CACHE_VERSION = "1"


def cache_dir() -> Path:
    """Where cached analyses live: ``$LIPSYNC_STUDIO_CACHE_DIR``, else ``analysis`` in the app's one cache
    folder (:func:`lipsync_studio.settings.cache_dir`, which also holds the app's preview renders)."""
    env = os.environ.get("LIPSYNC_STUDIO_CACHE_DIR")
    if env:
        return Path(env)
    from ..settings import cache_dir as app_cache_dir

    return app_cache_dir() / "analysis"


def content_fingerprint(path: str | Path, block: int = 1 << 16, samples: int = 16) -> str:
    """A hash of a file's size and of blocks spread through it (fast on multi-GB clips)."""
    p = Path(path)
    size = p.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with open(p, "rb") as f:
        offsets = {0, max(0, size - block)} | {size * k // samples for k in range(1, samples)}
        for off in sorted(offsets):
            f.seek(off)
            h.update(f.read(block))
    return h.hexdigest()


def cache_path(kind: str, clip: str | Path, settings_key: str, suffix: str = ".npz") -> Path:
    """The cache file for an analysis ``kind`` of ``clip`` with the given settings."""
    return keyed_path(kind, content_fingerprint(clip), settings_key, suffix)


def keyed_path(kind: str, content_key: str, settings_key: str, suffix: str = ".npz") -> Path:
    """The cache file for an analysis ``kind`` of content known by ``content_key`` (a file's
    :func:`content_fingerprint`, or a hash of data in memory) with the given settings."""
    key = hashlib.sha256("|".join([CACHE_VERSION, kind, content_key, settings_key]).encode())
    return cache_dir() / kind / f"{key.hexdigest()[:32]}{suffix}"


def store(path: Path, write: Callable[[Path], object]) -> bool:
    """Put a cache entry at ``path``: ``write(tmp)`` writes it under a temporary name beside it
    (:func:`~.output.atomic_output`), which is renamed into place when whole. A reader never sees half a file, and
    two processes writing one entry (a batch's jobs for one clip in several languages) each rename a whole file of
    their own. A cache that cannot be written (a full disk, a read-only place) is not an error: nothing is kept,
    nothing is left behind, and the answer is False."""
    from ..errors import OutputError
    from .output import atomic_output

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as tmp:
            write(tmp)
    except (OSError, OutputError):
        return False
    return True
