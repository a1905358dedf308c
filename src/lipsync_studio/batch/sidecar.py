"""The sidecar: ``DIR/<clip>/<clip>_<lang>.json``, written last, is a job's "done" marker.

It records what the result was made from (each input's size, modification time and a hash of blocks spread
through it), with which options and settings, by which app version, on which node, after how many attempts,
how long it took, the sync measure and the warnings. A re-run skips a job whose sidecar still matches: same
inputs (size and hash), same options and settings, outputs present with their recorded sizes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .manifest import BatchJob

SIDECAR_VERSION = 1


def fingerprint(path: Path) -> dict[str, Any]:
    """``path``, ``size`` (bytes), ``mtime`` (s since the epoch) and ``hash`` (size + spread-out blocks)."""
    from ..media.cache import content_fingerprint

    st = path.stat()
    return {"path": str(path), "size": st.st_size, "mtime": round(st.st_mtime, 3),
            "hash": content_fingerprint(path)[:32]}


def input_fingerprints(job: BatchJob) -> dict[str, dict[str, Any]]:
    """Every input file's fingerprint, by role."""
    return {role: fingerprint(p) for role, p in job.inputs.items()}


def sidecar_path(out_dir: Path, job: BatchJob) -> Path:
    """Where the job's sidecar lives."""
    return out_dir / job.clip / f"{job.key}.json"


def read_sidecar(path: Path) -> dict[str, Any] | None:
    """The sidecar's data, or None when missing or unreadable (a job without a readable sidecar is not done)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("sidecar_version") == SIDECAR_VERSION else None


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to a temporary name beside ``path``, flush it to disk, then rename it into place."""
    from ..media.output import temporary_sibling

    tmp = temporary_sibling(path)
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, allow_nan=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def why_not_done(job: BatchJob, out_dir: Path, settings: dict[str, Any]) -> str | None:
    """None when the job's sidecar matches its inputs, options and settings and its outputs are there;
    otherwise why the job must run (``"new"``, ``"dub changed"``, ...)."""
    data = read_sidecar(sidecar_path(out_dir, job))
    if data is None:
        return "new"
    if data.get("options") != job.plain_options():
        return "options changed"
    if data.get("settings") != settings:
        return "settings changed"
    old = data.get("inputs", {})
    if set(old) != set(job.inputs):
        return "inputs changed"
    for role, p in job.inputs.items():
        was = old[role]
        try:
            st = p.stat()
        except OSError:
            return f"{role} missing"
        if was.get("path") != str(p) or was.get("size") != st.st_size:
            return f"{role} changed"
        if was.get("mtime") != round(st.st_mtime, 3) and fingerprint(p)["hash"] != was.get("hash"):
            return f"{role} changed"
    for out in data.get("outputs", []):
        f = out_dir / job.clip / out["name"]
        if not f.is_file() or f.stat().st_size != out["size"]:
            return "output missing"
    return None
