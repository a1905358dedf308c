"""Training data of the stereo cycle model: ``prepare`` builds it from stereo videos, the dataset reads it.

Format (a folder; version 1)
----------------------------
``index.json``::

    {"format": "lipsync-studio/stereo-faces", "version": 1,
     "shards": [{"file": "<name>.npz", "source": "<video path>", "frames": N, "fps": 25.0}, ...]}

One ``<name>.npz`` shard per video (``numpy.savez``, no pickled objects), holding only the frames where
the speaker's face was found in **both** eyes:

| key | shape, dtype | meaning |
|---|---|---|
| ``left`` | (N, 96, 96, 3) uint8 | left-eye face crops, **RGB**, Wav2Lip's crop (``crop_face`` of the left |
|          |                      | track's ``face_box``, :mod:`lipsync_studio.sync.wav2lip.preprocess`) |
| ``right`` | (N, 96, 96, 3) uint8 | right-eye crops, RGB, cut with the **left** eye's box: the pair keeps its |
|           |                      | disparity, which is what the disparity nets learn |
| ``mel`` | (N, 80, 16) float32 | the clip's own sound: the Wav2Lip mel window of each frame (``mel_windows``) |
| ``frame`` | (N,) int64 | frame index in the clip (increasing; gaps where a face was missing) |
| ``fps`` | () float64 | the clip's frame rate |

A training sample is a run of ``T`` (= 5) consecutive frames of one shard (the expert judges 5 frames).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

FORMAT = "lipsync-studio/stereo-faces"
VERSION = 1
SYNC_T = 5  #: consecutive frames per sample (the SyncNet expert's window)


def _shard_name(video: Path, taken: set[str]) -> str:
    stem, k = video.stem, 1
    name = f"{stem}.npz"
    while name in taken:
        k += 1
        name = f"{stem}-{k}.npz"
    taken.add(name)
    return name


def prepare_video(video: str | Path, layout: str = "auto", right: str | Path | None = None
                  ) -> dict[str, np.ndarray]:
    """The shard arrays (module table) of one stereo video, tracked with the app's face tracker.

    Raises
    ------
    MediaError
        The video is not stereo, has no sound, or shows no face in both eyes.
    """
    from ...errors import MediaError
    from ...media.audio import load_audio
    from ...media.mel import mel_windows, wav2lip_mel
    from ...stereo.faces import track_eye
    from ...stereo.layout import StereoReader
    from ...sync.wav2lip.preprocess import crop_face, track_boxes

    video = Path(video)
    with StereoReader(video, layout, right) as reader:
        info = reader.info
        if not info.is_stereo:
            raise MediaError("is not a stereo clip (no left/right pair found)", path=video,
                             hint="give --layout, or convert it first with `lipsync-studio stereoize`")
        tracks = []
        for eye in ("left", "right"):
            track = track_eye(reader, eye).speaker_track()
            if track is None:
                raise MediaError(f"no face was found in the {eye} eye", path=video,
                                 hint="the training data needs the speaker's face in both eyes")
            tracks.append(track)
        boxes = track_boxes(tracks[0], info.eye_width, info.eye_height)
        both = (boxes[:, 0] >= 0) & tracks[1].present[:len(boxes)]
        wav = load_audio(info.path, at_picture=True)
        windows = mel_windows(wav2lip_mel(wav), info.fps, info.n_frames)
        lefts, rights, frames = [], [], []
        for i, left, right_img in reader.iter_pairs():
            if i < len(both) and both[i]:
                box = tuple(int(v) for v in boxes[i])
                lefts.append(crop_face(left, box))
                rights.append(crop_face(right_img, box))
                frames.append(i)
    if not frames:
        raise MediaError("no frame shows the face in both eyes", path=video)
    idx = np.asarray(frames, np.int64)
    return {"left": np.stack(lefts), "right": np.stack(rights), "mel": windows[idx].astype(np.float32),
            "frame": idx, "fps": np.float64(float(info.fps))}


def prepare(videos: Iterable[str | Path], out_dir: str | Path, layout: str = "auto",
            on_video: Callable[[Path, int], None] | None = None) -> Path:
    """Build the dataset folder (module docstring) from stereo videos; return the path of ``index.json``.

    ``on_video(video, frames)`` is called after each video (progress). Shards already in ``index.json``
    are kept and new ones appended.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    index_path = out / "index.json"
    index = read_index(out) if index_path.exists() else {"format": FORMAT, "version": VERSION, "shards": []}
    taken = {s["file"] for s in index["shards"]}
    for v in videos:
        v = Path(v)
        arrays = prepare_video(v, layout)
        name = _shard_name(v, taken)
        np.savez(out / name, **arrays)
        index["shards"].append({"file": name, "source": str(v), "frames": int(len(arrays["frame"])),
                                "fps": float(arrays["fps"])})
        index_path.write_text(json.dumps(index, indent=1))
        if on_video is not None:
            on_video(v, len(arrays["frame"]))
    return index_path


def read_index(folder: str | Path) -> dict:
    """``index.json`` of a dataset folder, checked."""
    from ...errors import MediaError

    path = Path(folder) / "index.json"
    try:
        index = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise MediaError(f"is not a stereo training dataset ({exc})", path=path,
                         hint="make one with `lipsync-studio train prepare VIDEOS... -o DATA`") from exc
    if index.get("format") != FORMAT or index.get("version") != VERSION:
        raise MediaError(f"has format {index.get('format')!r} v{index.get('version')}, expected {FORMAT} v{VERSION}",
                         path=path)
    return index


class StereoFaceDataset:
    """The prepared samples as a map-style torch dataset (all shards in memory: crops are small).

    ``ds[i]`` is a dict of float32 tensors (images BGR in [0, 1], as the Wav2Lip generator takes them):
    ``faces`` (T, 6, 96, 96) masked left + reference, ``mel`` (T, 1, 80, 16), ``sync_mel`` (1, 80, 16)
    (the first frame's window: the expert's audio), ``left`` / ``right`` (T, 3, 96, 96) targets.
    The reference is the run half a shard away (Wav2Lip takes a random other window; a fixed one keeps
    ``ds[i]`` deterministic, which resumable training needs).
    """

    def __init__(self, folder: str | Path, t: int = SYNC_T) -> None:
        from ...errors import MediaError

        self.folder, self.t = Path(folder), t
        self.shards = []
        self.samples: list[tuple[int, int]] = []  # (shard, first row)
        for s, entry in enumerate(read_index(folder)["shards"]):
            with np.load(self.folder / entry["file"], allow_pickle=False) as z:
                shard = {k: z[k] for k in ("left", "right", "mel", "frame")}
            self.shards.append(shard)
            fr = shard["frame"]
            for k in range(len(fr) - t + 1):
                if fr[k + t - 1] - fr[k] == t - 1:
                    self.samples.append((s, k))
        by_shard: dict[int, list[int]] = {}
        for j, (ss, _) in enumerate(self.samples):
            by_shard.setdefault(ss, []).append(j)
        # The reference of each sample: the sample half its shard away.
        self._ref = [0] * len(self.samples)
        for own in by_shard.values():
            for n, j in enumerate(own):
                self._ref[j] = self.samples[own[(n + len(own) // 2) % len(own)]][1]
        if not self.samples:
            raise MediaError(f"holds no run of {t} consecutive frames", path=self.folder,
                             hint="prepare longer clips")

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> dict:
        import torch

        s, k = self.samples[i]
        sh = self.shards[s]
        kr = self._ref[i]
        sl = slice(k, k + self.t)

        def bgr(x: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(x[..., ::-1].transpose(0, 3, 1, 2)).astype(np.float32) / 255.0)

        left, right, ref = bgr(sh["left"][sl]), bgr(sh["right"][sl]), bgr(sh["left"][kr:kr + self.t])
        masked = left.clone()
        masked[:, :, left.shape[-2] // 2:] = 0.0
        mel = torch.from_numpy(sh["mel"][sl])[:, None]
        return {"faces": torch.cat([masked, ref], 1), "mel": mel, "sync_mel": mel[0].clone(),
                "left": left, "right": right}
