"""Wav2Lip: the official layers, every checkpoint form, the official inputs bit for bit, and the engine.

No real weights are needed: networks get random weights (random batch-norm statistics too, so that loading
them visibly matters), saved in each official form. The official preprocessing is re-written here
independently, the way ``inference.py`` / ``color_syncnet_train.py`` do it, and compared bit for bit.
"""

from __future__ import annotations

import pickle
import re
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from lipsync_studio.errors import UserError
from lipsync_studio.face.track import FaceTrack
from lipsync_studio.media.mel import wav2lip_mel
from lipsync_studio.sync.base import LipSyncEngine
from lipsync_studio.inference import BatchRunner, pick_device
from lipsync_studio.sync.wav2lip.checkpoint import (
    CheckpointError,
    CheckpointForm,
    load_state_dict_strict,
    load_syncnet_expert,
    load_wav2lip,
    read_state_dict,
    save_checkpoint,
)
from lipsync_studio.sync.wav2lip.network import Wav2Lip
from lipsync_studio.sync.wav2lip.predictor import Wav2LipPredictor
from lipsync_studio.sync.wav2lip.preprocess import (
    OFFICIAL_PADS,
    crop_face,
    expert_face_input,
    face_box,
    face_input,
    mel_input,
    track_boxes,
)
from lipsync_studio.sync.wav2lip.syncnet import SyncNetColor

GENERATOR_PARAMS = 36_298_035
EXPERT_PARAMS = 16_435_072


def randomise(model: nn.Module, seed: int) -> nn.Module:
    """Random weights and random batch-norm statistics (defaults would make a checkpoint's BN invisible)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
                m.num_batches_tracked.fill_(7)
    return model.eval()


@pytest.fixture(scope="module")
def generator() -> Wav2Lip:
    torch.manual_seed(1)
    return randomise(Wav2Lip(), 1)


@pytest.fixture(scope="module")
def expert() -> SyncNetColor:
    torch.manual_seed(2)
    return randomise(SyncNetColor(), 2)


# -- the layer tables -----------------------------------------------------------------------------------------
def _spatial_sizes(model: nn.Module, names: list[str], *inputs: torch.Tensor) -> dict[str, tuple[int, ...]]:
    sizes: dict[str, tuple[int, ...]] = {}
    modules = dict(model.named_modules())
    hooks = [modules[n].register_forward_hook(lambda m, i, o, n=n: sizes.__setitem__(n, tuple(o.shape[1:])))
             for n in names]
    with torch.inference_mode():
        model(*inputs)
    for h in hooks:
        h.remove()
    return sizes


def test_generator_matches_the_official_layer_table(generator):
    state = generator.state_dict()
    assert sum(p.numel() for p in generator.parameters()) == GENERATOR_PARAMS
    # The reference gives no parameter count, but it gives the official training checkpoint's size, "~416 MB"
    # (Wav2Lip issue #141): weights + Adam's two moments + BN buffers, float32, is 416 MiB.
    buffers = sum(b.numel() for b in generator.buffers())
    assert abs((3 * GENERATOR_PARAMS + buffers) * 4 / 2**20 - 416) < 1.0
    pattern = re.compile(
        r"^(face_encoder_blocks\.\d\.\d|audio_encoder\.\d+|face_decoder_blocks\.\d\.\d|output_block\.0)"
        r"\.conv_block\.(0\.(weight|bias)|1\.(weight|bias|running_mean|running_var|num_batches_tracked))$"
        r"|^output_block\.1\.(weight|bias)$")
    assert all(pattern.match(k) for k in state), [k for k in state if not pattern.match(k)]
    conv_layers = {k.rsplit(".conv_block", 1)[0] for k in state if "conv_block" in k}
    assert len(conv_layers) == 18 + 13 + 18 + 1  # face encoder, audio encoder, decoder, output block
    shapes = {
        "face_encoder_blocks.0.0.conv_block.0.weight": (16, 6, 7, 7),
        "face_encoder_blocks.6.1.conv_block.0.weight": (512, 512, 1, 1),
        "audio_encoder.3.conv_block.0.weight": (64, 32, 3, 3),
        "audio_encoder.10.conv_block.0.weight": (256, 256, 3, 3),
        "audio_encoder.12.conv_block.0.weight": (512, 512, 1, 1),
        "face_decoder_blocks.1.0.conv_block.0.weight": (1024, 512, 3, 3),  # ConvTranspose: (cin, cout, k, k)
        "face_decoder_blocks.6.0.conv_block.0.weight": (160, 64, 3, 3),
        "output_block.0.conv_block.0.weight": (32, 80, 3, 3),
        "output_block.1.weight": (3, 32, 1, 1),
    }
    assert {k: tuple(state[k].shape) for k in shapes} == shapes
    enc = [f"face_encoder_blocks.{b}" for b in range(7)]
    aud = ["audio_encoder.0", "audio_encoder.3", "audio_encoder.6", "audio_encoder.9", "audio_encoder.12"]
    dec = [f"face_decoder_blocks.{b}" for b in range(7)]
    sizes = _spatial_sizes(generator, enc + aud + dec, torch.zeros(1, 1, 80, 16), torch.zeros(1, 6, 96, 96))
    assert [sizes[n] for n in enc] == [(16, 96, 96), (32, 48, 48), (64, 24, 24), (128, 12, 12), (256, 6, 6),
                                      (512, 3, 3), (512, 1, 1)]
    assert [sizes[n] for n in aud] == [(32, 80, 16), (64, 27, 16), (128, 9, 6), (256, 3, 3), (512, 1, 1)]
    assert [sizes[n] for n in dec] == [(512, 1, 1), (512, 3, 3), (512, 6, 6), (384, 12, 12), (256, 24, 24),
                                      (128, 48, 48), (64, 96, 96)]


def test_generator_folds_a_time_axis_like_the_official_forward(generator):
    mel = torch.randn(1, 2, 1, 80, 16)
    faces = torch.rand(1, 6, 2, 96, 96)
    with torch.inference_mode():
        timed = generator(mel, faces)
        per_step = torch.stack([generator(mel[:, t], faces[:, :, t]) for t in range(2)], dim=2)
    assert timed.shape == (1, 3, 2, 96, 96)
    torch.testing.assert_close(timed, per_step)


def test_expert_matches_the_official_layer_table(expert):
    assert sum(p.numel() for p in expert.parameters()) == EXPERT_PARAMS
    keys = expert.state_dict().keys()
    layers = {k.rsplit(".conv_block", 1)[0] for k in keys}
    assert layers == {f"face_encoder.{i}" for i in range(17)} | {f"audio_encoder.{i}" for i in range(14)}
    assert tuple(expert.state_dict()["face_encoder.0.conv_block.0.weight"].shape) == (32, 15, 7, 7)
    assert tuple(expert.state_dict()["audio_encoder.11.conv_block.0.weight"].shape) == (256, 256, 3, 3)
    face = [f"face_encoder.{i}" for i in (0, 1, 4, 8, 11, 14, 15)]
    sizes = _spatial_sizes(expert, face, torch.zeros(2, 1, 80, 16), torch.zeros(2, 15, 48, 96))
    assert [sizes[n][1:] for n in face] == [(48, 96), (46, 47), (23, 24), (12, 12), (6, 6), (3, 3), (1, 1)]
    with torch.inference_mode():
        a, v = expert(torch.randn(2, 1, 80, 16), torch.rand(2, 15, 48, 96))
    assert a.shape == v.shape == (2, 512)
    torch.testing.assert_close(a.norm(dim=1), torch.ones(2))


# -- checkpoints ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("form", "legacy"), [
    (CheckpointForm.TRAINING, False),
    (CheckpointForm.TRAINING_DATAPARALLEL, True),  # module. prefixes, in the pre-1.6 pickle layout of 2020
    (CheckpointForm.TORCHSCRIPT, False),
    (CheckpointForm.STATE_DICT, False),
])
def test_every_official_checkpoint_form_loads_strictly_and_predicts(generator, tmp_path, form, legacy):
    path = save_checkpoint(generator, tmp_path / "wav2lip.pth", form, legacy_format=legacy)
    try:
        if form is CheckpointForm.TRAINING:
            raw = torch.load(path, weights_only=True)
            assert set(raw) == {"state_dict", "optimizer", "global_step", "global_epoch"}
            del raw
            loaded = load_wav2lip(path)
        else:
            state, found = read_state_dict(path)
            assert found is form
            assert not any(k.startswith("module.") for k in state)
            with torch.device("meta"):
                loaded = Wav2Lip()
            load_state_dict_strict(loaded, state, network="the Wav2Lip generator", path=path)
            loaded.eval()
    finally:
        path.unlink()
    for k, v in generator.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k
    with torch.inference_mode():  # equal weights, so equal outputs; check the loaded network runs
        out = loaded(torch.randn(2, 1, 80, 16), torch.rand(2, 6, 96, 96))
    assert out.shape == (2, 3, 96, 96) and 0.0 <= out.min() and out.max() <= 1.0


def test_expert_loads_from_a_training_checkpoint(expert, tmp_path):
    loaded = load_syncnet_expert(save_checkpoint(expert, tmp_path / "lipsync_expert.pth", "training-dataparallel"))
    for k, v in expert.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k


def test_a_checkpoint_of_another_network_is_named(expert, generator, tmp_path):
    path = tmp_path / "lipsync_expert.pth"
    torch.save({k: v for k, v in expert.state_dict().items() if "conv_block.0.bias" in k}, path)
    with pytest.raises(CheckpointError, match="SyncNet expert discriminator.*not the Wav2Lip generator") as err:
        load_wav2lip(path)
    assert "wav2lip.pth" in str(err.value) and str(path) in str(err.value)
    with pytest.raises(CheckpointError, match="holds the weights of the Wav2Lip generator"):
        load_state_dict_strict(SyncNetColor(), generator.state_dict(), network="Wav2Lip's SyncNet expert")
    syncnet_keys = {"netcnnaud.0.weight": torch.zeros(1), "netcnnlip.0.weight": torch.zeros(1)}
    with pytest.raises(CheckpointError, match="syncnet_python"):
        load_state_dict_strict(Wav2Lip(), syncnet_keys, network="the Wav2Lip generator")


def test_a_modified_generator_is_refused_with_what_differs(generator):
    state = dict(generator.state_dict())
    state["face_encoder_blocks.0.0.conv_block.0.weight"] = torch.zeros(32, 6, 3, 3)  # a 192 px variant's stem
    del state["output_block.1.bias"]
    with pytest.raises(CheckpointError) as err:
        load_state_dict_strict(Wav2Lip(), state, network="the Wav2Lip generator")
    text = str(err.value)
    assert "does not fit the Wav2Lip generator" in text
    assert "1 of its 352 tensors are missing (first: output_block.1.bias)" in text
    assert "32×6×3×3 in the file, 16×6×7×7 in the network" in text
    assert "modified version" in text
    # Step counters alone may be missing (files saved before PyTorch 0.4.1 have none).
    old = {k: v for k, v in generator.state_dict().items() if not k.endswith("num_batches_tracked")}
    load_state_dict_strict(Wav2Lip(), old, network="the Wav2Lip generator")


class _NotWeights:
    """A pickled Python object (torch.load(weights_only=True) must refuse to build it)."""


@pytest.mark.parametrize(("content", "message"), [
    (b"", "is empty"),
    (b"<!DOCTYPE html><html><head><title>Google Drive</title>", "web page"),
    (b"just some text, not weights\n" * 20, "not a PyTorch weight file"),
    (b"\x93NUMPY\x01\x00", "numpy array"),
])
def test_files_that_are_not_weights_are_explained(tmp_path, content, message):
    path = tmp_path / "wav2lip.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        load_wav2lip(path)


def test_damaged_and_unsafe_files_are_explained(tmp_path):
    small = {"state_dict": {"a.weight": torch.randn(64, 64)}}
    for legacy in (False, True):
        path = tmp_path / f"cut{legacy}.pth"
        torch.save(small, path, _use_new_zipfile_serialization=not legacy)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) * 2 // 3])  # a download cut off
        with pytest.raises(CheckpointError, match="damaged or incomplete"):
            read_state_dict(path)
    scripted = save_checkpoint(nn.Sequential(nn.Linear(64, 64)), tmp_path / "small.pt", "torchscript")
    assert read_state_dict(scripted)[1] is CheckpointForm.TORCHSCRIPT
    data = scripted.read_bytes()
    scripted.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="damaged or incomplete"):
        read_state_dict(scripted)
    unsafe = tmp_path / "unsafe.pth"
    torch.save({"state_dict": small["state_dict"], "extra": _NotWeights()}, unsafe)
    with pytest.raises(CheckpointError, match="Python objects besides the weights"):
        read_state_dict(unsafe)
    counters = tmp_path / "numpy_counters.pth"  # older training scripts kept numpy scalars: still read
    torch.save({"state_dict": small["state_dict"], "global_step": np.int64(5), "loss": np.float64(0.2)}, counters)
    assert read_state_dict(counters)[1] is CheckpointForm.TRAINING
    empty = tmp_path / "noweights.pth"
    torch.save({"global_step": 3}, empty)
    with pytest.raises(CheckpointError, match="holds no network weights"):
        read_state_dict(empty)
    with pytest.raises(CheckpointError, match="does not exist"):
        read_state_dict(tmp_path / "missing.pth")
    assert pickle.dumps(_NotWeights())  # the class is picklable: the refusal is torch's safety, not an accident


# -- the official inputs, bit for bit ---------------------------------------------------------------------------
def official_face_batch(frames_rgb: list[np.ndarray], boxes: list[tuple[int, int, int, int]]) -> torch.Tensor:
    """inference.py: BGR frames, crop (y1:y2, x1:x2), cv2.resize 96, mask rows 48+, concat, /255., FloatTensor."""
    img_batch = []
    for frame, (x1, y1, x2, y2) in zip(frames_rgb, boxes):
        bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        img_batch.append(cv2.resize(bgr[y1:y2, x1:x2], (96, 96)))
    img_batch = np.asarray(img_batch)
    img_masked = img_batch.copy()
    img_masked[:, 96 // 2:] = 0
    img_batch = np.concatenate((img_masked, img_batch), axis=3) / 255.
    return torch.FloatTensor(np.transpose(img_batch, (0, 3, 1, 2)))


def official_mel_chunks(mel: np.ndarray, fps: float) -> list[np.ndarray]:
    """inference.py's mel_chunks loop."""
    chunks, mult, i = [], 80. / fps, 0
    while True:
        start = int(i * mult)
        if start + 16 > len(mel[0]):
            chunks.append(mel[:, len(mel[0]) - 16:])
            break
        chunks.append(mel[:, start: start + 16])
        i += 1
    return chunks


def official_mel_batch(chunks: list[np.ndarray]) -> torch.Tensor:
    mel_batch = np.asarray(chunks)
    mel_batch = np.reshape(mel_batch, [len(mel_batch), mel_batch.shape[1], mel_batch.shape[2], 1])
    return torch.FloatTensor(np.transpose(mel_batch, (0, 3, 1, 2)))


def test_face_and_mel_inputs_match_the_official_layout_bit_for_bit():
    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 256, (120, 160, 3), dtype=np.uint8) for _ in range(4)]
    boxes = [(10, 5, 90, 115), (0, 0, 160, 120), (33, 17, 77, 61), (50, 40, 151, 119)]
    ours = face_input(np.stack([crop_face(f, b) for f, b in zip(frames, boxes)]))
    assert ours.dtype == np.float32 and ours.shape == (4, 6, 96, 96)
    assert torch.equal(torch.from_numpy(ours), official_face_batch(frames, boxes))
    from lipsync_studio.media.mel import mel_windows

    mel = rng.uniform(-4, 4, (80, 203)).astype(np.float32)
    for fps in (25.0, 30000 / 1001, 24.0):
        chunks = official_mel_chunks(mel, fps)
        ours = mel_input(mel_windows(mel, Fraction(fps).limit_denominator(1001), len(chunks)))
        assert torch.equal(torch.from_numpy(ours), official_mel_batch(chunks)), fps


def test_expert_input_matches_color_syncnet_train_bit_for_bit():
    rng = np.random.default_rng(4)
    crops = rng.integers(0, 256, (7, 96, 96, 3), dtype=np.uint8)
    ours = expert_face_input(crops)
    assert ours.shape == (3, 15, 48, 96)
    for t in range(3):
        window = [cv2.cvtColor(c, cv2.COLOR_RGB2BGR) for c in crops[t:t + 5]]
        x = np.concatenate(window, axis=2) / 255.
        x = x.transpose(2, 0, 1)
        x = x[:, x.shape[1] // 2:]
        assert torch.equal(torch.from_numpy(ours[t]), torch.FloatTensor(x))


def test_the_face_box_is_the_landmark_box_with_the_official_pads():
    lm = np.full((478, 3), np.nan, np.float32)
    lm[:468, 0] = np.linspace(20.7, 80.2, 468)
    lm[:468, 1] = np.linspace(-3.0, 99.9, 468)[::-1]
    assert face_box(lm, 200, 105) == (20, 0, 80, 105)  # int like S3FD; bottom pad 10 clipped at the frame
    assert face_box(lm, 200, 300, pads=(2, 10, 3, 4)) == (17, 0, 84, 109)
    assert face_box(np.full((478, 3), np.nan), 200, 300) is None
    track = FaceTrack(0, np.stack([lm, np.full_like(lm, np.nan)]), np.stack([lm, lm]), np.array([True, False]))
    assert track_boxes(track, 200, 300).tolist() == [[20, 0, 80, 109], [-1, -1, -1, -1]]


# -- device, precision, batching --------------------------------------------------------------------------------
def test_device_is_the_callers_or_the_best_present():
    assert pick_device(None).type in ("cuda", "mps", "cpu")
    assert pick_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="no CUDA GPU"):
            pick_device("cuda")
    with pytest.raises(UserError, match="not a device name"):
        pick_device("gpu-please")


def test_batches_halve_when_memory_runs_out():
    runner = BatchRunner(16, torch.device("cpu"))

    def fn(start: int, stop: int) -> list[int]:
        if stop - start > 3:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return list(range(start, stop))

    assert sum(runner.run(fn, 11), []) == list(range(11))
    assert runner.batch_size == 2 and runner.halvings == 3

    def never(start: int, stop: int) -> None:
        raise RuntimeError("MPS backend out of memory")

    with pytest.raises(UserError, match="ran out of memory even one frame at a time"):
        BatchRunner(4, torch.device("cpu")).run(never, 3)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        BatchRunner(4, torch.device("cpu")).run(lambda a, b: (_ for _ in ()).throw(RuntimeError("shape mismatch")), 3)


class SpyGenerator(nn.Module):
    """Stands in for the generator: records its inputs, runs out of memory above 3 frames, returns grey."""

    def __init__(self) -> None:
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, mel: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        if faces.shape[0] > 3:
            raise torch.OutOfMemoryError("CUDA out of memory")
        self.calls.append((mel.clone(), faces.clone()))
        return torch.full((faces.shape[0], 3, 96, 96), 0.5) + self.anchor


def test_predictor_converts_checks_and_shrinks_its_batch():
    spy = SpyGenerator()
    predictor = Wav2LipPredictor(spy, device="cpu", batch_size=8)
    assert predictor.dtype == torch.float32 and predictor.device.type == "cpu"
    rng = np.random.default_rng(5)
    crops = rng.integers(0, 256, (5, 96, 96, 3), dtype=np.uint8)
    windows = rng.normal(size=(5, 80, 16)).astype(np.float32)
    out = predictor.predict(crops, windows)
    assert out.shape == (5, 96, 96, 3) and out.dtype == np.uint8 and (out == 128).all()
    assert predictor.batch_size == 2 and predictor.halvings == 2
    fed = torch.cat([f for _, f in spy.calls])
    assert torch.equal(fed, torch.from_numpy(face_input(crops)))
    with pytest.raises(ValueError, match=r"\(B, 96, 96, 3\)"):
        predictor.predict(crops[:, :48], windows)
    with pytest.raises(ValueError, match="one window per face"):
        predictor.forward(face_input(crops), mel_input(windows[:3]))


# -- the engine -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def talking(tmp_path_factory) -> tuple[Path, Path]:
    from lipsync_studio.demo import make_dub, make_talking_clip

    folder = tmp_path_factory.mktemp("w2l")
    clip = make_talking_clip(folder / "clip.mp4", syllables=2, size=192)["path"]
    from lipsync_studio.media.audio_writer import write_audio

    speech = make_dub(folder / "dub_full.wav", syllables=1)["speech"]
    # 0.56 s, shorter than the clip: the output is 14 frames (the generator on the CPU is the test's cost)
    dub = write_audio(folder / "dub.wav", speech.audio[: int(0.56 * speech.sr)], speech.sr)
    return clip, dub


@pytest.fixture(scope="module")
def talking_faces(talking):
    from lipsync_studio.face.analysis import analyse_faces

    return analyse_faces(talking[0], use_cache=False)


def _plan(clip: Path, dub: Path):
    from lipsync_studio.media.audio import probe_audio
    from lipsync_studio.media.timeline import plan_output
    from lipsync_studio.media.video import probe_video

    info = probe_video(clip)
    return plan_output(info.n_frames, info.fps, probe_audio(dub).duration_s)


def test_engine_inputs_are_the_official_ones_for_our_boxes(talking, talking_faces):
    from lipsync_studio.media.audio import load_audio
    from lipsync_studio.media.video import VideoReader
    from lipsync_studio.sync.wav2lip.engine import Wav2LipEngine, Wav2LipSettings

    clip, dub = talking
    plan = _plan(clip, dub)
    spy = SpyGenerator()
    engine = Wav2LipEngine(predictor=Wav2LipPredictor(spy, device="cpu", batch_size=3),
                           settings=Wav2LipSettings(batch_frames=5))
    engine.prepare(clip, dub, talking_faces, plan)
    n = min(plan.n_out, 12)
    track = talking_faces.speaker_track()
    boxes = track_boxes(track, talking_faces.width, talking_faces.height, OFFICIAL_PADS)
    with VideoReader(clip) as reader:
        frames = [reader.frame(plan.source_index(k)) for k in range(n)]
    for k in range(n):
        engine.render(k, plan.source_index(k), frames[k])
    assert engine.peak_buffered <= 5
    fed_mel = torch.cat([m for m, _ in spy.calls])[:n]
    fed_faces = torch.cat([f for _, f in spy.calls])[:n]
    expected = official_face_batch(frames, [tuple(boxes[plan.source_index(k)]) for k in range(n)])
    assert torch.equal(fed_faces, expected)
    # The dub as the output carries it (trimmed or padded to the picture), chunked as inference.py does.
    wav = load_audio(dub, sr=16000)
    n_samples = int(round(plan.audio_seconds * 16000))
    wav = wav[:n_samples] if len(wav) >= n_samples else np.pad(wav, (0, n_samples - len(wav)))
    chunks = official_mel_chunks(wav2lip_mel(wav), float(plan.fps))
    chunks += [chunks[-1]] * (n - len(chunks))
    assert torch.equal(fed_mel, official_mel_batch(chunks[:n]))


def test_engine_syncs_through_the_job_blending_only_the_lower_face(talking, talking_faces, tmp_path):
    from lipsync_studio.engine.sync_job import build_sync_job
    from lipsync_studio.media.video import probe_video
    from lipsync_studio.sync.wav2lip.engine import Wav2LipEngine

    clip, dub = talking
    faces = talking_faces
    track = faces.speaker_track()
    track = FaceTrack(track.track_id, track.landmarks.copy(), track.raw, track.present.copy())
    gone = [3, 4, 5]  # a cut, a hand: no face on these frames
    track.present[gone] = False
    track.landmarks[gone] = np.nan
    faces = type(faces)({track.track_id: track}, faces.n_frames, faces.fps, faces.width, faces.height)
    plan = _plan(clip, dub)
    torch.manual_seed(0)
    engine = Wav2LipEngine(predictor=Wav2LipPredictor(randomise(Wav2Lip(), 3), device="cpu", batch_size=6))
    assert isinstance(engine, LipSyncEngine) and engine.name == "wav2lip"
    reported: list[int] = []
    engine.prepare(clip, dub, faces, plan, advance=reported.append)
    assert sum(reported) == plan.n_out

    stats = {"synced": 0, "untouched": 0}

    def transform(k: int, s: int, frame: np.ndarray) -> np.ndarray:
        before = frame.copy()
        out = engine.render(k, s, frame)
        assert out.shape == frame.shape and out.dtype == np.uint8
        assert np.array_equal(frame, before)  # the input frame is never written to
        if s in gone:
            assert out is frame
            stats["untouched"] += 1
            return out
        (x1, y1, x2, y2), alpha = engine.paste_mask(s)
        blend = np.zeros(frame.shape[:2], bool)
        blend[y1:y2, x1:x2] = alpha > 0
        changed = np.any(out != frame, axis=2)
        assert not (changed & ~blend).any(), "pixels outside the feathered lower-face mask changed"
        assert changed.sum() > 0.5 * blend.sum()
        if k == 0:
            lm = track.landmarks[s]
            eyes_nose = int(np.floor((lm[33, 1] + lm[263, 1]) / 4 + lm[1, 1] / 2)) - y1
            assert (alpha[:eyes_nose] == 0).all()  # nothing above the lower nose: eyes, cheeks, brows untouched
            upper_lip = int(np.round(lm[0, 1])) - y1, int(np.round(lm[0, 0])) - x1
            assert alpha[upper_lip] > 0.99  # the whole mouth is replaced: no doubled lips
            soft = (alpha > 0) & (alpha < 1)
            assert soft.sum() > 0.3 * (alpha > 0).sum()  # a feathered edge, not a hard cut
            lower = alpha[(y2 - y1) // 2:]
            corners = lower[-3:, :3].max() + lower[-3:, -3:].max()
            assert corners == 0 and (alpha == 1).any()  # follows the face, not the box
        stats["synced"] += 1
        return out

    job = build_sync_job(clip, dub, tmp_path / "out.mp4", transform=transform)
    state = job.run()
    assert probe_video(state["output"]).n_frames == plan.n_out
    n_gone = sum(plan.source_index(k) in gone for k in range(plan.n_out))
    assert stats == {"synced": plan.n_out - n_gone, "untouched": n_gone}
    assert engine.passed_through == n_gone
    # Memory: at most one batch of 96×96 predictions was ever held, and nothing is left after the last frame.
    assert 0 < engine.peak_buffered <= engine.batch_frames == 6
    assert not engine._pending and engine._reader is None
    # A preview after the job: one frame asked for, one predicted.
    from lipsync_studio.media.video import VideoReader

    with VideoReader(clip) as reader:
        frame = reader.frame(plan.source_index(9))
    assert not np.array_equal(engine.render(9, plan.source_index(9), frame), frame)
    assert not engine._pending


def test_engine_without_weights_says_how_to_get_them(talking, talking_faces, tmp_path):
    from lipsync_studio.sync.wav2lip.engine import Wav2LipEngine, find_wav2lip_weights

    assert find_wav2lip_weights(tmp_path) is None  # an empty models folder
    engine = Wav2LipEngine(tmp_path / "wav2lip.pth")
    with pytest.raises(CheckpointError, match="does not exist"):
        engine.prepare(talking[0], talking[1], talking_faces, _plan(*talking))
