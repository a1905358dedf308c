"""The manifest: which weight files the app can use, what each is for, its licence and where to get it.

The manifest ships inside the package (``weights/manifest.json``, found with ``importlib.resources``, so an
installed or frozen app has it too); a checkout shows the same file as ``models/manifest.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

#: File formats the manifest names, and what a file of that format looks like (see :mod:`.validate`).
FORMATS = ("torch", "tf-index", "binary", "text", "npy")


@dataclass(frozen=True)
class WeightFile:
    """One file a model needs.

    Attributes
    ----------
    path: where it goes, relative to the models folder (``/`` separated).
    format: one of :data:`FORMATS`.
    size: exact size in bytes when the publisher's file is pinned, else None.
    sha256: hex digest when pinned, else None (the app records one when the file is added).
    min_bytes: smaller files are rejected (a failed download saved as a tiny HTML page is the usual case).
    approx_mb: a size to tell the user, when the exact size is not pinned.
    also_named: other names the same weights are published under (accepted by "Add from file").
    """

    path: str
    format: str
    size: int | None = None
    sha256: str | None = None
    min_bytes: int = 1
    approx_mb: float | None = None
    also_named: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The file's own name (last path part)."""
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ModelSpec:
    """A model the app can use: one or more files, and the words a user needs about it.

    Attributes
    ----------
    id: stable key (``"wav2lip"``) that features ask the registry for.
    name: what the user sees (``"Wav2Lip-GAN"``).
    network: the network and its paper.
    used_for: what switches on when the weights are present.
    licence: the terms, in a sentence.
    source: where a user gets the files, in words.
    source_url: a link, or ``""``.
    files: every file needed.
    """

    id: str
    name: str
    network: str
    used_for: str
    licence: str
    source: str
    source_url: str
    files: tuple[WeightFile, ...]


def _file_from(data: dict[str, Any]) -> WeightFile:
    fmt = data.get("format", "binary")
    if fmt not in FORMATS:
        raise ValueError(f"unknown weight format {fmt!r} for {data.get('path')!r}")
    return WeightFile(
        path=str(data["path"]), format=fmt, size=data.get("size"), sha256=data.get("sha256"),
        min_bytes=int(data.get("min_bytes", 1)), approx_mb=data.get("approx_mb"),
        also_named=tuple(data.get("also_named", ())),
    )


def parse_manifest(data: dict[str, Any]) -> tuple[ModelSpec, ...]:
    """Models described by manifest data (the parsed JSON)."""
    models = []
    for m in data["models"]:
        models.append(ModelSpec(
            id=m["id"], name=m["name"], network=m.get("network", ""), used_for=m.get("used_for", ""),
            licence=m.get("licence", ""), source=m.get("source", ""), source_url=m.get("source_url", ""),
            files=tuple(_file_from(f) for f in m["files"]),
        ))
    ids = [m.id for m in models]
    if len(set(ids)) != len(ids):
        raise ValueError("model ids in the manifest must be unique")
    return tuple(models)


def load_manifest() -> tuple[ModelSpec, ...]:
    """The models of the manifest that ships with the app."""
    text = resources.files(__package__).joinpath("manifest.json").read_text(encoding="utf-8")
    return parse_manifest(json.loads(text))
