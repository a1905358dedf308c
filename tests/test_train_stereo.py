"""The stereo cycle lip-sync training: data from our own 2D→stereo clips, losses, resumable training, export."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from lipsync_studio.demo import make_talking_clip
from lipsync_studio.stereo.stereoize import stereoize
from lipsync_studio.sync.stereo_cycle.model import StereoCycleConfig, StereoCycleModel, f_w
from lipsync_studio.sync.stereo_cycle.predictor import load_stereo_cycle
from lipsync_studio.train.stereo_cycle.dataset import StereoFaceDataset, prepare
from lipsync_studio.train.stereo_cycle.losses import TERMS, LossWeights
from lipsync_studio.train.stereo_cycle.train import TrainConfig, Trainer

TINY = StereoCycleConfig(generator="tiny", disp_channels=8)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def stereo_data(tmp_path_factory):
    """A prepared dataset from one ~1.5 s synthetic talking clip converted to full SBS."""
    folder = tmp_path_factory.mktemp("stereo_train")
    # Module-scoped: set up before the per-test cache isolation, so isolate the analysis cache here.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LIPSYNC_STUDIO_CACHE_DIR", str(folder / "analysis-cache"))
        make_talking_clip(folder / "talk.mp4", syllables=4, size=160)
        sbs = stereoize(folder / "talk.mp4", folder / "talk_sbs.mp4").output
        prepare([sbs], folder / "data")
    return folder / "data"


def test_prepare_writes_documented_shards_of_both_eyes(stereo_data):
    index = json.loads((stereo_data / "index.json").read_text())
    assert index["format"] == "lipsync-studio/stereo-faces" and index["version"] == 1
    (shard,) = index["shards"]
    with np.load(stereo_data / shard["file"], allow_pickle=False) as z:
        n = len(z["frame"])
        assert n == shard["frames"] > 20
        assert z["left"].shape == z["right"].shape == (n, 96, 96, 3) and z["left"].dtype == np.uint8
        assert z["mel"].shape == (n, 80, 16) and z["mel"].dtype == np.float32
        assert np.all(np.diff(z["frame"]) > 0)
        # The right crop is cut with the left box: the face is shifted, not identical.
        assert np.abs(z["left"].astype(int) - z["right"].astype(int)).mean() > 1.0
    ds = StereoFaceDataset(stereo_data)
    item = ds[0]
    assert item["faces"].shape == (5, 6, 96, 96) and item["mel"].shape == (5, 1, 80, 16)
    assert item["left"].shape == item["right"].shape == (5, 3, 96, 96)
    assert float(item["faces"][:, :3, 48:].abs().max()) == 0.0  # lower half masked


def test_torch_warp_matches_the_numpy_warp():
    from lipsync_studio.stereo.warp import f_w as f_w_np

    rng = np.random.default_rng(0)
    img = rng.random((12, 20, 3)).astype(np.float32)
    d = rng.uniform(-3, 3, (12, 20)).astype(np.float32)
    ours = f_w(torch.from_numpy(d)[None], torch.from_numpy(img.transpose(2, 0, 1))[None])[0].numpy()
    # cv2.remap (the numpy warp) quantises the bilinear weights to 1/32: agreement to that precision ...
    np.testing.assert_allclose(ours.transpose(1, 2, 0), f_w_np(d, img), atol=1 / 64)
    # ... and exact against plain per-row linear interpolation with clamped edges.
    xs = np.arange(20)
    exact = np.stack([[np.interp(xs + d[y], xs, img[y, :, c]) for c in range(3)] for y in range(12)])
    np.testing.assert_allclose(ours.transpose(1, 0, 2), exact, atol=1e-5)


def test_training_terms_are_finite_and_the_total_falls_on_a_fixed_batch(stereo_data, tmp_path):
    trainer = Trainer(StereoFaceDataset(stereo_data), tmp_path, TrainConfig(steps=15, batch=2, lr=1e-3),
                      TINY)
    batch = trainer.batch([0, 1])
    logs = [trainer.step(batch) for _ in range(15)]
    for log in logs:
        assert all(math.isfinite(log[k]) for k in (*TERMS, "total", "disc"))
    first, last = np.mean([g["total"] for g in logs[:3]]), np.mean([g["total"] for g in logs[-3:]])
    assert last < 0.85 * first, [round(g["total"], 4) for g in logs]


def test_a_resumed_run_continues_bit_for_bit(stereo_data, tmp_path):
    data = StereoFaceDataset(stereo_data)
    config = TrainConfig(steps=3, batch=2, lr=1e-3, checkpoint_every=2, weights=LossWeights(sync=0.1))
    straight = Trainer(data, tmp_path / "a", config, TINY)
    straight.run()
    first = Trainer(data, tmp_path / "b", TrainConfig(**{**config.__dict__, "steps": 2}), TINY)
    first.run()
    resumed = Trainer(data, tmp_path / "b", config, StereoCycleConfig())  # the checkpoint's model config wins
    assert resumed.step_no == 2
    log = resumed.run()
    assert [g["step"] for g in log] == [3]
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert all(torch.equal(x, y) for x, y in zip(straight.d_left.state_dict().values(),
                                                 resumed.d_left.state_dict().values()))
    lines = (tmp_path / "a" / "log.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["total"] == log[-1]["total"]


def test_the_exported_model_loads_and_makes_both_faces(stereo_data, tmp_path):
    trainer = Trainer(StereoFaceDataset(stereo_data), tmp_path, TrainConfig(steps=1, batch=1), TINY)
    trainer.run()
    predictor = load_stereo_cycle(trainer.export())
    with np.load(next(stereo_data.glob("*.npz")), allow_pickle=False) as z:
        crops, mels, rights = z["left"][:3], z["mel"][:3], z["right"][:3]
    from lipsync_studio.sync.wav2lip.preprocess import face_input, mel_input

    left, right = predictor.forward(face_input(crops), mel_input(mels))
    assert left.shape == right.shape == (3, 3, 96, 96) and left.dtype == np.float32
    assert 0.0 <= left.min() and left.max() <= 1.0
    left_u8, right_u8 = predictor.predict(crops, mels, right_crops=rights)
    assert left_u8.shape == right_u8.shape == (3, 96, 96, 3) and right_u8.dtype == np.uint8
    made, disparity = predictor.right_face(left_u8, rights)
    assert made.shape == (3, 96, 96, 3) and disparity.shape == (3, 96, 96)
    assert np.all((disparity >= 0) & (disparity <= 0.3 * 96))


def test_a_wrong_file_is_refused_in_words(tmp_path):
    from lipsync_studio.sync.wav2lip.checkpoint import CheckpointError

    torch.save({"state_dict": StereoCycleModel(TINY).g_l.state_dict()}, tmp_path / "x.pt")
    with pytest.raises(CheckpointError, match="not a stereo cycle model"):
        load_stereo_cycle(tmp_path / "x.pt")


@pytest.mark.slow
def test_one_step_with_the_papers_wav2lip_generator(stereo_data, tmp_path):
    trainer = Trainer(StereoFaceDataset(stereo_data), tmp_path, TrainConfig(steps=1, batch=1),
                      StereoCycleConfig(disp_channels=8))
    log = trainer.step()
    assert all(math.isfinite(log[k]) for k in (*TERMS, "total", "disc"))


def test_the_train_commands_prepare_train_and_export(stereo_data, tmp_path, capsys):
    import argparse

    from lipsync_studio.errors import OptionError
    from lipsync_studio.train.stereo_cycle.cli import add_train_stereo_command

    parser = argparse.ArgumentParser()
    add_train_stereo_command(parser.add_subparsers(dest="train"))
    args = parser.parse_args(["stereo", str(stereo_data), "-o", str(tmp_path), "--steps", "1", "--batch-size", "1",
                              "--generator", "tiny"])
    with pytest.raises(OptionError, match="expert"):
        args.func(args)
    args = parser.parse_args(["stereo", str(stereo_data), "-o", str(tmp_path), "--steps", "1", "--batch-size", "1",
                              "--generator", "tiny", "--w-sync", "0", "--w-cycle-l1", "0.5"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "sync=" in out and "cycle_l1=" in out and "stereo_cycle.pt" in out
    assert load_stereo_cycle(tmp_path / "stereo_cycle.pt").model.config.generator == "tiny"
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert saved["train"]["weights"]["cycle_l1"] == 0.5 and saved["train"]["weights"]["sync"] == 0.0
    args = parser.parse_args(["prepare", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "data")])
    assert args.func is not None


# --- mixed precision and throughput -----------------------------------------------------------------------------
# bf16 convolutions on a CPU without bf16 instructions run ~10x slower than fp32, and the SyncNet expert and the
# PatchGAN discriminators dominate a tiny step: these tests swap in small ones (same contracts).


class _SmallExpert(torch.nn.Module):
    """The SyncNet expert's contract, ``(mel (B,1,80,16), faces (B,15,48,96)) → unit embeddings``, in two convs."""

    def __init__(self) -> None:
        super().__init__()
        self.face = torch.nn.Sequential(torch.nn.Conv2d(15, 4, 3, 4, 1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(2))
        self.audio = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, 4, 1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(2))

    def forward(self, mel: torch.Tensor, faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        norm = torch.nn.functional.normalize
        return norm(self.audio(mel).flatten(1), dim=1), norm(self.face(faces).flatten(1), dim=1)


@pytest.fixture
def small_critics(monkeypatch):
    """A small frozen expert and 4-channel discriminators inside the Trainer."""
    import functools

    from lipsync_studio.sync.stereo_cycle.model import PatchDiscriminator
    from lipsync_studio.train.stereo_cycle import train as train_module

    def expert(path, seed):
        torch.manual_seed(seed + 1)
        net = _SmallExpert().eval()
        for p in net.parameters():
            p.requires_grad_(False)
        return net

    monkeypatch.setattr(train_module, "_expert", expert)
    monkeypatch.setattr(train_module, "PatchDiscriminator", functools.partial(PatchDiscriminator, 4))


SMALL = StereoCycleConfig(generator="tiny", disp_channels=4)


def test_bf16_terms_are_finite_and_the_total_falls_on_a_fixed_batch(stereo_data, tmp_path, small_critics):
    data = StereoFaceDataset(stereo_data)
    config = TrainConfig(steps=6, batch=1, lr=2e-3, weights=LossWeights(sync=0.1))
    trainer = Trainer(data, tmp_path / "bf16", TrainConfig(**{**config.__dict__, "amp": "bf16"}), SMALL)
    assert trainer.precision.mode == "bf16" and trainer.precision.scaler is None
    batch = trainer.batch([0])
    logs = [trainer.step(batch) for _ in range(6)]
    for log in logs:
        assert all(math.isfinite(log[k]) for k in (*TERMS, "total", "disc"))
    first, last = np.mean([g["total"] for g in logs[:2]]), np.mean([g["total"] for g in logs[-2:]])
    assert last < 0.9 * first, [round(g["total"], 4) for g in logs]
    # The networks really ran in bf16: the first step's numbers are near fp32's but not equal to them.
    fp32 = Trainer(data, tmp_path / "fp32", TrainConfig(**{**config.__dict__, "amp": "off"}), SMALL).step(batch)
    assert logs[0]["total"] != fp32["total"] and logs[0]["total"] == pytest.approx(fp32["total"], rel=0.02)
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_a_mixed_precision_run_resumes_bit_for_bit(stereo_data, tmp_path, small_critics, monkeypatch, amp):
    from lipsync_studio.train import amp as amp_module

    if amp == "fp16":  # CUDA's fp16 + shared gradient scaler path, exercised on the CPU (which the CLI refuses)
        monkeypatch.setattr(amp_module, "FP16_DEVICES", ("cuda", "cpu"))
    data = StereoFaceDataset(stereo_data)
    config = TrainConfig(steps=3, batch=1, lr=1e-3, checkpoint_every=2, weights=LossWeights(sync=0.1), amp=amp)
    straight = Trainer(data, tmp_path / "a", config, SMALL)
    straight.run()
    Trainer(data, tmp_path / "b", TrainConfig(**{**config.__dict__, "steps": 2}), SMALL).run()
    resumed = Trainer(data, tmp_path / "b", config, SMALL)
    assert resumed.step_no == 2 and resumed.precision.mode == amp
    resumed.run()
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert all(torch.equal(x, y) for x, y in zip(straight.d_right.state_dict().values(),
                                                 resumed.d_right.state_dict().values()))
    saved = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    assert saved["amp"] == amp and saved["train"]["amp"] == amp
    if amp == "fp16":  # one scaler, updated once per step, went on from its saved state
        assert saved["scaler"] == straight.precision.state_dict()
        # The first step overflowed at the initial scale 2^16 and was skipped; the two after it were taken.
        assert (saved["scaler"]["scale"], saved["scaler"]["_growth_tracker"]) == (2.0**15, 2)
    else:
        assert saved["scaler"] == {}
    start = json.loads((tmp_path / "b" / "log.jsonl").read_text().splitlines()[-2])
    assert start == {"event": "start", "step": 2, "device": "cpu", "amp": amp}
    exported = torch.load(resumed.export(), weights_only=True)["state_dict"]
    assert {v.dtype for v in exported.values() if v.is_floating_point()} == {torch.float32}


def test_train_stereo_bench_prints_samples_per_second_and_fp16_needs_cuda(stereo_data, tmp_path, capsys):
    import argparse
    import re

    from lipsync_studio.errors import OptionError
    from lipsync_studio.train.stereo_cycle.cli import add_train_stereo_command

    parser = argparse.ArgumentParser()
    add_train_stereo_command(parser.add_subparsers(dest="train"))
    out = tmp_path / "bench"
    common = ["stereo", str(stereo_data), "-o", str(out), "--batch-size", "1", "--generator", "tiny", "--w-sync", "0"]
    args = parser.parse_args([*common, "--bench-steps", "2", "--bench-warmup", "1", "--amp", "off"])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    match = re.search(r"stereo: ([\d.e+]+) samples/s \(runs of 5 frames\), ([\d.e+-]+) s/step over 2 steps after "
                      r"1 warm-up; device cpu, amp off, peak memory (\d+) MiB", printed)
    assert match, printed
    assert float(match[1]) == pytest.approx(1 / float(match[2]), rel=0.01)
    assert not out.exists()  # no checkpoint, no log, no export
    if not torch.cuda.is_available():
        args = parser.parse_args([*common, "--amp", "fp16"])
        with pytest.raises(OptionError, match="fp16 needs a CUDA GPU"):
            args.func(args)
        assert not out.exists()
