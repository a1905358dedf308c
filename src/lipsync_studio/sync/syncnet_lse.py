"""Sync measured with trained networks: LSE-D / LSE-C (syncnet_python's SyncNet) and Wav2Lip's expert score.

LSE-D and LSE-C (Prajwal et al. 2020, from Chung & Zisserman's SyncNet)
-----------------------------------------------------------------------
As syncnet_python's ``SyncNetInstance.evaluate`` (and Wav2Lip's ``scores_LSE`` copy of it) computes them:

- video at 25 fps, audio 16 kHz mono int16; ``min_length = min(frames, floor(samples / 640))`` and
  ``min_length − 5`` windows ``v`` (the official loop stops one window short; kept for parity);
- video window ``v``: frames ``v … v+4`` of 224×224 BGR face crops, values 0…255 → ``(3, 5, 224, 224)``;
- audio window ``v``: MFCC columns ``4v … 4v+19`` (:mod:`.mfcc`) → ``(1, 13, 20)``;
- distance of video window ``i`` to audio windows ``i−15 … i+15`` (audio features zero outside
  ``[0, windows)``), Euclidean as ``torch.nn.functional.pairwise_distance`` (which adds 1e-6 to the
  difference); ``mdist`` = the mean over windows for each of the 31 offsets;
- **LSE-D** = ``min(mdist)``; **LSE-C** = ``median(mdist) − min(mdist)``; AV offset = ``15 − argmin``.

Face crops (syncnet_python's ``run_pipeline.crop_video``): per frame the face box gives a half-size
``s = max(w, h)/2`` and centre ``(x, y)``; each is median-filtered over the track (``scipy.signal.medfilt``,
kernel 13, whose zero padding shrinks the first and last six values, as in the original); the crop is rows
``y − s … y + 1.8 s`` and columns ``x − 1.4 s … x + 1.4 s`` (``crop_scale`` 0.4) of the frame padded with the
value 110, resized to 224×224. Our face box is the FaceMesh landmark box (S3FD's stand-in, see
:mod:`.wav2lip.preprocess`); frames where the face is missing take a box interpolated between the nearest
frames that have one (the original interpolates across missed detections too). What we skip: the original
re-encodes the crops as XVID and the frames as JPEG before measuring (lossy steps that only add noise), and
it needs ≥ 100-frame face tracks for real videos (we measure any clip of ≥ 6 frames). A clip that is not
25 fps is re-timed to 25 fps by taking the nearest frame (the original converts with ``ffmpeg -r 25``).

The mean over windows is accumulated in float64 rather than float32, so values match the original to about
1e-6, and memory stays bounded on long clips (windows are processed in batches, never all held).

The expert score
----------------
Wav2Lip's SyncNet expert (:class:`~.wav2lip.syncnet.SyncNetColor`) compares five consecutive 96×96 crops
(lower halves) with the mel window of the first: the cosine of the two embeddings, in [0, 1] (both pass a
ReLU), higher is better in sync. We report its mean over all 5-frame windows of frames that have a face.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import MediaError
from ..inference import BatchRunner, pick_device
from .mfcc import mfcc, to_int16_scale
from .syncnet_v2 import LIP_FRAMES, LIP_SIZE, MFCC_STEPS

if TYPE_CHECKING:
    import torch

    from ..face.track import ClipFaces, FaceTrack
    from .syncnet_v2 import SyncNetV2
    from .wav2lip.syncnet import SyncNetColor

VSHIFT = 15  #: offsets searched either side (frames)
LSE_FPS = 25  #: SyncNet's frame rate
SAMPLES_PER_FRAME = 640  #: 16000 / 25
MFCC_PER_FRAME = 4  #: MFCC steps (10 ms) per 25-fps frame
CROP_SCALE = 0.40  #: run_pipeline.py's ``--crop_scale``
MEDFILT_KERNEL = 13  #: run_pipeline.py's smoothing of the crop boxes
PAD_VALUE = 110  #: grey used outside the frame


@dataclass(frozen=True)
class LSEResult:
    """LSE-D, LSE-C and the AV offset of one clip.

    Attributes
    ----------
    distance:
        LSE-D: the smallest mean embedding distance over the 31 offsets (lower is better; real videos of
        LRS2 ≈ 6.7, Wav2Lip ≈ 6.4).
    confidence:
        LSE-C: median minus minimum of the mean distances (higher is better; real LRS2 ≈ 7.8).
    offset:
        AV offset in 25-fps frames (``15 − argmin``); 0 when in sync.
    mean_distances:
        (31,) mean distance per offset, index ``k`` ↔ audio shifted by ``k − 15`` frames.
    windows:
        5-frame windows measured.
    """

    distance: float
    confidence: float
    offset: int
    mean_distances: np.ndarray
    windows: int


@dataclass(frozen=True)
class ExpertScore:
    """Wav2Lip's SyncNet expert on one clip.

    Attributes
    ----------
    mean:
        Mean cosine similarity over the windows, in [0, 1]; higher is better in sync (NaN with no window).
    per_window:
        (W,) cosine of each 5-frame window that had a face on all five frames.
    first_frames:
        (W,) index of the first frame of each window.
    """

    mean: float
    per_window: np.ndarray
    first_frames: np.ndarray


# -- weights ---------------------------------------------------------------------------------------------------
def load_syncnet_v2(path: str | Path) -> SyncNetV2:
    """syncnet_python's SyncNet with the weights of ``path`` (``syncnet_v2.model``), on the CPU, in eval mode.

    The published file is a plain state dict of the ``S`` module (``netcnnaud.*``, ``netfcaud.*``,
    ``netcnnlip.*``, ``netfclip.*``), read with ``torch.load(weights_only=True)`` as syncnet_python itself now
    does. Loading is strict (every weight and running statistic, same shapes, nothing extra) except that
    batch-norm step counters may be absent — the file predates them.

    Raises
    ------
    CheckpointError
        The file cannot be read or holds another network's weights (the message says which).
    """
    import torch

    from .syncnet_v2 import SyncNetV2
    from .wav2lip.checkpoint import load_state_dict_strict, read_state_dict

    state, _ = read_state_dict(path)
    with torch.device("meta"):  # every tensor comes from the file: skip the random initialisation
        model = SyncNetV2()
    load_state_dict_strict(model, state, network="SyncNet from syncnet_python", path=path,
                           hint="choose syncnet_v2.model from syncnet_python's download_model.sh")
    return model.eval()


# -- inputs ----------------------------------------------------------------------------------------------------
def lip_windows(crops: np.ndarray) -> np.ndarray:
    """SyncNet's video input for every run of five consecutive 224×224 crops.

    Parameters
    ----------
    crops:
        (T, 224, 224, 3) uint8 RGB crops of consecutive 25-fps frames, T ≥ 5.

    Returns
    -------
    numpy.ndarray
        (T − 4, 3, 5, 224, 224) float32: window v holds frames v…v+4, BGR, values 0…255.
    """
    crops = np.asarray(crops)
    if crops.ndim != 4 or crops.shape[1:] != (LIP_SIZE, LIP_SIZE, 3) or crops.dtype != np.uint8:
        raise ValueError(f"crops must be (T, {LIP_SIZE}, {LIP_SIZE}, 3) uint8, got {crops.shape} {crops.dtype}")
    if len(crops) < LIP_FRAMES:
        raise ValueError(f"SyncNet needs at least {LIP_FRAMES} frames, got {len(crops)}")
    video = crops[..., ::-1].transpose(3, 0, 1, 2).astype(np.float32)  # (3, T, 224, 224) BGR
    windows = np.lib.stride_tricks.sliding_window_view(video, LIP_FRAMES, axis=1)  # (3, T-4, 224, 224, 5)
    return np.ascontiguousarray(windows.transpose(1, 0, 4, 2, 3))


def mfcc_windows(ceps: np.ndarray, first_frames: np.ndarray) -> np.ndarray:
    """SyncNet's audio input: (B, 1, 13, 20) float32, window v = MFCC rows ``4v … 4v+19`` transposed.

    Parameters
    ----------
    ceps:
        (M, 13) MFCCs from :func:`~.mfcc.mfcc`.
    first_frames:
        (B,) first 25-fps frame of each window.
    """
    ceps = np.asarray(ceps)
    cols = np.asarray(first_frames, np.int64)[:, None] * MFCC_PER_FRAME + np.arange(MFCC_STEPS)[None, :]
    if cols.size and cols.max() >= len(ceps):
        raise ValueError(f"audio window ends at MFCC row {cols.max()} but there are only {len(ceps)}")
    return np.ascontiguousarray(ceps[cols].transpose(0, 2, 1)[:, None], dtype=np.float32)


# -- crops -----------------------------------------------------------------------------------------------------
def lse_crop_params(track: FaceTrack) -> np.ndarray:
    """(T, 3) float64 ``x, y, s`` (centre and half-size, px) of SyncNet's crop per frame of ``track``.

    The landmark box gives ``s = max(w, h)/2`` and the centre; frames without the face take values
    interpolated linearly from the nearest frames with it (held before the first and after the last); then
    each of ``x, y, s`` is median-filtered with kernel 13 as syncnet_python does.

    Raises
    ------
    MediaError
        The face is found on no frame.
    """
    from scipy.signal import medfilt

    boxes = track.boxes().astype(np.float64)
    ok = np.isfinite(boxes).all(axis=1)
    if not ok.any():
        raise MediaError("no face was found in the video, so lip sync cannot be measured")
    s = np.maximum(boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0]) / 2
    x = (boxes[:, 0] + boxes[:, 2]) / 2
    y = (boxes[:, 1] + boxes[:, 3]) / 2
    t = np.arange(len(boxes))
    out = []
    for v in (x, y, s):
        filled = np.interp(t, t[ok], v[ok])
        out.append(medfilt(filled, kernel_size=MEDFILT_KERNEL))
    return np.stack(out, axis=1)


def lse_crop(frame: np.ndarray, x: float, y: float, s: float, crop_scale: float = CROP_SCALE) -> np.ndarray:
    """SyncNet's 224×224 face crop of ``frame`` (RGB uint8) around centre ``(x, y)``, half-size ``s``.

    Same pixels as padding the frame by ``int(s·(1+2·crop_scale))`` with 110 and slicing rows
    ``int(my − s) : int(my + s·(1+2·crop_scale))``, columns ``int(mx − s·(1+crop_scale)) :
    int(mx + s·(1+crop_scale))`` (``my, mx`` the padded centre), then ``cv2.resize`` to 224×224.
    """
    import cv2

    h, w = frame.shape[:2]
    pad = int(s * (1 + 2 * crop_scale))
    my, mx = y + pad, x + pad
    r0, r1 = int(my - s), int(my + s * (1 + 2 * crop_scale))
    c0, c1 = int(mx - s * (1 + crop_scale)), int(mx + s * (1 + crop_scale))
    # Clip to the padded frame as numpy slicing would, then copy the part inside the real frame.
    r0, r1 = min(max(r0, 0), h + 2 * pad), min(max(r1, 0), h + 2 * pad)
    c0, c1 = min(max(c0, 0), w + 2 * pad), min(max(c1, 0), w + 2 * pad)
    if r1 <= r0 or c1 <= c0:
        raise ValueError(f"the face crop is empty (centre {x:.1f},{y:.1f}, half-size {s:.1f})")
    crop = np.full((r1 - r0, c1 - c0, 3), PAD_VALUE, np.uint8)
    fr0, fr1 = max(r0 - pad, 0), min(r1 - pad, h)
    fc0, fc1 = max(c0 - pad, 0), min(c1 - pad, w)
    if fr1 > fr0 and fc1 > fc0:
        crop[fr0 + pad - r0:fr1 + pad - r0, fc0 + pad - c0:fc1 + pad - c0] = frame[fr0:fr1, fc0:fc1]
    return cv2.resize(crop, (LIP_SIZE, LIP_SIZE))


def frames_at_25fps(n_frames: int, fps: float) -> np.ndarray:
    """Source frame shown at each 25-fps frame of a clip of ``n_frames`` at ``fps`` (nearest frame)."""
    n25 = max(0, int(round(n_frames * LSE_FPS / float(fps))))
    idx = np.floor(np.arange(n25) * float(fps) / LSE_FPS + 0.5).astype(np.int64)
    return np.minimum(idx, n_frames - 1)


# -- LSE -------------------------------------------------------------------------------------------------------
def lse_from_crops(crops: Iterable[np.ndarray], audio: np.ndarray, model: SyncNetV2, *, n_frames: int,
                   device: str | torch.device | None = None, batch_size: int = 20,
                   vshift: int = VSHIFT) -> LSEResult:
    """LSE-D / LSE-C / offset from a stream of 224×224 crops and the clip's 16 kHz audio.

    Parameters
    ----------
    crops:
        (224, 224, 3) uint8 RGB face crops of consecutive 25-fps frames (:func:`lse_crop`), streamed.
    audio:
        (N,) 16 kHz mono: int16 values, or floats in [-1, 1] (converted as ffmpeg writes 16-bit PCM).
    model:
        SyncNet (:func:`load_syncnet_v2`); moved to ``device`` in eval mode.
    n_frames:
        How many crops ``crops`` yields (the windows are counted before measuring, as the original does).
    device:
        None picks CUDA → MPS → CPU. The network runs in float32.
    batch_size:
        Windows per forward pass (20 in the original); halved when memory runs out.
    vshift:
        Offsets searched either side (15 in the original).

    Raises
    ------
    MediaError
        Fewer than 6 frames (with audio under them) to measure.
    """
    import torch
    from torch.nn import functional as F

    audio = np.asarray(audio)
    pcm = audio if audio.dtype == np.int16 else to_int16_scale(audio)
    min_length = min(int(n_frames), len(pcm) // SAMPLES_PER_FRAME)
    n_win = min_length - LIP_FRAMES
    if n_win < 1:
        raise MediaError(f"the clip is too short to measure lip sync ({min_length} frames at 25 fps with sound; "
                         f"at least {LIP_FRAMES + 1} are needed)")
    ceps = mfcc(pcm, SAMPLES_PER_FRAME * LSE_FPS)
    dev = pick_device(device)
    model = model.to(dev, torch.float32).eval()
    runner = BatchRunner(batch_size, dev)

    def audio_features(lo: int, hi: int) -> torch.Tensor:
        """(hi − lo, E) audio embeddings of windows lo…hi−1; zero rows outside [0, n_win)."""
        a, b = max(lo, 0), min(hi, n_win)
        emb = model.netfcaud[-1].out_features
        out = torch.zeros(hi - lo, emb)
        if b > a:
            inputs = mfcc_windows(ceps, np.arange(a, b))
            feats = runner.run(lambda i, j: model.forward_aud(torch.from_numpy(inputs[i:j]).to(dev)).cpu(), b - a)
            out[a - lo:b - lo] = torch.cat(feats)
        return out

    sums = np.zeros(2 * vshift + 1, np.float64)
    done = 0
    buffer: list[np.ndarray] = []  # the last (batch + 4) crops
    with torch.inference_mode():
        for crop in _take(crops, min_length):
            buffer.append(crop)
            ready = len(buffer) - (LIP_FRAMES - 1)
            last = done + ready >= n_win
            if ready < runner.batch_size and not last:
                continue
            count = min(ready, n_win - done)
            lips = lip_windows(np.stack(buffer[:count + LIP_FRAMES - 1]))
            video = torch.cat(runner.run(
                lambda i, j: model.forward_lip(torch.from_numpy(lips[i:j]).to(dev)).cpu(), count))
            audio_f = audio_features(done - vshift, done + count + vshift)
            for k in range(count):
                d = F.pairwise_distance(video[k:k + 1].repeat(2 * vshift + 1, 1), audio_f[k:k + 2 * vshift + 1])
                sums += d.double().numpy()
            done += count
            buffer = buffer[count:]
            if done >= n_win:
                break
    if done < n_win:
        raise MediaError(f"the video ended after {done + LIP_FRAMES - 1} frames; {min_length} were expected")
    mdist = (sums / n_win).astype(np.float32)
    distance, confidence, offset = lse_summary(mdist)
    return LSEResult(distance=distance, confidence=confidence, offset=offset, mean_distances=mdist, windows=n_win)


def lse_summary(mean_distances: np.ndarray) -> tuple[float, float, int]:
    """``(LSE-D, LSE-C, offset)`` from the (2·vshift + 1,) mean distance per offset, as the original:
    ``min``, ``median − min`` (the lower middle value, as ``torch.median``) and ``vshift − argmin`` (the first
    minimum on ties)."""
    mdist = np.asarray(mean_distances, np.float32)
    if mdist.ndim != 1 or len(mdist) % 2 != 1:
        raise ValueError(f"mean distances must be (2·vshift + 1,), got {mdist.shape}")
    k_min = int(np.argmin(mdist))
    minval = float(mdist[k_min])
    median = float(np.sort(mdist)[(len(mdist) - 1) // 2])
    return minval, float(np.float32(median) - np.float32(minval)), (len(mdist) - 1) // 2 - k_min


def _take(items: Iterable[np.ndarray], n: int) -> Iterator[np.ndarray]:
    for i, item in enumerate(items):
        if i >= n:
            return
        yield item


def measure_lse(video: str | Path, model: SyncNetV2 | str | Path, *, faces: ClipFaces | None = None,
                audio: str | Path | None = None, device: str | torch.device | None = None,
                batch_size: int = 20, advance: Callable[[int], None] | None = None) -> LSEResult:
    """LSE-D / LSE-C of a video file, streamed (bounded memory).

    Parameters
    ----------
    video:
        The clip to measure (e.g. a sync result).
    model:
        SyncNet, or the path of ``syncnet_v2.model``.
    faces:
        The video's face tracks; None tracks them now (cached).
    audio:
        The sound to measure against; None uses the video's own sound track.
    device, batch_size:
        As in :func:`lse_from_crops`.
    advance:
        Called with 1 for every 25-fps frame read (progress; it may raise ``Cancelled``).
    """
    from ..face.analysis import analyse_faces
    from ..media.audio import load_audio
    from ..media.sequence import frames_in_order
    from ..media.video import VideoReader

    net = model if not isinstance(model, (str, Path)) else load_syncnet_v2(model)
    if faces is None:
        faces = analyse_faces(video)
    track = faces.speaker_track()
    if track is None:
        raise MediaError("no face was found in the video, so lip sync cannot be measured", path=video)
    params = lse_crop_params(track)
    wav = load_audio(audio if audio is not None else video, sr=16000, at_picture=audio is None, voice=True)
    with VideoReader(video, cache_frames=0) as reader:
        sources = frames_at_25fps(reader.info.n_frames, float(reader.info.fps))
        frames = frames_in_order(reader, sources.tolist(), max_bytes=64 << 20)
        def crops() -> Iterator[np.ndarray]:
            for img, src in zip(frames, sources):
                if advance is not None:
                    advance(1)
                yield lse_crop(img, *params[src])

        try:
            return lse_from_crops(crops(), wav, net, n_frames=len(sources), device=device, batch_size=batch_size)
        finally:
            frames.close()


# -- the Wav2Lip expert ----------------------------------------------------------------------------------------
def expert_sync_score(crops: np.ndarray, mel_windows: np.ndarray, expert: SyncNetColor, *,
                      present: np.ndarray | None = None, device: str | torch.device | None = None,
                      batch_size: int = 64) -> ExpertScore:
    """Wav2Lip's SyncNet expert score of consecutive 96×96 face crops against their mel windows.

    Parameters
    ----------
    crops:
        (T, 96, 96, 3) uint8 RGB Wav2Lip face crops of consecutive frames
        (:func:`~.wav2lip.preprocess.crop_face`).
    mel_windows:
        (T, 80, 16) mel windows, window t starting at frame t (:func:`~lipsync_studio.media.mel.mel_windows`).
    expert:
        The expert (:func:`~.wav2lip.checkpoint.load_syncnet_expert`); moved to ``device``, eval mode.
    present:
        (T,) bool, frames that have a face; a window counts only when all five have. None: all.
    device, batch_size:
        None picks CUDA → MPS → CPU (float32); windows per forward pass, halved on out-of-memory.

    Returns
    -------
    ExpertScore
        Mean and per-window cosine similarity (mean NaN when no window qualifies).
    """
    import torch
    from torch.nn import functional as F

    from .wav2lip.preprocess import expert_face_input, mel_input
    from .wav2lip.syncnet import SYNC_T

    crops = np.asarray(crops)
    mel_windows = np.asarray(mel_windows)
    if len(crops) != len(mel_windows):
        raise ValueError(f"{len(crops)} crops but {len(mel_windows)} mel windows; give one window per frame")
    n = len(crops) - (SYNC_T - 1)
    present = np.ones(len(crops), bool) if present is None else np.asarray(present, bool)
    if n < 1:
        return ExpertScore(float("nan"), np.zeros(0, np.float32), np.zeros(0, np.int64))
    valid = np.flatnonzero(np.lib.stride_tricks.sliding_window_view(present, SYNC_T).all(axis=1))
    if len(valid) == 0:
        return ExpertScore(float("nan"), np.zeros(0, np.float32), np.zeros(0, np.int64))
    dev = pick_device(device)
    net = expert.to(dev, torch.float32).eval()
    runner = BatchRunner(batch_size, dev)
    mels = mel_input(mel_windows)

    def run(i: int, j: int) -> torch.Tensor:
        idx = valid[i:j]
        faces = np.stack([expert_face_input(crops[t:t + SYNC_T])[0] for t in idx])
        with torch.inference_mode():
            a, v = net(torch.from_numpy(mels[idx]).to(dev), torch.from_numpy(faces).to(dev))
            return F.cosine_similarity(a, v).float().cpu()

    scores = torch.cat(runner.run(run, len(valid))).numpy()
    return ExpertScore(float(scores.mean()), scores, valid.astype(np.int64))


def measure_expert_sync(video: str | Path, expert: SyncNetColor | str | Path, *, faces: ClipFaces | None = None,
                        audio: str | Path | None = None, device: str | torch.device | None = None,
                        chunk: int = 256, advance: Callable[[int], None] | None = None) -> ExpertScore:
    """Wav2Lip's expert score of a video file, streamed in chunks of frames (bounded memory).

    ``advance`` (optional) is called with 1 for every frame read (progress; it may raise ``Cancelled``).

    Crops are Wav2Lip's own (:mod:`.wav2lip.preprocess`), mel windows cut at the video's fps; note that the
    expert was trained at 25 fps, where its 16-column mel window spans exactly its five frames.
    """
    from ..face.analysis import analyse_faces
    from ..media.audio import load_audio
    from ..media.mel import MEL_MIN, MEL_WINDOW, mel_window_starts, wav2lip_mel
    from ..media.video import VideoReader
    from .wav2lip.checkpoint import load_syncnet_expert
    from .wav2lip.preprocess import OFFICIAL_PADS, crop_face, track_boxes
    from .wav2lip.syncnet import SYNC_T

    net = expert if not isinstance(expert, (str, Path)) else load_syncnet_expert(expert)
    if faces is None:
        faces = analyse_faces(video)
    track = faces.speaker_track()
    if track is None:
        raise MediaError("no face was found in the video, so lip sync cannot be measured", path=video)
    boxes = track_boxes(track, faces.width, faces.height, OFFICIAL_PADS)
    mel = wav2lip_mel(load_audio(audio if audio is not None else video, sr=16000, at_picture=audio is None,
                                 voice=True))
    if mel.shape[1] < MEL_WINDOW:
        mel = np.pad(mel, ((0, 0), (0, MEL_WINDOW - mel.shape[1])), constant_values=MEL_MIN)
    scores: list[np.ndarray] = []
    firsts: list[np.ndarray] = []
    with VideoReader(video, cache_frames=0) as reader:
        starts = mel_window_starts(reader.info.n_frames, reader.info.fps, mel.shape[1])
        held: deque[tuple[int, np.ndarray | None]] = deque()
        for i, img in reader.iter_frames():
            held.append((i, crop_face(img, tuple(boxes[i])) if boxes[i, 0] >= 0 else None))
            if advance is not None:
                advance(1)
            if len(held) >= chunk + SYNC_T - 1 or i == reader.info.n_frames - 1:
                idx = np.array([j for j, _ in held])
                ok = np.array([c is not None for _, c in held])
                stack = np.stack([c if c is not None else np.zeros((96, 96, 3), np.uint8) for _, c in held])
                cols = starts[idx][:, None] + np.arange(MEL_WINDOW)[None, :]
                part = expert_sync_score(stack, mel[:, cols].transpose(1, 0, 2), net, present=ok, device=device)
                scores.append(part.per_window)
                firsts.append(idx[part.first_frames] if len(part.first_frames) else part.first_frames)
                for _ in range(len(held) - (SYNC_T - 1)):  # keep the last 4 frames for the next windows
                    held.popleft()
    per = np.concatenate(scores) if scores else np.zeros(0, np.float32)
    first = np.concatenate(firsts) if firsts else np.zeros(0, np.int64)
    return ExpertScore(float(per.mean()) if len(per) else float("nan"), per, first)
