"""How far mouths run ahead of their sound (``metrics.sync.mouth_lead``), and whether a moved sound is caught.

For every real talking head in CLIP_DIR with its own sound (real people saying their own words: where real
speakers' leads lie), then for every synced result in the optional result folders (``*_to_*_builtin.mp4`` as
``xrecon.py`` / ``xrecon_frozen.py`` write them, each carrying its dub as its sound): the best lead, the leads within
two standard errors of it, and the verdict against real speakers' range (``REAL_SPEECH_LEAD_S``). Each result is
then measured again with its sound moved by +-SHIFT seconds (the picture left as it is, the moved sound heard
again), as a user's mistimed export would be: counted as caught when its verdict is "out"; and judged against its
picture's own speech (``pic_A.mp4`` beside it, measured the same way) instead of real speakers' range.

Beside it, the loudness correlation's peak (``sync_score``), which the Result box used to read as the sync
offset, for the same videos.

usage: python bench/mouth_lead.py CLIP_DIR [RESULT_DIR ...] [--shift 0.32]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def _inputs(video: Path, move_s: float = 0.0):
    """The mouth's gap per frame and the sound's phones, loudness level and loudness (dB), with the sound moved
    ``move_s`` seconds later (earlier when negative) as a mistimed export would carry it: silence in front and
    the end cut, or the start cut and silence after, the same length, heard again."""
    from lipsync_studio.face.analysis import analyse_faces
    from lipsync_studio.media.audio import load_audio
    from lipsync_studio.sync.acoustics import mouth_from_audio
    from lipsync_studio.sync.phones import recognize_phones

    faces = analyse_faces(video)
    track = faces.speaker_track()
    fps = float(faces.fps)
    gap = track.mouth_gap() if track is not None else np.full(faces.n_frames, np.nan)
    wav = load_audio(video, sr=16000)
    k = int(round(abs(move_s) * 16000))
    if k and move_s > 0:
        wav = np.concatenate([np.zeros(k, wav.dtype), wav[:len(wav) - k]])
    elif k:
        wav = np.concatenate([wav[k:], np.zeros(k, wav.dtype)])
    sound = mouth_from_audio(wav, fps, len(gap), 0.0)
    return gap, recognize_phones(wav), sound.level, sound.loudness_db, fps


def _row(name: str, lead, fps: float, peak: int | None = None) -> str:
    if lead is None:
        return f"{name:44s} lead   n/a (the mouth does not follow the phones well enough)" + (
            "" if peak is None else f"  loudness peak {peak:+3d} fr")
    state, by = lead.judge(fps)
    extra = "" if peak is None else f"  loudness peak {peak:+3d} fr"
    return (f"{name:44s} lead {1000 * lead.lead_s:+5.0f} ms  within [{1000 * lead.low_s:+5.0f}, "
            f"{1000 * lead.high_s:+5.0f}]  r {lead.agreement:.2f}  {state:7s}{extra}")


def _ref(own) -> tuple[float, float]:
    from lipsync_studio.metrics.sync import REAL_SPEECH_LEAD_S

    return REAL_SPEECH_LEAD_S if own is None else (own.low_s, own.high_s)


def main() -> int:
    from lipsync_studio.metrics.sync import REAL_SPEECH_LEAD_S, mouth_lead, sync_score

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clips", type=Path)
    ap.add_argument("results", type=Path, nargs="*")
    ap.add_argument("--shift", type=float, default=0.32)
    a = ap.parse_args()
    lo, hi = REAL_SPEECH_LEAD_S
    print(f"real speakers' range: {1000 * lo:.0f} to {1000 * hi:.0f} ms")
    print("-- real speech with its own sound")
    states = {"in": 0, "unclear": 0, "out": 0, "n/a": 0}
    for clip in sorted(p for p in a.clips.glob("*.mp4") if "vr180" not in p.name):
        gap, phones, level, loud, fps = _inputs(clip)
        lead = mouth_lead(gap, phones, level, fps)
        states[lead.judge(fps)[0] if lead is not None else "n/a"] += 1
        print(_row(clip.stem, lead, fps, sync_score(gap, loud).offset_frames), flush=True)
    print(f"real speech: {states}")
    caught = told = kept = caught_own = kept_own = 0
    old_false = old_caught = 0  # the loudness peak read as before: out of sync beyond 3 frames from +1
    for folder in a.results:
        print(f"-- results in {folder}")
        for video in sorted(folder.glob("*/*_to_*_builtin.mp4")):
            gap, phones, level, loud, fps = _inputs(video)
            name = f"{video.parent.name[:26]}/{video.stem.replace('_builtin', '')}"
            lead = mouth_lead(gap, phones, level, fps)
            pic = video.parent / f"pic_{video.stem.split('_')[0]}.mp4"
            own = mouth_lead(*_inputs(pic)[:3], fps) if pic.exists() else None
            if own is not None:
                print(_row(f"  (its picture's own speech: {pic.name})", own, fps), flush=True)
            kept += lead is not None and lead.judge(fps)[0] != "out"
            kept_own += lead is not None and lead.judge(fps, _ref(own))[0] != "out"
            peak = sync_score(gap, loud).offset_frames
            old_false += abs(peak - 1) > 3
            print(_row(name, lead, fps, peak), flush=True)
            for s in (-a.shift, a.shift):
                gap, ph, lv, loud, fps = _inputs(video, s)
                moved = mouth_lead(gap, ph, lv, fps)
                told += 1
                caught += moved is not None and moved.judge(fps)[0] == "out"
                caught_own += moved is not None and moved.judge(fps, _ref(own))[0] == "out"
                peak = sync_score(gap, loud).offset_frames
                old_caught += abs(peak - 1) > 3
                print(_row(f"  sound {1000 * s:+.0f} ms", moved, fps, peak), flush=True)
    if told:
        print(f"results in time or unclear: {kept} of {told // 2}; moved by {1000 * a.shift:.0f} ms and caught as "
              f"out of sync: {caught} of {told}")
        print(f"against the picture's own speech where it has one (else real speakers'): results in time or "
              f"unclear {kept_own} of {told // 2}; moved ones caught {caught_own} of {told}")
        print(f"the loudness peak read as the Result box read it before (out of sync beyond 3 frames from +1): "
              f"results called out of sync {old_false} of {told // 2}; moved ones {old_caught} of {told}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
