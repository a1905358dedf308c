"""`eval`: the weight-free sync measure always; the expert's cosine and LSE-D/C when their weights exist."""

from __future__ import annotations

import json

import pytest
import torch

from lipsync_studio.cli import main
from lipsync_studio.demo import make_dub, make_talking_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("eval")
    return make_talking_clip(folder / "clip.mp4", syllables=6, size=192)["path"], \
        make_dub(folder / "dub.wav", syllables=6)["path"]


def _install_syncnets(models):
    from lipsync_studio.sync.syncnet_v2 import SyncNetV2
    from lipsync_studio.sync.wav2lip.checkpoint import save_checkpoint
    from lipsync_studio.sync.wav2lip.syncnet import SyncNetColor

    models.mkdir(parents=True)
    torch.manual_seed(0)
    save_checkpoint(SyncNetColor().eval(), models / "lipsync_expert.pth", "training")
    torch.save(SyncNetV2().eval().state_dict(), models / "syncnet_v2.model")


def test_eval_reports_the_sync_of_a_video_and_the_syncnet_measures_once_weights_are_there(clip, tmp_path,
                                                                                          monkeypatch, capsys):
    import lipsync_studio.sync.phones as phones

    video, dub = clip
    heard, real = [], phones.recognize_phones_async
    monkeypatch.setattr(phones, "recognize_phones_async", lambda *sounds: heard.append(len(sounds)) or real(*sounds))
    monkeypatch.setenv("LIPSYNC_STUDIO_MODELS_DIR", str(tmp_path / "models"))
    assert main(["-q", "eval", str(video), "--json"]) == 0
    own = json.loads(capsys.readouterr().out)
    assert abs(own["offset_frames"]) <= 2 and own["confidence"] > 0.3
    assert own["expert_cosine"] is None and own["lse_d"] is None
    assert main(["-q", "eval", str(video), "--dub", str(dub), "--json"]) == 0
    other = json.loads(capsys.readouterr().out)
    assert other["correlation"] < own["correlation"]  # its own sound fits it better than a foreign dub
    _install_syncnets(tmp_path / "models")
    assert main(["-q", "eval", str(video)]) == 0
    line = capsys.readouterr().out
    assert "expert cosine" in line and "LSE-D" in line and "LSE-C" in line
    assert heard == [1, 1]  # the video's own sound and the dub; measured again, the video's phones were kept
