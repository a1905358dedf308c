"""Model weights: the manifest of files the app can use, and the models folder that holds them.

No Qt here: features ask :func:`weight_path` for a file (None means "not installed: use the built-in
fallback"), the Models dialog shows :meth:`ModelRegistry.statuses` and calls
:meth:`ModelRegistry.add_from_file`.
"""

from __future__ import annotations

from pathlib import Path

from .manifest import ModelSpec, WeightFile, load_manifest
from .registry import Checksum, FileStatus, ModelRegistry, ModelState, ModelStatus, default_models_dir

__all__ = [
    "Checksum", "FileStatus", "ModelRegistry", "ModelSpec", "ModelState", "ModelStatus", "WeightFile",
    "default_models_dir", "load_manifest", "weight_path",
]


def weight_path(model_id: str, models_dir: str | Path | None = None) -> Path | None:
    """The main file of ``model_id`` when all its files are present and look right, else None."""
    return ModelRegistry(models_dir).path_for(model_id)
