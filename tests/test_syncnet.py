"""Sync measured with networks: SyncNet v2 (LSE-D / LSE-C) and Wav2Lip's expert score.

Random weights stand in for the published ones. syncnet_python's evaluation (``SyncNetInstance.evaluate``,
``run_pipeline.crop_video``) and python_speech_features' MFCC are re-written here independently and compared.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from lipsync_studio.face.track import FaceTrack
from lipsync_studio.sync.mfcc import mfcc, n_mfcc_frames, to_int16_scale
from lipsync_studio.sync.syncnet_lse import (
    ExpertScore,
    expert_sync_score,
    lip_windows,
    load_syncnet_v2,
    lse_crop,
    lse_crop_params,
    lse_from_crops,
    lse_summary,
    measure_expert_sync,
    measure_lse,
    mfcc_windows,
)
from lipsync_studio.sync.syncnet_v2 import SyncNetV2
from lipsync_studio.sync.wav2lip.checkpoint import CheckpointError, load_state_dict_strict
from lipsync_studio.sync.wav2lip.syncnet import SyncNetColor

SYNCNET_V2_PARAMS = 13_631_616


def randomise(model: nn.Module, seed: int) -> nn.Module:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
    return model.eval()


@pytest.fixture(scope="module")
def syncnet() -> SyncNetV2:
    torch.manual_seed(11)
    return randomise(SyncNetV2(), 11)


# -- the network and its weights ------------------------------------------------------------------------------
def test_syncnet_v2_has_syncnet_pythons_layout(syncnet):
    state = syncnet.state_dict()
    # The reference gives no parameter count; this is the count of the S layout as written.
    assert sum(p.numel() for p in syncnet.parameters()) == SYNCNET_V2_PARAMS
    convs, norms = {0, 4, 8, 11, 14, 18}, {1, 5, 9, 12, 15, 19}
    for k in state:
        m = re.match(r"^(netcnnaud|netcnnlip|netfcaud|netfclip)\.(\d+)\.(\w+)$", k)
        assert m, k
        branch, idx = m.group(1), int(m.group(2))
        assert idx in ((convs | norms) if branch.startswith("netcnn") else {0, 1, 3}), k
    assert tuple(state["netcnnlip.0.weight"].shape) == (96, 3, 5, 7, 7)
    assert tuple(state["netcnnaud.18.weight"].shape) == (512, 256, 5, 4)
    assert tuple(state["netcnnlip.18.weight"].shape) == (512, 256, 1, 6, 6)
    assert tuple(state["netfclip.3.weight"].shape) == (1024, 512)
    with torch.inference_mode():
        a = syncnet.netcnnaud(torch.zeros(2, 1, 13, 20))
        v = syncnet.netcnnlip(torch.zeros(2, 3, 5, 224, 224))
        emb = syncnet(torch.zeros(2, 1, 13, 20), torch.zeros(2, 3, 5, 224, 224))
    assert a.shape == (2, 512, 1, 1) and v.shape == (2, 512, 1, 1, 1)
    assert emb[0].shape == emb[1].shape == (2, 1024)


def test_syncnet_v2_weights_load_strictly_even_without_step_counters(syncnet, tmp_path):
    # The published file predates batch-norm step counters: a bare state dict without them.
    old = {k: v for k, v in syncnet.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "syncnet_v2.model"
    torch.save(old, path, _use_new_zipfile_serialization=False)
    loaded = load_syncnet_v2(path)
    for k, v in old.items():
        assert torch.equal(loaded.state_dict()[k], v), k
    extra = dict(old, **{"netfclip.9.weight": torch.zeros(3)})
    with pytest.raises(CheckpointError, match="1 tensors are not part of it"):
        load_state_dict_strict(SyncNetV2(), extra, network="SyncNet from syncnet_python")
    expert_like = {"face_encoder.0.conv_block.0.weight": torch.zeros(1),
                   "audio_encoder.0.conv_block.0.weight": torch.zeros(1)}
    torch.save({"state_dict": expert_like, "optimizer": {}, "global_step": 1}, path)
    with pytest.raises(CheckpointError, match="SyncNet expert discriminator.*not SyncNet from syncnet_python"):
        load_syncnet_v2(path)


# -- MFCC ----------------------------------------------------------------------------------------------------
def naive_filterbank(sr: int = 16000) -> np.ndarray:
    mels = np.linspace(0, 2595 * np.log10(1 + (sr / 2) / 700), 28)
    bins = np.floor(513 * (700 * (10 ** (mels / 2595) - 1)) / sr)
    fb = np.zeros((26, 257))
    for j in range(26):
        lo, mid, hi = bins[j], bins[j + 1], bins[j + 2]
        for i in range(257):
            if lo <= i < mid:
                fb[j, i] = (i - lo) / (mid - lo)
            elif mid <= i < hi:
                fb[j, i] = (hi - i) / (hi - mid)
    return fb


def naive_mfcc(signal: np.ndarray, fb: np.ndarray) -> np.ndarray:
    """python_speech_features' documented defaults, frame by frame, with an explicit DCT matrix."""
    x = signal.astype(np.float64)
    x = np.concatenate([x[:1], x[1:] - 0.97 * x[:-1]])
    n = 1 if len(x) <= 400 else 1 + math.ceil((len(x) - 400) / 160)
    x = np.concatenate([x, np.zeros((n - 1) * 160 + 400 - len(x))])
    k = np.arange(26)
    dct = np.array([np.sqrt((1 if q == 0 else 2) / 26) * np.cos(np.pi * q * (2 * k + 1) / 52) for q in range(13)])
    lift = 1 + 11 * np.sin(np.pi * np.arange(13) / 22)
    rows = []
    for f in range(n):
        power = np.abs(np.fft.rfft(x[f * 160:f * 160 + 400], 512)) ** 2 / 512
        energy = max(power.sum(), np.finfo(float).eps)
        ceps = lift * (dct @ np.log(np.maximum(fb @ power, np.finfo(float).eps)))
        ceps[0] = np.log(energy)
        rows.append(ceps)
    return np.array(rows)


def test_mfcc_follows_python_speech_features_defaults():
    from lipsync_studio.samples import random_syllables, synth_speech

    speech = synth_speech(random_syllables(2, 3), seed=3)
    pcm = to_int16_scale(speech.audio)
    assert pcm.dtype == np.int16 and np.array_equal(to_int16_scale(np.array([0.5, -1.0, 1.0])), [16384, -32768, 32767])
    fb = naive_filterbank()
    for sig in (pcm[:8000], pcm[:400], pcm[:401], pcm[:6399], np.zeros(800, np.int16)):
        ours = mfcc(sig)
        assert ours.shape == (n_mfcc_frames(len(sig)), 13)
        np.testing.assert_allclose(ours, naive_mfcc(sig, fb), rtol=1e-9, atol=1e-9)
    assert n_mfcc_frames(640 * 25) == 4 * 25 - 1  # 4 MFCC steps per 25-fps frame


def test_mfcc_is_bit_identical_to_python_speech_features():
    psf = pytest.importorskip("python_speech_features", reason="optional: the reference implementation itself")
    pcm = to_int16_scale(np.random.default_rng(1).normal(0, 0.1, 12345))
    assert np.array_equal(mfcc(pcm), psf.mfcc(pcm, 16000))


# -- SyncNet's inputs, bit for bit ----------------------------------------------------------------------------
def test_lip_and_audio_windows_match_syncnet_instance_bit_for_bit():
    rng = np.random.default_rng(7)
    crops = rng.integers(0, 256, (8, 224, 224, 3), dtype=np.uint8)
    images = [cv2.cvtColor(c, cv2.COLOR_RGB2BGR) for c in crops]  # cv2.imread gives BGR
    im = np.stack(images, axis=3)
    im = np.expand_dims(im, axis=0)
    im = np.transpose(im, (0, 3, 4, 1, 2))
    imtv = torch.from_numpy(im.astype(float)).float()
    ours = torch.from_numpy(lip_windows(crops))
    assert ours.shape == (4, 3, 5, 224, 224)
    assert torch.equal(ours, torch.cat([imtv[:, :, v:v + 5] for v in range(4)], 0))

    ceps = mfcc(to_int16_scale(rng.normal(0, 0.1, 8 * 640)))
    cc = np.expand_dims(np.expand_dims(np.stack([np.array(i) for i in zip(*ceps)]), axis=0), axis=0)
    cct = torch.from_numpy(cc.astype(float)).float()
    ours = torch.from_numpy(mfcc_windows(ceps, np.arange(3)))
    assert torch.equal(ours, torch.cat([cct[:, :, :, v * 4:v * 4 + 20] for v in range(3)], 0))


def official_crop(image_rgb: np.ndarray, x: float, y: float, s: float, cs: float = 0.40) -> np.ndarray:
    """run_pipeline.crop_video on one frame (kept RGB here; the crop is per channel)."""
    bsi = int(s * (1 + 2 * cs))
    frame = np.pad(image_rgb, ((bsi, bsi), (bsi, bsi), (0, 0)), "constant", constant_values=(110, 110))
    my, mx = y + bsi, x + bsi
    face = frame[int(my - s):int(my + s * (1 + 2 * cs)), int(mx - s * (1 + cs)):int(mx + s * (1 + cs))]
    return cv2.resize(face, (224, 224))


@pytest.mark.parametrize(("x", "y", "s"), [(80.3, 60.7, 30.2), (5.0, 3.5, 40.0), (155.9, 118.2, 25.5),
                                           (80.0, 60.0, 70.0)])
def test_face_crop_matches_run_pipeline_bit_for_bit(x, y, s):
    frame = np.random.default_rng(9).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    assert np.array_equal(lse_crop(frame, x, y, s), official_crop(frame, x, y, s))


def test_crop_track_is_interpolated_over_gaps_and_median_filtered():
    n = 30
    lm = np.full((n, 478, 3), np.nan, np.float32)
    for t in range(n):
        lm[t, :468, 0] = np.linspace(100 + t, 160 + t, 468)  # moving right one pixel a frame
        lm[t, :468, 1] = np.linspace(50, 130, 468)
    present = np.ones(n, bool)
    present[12:16] = False
    lm[12:16] = np.nan
    params = lse_crop_params(FaceTrack(0, lm, lm, present))
    np.testing.assert_allclose(params[6:-6, 0], 130 + np.arange(6, n - 6), atol=1e-3)  # gap filled, no lag
    np.testing.assert_allclose(params[:, 2], 40.0, atol=1e-3)  # half-size: max(60, 80) / 2
    np.testing.assert_allclose(params[:, 1], 90.0, atol=1e-3)
    assert params[-1, 0] < 130 + n - 1  # medfilt's zero padding pulls the last values, as in the original


# -- LSE-D / LSE-C ---------------------------------------------------------------------------------------------
def test_lse_summary_follows_the_original_conventions():
    mdist = np.full(31, 10.0, np.float32)
    mdist[15 + 3] = 6.0  # the audio features 3 windows later match the video best
    mdist[:5] = [9.0, 8.0, 11.0, 12.0, 13.0]
    d, c, offset = lse_summary(mdist)
    assert (d, c, offset) == (6.0, 4.0, -3)


def official_lse(model: SyncNetV2, crops: np.ndarray, pcm: np.ndarray, vshift: int = 15) -> tuple:
    """SyncNetInstance.evaluate after the file conversions: features, calc_pdist, min / median."""
    images = [cv2.cvtColor(c, cv2.COLOR_RGB2BGR) for c in crops]
    im = np.transpose(np.expand_dims(np.stack(images, axis=3), axis=0), (0, 3, 4, 1, 2))
    imtv = torch.from_numpy(im.astype(float)).float()
    ceps = mfcc(pcm, 16000)
    cc = np.expand_dims(np.expand_dims(np.stack([np.array(i) for i in zip(*ceps)]), axis=0), axis=0)
    cct = torch.from_numpy(cc.astype(float)).float()
    min_length = min(len(images), math.floor(len(pcm) / 640))
    lastframe = min_length - 5
    im_feat, cc_feat = [], []
    with torch.no_grad():
        for i in range(0, lastframe, 20):
            frames = range(i, min(lastframe, i + 20))
            im_feat.append(model.forward_lip(torch.cat([imtv[:, :, v:v + 5] for v in frames], 0)))
            cc_feat.append(model.forward_aud(torch.cat([cct[:, :, :, v * 4:v * 4 + 20] for v in frames], 0)))
    im_feat, cc_feat = torch.cat(im_feat, 0), torch.cat(cc_feat, 0)
    win = vshift * 2 + 1
    feat2p = torch.nn.functional.pad(cc_feat, (0, 0, vshift, vshift))
    dists = [torch.nn.functional.pairwise_distance(im_feat[[i], :].repeat(win, 1), feat2p[i:i + win, :])
             for i in range(len(im_feat))]
    mdist = torch.mean(torch.stack(dists, 1), 1)
    minval, minidx = torch.min(mdist, 0)
    return float(minval), float(torch.median(mdist) - minval), int(vshift - minidx), lastframe


def test_lse_matches_syncnet_instance_evaluate(syncnet):
    rng = np.random.default_rng(5)
    crops = rng.integers(0, 256, (10, 224, 224, 3), dtype=np.uint8)
    pcm = to_int16_scale(rng.normal(0, 0.2, 9 * 640 + 300))  # the sound ends before the picture
    # Float audio in [-1, 1] is read as ffmpeg's 16-bit PCM would be.
    result = lse_from_crops(iter(crops), pcm / 32768.0, syncnet, n_frames=len(crops), device="cpu", batch_size=2)
    distance, confidence, offset, windows = official_lse(syncnet, crops, pcm)
    assert result.windows == windows == 9 - 5
    assert result.offset == offset
    assert result.distance == pytest.approx(distance, rel=1e-5)
    assert result.confidence == pytest.approx(confidence, rel=1e-4, abs=1e-5)
    assert result.mean_distances.shape == (31,)


def test_a_clip_too_short_for_syncnet_is_explained(syncnet):
    from lipsync_studio.errors import MediaError

    crops = np.zeros((5, 224, 224, 3), np.uint8)
    with pytest.raises(MediaError, match="too short to measure lip sync"):
        lse_from_crops(iter(crops), np.zeros(16000, np.int16), syncnet, n_frames=5, device="cpu")


# -- on a clip -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clip_and_faces(tmp_path_factory):
    from lipsync_studio.demo import make_dub, make_talking_clip
    from lipsync_studio.face.analysis import analyse_faces

    folder = tmp_path_factory.mktemp("lse")
    clip = make_talking_clip(folder / "clip.mp4", syllables=1, size=192)["path"]
    dub = make_dub(folder / "dub.wav", syllables=1)["path"]
    return clip, dub, analyse_faces(clip, use_cache=False)


def test_lse_of_a_video_file_streams_its_frames_and_sound(clip_and_faces, syncnet):
    clip, dub, faces = clip_and_faces
    from lipsync_studio.media.audio import probe_audio

    read: list[int] = []
    result = measure_lse(clip, syncnet, faces=faces, audio=Path(dub), device="cpu", batch_size=8,
                         advance=read.append)
    assert result.windows + 4 <= sum(read) <= faces.n_frames
    assert result.windows == min(faces.n_frames, int(probe_audio(dub).duration_s * 25)) - 5
    assert np.isfinite(result.distance) and result.confidence >= 0 and -15 <= result.offset <= 15


@pytest.fixture(scope="module")
def expert() -> SyncNetColor:
    torch.manual_seed(12)
    return randomise(SyncNetColor(), 12)


def test_expert_score_is_a_cosine_over_windows_with_a_face(expert):
    rng = np.random.default_rng(2)
    crops = rng.integers(0, 256, (9, 96, 96, 3), dtype=np.uint8)
    mels = rng.uniform(-4, 4, (9, 80, 16)).astype(np.float32)
    present = np.ones(9, bool)
    present[6] = False
    score = expert_sync_score(crops, mels, expert, present=present, device="cpu", batch_size=2)
    assert isinstance(score, ExpertScore)
    assert score.first_frames.tolist() == [0, 1]  # windows 2…4 include frame 6
    assert ((0 <= score.per_window) & (score.per_window <= 1 + 1e-6)).all()
    assert score.mean == pytest.approx(score.per_window.mean())
    assert math.isnan(expert_sync_score(crops[:4], mels[:4], expert, device="cpu").mean)


def test_expert_score_of_a_video_file_is_the_same_in_any_chunking(clip_and_faces, expert):
    clip, _, faces = clip_and_faces
    whole = measure_expert_sync(clip, expert, faces=faces, device="cpu")
    pieces = measure_expert_sync(clip, expert, faces=faces, device="cpu", chunk=5)
    assert len(whole.per_window) == faces.n_frames - 4
    assert whole.first_frames.tolist() == pieces.first_frames.tolist() == list(range(faces.n_frames - 4))
    np.testing.assert_allclose(whole.per_window, pieces.per_window, rtol=1e-5, atol=1e-6)
