"""Face tracks: every tracked face's landmarks over a clip, as plain arrays.

A :class:`FaceTrack` is one person: 478 MediaPipe FaceMesh landmarks (468 surface points + 10 iris points)
for every frame of the clip, with a mask of the frames where the face was found. Frames with no face are
marked, never fatal. A :class:`ClipFaces` is all the tracks of a clip plus the speaker choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

N_LANDMARKS = 478  # FaceMesh with iris refinement
N_SURFACE = 468  # the surface mesh points (the rest are iris points)

# Lips in FaceMesh's topology (inner contour: the mouth opening; outer contour: the lip edge).
LIPS_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95)
LIPS_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146)
UPPER_LIP_INNER, LOWER_LIP_INNER = 13, 14
MOUTH_CORNERS = (61, 291)
LEFT_EYE_OUTER, RIGHT_EYE_OUTER = 33, 263


@dataclass
class FaceTrack:
    """One face over a clip.

    Attributes
    ----------
    track_id: stable id of the face within the clip (0, 1, ...).
    landmarks: (T, 478, 3) float32 smoothed landmarks in frame pixels (x right, y down, z depth in
        the scale of x, smaller = nearer); NaN where the face is absent.
    raw: (T, 478, 3) float32 landmarks as measured, before smoothing (NaN where absent).
    present: (T,) bool, frames where the face was found.
    """

    track_id: int
    landmarks: np.ndarray
    raw: np.ndarray
    present: np.ndarray

    @property
    def n_frames(self) -> int:
        """Frames of the clip (present or not)."""
        return len(self.present)

    @property
    def coverage(self) -> float:
        """Share of the clip's frames where the face was found (0..1)."""
        return float(self.present.mean()) if len(self.present) else 0.0

    def boxes(self) -> np.ndarray:
        """(T, 4) float32 ``x0, y0, x1, y1`` of the landmarks per frame (NaN where absent)."""
        out = np.full((self.n_frames, 4), np.nan, np.float32)
        pts = self.landmarks[self.present, :N_SURFACE, :2]
        out[self.present] = np.concatenate([pts.min(axis=1), pts.max(axis=1)], axis=1)
        return out

    def mean_area(self) -> float:
        """Mean box area (px²) over the frames where the face is present."""
        b = self.boxes()[self.present]
        return float(((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])).mean()) if len(b) else 0.0

    def mouth_gap(self) -> np.ndarray:
        """(T,) inner-lip gap per frame, in units of the eye-corner distance (NaN where absent)."""
        lm = self.landmarks
        gap = np.linalg.norm(lm[:, UPPER_LIP_INNER, :2] - lm[:, LOWER_LIP_INNER, :2], axis=1)
        eyes = np.linalg.norm(lm[:, LEFT_EYE_OUTER, :2] - lm[:, RIGHT_EYE_OUTER, :2], axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return gap / eyes


@dataclass
class ClipFaces:
    """All faces tracked in a clip.

    Attributes
    ----------
    tracks: the faces, by id.
    n_frames, fps, width, height: the clip's timeline and frame size.
    speaker: id of the face the user chose (default: the largest face).
    """

    tracks: dict[int, FaceTrack]
    n_frames: int
    fps: float
    width: int
    height: int
    speaker: int | None = None
    settings_key: str = field(default="")

    def choose_speaker(self, face: int | Sequence[int] | None, where: str = "in this clip") -> None:
        """Make ``face`` (a track id) the speaker, or the largest face when None.

        Several ids are one person the tracker saw as several faces (the same speaker in shots it could not join,
        another framing): they become one track under the first id, the speaker.

        Raises
        ------
        OptionError
            There is no face with that id (the message lists the ids found), or two of several ids are on screen
            together (two people).
        """
        from ..errors import OptionError

        ids = [] if face is None else [int(face)] if isinstance(face, (int, np.integer)) else \
            list(dict.fromkeys(int(f) for f in face))
        for f in ids:
            if f not in self.tracks:
                raise OptionError(f"there is no face {f} {where}", hint=f"faces found: {sorted(self.tracks) or 'none'}")
        for i, a in enumerate(ids):
            for b in ids[i + 1:]:
                both = np.flatnonzero(self.tracks[a].present & self.tracks[b].present)
                if len(both):
                    raise OptionError(f"faces {a} and {b} are both on screen at frame {both[0]} {where}: two people, "
                                      "not one", hint="name as one face only faces seen in different shots")
        if len(ids) > 1:
            first = self.tracks[ids[0]]
            landmarks, raw, present = first.landmarks.copy(), first.raw.copy(), first.present.copy()
            for f in ids[1:]:
                t = self.tracks.pop(f)
                landmarks[t.present], raw[t.present] = t.landmarks[t.present], t.raw[t.present]
                present |= t.present
            self.tracks[ids[0]] = FaceTrack(ids[0], landmarks, raw, present)
        self.speaker = ids[0] if ids else None

    def speaker_track(self) -> FaceTrack | None:
        """The chosen speaker's track, or the largest face when none was chosen; None without faces."""
        if not self.tracks:
            return None
        if self.speaker is not None and self.speaker in self.tracks:
            return self.tracks[self.speaker]
        return max(self.tracks.values(), key=lambda t: t.mean_area() * t.coverage)

    def shown_without_speaker(self, min_frames: int) -> list[tuple[int, int, int, int]]:
        """The other faces on screen for at least ``min_frames`` frames where the speaker is not (another person's
        shot, or the speaker in another framing that the tracker could not tell was the same face), as ``(id, first
        frame, last frame, frames where the speaker is not)``: a sync changes the speaker's frames alone."""
        return self._shown(min_frames, beside=False)

    def shown_with_speaker(self, min_frames: int) -> list[tuple[int, int, int, int]]:
        """The other faces on screen together with the speaker for at least ``min_frames`` frames (a two-shot, an
        interview, someone beside or behind), as ``(id, first frame, last frame, frames with the speaker)``."""
        return self._shown(min_frames, beside=True)

    def _shown(self, min_frames: int, beside: bool) -> list[tuple[int, int, int, int]]:
        """The other faces' frames with (``beside``) or without the speaker: ``(id, first frame, last frame, count)``,
        the first and last of all the face's frames without it, of those with it beside."""
        speaker = self.speaker_track()
        if speaker is None:
            return []
        out = []
        for tid, t in sorted(self.tracks.items()):
            some = t.present & (speaker.present if beside else ~speaker.present)
            if t is not speaker and int(some.sum()) >= min_frames:
                shown = np.flatnonzero(some if beside else t.present)
                out.append((tid, int(shown[0]), int(shown[-1]), int(some.sum())))
        return out

    # -- persistence (the analysis cache) ---------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write to an ``.npz`` file (float16 would lose sub-pixel precision on 4K frames: keep float32)."""
        arrays: dict[str, np.ndarray] = {
            "meta": np.array([self.n_frames, self.fps, self.width, self.height,
                              -1 if self.speaker is None else self.speaker], np.float64),
            "ids": np.array(sorted(self.tracks), np.int64),
        }
        for tid, tr in self.tracks.items():
            arrays[f"lm{tid}"] = tr.landmarks
            arrays[f"raw{tid}"] = tr.raw
            arrays[f"present{tid}"] = tr.present
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path: Path) -> "ClipFaces":
        """Read what :meth:`save` wrote."""
        with np.load(path) as z:
            n, fps, w, h, spk = z["meta"].tolist()
            tracks = {int(t): FaceTrack(int(t), z[f"lm{t}"], z[f"raw{t}"], z[f"present{t}"]) for t in z["ids"]}
        return cls(tracks, int(n), float(fps), int(w), int(h), None if spk < 0 else int(spk))
