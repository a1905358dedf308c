"""PRNet fine-tuning: position maps rendered from our meshes, the paper's loss masks, training, resume, loading."""

from __future__ import annotations

import argparse
import json
import re

import numpy as np
import pytest
import torch

from lipsync_studio.face.prnet.uv_data import load_uv_data
from lipsync_studio.train.prnet.dataset import PositionMapDataset, augment, list_pairs, read_pair, split_pairs
from lipsync_studio.train.prnet.render import render_training_pairs
from lipsync_studio.train.prnet_finetune import (
    FinetuneSettings,
    WeightedPositionLoss,
    add_train_prnet_command,
    finetune,
    learning_rate,
    nme,
)

TINY = dict(base_channels=2, augment=False, holdout=0.3, halve_every=5, eval_every=0)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Three pairs rendered from our face meshes of a synthetic talking clip, with the synthetic uv-data."""
    folder = tmp_path_factory.mktemp("posmaps")
    result = render_training_pairs(folder, n_frames=3, size=256, every=4)
    return folder, result


def test_rendered_pairs_have_the_300wlp_format_and_key_points_on_our_landmarks(data):
    folder, result = data
    pairs = list_pairs(folder)
    assert len(pairs) == 3 and result["coverage"] > 0.5
    uv = load_uv_data(result["uv_dir"])
    image, pos = read_pair(pairs[0])
    assert image.shape == pos.shape == (256, 256, 3) and image.dtype == pos.dtype == np.float32
    face = pos[uv.face_mask]
    assert np.isfinite(pos).all() and face[:, 2].min() == 0 and (pos[~uv.face_mask] == 0).all()
    kpt = pos[uv.kpt_ind[1], uv.kpt_ind[0]]
    # The face sits inside the crop; the mouth below the eyes, the chin (8) below the mouth.
    assert (face[:, :2] > 0).all() and (face[:, :2] < 256).all()
    assert kpt[36:48, 1].mean() < kpt[48:68, 1].mean() < kpt[8, 1]
    assert kpt[36, 0] < kpt[45, 0] and kpt[48, 0] < kpt[54, 0]


def test_split_is_by_file_deterministic_and_disjoint(data):
    folder, _ = data
    pairs = list_pairs(folder)
    train, held = split_pairs(pairs, 0.3, root=folder)
    again = split_pairs(list(reversed(pairs)), 0.3, root=folder)
    assert (train, held) == again and len(held) == 1 and not set(train) & set(held)
    # Batches: every pair once per epoch; a batch is a function of (seed, epoch, index) alone.
    dataset = PositionMapDataset(train)
    first = [dataset.batch(0, i, 1, seed=5) for i in range(len(dataset))]
    images, positions = dataset.batch(0, 1, 1, seed=5)
    assert images.shape == positions.shape == (1, 3, 256, 256)
    assert np.array_equal(images, first[1][0]) and np.array_equal(positions, first[1][1])
    assert not np.array_equal(dataset.batch(1, 1, 1, seed=5)[0], images)


def test_augmentation_rotates_image_and_position_map_together(data):
    folder, result = data
    uv = load_uv_data(result["uv_dir"])
    image, pos = read_pair(list_pairs(folder)[0])
    rng = np.random.default_rng(4)
    image2, pos2 = augment(image, pos, rng)
    angle = np.random.default_rng(4).uniform(-45, 45)
    assert abs(angle) > 5
    # Rotation about the crop centre: distances to the centre are kept, z untouched.
    c = 127.5
    kp, kp2 = pos[uv.kpt_ind[1], uv.kpt_ind[0]], pos2[uv.kpt_ind[1], uv.kpt_ind[0]]
    np.testing.assert_allclose(np.hypot(*(kp2[:, :2] - c).T), np.hypot(*(kp[:, :2] - c).T), rtol=1e-4)
    np.testing.assert_array_equal(pos2[..., 2], pos[..., 2])
    turned = np.degrees(np.arctan2(kp2[:, 1] - c, kp2[:, 0] - c) - np.arctan2(kp[:, 1] - c, kp[:, 0] - c))
    turned = (turned + 180) % 360 - 180
    np.testing.assert_allclose(turned, -angle, atol=1e-3)  # cv2's positive angle turns anticlockwise on screen
    # The image moved with the map: the pixel under a key point in the rotated image is the original's.
    for k in (30, 8):
        x2, y2 = np.round(kp2[k, :2]).astype(int)
        x, y = np.round(kp[k, :2]).astype(int)
        ratio = image2[y2, x2] / np.maximum(image[y, x], 1e-3)
        assert np.all((ratio > 0.45) & (ratio < 1.6))
    assert image2.min() >= 0 and image2.max() <= 1


def test_mouth_mask_weighs_the_mouth_10_against_4_in_the_original(data):
    _, result = data
    uv = load_uv_data(result["uv_dir"])
    mouth, original = WeightedPositionLoss(uv, "mouth"), WeightedPositionLoss(uv, "original")
    in_mouth = mouth.region_weights["mouth"] > 0
    assert in_mouth.sum() > 100
    assert torch.all(mouth.weights[in_mouth] == 10 / 16) and torch.all(original.weights[in_mouth] == 4 / 16)
    assert torch.equal(mouth.weights[~in_mouth], original.weights[~in_mouth])
    pred, target = torch.zeros(1, 3, 256, 256), torch.full((1, 3, 256, 256), 0.1)
    _, t_mouth = mouth(pred, target)
    _, t_orig = original(pred, target)
    assert t_mouth["mouth"] == pytest.approx(2.5 * t_orig["mouth"], rel=1e-6)
    assert t_mouth["eyes"] == pytest.approx(t_orig["eyes"])
    assert sum(t_mouth[k] for k in ("keypoints", "mouth", "eyes", "nose", "face")) == pytest.approx(
        t_mouth["total"], rel=1e-5)


def test_nme_is_zero_for_the_truth_and_scales_with_the_error(data):
    folder, result = data
    uv = load_uv_data(result["uv_dir"])
    _, pos = read_pair(list_pairs(folder)[0])
    assert nme(pos, pos, uv) == {"keypoints": 0.0, "mouth": 0.0, "face": 0.0}
    moved = pos.copy()
    moved[..., 0] += 3.0
    kp = pos[uv.kpt_ind[1], uv.kpt_ind[0], :2]
    size = np.sqrt(np.prod(kp.max(0) - kp.min(0)))
    assert nme(moved, pos, uv)["mouth"] == pytest.approx(3.0 / size, rel=1e-5)


def test_learning_rate_halves_every_five_epochs():
    s = FinetuneSettings(lr=1e-4, halve_every=5)
    assert [learning_rate(s, e) for e in (0, 4, 5, 10)] == [1e-4, 1e-4, 5e-5, 2.5e-5]


def test_training_overfits_a_tiny_set_with_finite_logged_terms(data, tmp_path):
    folder, _ = data
    records = []
    # Two training pairs, batch 1: five epochs are ten steps; compare the first epoch with the last.
    result = finetune(folder, tmp_path / "run", epochs=5, batch_size=1, lr=1e-3, mask="mouth", log=records.append,
                      **TINY)
    steps = [r for r in records if "total" in r]
    assert len(steps) == 10 and result["step"] == 10 and result["train_pairs"] == 2
    for r in steps:
        assert all(np.isfinite(r[k]) for k in ("total", "keypoints", "mouth", "eyes", "nose", "face"))
    losses = result["losses"]
    assert sum(losses[-2:]) < 0.7 * sum(losses[:2])
    evals = [r for r in records if "nme_mouth" in r]
    assert len(evals) == 1 and all(np.isfinite(r[k]) for r in evals for k in ("nme_keypoints", "nme_face"))
    assert (tmp_path / "run" / "log.jsonl").read_text().count("\n") == len(records)


def test_resumed_run_continues_identically_to_an_uninterrupted_one(data, tmp_path):
    folder, _ = data
    torch.use_deterministic_algorithms(True)
    try:
        kw = dict(epochs=2, batch_size=1, lr=1e-3, mask="original", base_channels=2, augment=True, holdout=0.3,
                  eval_every=1)
        whole = finetune(folder, tmp_path / "whole", **kw)
        first = finetune(folder, tmp_path / "parts", max_steps=3, **kw)  # stops inside the second epoch
        assert first["step"] == 3
        rest = finetune(folder, tmp_path / "parts", resume=True, **kw)
    finally:
        torch.use_deterministic_algorithms(False)
    assert rest["step"] == whole["step"] == 4
    assert rest["metrics"] == whole["metrics"]
    assert first["losses"] + rest["losses"] == whole["losses"]
    a = torch.load(tmp_path / "whole" / "prnet.pth", weights_only=True)
    b = torch.load(tmp_path / "parts" / "prnet.pth", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    opt_a = torch.load(tmp_path / "whole" / "checkpoints" / "last.pt", weights_only=True)["optimizer"]
    opt_b = torch.load(tmp_path / "parts" / "checkpoints" / "last.pt", weights_only=True)["optimizer"]
    for k, s in opt_a["state"].items():
        assert torch.equal(s["exp_avg_sq"], opt_b["state"][k]["exp_avg_sq"])


def test_resume_with_other_settings_is_refused(data, tmp_path):
    folder, _ = data
    finetune(folder, tmp_path / "run", epochs=1, batch_size=1, max_steps=1, **TINY)
    from lipsync_studio.errors import OptionError

    with pytest.raises(OptionError, match="other settings"):
        finetune(folder, tmp_path / "run", epochs=1, batch_size=2, resume=True, **TINY)


def test_official_network_trains_a_step_and_the_app_loads_the_result(data, tmp_path):
    from lipsync_studio.face.prnet.predictor import PRNetPredictor
    from lipsync_studio.face.prnet.weights import load_prnet

    folder, _ = data
    result = finetune(folder, tmp_path / "out", epochs=1, batch_size=1, max_steps=1, holdout=0.3)
    assert result["step"] == 1 and np.isfinite(result["losses"][0])
    model = load_prnet(tmp_path / "out")
    trained = torch.load(result["weights"], weights_only=True)
    assert all(torch.equal(v, trained[k]) for k, v in model.state_dict().items())
    predictor = PRNetPredictor.from_directory(tmp_path / "out")
    assert predictor.uv.n_vertices == 43867


def test_cli_hook_parses_and_runs(data, tmp_path, capsys):
    folder, _ = data
    parser = argparse.ArgumentParser()
    add_train_prnet_command(parser.add_subparsers())
    args = parser.parse_args(["prnet", str(folder), "-o", str(tmp_path / "cli"), "--mask", "original",
                              "--epochs", "1", "--batch-size", "4", "--no-augment"])
    assert args.mask == "original" and args.batch_size == 4 and args.lr == 1e-4 and args.halve_every == 5
    assert args.func.__name__ == "cmd_train_prnet" and args.eval_every == 1
    assert args.func(args) == 0  # the official network: one step (two training pairs, batch 4), one evaluation
    printed = capsys.readouterr().out
    assert "nme_mouth=" in printed and "total=" in printed and (tmp_path / "cli" / "prnet.pth").is_file()


# --- mixed precision and throughput -----------------------------------------------------------------------------
# bf16 on a CPU without bf16 instructions runs ~5-25x slower than fp32: these tests keep the network at width 2.


def test_bf16_training_overfits_with_finite_terms_and_saves_fp32_weights(data, tmp_path):
    folder, _ = data
    records = []
    kw = dict(epochs=3, batch_size=1, lr=1e-3, mask="mouth", **TINY)
    result = finetune(folder, tmp_path / "bf16", amp="bf16", log=records.append, **kw)
    assert result["amp"] == "bf16" and result["device"] == "cpu"
    assert records[0] == {"event": "start", "step": 0, "device": "cpu", "amp": "bf16"}
    steps = [r for r in records if "total" in r]
    assert len(steps) == 6
    for r in steps:
        assert all(np.isfinite(r[k]) for k in ("total", "keypoints", "mouth", "eyes", "nose", "face"))
    losses = result["losses"]
    assert sum(losses[-2:]) < 0.7 * sum(losses[:2])
    # The forward pass really ran in bf16: the first loss is near the fp32 one but not equal to it.
    fp32 = finetune(folder, tmp_path / "fp32", amp="off", max_steps=1, **kw)["losses"][0]
    assert losses[0] != fp32 and losses[0] == pytest.approx(fp32, rel=0.05)
    weights = torch.load(result["weights"], weights_only=True)
    assert {v.dtype for v in weights.values() if v.is_floating_point()} == {torch.float32}
    assert json.loads((tmp_path / "bf16" / "metrics.json").read_text())["amp"] == "bf16"


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_a_mixed_precision_run_resumes_identically(data, tmp_path, monkeypatch, amp):
    from lipsync_studio.train import amp as amp_module

    if amp == "fp16":  # CUDA's fp16 + gradient scaler path, exercised on the CPU (which the CLI refuses)
        monkeypatch.setattr(amp_module, "FP16_DEVICES", ("cuda", "cpu"))
    folder, _ = data
    kw = dict(epochs=2, batch_size=1, lr=1e-3, mask="original", base_channels=2, augment=True, holdout=0.3,
              eval_every=0, amp=amp)
    whole = finetune(folder, tmp_path / "whole", **kw)
    first = finetune(folder, tmp_path / "parts", max_steps=3, **kw)
    rest = finetune(folder, tmp_path / "parts", resume=True, **kw)
    assert rest["step"] == whole["step"] == 4 and rest["amp"] == amp
    assert first["losses"] + rest["losses"] == whole["losses"]
    a = torch.load(tmp_path / "whole" / "prnet.pth", weights_only=True)
    b = torch.load(tmp_path / "parts" / "prnet.pth", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    saved = torch.load(tmp_path / "parts" / "checkpoints" / "last.pt", weights_only=True)
    assert saved["amp"] == amp and saved["settings"]["amp"] == amp
    if amp == "fp16":  # the scaler went on from its saved state: four unskipped steps since the start
        assert saved["scaler"]["_growth_tracker"] == 4 and saved["scaler"]["scale"] == 2.0**16
    else:
        assert saved["scaler"] == {}


def test_fp16_without_cuda_is_refused_in_words_before_anything_is_written(data, tmp_path, capsys):
    from lipsync_studio import cli
    from lipsync_studio.errors import OptionError
    from lipsync_studio.train.amp import resolve_amp

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    folder, _ = data
    with pytest.raises(OptionError, match="fp16 needs a CUDA GPU"):
        finetune(folder, tmp_path / "run", amp="fp16", **TINY)
    assert not (tmp_path / "run").exists()
    assert cli.main(["train", "prnet", str(folder), "-o", str(tmp_path / "run"), "--amp", "fp16"]) == 2
    assert "error: --amp fp16 needs a CUDA GPU" in capsys.readouterr().err
    assert [resolve_amp(m, "cpu") for m in ("auto", "off", "bf16")] == ["off", "off", "bf16"]
    assert resolve_amp("auto", "cuda") == "fp16"


def test_bench_steps_prints_samples_per_second_and_writes_nothing(data, tmp_path, capsys):
    folder, _ = data
    parser = argparse.ArgumentParser()
    add_train_prnet_command(parser.add_subparsers())
    out = tmp_path / "bench"
    args = parser.parse_args(["prnet", str(folder), "-o", str(out), "--batch-size", "1", "--bench-steps", "2",
                              "--bench-warmup", "1", "--amp", "off"])
    assert args.amp == "off" and args.bench_steps == 2
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    match = re.search(r"prnet: ([\d.e+]+) samples/s .*, ([\d.e+-]+) s/step over 2 steps after 1 warm-up; "
                      r"device cpu, amp off, peak memory (\d+) MiB", printed)
    assert match, printed
    assert float(match[1]) == pytest.approx(1 / float(match[2]), rel=0.01) and int(match[3]) > 10
    assert not out.exists()
