"""The Wav2Lip lip-sync engine: the official generator, fed and blended better than the official script.

Per output frame ``k`` (clip frame ``s = plan.source_index(k)``):

1. the crop box of frame ``s`` comes from our smoothed face track (:mod:`.preprocess`); a frame with no face
   is returned untouched (the official script aborts the whole run);
2. the generator sees the official input: the 96×96 crop with its lower half masked, the crop itself as
   reference, and the dub's mel window for output time ``k`` (``int(k·80/fps)``, any fps);
3. its 96×96 face is resized to the box, colour-matched to the frame around the mouth, and blended in with a
   **feathered mask that follows the lower face** (the FaceMesh face oval below the nose tip and within the
   box's lower half, grown a little downward so an opening jaw is not cut off; the soft edge lies inside that
   region) — not hard-pasted as a rectangle. Pixels where the mask is 0
   (everything outside the lower face) keep their exact input values.

Streaming: :meth:`Wav2LipEngine.render` receives one frame at a time, but the generator wants batches. The
engine therefore reads ahead on its own decoder: when output frame ``k`` has no prediction yet, it decodes the
source frames of outputs ``k … k+B-1``, keeps only their 96×96 crops, runs one batch and holds those ``B``
predictions (96×96×3 bytes each) until they are rendered. No full frame is kept; memory is bounded by ``B``
whatever the clip's length (:attr:`Wav2LipEngine.peak_buffered` records the most ever held). After a start
or a jump (a preview asking for one frame) ``B`` grows 1, 2, 4, … up to the batch size, so a single-frame
preview costs one prediction. The price is a second decode of the clip, cheap next to the generator.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...media.mel import MEL_MIN, MEL_WINDOW, mel_window_starts, wav2lip_mel
from .preprocess import OFFICIAL_PADS, crop_face, track_boxes

if TYPE_CHECKING:
    import torch

    from ...face.track import ClipFaces, FaceTrack
    from ...media.timeline import OutputPlan
    from ..base import Advance
    from .predictor import Wav2LipPredictor

#: FaceMesh's face oval (``FACEMESH_FACE_OVAL``) as a closed loop, from the forehead round the right cheek,
#: the chin (152) and the left cheek.
FACE_OVAL = (10, 109, 67, 103, 54, 21, 162, 127, 234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377,
             400, 378, 379, 365, 397, 288, 361, 323, 454, 356, 389, 251, 284, 332, 297, 338)
FOREHEAD, CHIN, NOSE_TIP = 10, 152, 1


def find_wav2lip_weights(models_dir: str | Path | None = None) -> Path | None:
    """The installed Wav2Lip generator weights: ``wav2lip`` (best sync), else ``wav2lip_gan``; None if neither.

    Only presence and the manifest's file checks are looked at here; the file is read (and refused with a
    clear message if it is not a Wav2Lip generator) when the engine prepares.
    """
    from ...weights import weight_path

    return weight_path("wav2lip", models_dir) or weight_path("wav2lip_gan", models_dir)


@dataclass(frozen=True)
class Wav2LipSettings:
    """How the Wav2Lip engine crops and blends.

    Attributes
    ----------
    pads:
        ``(top, bottom, left, right)`` px around the face box (the official ``--pads``).
    feather:
        Width of the mask's soft edge, as a fraction of the crop box's height.
    jaw_room:
        How far the mask reaches below the chin contour, as a fraction of the box height, so that a jaw
        the dub opens wider than the clip's is not cut off.
    color_match:
        Shift the generated face's colour to the frame's, measured in the mask's soft edge (skin).
    batch_frames:
        Frames predicted per read-ahead batch; None follows the predictor's batch size.
    """

    pads: tuple[int, int, int, int] = OFFICIAL_PADS
    feather: float = 0.04
    jaw_room: float = 0.06
    color_match: bool = True
    batch_frames: int | None = None


class Wav2LipEngine:
    """Lip-sync with the Wav2Lip generator; implements :class:`~lipsync_studio.sync.base.LipSyncEngine`.

    Parameters
    ----------
    weights:
        A Wav2Lip checkpoint (any official form). None looks in the models folder for ``wav2lip`` then
        ``wav2lip_gan``. Ignored when ``predictor`` is given.
    predictor:
        A ready predictor (tests, or an app that keeps one loaded between jobs).
    device, half:
        Passed to the predictor when the engine loads one (None: CUDA → MPS → CPU; fp16 on CUDA).
    settings:
        Cropping and blending choices.
    """

    name = "wav2lip"

    def __init__(self, weights: str | Path | None = None, *, predictor: Wav2LipPredictor | None = None,
                 device: str | torch.device | None = None, half: bool | None = None,
                 settings: Wav2LipSettings = Wav2LipSettings()) -> None:
        self.weights = Path(weights) if weights is not None else None
        self.predictor = predictor
        self.device, self.half = device, half
        self.settings = settings
        self.peak_buffered = 0  #: the most predictions ever held at once (bounded by the batch size)
        self.passed_through = 0  #: frames returned untouched because their source has no face
        self._pending: dict[int, np.ndarray] = {}
        self._frames: Iterator[np.ndarray] | None = None
        self._reader = None
        self._next_out = -1
        self._ramp = 1
        self._prepared = False

    # -- LipSyncEngine ---------------------------------------------------------------------------------------
    def prepare(self, clip: Path, dub: Path, faces: ClipFaces, plan: OutputPlan,
                advance: Advance | None = None) -> None:
        """Load the weights (once), the dub's mel for the whole output, and the speaker's crop boxes."""
        from ...media.audio import load_audio, warn_if_silent

        self.close()
        if faces.n_frames != plan.n_clip:
            raise ValueError(f"the face track covers {faces.n_frames} frames but the clip has {plan.n_clip}")
        if self.predictor is None:
            self.predictor = self._load_predictor()
        self._clip = Path(clip)
        self._plan = plan
        self._track: FaceTrack | None = faces.speaker_track()
        self._boxes = (track_boxes(self._track, faces.width, faces.height, self.settings.pads)
                       if self._track is not None else np.full((plan.n_clip, 4), -1, np.int64))
        # The output's sound is the dub trimmed or padded with silence to the picture: hear exactly that.
        wav = load_audio(dub, sr=16000, voice=True)
        warn_if_silent(wav, dub)
        n_samples = max(1, int(round(plan.audio_seconds * 16000)))
        wav = wav[:n_samples] if len(wav) >= n_samples else np.pad(wav, (0, n_samples - len(wav)))
        mel = wav2lip_mel(wav)
        if mel.shape[1] < MEL_WINDOW:
            mel = np.pad(mel, ((0, 0), (0, MEL_WINDOW - mel.shape[1])), constant_values=MEL_MIN)
        self._mel = mel
        self._mel_starts = mel_window_starts(plan.n_out, plan.fps, mel.shape[1])
        self._prepared = True
        self.peak_buffered = self.passed_through = 0
        if advance is not None:
            advance(plan.n_out)

    def render(self, out_index: int, src_index: int, frame: np.ndarray) -> np.ndarray:
        """Output frame ``out_index``: ``frame`` with the mouth following the dub (untouched without a face)."""
        if not self._prepared:
            raise RuntimeError("call prepare() before render()")
        box = self._boxes[src_index]
        if box[0] < 0:
            self.passed_through += 1
            self._finish_if_last(out_index)
            return frame
        if out_index not in self._pending:
            self._predict_from(out_index)
        mouth = self._pending.pop(out_index)
        out = self._paste(frame, mouth, src_index)
        self._finish_if_last(out_index)
        return out

    # -- resources -------------------------------------------------------------------------------------------
    def close(self) -> None:
        """Release the read-ahead decoder and held predictions (the predictor stays loaded)."""
        if self._frames is not None:
            self._frames.close()  # type: ignore[attr-defined]
            self._frames = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self._pending.clear()
        self._next_out = -1

    def _finish_if_last(self, out_index: int) -> None:
        if out_index == self._plan.n_out - 1:
            self.close()

    def _load_predictor(self) -> Wav2LipPredictor:
        from .checkpoint import CheckpointError
        from .predictor import Wav2LipPredictor

        path = self.weights if self.weights is not None else find_wav2lip_weights()
        if path is None:
            raise CheckpointError("the Wav2Lip weights are not installed",
                                  hint="add wav2lip.pth or wav2lip_gan.pth in the Models dialog, or use "
                                       "--engine builtin")
        return Wav2LipPredictor.from_checkpoint(path, device=self.device, half=self.half)

    # -- prediction ------------------------------------------------------------------------------------------
    @property
    def batch_frames(self) -> int:
        """Frames per read-ahead batch."""
        assert self.predictor is not None
        return max(1, self.settings.batch_frames or self.predictor.batch_size)

    def _restart_reader(self, out_index: int) -> None:
        from ...media.sequence import frames_in_order
        from ...media.video import VideoReader

        self.close()
        self._reader = VideoReader(self._clip, cache_frames=0)
        plan = self._plan
        sources = (plan.source_index(j) for j in range(out_index, plan.n_out))
        self._frames = frames_in_order(self._reader, sources, max_bytes=64 << 20)
        self._next_out = out_index
        self._ramp = 1  # batches grow 1, 2, 4, … so a preview of one frame predicts one frame, not a batch

    def _predict_from(self, out_index: int) -> None:
        """Predict the faces of the next batch of output frames that have one, starting at ``out_index``."""
        if self._next_out != out_index:  # first call, or a jump (e.g. a preview asked for one frame)
            self._restart_reader(out_index)
        self._pending.clear()
        assert self._frames is not None and self.predictor is not None
        wanted = min(self.batch_frames, self._ramp)
        self._ramp *= 2
        indices: list[int] = []
        crops: list[np.ndarray] = []
        j = out_index
        while len(indices) < wanted and j < self._plan.n_out:
            img = next(self._frames)
            self._next_out = j + 1
            box = self._boxes[self._plan.source_index(j)]
            if box[0] >= 0:
                crops.append(crop_face(img, tuple(box)))
                indices.append(j)
            j += 1
        del img
        windows = self.mel_windows(indices)
        mouths = self.predictor.predict(np.stack(crops), windows)
        self._pending = dict(zip(indices, mouths))
        self.peak_buffered = max(self.peak_buffered, len(self._pending))

    def mel_windows(self, out_indices: list[int] | np.ndarray) -> np.ndarray:
        """(B, 80, 16) float32 mel windows of the dub for output frames ``out_indices`` (after prepare)."""
        starts = self._mel_starts[np.asarray(out_indices, np.int64)]
        cols = starts[:, None] + np.arange(MEL_WINDOW)[None, :]
        return np.ascontiguousarray(self._mel[:, cols].transpose(1, 0, 2))

    # -- blending --------------------------------------------------------------------------------------------
    def paste_mask(self, src_index: int) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
        """The crop box of clip frame ``src_index`` and the blend weights inside it.

        Returns
        -------
        tuple or None
            ``((x1, y1, x2, y2), alpha)`` with ``alpha`` (y2-y1, x2-x1) float32 in [0, 1], exactly 0 outside
            the lower face (and in a margin along the box edges); None when the frame has no face.
        """
        box = self._boxes[src_index]
        if box[0] < 0 or self._track is None:
            return None
        return tuple(int(v) for v in box), self._lower_face_alpha(self._track.landmarks[src_index], box)

    def _lower_face_alpha(self, landmarks: np.ndarray, box: np.ndarray) -> np.ndarray:
        import cv2

        x1, y1, x2, y2 = (int(v) for v in box)
        w, h = x2 - x1, y2 - y1
        pts = landmarks[:, :2].astype(np.float64) - (x1, y1)
        r = max(2, int(round(self.settings.feather * h)))
        grow = max(1, int(round(self.settings.jaw_room * h))) + r
        # The face oval, grown downward (an opening jaw) by dilating with a vertical kernel.
        oval = np.zeros((h, w), np.uint8)
        cv2.fillPoly(oval, [np.round(pts[list(FACE_OVAL)]).astype(np.int32)], 1)
        oval = cv2.dilate(oval, np.ones((grow + 1, 1), np.uint8), anchor=(0, grow))
        # Below the nose tip: the half-plane past it along the face's forehead→chin axis (head roll follows).
        down = pts[CHIN] - pts[FOREHEAD]
        down /= max(np.linalg.norm(down), 1e-6)
        yy, xx = np.mgrid[0:h, 0:w]
        # The line sits r above the tip so that the weight is full by the upper lip (no doubled lips).
        below = ((xx - pts[NOSE_TIP, 0]) * down[0] + (yy - pts[NOSE_TIP, 1]) * down[1]) >= -r
        # ... and the box's lower half, the only part the generator redraws.
        region = ((oval > 0) & below).astype(np.uint8)
        region[: h // 2] = 0
        # Shrink by the feather radius first, so the soft edge lies inside the region: outside it the weight
        # is exactly 0 (a blur of radius r cannot reach past the shrunk region's dilation by r).
        disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        hard = cv2.erode(region, disk, borderType=cv2.BORDER_CONSTANT, borderValue=0).astype(np.float32)
        if not hard.any():
            return hard
        alpha = cv2.GaussianBlur(hard, (2 * r + 1, 2 * r + 1), sigmaX=r / 2.0, borderType=cv2.BORDER_CONSTANT)
        alpha[region == 0] = 0.0  # exact zeros (the blur's float tails are already 0 there; keep it certain)
        return alpha

    def _paste(self, frame: np.ndarray, mouth: np.ndarray, src_index: int) -> np.ndarray:
        import cv2

        found = self.paste_mask(src_index)
        assert found is not None
        (x1, y1, x2, y2), alpha = found
        if not alpha.any():
            return frame
        orig = frame[y1:y2, x1:x2].astype(np.float32)
        patch = cv2.resize(mouth, (x2 - x1, y2 - y1), interpolation=cv2.INTER_CUBIC).astype(np.float32)
        if self.settings.color_match:
            edge = alpha * (1.0 - alpha)  # the soft edge: skin around the mouth, not the mouth itself
            weight = float(edge.sum())
            if weight > 1e-3:
                shift = ((orig - patch) * edge[..., None]).sum(axis=(0, 1)) / weight
                patch += shift
        a = alpha[..., None]
        blended = np.clip(np.rint(orig * (1.0 - a) + patch * a), 0, 255).astype(np.uint8)
        out = frame.copy()
        roi = out[y1:y2, x1:x2]
        np.copyto(roi, blended, where=a > 0)
        return out
