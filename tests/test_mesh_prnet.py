"""The PRNet mesh backend, switched on by weights in the models folder (made here: random, official layout)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from lipsync_studio.engine.mesh_job import MeshOptions, run_mesh
from lipsync_studio.errors import OptionError
from lipsync_studio.media.writer import VideoFormat, VideoWriter
from lipsync_studio.samples import PHOTO_OPENING, render_face


@pytest.fixture()
def clip(tmp_path):
    path = tmp_path / "face.mp4"
    face = render_face(PHOTO_OPENING, size=256)
    with VideoWriter(path, Fraction(25), 256, 256, fmt=VideoFormat(preset="veryfast")) as w:
        for _ in range(6):
            w.write(face)
    return path


@pytest.fixture()
def models(tmp_path, monkeypatch):
    monkeypatch.setenv("LIPSYNC_STUDIO_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("LIPSYNC_STUDIO_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "models"


def _install_prnet(models):
    import torch

    from lipsync_studio.face.prnet.network import ResFCN256
    from lipsync_studio.face.prnet.synthetic import write_synthetic_uv_data
    from lipsync_studio.face.prnet.weights import TF_CHECKPOINT_NAME, save_tf_checkpoint

    folder = models / "prnet"
    folder.mkdir(parents=True)
    torch.manual_seed(0)
    save_tf_checkpoint(ResFCN256().eval(), folder / TF_CHECKPOINT_NAME)
    write_synthetic_uv_data(folder / "uv-data")


def test_auto_uses_the_built_in_mesh_without_weights_and_prnet_says_what_is_missing(clip, models, tmp_path):
    result = run_mesh(clip, tmp_path / "fm", MeshOptions(end_s=0.08))
    assert result.backend == "facemesh"
    with pytest.raises(OptionError, match="PRNet's weights and uv data are not in"):
        run_mesh(clip, tmp_path / "pr", MeshOptions(backend="prnet"))
    assert not (tmp_path / "pr").exists()


def test_with_weights_present_auto_exports_prnet_meshes(clip, models, tmp_path):
    import trimesh

    _install_prnet(models)
    result = run_mesh(clip, tmp_path / "pr", MeshOptions(end_s=0.12))
    assert result.backend == "prnet" and result.frames == 3
    tm = trimesh.load(tmp_path / "pr" / "frame_000002.obj", process=False, force="mesh")
    assert len(tm.vertices) == 43867 and tm.visual.kind == "texture"
    assert np.isfinite(tm.vertices).all()
