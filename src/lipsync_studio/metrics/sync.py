"""A weight-free audio-visual sync measure: does the mouth on screen open and close with the sound?

The mouth opening is re-measured on the video by the face tracker (inner-lip gap over eye distance); the
sound's loudness in the speech band is taken per video frame. Their correlation is searched over offsets of
±15 frames, as SyncNet does, giving:

- **offset** (frames): where the correlation peaks; positive = the sound comes after the mouth (real speech
  peaks at about +1: the mouth moves first);
- **confidence**: peak correlation minus the median over all offsets (SyncNet's LSE-C has the same form);
- **correlation**: the peak correlation itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAX_OFFSET = 15


@dataclass(frozen=True)
class SyncScore:
    """The result of a sync measurement (see the module doc)."""

    offset_frames: int
    confidence: float
    correlation: float
    frames_used: int
    curve: tuple[float, ...] = field(repr=False, default=())
    expert: float | None = None
    lse_d: float | None = None
    lse_c: float | None = None
    lse_offset: int | None = None

    def summary(self) -> str:
        """One line for the terminal or a status bar (plus the SyncNet measures when their weights exist)."""
        text = (f"sync: offset {self.offset_frames:+d} frames, confidence {self.confidence:.2f}, "
                f"correlation {self.correlation:.2f} ({self.frames_used} frames)")
        if self.expert is not None:
            text += f"; expert cosine {self.expert:.3f}"
        if self.lse_d is not None:
            text += f"; LSE-D {self.lse_d:.3f}, LSE-C {self.lse_c:.3f}, SyncNet offset {self.lse_offset:+d}"
        return text

    def as_dict(self) -> dict:
        """Plain data for JSON."""
        return {"offset_frames": self.offset_frames, "confidence": round(self.confidence, 4),
                "correlation": round(self.correlation, 4), "frames_used": self.frames_used,
                "curve": [round(c, 4) for c in self.curve], "expert_cosine": self.expert,
                "lse_d": self.lse_d, "lse_c": self.lse_c, "lse_offset": self.lse_offset}


def sync_score(mouth: np.ndarray, loudness_db: np.ndarray, max_offset: int = MAX_OFFSET) -> SyncScore:
    """Correlate the mouth opening with the sound's loudness over offsets ``-max_offset..max_offset``.

    Parameters
    ----------
    mouth: (T,) mouth opening per frame (NaN where no face).
    loudness_db: (T,) speech-band loudness per frame (dB).
    """
    n = min(len(mouth), len(loudness_db))
    m = np.asarray(mouth[:n], np.float64)
    a = np.asarray(loudness_db[:n], np.float64)
    peak = np.percentile(a, 97) if n else 0.0
    a = np.maximum(a, peak - 45.0)  # silence depth beyond 45 dB says nothing about the mouth
    curve = []
    for k in range(-max_offset, max_offset + 1):
        mm = m[max(0, -k):n - max(0, k)]
        aa = a[max(0, k):n - max(0, -k)]
        ok = np.isfinite(mm)
        if ok.sum() < 10 or mm[ok].std() < 1e-9 or aa[ok].std() < 1e-9:
            curve.append(0.0)
            continue
        curve.append(float(np.corrcoef(mm[ok], aa[ok])[0, 1]))
    c = np.array(curve)
    best = int(np.argmax(c))
    return SyncScore(offset_frames=best - max_offset, confidence=float(c[best] - np.median(c)),
                     correlation=float(c[best]), frames_used=int(np.isfinite(m).sum()), curve=tuple(curve))


def evaluate_video(video: str | Path, dub: str | Path | None = None, advance=None, eye=None) -> SyncScore:
    """Measure the sync of ``video``'s mouth against ``dub`` (default: the video's own sound).

    ``eye``: a :class:`~lipsync_studio.face.analysis.FrameView` (``stereo.layout.eye_view(packing, side)``)
    measures one eye of a packed stereo video (the SyncNet measures, which read whole frames, are then left
    out).
    """
    from ..face.analysis import analyse_faces
    from ..media.audio import load_audio
    from ..sync.acoustics import mouth_from_audio

    faces = analyse_faces(video, advance=advance, eye=eye)
    track = faces.speaker_track()
    n = faces.n_frames
    mouth = track.mouth_gap() if track is not None else np.full(n, np.nan)
    wav = load_audio(dub if dub is not None else video, sr=16000)
    loud = mouth_from_audio(wav, faces.fps, n, lead_s=0.0).loudness_db
    score = sync_score(mouth, loud)
    return score if eye is not None else _with_syncnet_measures(score, video, dub, faces)


def _with_syncnet_measures(score: SyncScore, video, dub, faces) -> SyncScore:
    """Add the Wav2Lip expert's cosine and LSE-D/LSE-C when their weights are in the models folder."""
    import dataclasses

    from ..weights import weight_path

    expert_path, lse_path = weight_path("lipsync_expert"), weight_path("syncnet_v2")
    if expert_path is None and lse_path is None:
        return score
    from ..sync.syncnet_lse import measure_expert_sync, measure_lse

    extra: dict = {}
    if expert_path is not None:
        extra["expert"] = float(measure_expert_sync(video, expert_path, faces=faces, audio=dub).mean)
    if lse_path is not None:
        lse = measure_lse(video, lse_path, faces=faces, audio=dub)
        extra.update(lse_d=float(lse.distance), lse_c=float(lse.confidence), lse_offset=int(lse.offset))
    return dataclasses.replace(score, **extra)
