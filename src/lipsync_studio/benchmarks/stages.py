"""``lipsync-studio bench``: each stage's speed as a ratio to decoding + encoding the same clip, and peak memory.

Every pass runs in a fresh child process so its peak memory is its own. The baseline is measured in the same
run on the same clip, so the ratios hold across machines: a ratio of 1.0 means the stage costs as much as
simply decoding and re-encoding the clip.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..media.writer import VideoFormat

#: The output's encoding in this pass's process (``bench --preset``: the encoder's share of the time).
_FORMAT = VideoFormat()


def _make_clip(folder: Path, seconds: float, height: int, fps: float = 25.0) -> tuple[Path, Path]:
    """A talking clip of ``seconds`` at 16:9 ``height`` and ``fps`` frames a second, and a dub of the same length."""
    import cv2
    import numpy as np

    from ..demo import make_dub
    from ..media.audio_writer import write_audio
    from ..media.writer import VideoWriter
    from ..samples import random_syllables, synth_speech, talking_clip

    fps = Fraction(fps).limit_denominator(1001)
    n_syl = max(2, int(seconds * 3))
    speech = synth_speech(random_syllables(n_syl, 3), seed=3)
    sound = folder / "clip_sound.wav"
    write_audio(sound, speech.audio, speech.sr)
    width = (height * 16 // 9) // 2 * 2
    n_target = int(round(seconds * float(fps)))
    frames, n = talking_clip(speech, fps=float(fps), size=360, seed=3)
    cache = [cv2.resize(f, (height, height), interpolation=cv2.INTER_CUBIC) for f in frames]
    clip = folder / "bench_clip.mp4"
    with VideoWriter(clip, fps, width, height, fmt=VideoFormat(preset="veryfast"), audio=sound,
                     audio_seconds=n_target / float(fps)) as w:
        canvas = np.zeros((height, width, 3), np.uint8)
        canvas[:] = (40, 44, 52)
        x0 = (width - height) // 2
        for k in range(n_target):
            m = k % (2 * len(cache) - 2) if len(cache) > 1 else 0
            canvas[:, x0:x0 + height] = cache[m if m < len(cache) else 2 * len(cache) - 2 - m]
            w.write(canvas)
    dub = make_dub(folder / "bench_dub.wav", syllables=n_syl)["path"]
    return clip, dub


def _pass_baseline(clip: Path, dub: Path, out: Path) -> dict[str, Any]:
    from ..media.video import VideoReader
    from ..media.writer import VideoWriter

    t0, c0 = time.perf_counter(), cpu_seconds()
    with VideoReader(clip) as r, VideoWriter(out, r.info.fps, r.info.width, r.info.height, fmt=_FORMAT,
                                             audio=dub) as w:
        n = 0
        for _, img in r.iter_frames():
            w.write(img)
            n += 1
    return {"stages": {"decode+encode": {"seconds": time.perf_counter() - t0, "frames": n,
                                         "cpu_seconds": cpu_seconds() - c0}}}


def _pass_sync(clip: Path, dub: Path, out: Path) -> dict[str, Any]:
    from ..engine.sync_job import SyncOptions, build_sync_job

    # The clip's length, whatever the dub's, so every pass handles the same frames.
    job = build_sync_job(clip, dub, out, SyncOptions(extend="trim-audio", shorten="pad-silence", engine="none",
                                                     fmt=_FORMAT))
    job.run()
    return {"stages": {f"retime:{k}": {"seconds": v, "frames": job.counts.get(k, 0)} for k, v in job.timings.items()}}


def cpu_seconds() -> float:
    """CPU time (user + system) of this process's threads and its finished child processes, in seconds."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _pass_builtin(clip: Path, dub: Path, out: Path, measure: bool = True, detect: bool = True) -> dict[str, Any]:
    """The built-in engine end to end (tracking included, the analysis cache off), then its measure.

    With ``detect``, end to end starts as ``sync`` does with ``--layout auto``: by guessing whether the clip is a
    stereo pair (``builtin:layout``; decoding sample frames, seconds on a long-GOP 1080p clip).

    Each stage also gets its CPU seconds (every thread, and child processes such as the phone recognizer once
    they have ended): on a machine shared with other work the wall time is noisy, the CPU time much less so.
    """
    os.environ["LIPSYNC_STUDIO_CACHE_DIR"] = str(out.with_suffix(".cache"))
    from ..engine.sync_job import SyncOptions, build_sync_job

    marks: dict[str, float] = {}

    def note(p) -> None:  # the first report of each stage comes as it starts
        marks.setdefault(p.stage, cpu_seconds())

    t0, c0 = time.perf_counter(), cpu_seconds()
    stages: dict[str, Any] = {}
    if detect:
        from ..stereo.layout import detect_layout
        from ..sync.builtin.engine import hear_ahead

        hear_ahead(clip, dub)  # as sync does before it looks at the layout
        detect_layout(clip)
        stages["builtin:layout"] = {"seconds": time.perf_counter() - t0, "frames": 0,
                                    "cpu_seconds": cpu_seconds() - c0}
    job = build_sync_job(clip, dub, out, SyncOptions(extend="trim-audio", shorten="pad-silence", engine="builtin",
                                                     measure=measure, fmt=_FORMAT))
    job.run(on_progress=note)
    total, c_end = time.perf_counter() - t0, cpu_seconds()
    names = list(job.timings)
    cpu = {k: (marks[names[i + 1]] if i + 1 < len(names) else c_end) - marks[k] for i, k in enumerate(names)}
    stages.update({f"builtin:{k}": {"seconds": v, "frames": job.counts.get(k, 0), "cpu_seconds": cpu[k]}
                   for k, v in job.timings.items() if k != "measure"})
    n = job.state["plan"].n_out
    stages["builtin:end to end"] = {"seconds": total - job.timings.get("measure", 0.0), "frames": n,
                                    "cpu_seconds": c_end - c0 - cpu.get("measure", 0.0)}
    if "measure" in job.timings:
        stages["builtin:measure sync"] = {"seconds": job.timings["measure"], "frames": n,
                                          "cpu_seconds": cpu["measure"]}
    return {"stages": stages}


def _pass_faces(clip: Path, dub: Path, out: Path) -> dict[str, Any]:
    """Tracking (decode included), the per-frame 3D mesh, and the OBJ export, each timed on its own."""
    os.environ["LIPSYNC_STUDIO_CACHE_DIR"] = str(out.with_suffix(".cache"))  # measure, don't reuse
    from ..face.analysis import analyse_faces
    from ..face.mesh3d import FaceModel, TextureBaker, fill_gaps, mesh_for_frame
    from ..face.obj_export import ObjSequenceWriter
    from ..media.video import VideoReader

    t0 = time.perf_counter()
    faces = analyse_faces(clip, use_cache=False)
    t_track = time.perf_counter() - t0
    track = faces.speaker_track()
    stages: dict[str, Any] = {"faces:track": {"seconds": t_track, "frames": faces.n_frames}}
    if track is None:
        return {"stages": stages}
    with VideoReader(clip) as r:
        frames = [img for _, img in r.iter_frames(0, min(100, r.info.n_frames))]
    model = FaceModel.from_track(track, faces.width, faces.height)
    lm = fill_gaps(track)
    t0 = time.perf_counter()
    meshes = [mesh_for_frame(model, lm[i], f) for i, f in enumerate(frames)]
    stages["faces:mesh"] = {"seconds": time.perf_counter() - t0, "frames": len(frames)}
    t0 = time.perf_counter()
    baker = TextureBaker(model)
    writer = ObjSequenceWriter(out.with_suffix(".objs"))
    for i, (m, f) in enumerate(zip(meshes, frames)):
        writer.write(i + 1, i / faces.fps, m, baker.bake(f, m.image_points))
    writer.close({})
    stages["faces:export obj+png"] = {"seconds": time.perf_counter() - t0, "frames": len(frames)}
    return {"stages": stages}


def _make_stereo_clip(folder: Path, seconds: float, eye: int) -> tuple[Path, Path, Path]:
    """A full-SBS talking pair (``eye`` px square eyes, known disparity), its left eye alone, and a dub.

    The pair is drawn at most :data:`~..samples.face_clip.MAX_SIZE` px a side (the sample face's own limit) and
    scaled to ``eye`` beyond that, as the 2D bench scales its face to the clip's height."""
    import cv2
    import numpy as np

    from ..demo import make_dub
    from ..media.audio_writer import write_audio
    from ..media.writer import VideoWriter
    from ..samples import random_syllables, stereo_talking_frames, synth_speech
    from ..samples.face_clip import MAX_SIZE
    from ..stereo.layout import join

    fps = Fraction(25)
    n_syl = max(2, int(seconds * 3))
    speech = synth_speech(random_syllables(n_syl, 3), seed=3)
    sound = folder / "clip_sound.wav"
    write_audio(sound, speech.audio, speech.sr)
    n = int(round(seconds * float(fps)))
    opening = speech.mouth_opening(np.arange(n) / float(fps))
    clip, left = folder / "bench_stereo_SBS.mp4", folder / "bench_left.mp4"
    fmt = VideoFormat(preset="veryfast", crf=14)
    with VideoWriter(clip, fps, 2 * eye, eye, fmt=fmt, audio=sound, audio_seconds=n / float(fps)) as ws, \
            VideoWriter(left, fps, eye, eye, fmt=fmt, audio=sound, audio_seconds=n / float(fps)) as wl:
        drawn = min(eye, MAX_SIZE) // 2 * 2
        for l_img, r_img, _ in stereo_talking_frames(opening, size=drawn, seed=3):
            if drawn != eye:
                l_img, r_img = (cv2.resize(v, (eye, eye), interpolation=cv2.INTER_CUBIC) for v in (l_img, r_img))
            ws.write(join(l_img, r_img, "sbs"))
            wl.write(l_img)
    dub = make_dub(folder / "bench_dub.wav", syllables=n_syl)["path"]
    return clip, left, dub


def _pass_stereo(mode: str):
    def run(clip: Path, dub: Path, out: Path) -> dict[str, Any]:
        """A stereo sync of the SBS clip in ``mode``, end to end (the layout named, tracking cold)."""
        os.environ["LIPSYNC_STUDIO_CACHE_DIR"] = str(out.with_suffix(".cache"))
        from ..engine.stereo_sync_job import build_stereo_sync_job
        from ..engine.sync_job import StereoOptions, SyncOptions

        t0 = time.perf_counter()
        opts = SyncOptions(extend="trim-audio", shorten="pad-silence", engine="builtin", measure=False)
        job = build_stereo_sync_job(clip, dub, out, opts, StereoOptions(layout="sbs", mode=mode))
        job.run()
        n = job.state["plan"].n_out
        stages = {f"{mode}:{k}": {"seconds": v, "frames": n if k == "render" else 0} for k, v in job.timings.items()}
        stages[f"{mode}:end to end"] = {"seconds": time.perf_counter() - t0, "frames": n}
        return {"stages": stages}

    return run


def _pass_left_eye(clip: Path, dub: Path, out: Path) -> dict[str, Any]:
    """Syncing one eye alone (the left eye's own file): what the stereo modes are measured against."""
    result = _pass_builtin(clip.with_name("bench_left.mp4"), dub, out, measure=False, detect=False)
    result["stages"] = {k.replace("builtin:", "one eye:"): v for k, v in result["stages"].items()}
    return result


_PASSES = {"baseline": _pass_baseline, "sync": _pass_sync, "faces": _pass_faces, "builtin": _pass_builtin}
_STEREO_PASSES = {"baseline": _pass_baseline, "one eye": _pass_left_eye, "consistent": _pass_stereo("consistent"),
                  "independent": _pass_stereo("independent")}


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB.

    Linux's ``ru_maxrss`` carries the parent's peak across ``exec``; ``VmHWM`` is this process's own.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # macOS: bytes, close enough as a bound


def _child(name: str, clip: str, dub: str, out: str, preset: str = _FORMAT.preset) -> None:
    global _FORMAT
    _FORMAT = VideoFormat(preset=preset)
    result = {**_PASSES, **_STEREO_PASSES}[name](Path(clip), Path(dub), Path(out))
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def _run_child(name: str, clip: Path, dub: Path, out: Path, preset: str = _FORMAT.preset) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "lipsync_studio.benchmarks.stages", name, str(clip), str(dub), str(out), preset]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"bench pass {name} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _total(result: dict[str, Any]) -> float:
    stages = result["stages"]
    ends = [v["seconds"] for k, v in stages.items() if k.endswith("end to end")]
    return ends[0] if ends else sum(v["seconds"] for v in stages.values())


def run_bench(clip: Path | None = None, dub: Path | None = None, seconds: float = 10.0, height: int = 720,
              quiet: bool = False, repeat: int = 1, stereo: bool = False, fps: float = 25.0,
              preset: str = _FORMAT.preset) -> dict[str, Any]:
    """Measure every pass; return a report with frames/s, ratio to the baseline and peak memory per pass.

    With ``repeat`` > 1 the passes run in turn that many times and each keeps its fastest run (total seconds):
    on a shared machine the slow runs are other people's work, not ours.
    With ``stereo`` a full-SBS talking pair (``height`` px eyes) is made and the stereo modes are measured
    against syncing one eye alone. ``fps``: the generated 2D clip's frame rate (e.g. 1080p at 30). ``preset``:
    the x264 preset every pass writes with (the default: the app's own).
    """
    from ..media.video import probe_video

    load_before = _load()  # before any of this run's own work
    with tempfile.TemporaryDirectory(prefix="lipsync-bench-") as tmp:
        folder = Path(tmp)
        passes = _STEREO_PASSES if stereo else _PASSES
        if stereo:
            if not quiet:
                print(f"making a {seconds:g} s stereo clip with {height}-px eyes ...", file=sys.stderr)
            clip, _, dub = _make_stereo_clip(folder, seconds, height)
        elif clip is None:
            if not quiet:
                print(f"making a {seconds:g} s {height}p{fps:g} clip ...", file=sys.stderr)
            clip, gen_dub = _make_clip(folder, seconds, height, fps)
            dub = dub or gen_dub
        elif dub is None:
            dub = clip  # the clip's own sound
        info = probe_video(clip)
        report: dict[str, Any] = {"clip": str(clip), "width": info.width, "height": info.height,
                                  "frames": info.n_frames, "fps": float(info.fps), "preset": preset, "passes": {},
                                  "cores": os.cpu_count(), "load": [load_before]}
        for round_ in range(max(1, repeat)):
            for name in passes:
                if not quiet:
                    print(f"pass {name} ..." + (f" (run {round_ + 1} of {repeat})" if repeat > 1 else ""),
                          file=sys.stderr)
                result = _run_child(name, clip, dub, folder / f"out_{name}_{round_}.mp4", preset)
                best = report["passes"].get(name)
                if best is None or _total(result) < _total(best):
                    report["passes"][name] = result
        report["repeat"] = max(1, repeat)
        report["load"].append(_load())
    base = report["passes"]["baseline"]["stages"]["decode+encode"]
    base_fps = base["frames"] / max(base["seconds"], 1e-9)
    for p in report["passes"].values():
        for st in p["stages"].values():
            st["fps"] = st["frames"] / max(st["seconds"], 1e-9)
            st["ratio_to_baseline"] = st["seconds"] / max(base["seconds"], 1e-9)
    report["baseline_fps"] = base_fps
    return report


def _load() -> float | None:
    """The machine's 1-minute load average (runnable processes, all users), or None where there is none."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def format_bench(report: dict[str, Any]) -> str:
    """The report as a table: one row per stage, the pass's peak memory on its first row."""
    lines = [f"clip: {report['clip']} ({report['width']}x{report['height']}, {report['frames']} frames, "
             f"{report['fps']:g} fps; written with x264 preset {report.get('preset', VideoFormat().preset)})",
             f"{'stage':<22}{'seconds':>9}{'frames/s':>10}{'x baseline':>12}{'peak MB':>9}{'CPU s':>8}"]
    for p in report["passes"].values():
        for k, (name, st) in enumerate(p["stages"].items()):
            fps = f"{st['fps']:.1f}" if st["frames"] > 1 else "-"
            peak = f"{p['peak_rss_mb']:.0f}" if k == 0 else ""
            cpu = f"{st['cpu_seconds']:.2f}" if "cpu_seconds" in st else ""
            lines.append(f"{name:<22}{st['seconds']:>9.2f}{fps:>10}{st['ratio_to_baseline']:>12.2f}{peak:>9}{cpu:>8}")
    for p in report["passes"].values():
        for name, st in p["stages"].items():
            if name.endswith("end to end") and report["fps"] > 0:
                clip_s = st["frames"] / report["fps"]
                cpu = (f"; {st['cpu_seconds'] / clip_s:.2f} CPU-seconds per second of clip"
                       if st.get("cpu_seconds") and clip_s > 0 else "")
                lines.append(f"{name}: {st['fps'] / report['fps']:.2f}x real time (the clip plays at "
                             f"{report['fps']:g} frames/s){cpu}")
    one = report["passes"].get("one eye", {}).get("stages", {}).get("one eye:end to end")
    for mode in ("consistent", "independent"):
        st = report["passes"].get(mode, {}).get("stages", {}).get(f"{mode}:end to end")
        if one and st:
            lines.append(f"stereo {mode}: {st['seconds'] / one['seconds']:.2f}x the time of syncing one eye alone")
    if report.get("repeat", 1) > 1:
        lines.append(f"each pass: the fastest of {report['repeat']} runs")
    load = report.get("load") or []
    if len(load) == 2 and None not in load and report.get("cores"):
        # Before the run its load is other people's; after it, this run's own passes count in it too.
        busy = load[0] > 0.5 * report["cores"]
        lines.append(f"machine: {report['cores']} cores, load average {load[0]:.1f} before the run, {load[1]:.1f} "
                     "after it" + ("; other work was running: the times (and the real-time factor) may read "
                                   "slow, the ratios to the baseline less so" if busy else ""))
    return "\n".join(lines)


if __name__ == "__main__":  # a bench pass in its own process
    _child(*sys.argv[1:6])
