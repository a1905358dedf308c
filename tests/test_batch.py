"""The batch: a manifest checked whole, jobs as Ray tasks on a real local Ray, resumable, nothing lost, a QC report.

Batches run as the command a user types (a subprocess: Ray's driver owns its process's signals), on a private
Ray with one or two CPUs, over 2-3 s talking clips made here.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import write_audio_streams, write_clip

from lipsync_studio.batch.manifest import ManifestError, read_manifest
from lipsync_studio.cli import main
from lipsync_studio.demo import make_dub, make_talking_clip
from lipsync_studio.media.audio import probe_audio
from lipsync_studio.media.video import probe_video

EVIL = "<img src=x onerror=alert(1)>"  # a file name may hold markup (not a slash)


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    """Two talking clips (192 px, ~2 s) and three dubs (~3 s, other voices)."""
    d = tmp_path_factory.mktemp("batch-media")
    found = {f"clip{i}": make_talking_clip(d / f"clip{i}.mp4", seed=1 + i, syllables=6, size=192)["path"]
             for i in range(2)}
    for j in range(3):
        found[f"dub{j}"] = make_dub(d / f"dub{j}.wav", seed=7 + j, syllables=5 + j)["path"]
    return found


def _batch(args: list[str], *, wait: bool = True, env: dict | None = None):
    cmd = [sys.executable, "-m", "lipsync_studio.cli", "-q", "batch", *args, "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    if not wait:
        return proc
    out, err = proc.communicate(timeout=300)
    return proc.returncode, [json.loads(line) for line in out.splitlines() if line.startswith("{")], err


def _no_partials(folder: Path) -> None:
    left = [p for p in folder.rglob("*") if ".part-" in p.name or ".partial-" in p.name]
    assert not left, f"partial files left: {left}"


def _attempt_records(out: Path) -> list[dict]:
    recs = []
    for p in (out / ".batch" / "runs").glob("*/attempts/*.json"):
        if p.name.startswith("."):  # a record still being written (as the driver, read only whole ones)
            continue
        try:
            recs.append(json.loads(p.read_text()))
        except ValueError:
            pass
    return recs


def _python(script: str) -> subprocess.CompletedProcess:
    """``script`` run by a Python of its own (what it does to its process stays there)."""
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})


def test_a_crash_after_a_batch_still_leaves_every_threads_python_stack():
    """The batch's Ray driver runs in the app's process (the batch window): ``ray.init`` took the crash signals and
    ``ray.shutdown`` left them with no handler, so a later crash in a native library ended the process without a
    word (the test suite's rare segmentation fault printed none). The crash trace is put back after both."""
    script = (
        "import faulthandler, sys\n"
        "from lipsync_studio.errors import trace_crashes\n"
        "from lipsync_studio.batch.ray_backend import RayCluster, RaySettings\n"
        "trace_crashes(sys.stderr)\n"
        "with RayCluster(RaySettings(num_cpus=1)) as cluster:\n"
        "    print('slots', cluster.slots(), flush=True)\n"
        "faulthandler._sigsegv()\n")
    run = _python(script)
    assert "slots" in run.stdout, run.stderr[-2000:]
    assert run.returncode != 0 and "Fatal Python error: Segmentation fault" in run.stderr, run.stderr[-2000:]
    assert 'File "<string>", line 7' in run.stderr  # where it crashed


def _ray_processes_of(temp_dir: str) -> list[int]:
    """Processes whose command line names this private Ray's folder (its head, servers and workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if temp_dir.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_private_ray_starts_without_python_in_a_fork_and_goes_with_a_killed_app(tmp_path):
    """The app's batch window starts Ray while other threads decode video. ``ray.init`` forked the app and ran
    Python in the child before executing Ray's servers; the child's after-fork clean-up freed FFmpeg objects of
    those threads and hung for ever waiting on threads it does not have (the batch window stuck at "starting").
    The private Ray's head is a fresh process of its own now: nothing runs Python in a fork of the app. And an app
    killed outright takes its Ray with it (no servers left running on the user's machine)."""
    marker = tmp_path / "forked"
    script = (
        "import os, signal, sys\n"
        f"os.register_at_fork(after_in_child=lambda: open({str(marker)!r}, 'a').write('child\\n'))\n"
        "from lipsync_studio.batch.ray_backend import RayCluster, RaySettings\n"
        "with RayCluster(RaySettings(num_cpus=1)) as cluster:\n"
        "    print('slots', cluster.slots(), flush=True)\n"
        "c = RayCluster(RaySettings(num_cpus=1)).__enter__()\n"
        "print('head', c._head.pid, c._tmp, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n")
    run = _python(script)
    assert "slots (1.0, 0.0)" in run.stdout, run.stderr[-2000:]
    assert not marker.exists(), marker.read_text()  # no Python ran in a fork of the app
    assert run.returncode == -signal.SIGKILL
    head, temp_dir = run.stdout.split("head ")[1].split()
    assert "lss-ray-" in temp_dir
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and _ray_processes_of(temp_dir):
        time.sleep(0.5)
    assert not _ray_processes_of(temp_dir), "Ray outlived the killed app"
    assert not Path(f"/proc/{head}").exists() or b"ray_head" not in Path(f"/proc/{head}/cmdline").read_bytes()
    shutil.rmtree(temp_dir, ignore_errors=True)


def test_a_bad_manifest_is_reported_whole_with_rows_and_nothing_runs(media, tmp_path, capsys):
    clip, dub = media["clip0"], media["dub0"]
    manifest = tmp_path / "m.csv"
    manifest.write_text("\n".join([
        "clip,lang,video,dub,face",
        f"ok,es-419,{clip},{dub},",
        f"ok,ES-419,{clip},{dub},",  # the same pair again (case does not make it another file everywhere)
        f"../up,fr,{clip},{dub},",
        f"/abs,fr,{clip},{dub},",
        f"sp ace,fr,{clip},{dub},",
        f"ok,de/../../x,{clip},{dub},",
        f"ok,not_a_tag,{clip},{dub},",
        f"miss,fr,{tmp_path / 'nope.mp4'},{dub},",
        f"ok,it,{clip},{dub},one",
    ]) + "\n")
    out = tmp_path / "out"
    assert main(["-q", "batch", str(manifest), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    for row, words in [(3, "already row 2"), (4, "'../up'"), (5, "'/abs'"), (6, "'sp ace'"), (7, "'de/../../x'"),
                       (8, "BCP 47"), (9, "nope.mp4"), (10, "face")]:
        line = next((ln for ln in err.splitlines() if f"row {row}:" in ln), "")
        assert words in line, (row, err)
    assert "row 2:" not in err
    assert not out.exists()  # nothing ran, nothing was made
    # An unknown column, a stereo option a 2D file cannot hide, an option this sync job cannot do.
    manifest.write_text(f"clip,lang,video,dub,colour\nok,fr,{clip},{dub},red\n")
    with pytest.raises(ManifestError, match=r"row 1: unknown column.*'colour'"):
        read_manifest(manifest)
    bad_json = tmp_path / "m.json"
    bad_json.write_text(json.dumps([{"clip": "a", "lang": "fr", "video": str(clip), "dub": str(dub),
                                     "script": str(dub), "stereo_mode": "sideways"}]))
    with pytest.raises(ManifestError) as info:
        read_manifest(bad_json, supported_options=("face", "stereo_mode"))
    assert any("row 1: option 'script' is not supported" in p for p in info.value.problems)
    assert any("row 1: stereo_mode 'sideways'" in p for p in info.value.problems)


def test_a_manifest_names_a_dubs_dialogue_stream_and_channels(media, tmp_path):
    """``dub_stream`` and ``dub_channels`` (from 1, as a mixer numbers them: 5,6 or 5-6) reach the job; anything else
    is a problem of its row, found before any work."""
    from lipsync_studio.batch.execute import SUPPORTED_OPTIONS

    clip, dub = media["clip0"], media["dub0"]
    manifest = tmp_path / "m.csv"
    manifest.write_text("clip,lang,video,dub,dub_stream,dub_channels\n"
                        f"a,fr,{clip},{dub},1,5-6\nb,fr,{clip},{dub},,3\n")
    a, b = read_manifest(manifest, SUPPORTED_OPTIONS)
    assert a.options == {"dub_stream": 1, "dub_channels": (5, 6)} and b.options == {"dub_channels": (3,)}
    assert a.from_dict(json.loads(json.dumps(a.to_dict()))) == a  # as a Ray task and the journal carry it
    from lipsync_studio.batch.report import write_report

    page = write_report(tmp_path, [a, b]).read_text()  # not run yet: named with what of the dub is heard
    assert f"dub {dub.name} (stream #1, channels 5, 6)" in page and f"dub {dub.name} (channels 3)" in page
    manifest.write_text(f"clip,lang,video,dub,dub_stream,dub_channels\na,fr,{clip},{dub},-1,0\n")
    with pytest.raises(ManifestError) as info:
        read_manifest(manifest, SUPPORTED_OPTIONS)
    assert any("dub_stream must be" in p for p in info.value.problems)
    assert any("dub_channels must be" in p for p in info.value.problems)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")
def test_a_job_hears_its_script_in_its_language_and_the_dub_stream_it_names(media, tmp_path):
    """A manifest's ``script`` column was refused as "not supported by this version's sync job" although the sync
    job takes a script: a studio's batch, where every language comes with its text, could not use them. Now the
    script reaches the engine in the row's language (its BCP 47 tag as an espeak-ng voice), and ``dub_stream``
    picks the dialogue out of a delivery holding several audio streams."""
    import numpy as np

    from lipsync_studio.batch.execute import run_job
    from lipsync_studio.batch.manifest import BatchJob
    from lipsync_studio.errors import OptionError
    from lipsync_studio.media.audio import load_audio

    speech = load_audio(media["dub0"], 48000)
    tone = (0.3 * np.sin(2 * np.pi * 300 * np.arange(len(speech)) / 48000)).astype(np.float32)
    dub = write_audio_streams(tmp_path / "delivery.mkv", [tone, speech])  # #0 a tone (the M&E), #1 the dialogue
    script = tmp_path / "lines.txt"
    script.write_text("Ela fala de novo amanhã.\n")
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"clip,lang,video,dub,script,dub_stream\nc,pt-BR,{media['clip0']},{dub},{script},1\n")
    from lipsync_studio.batch.execute import SUPPORTED_OPTIONS

    job, = read_manifest(manifest, SUPPORTED_OPTIONS)
    assert job.options == {"script": script, "dub_stream": 1}
    (tmp_path / "o1").mkdir()
    outcome = run_job(job, tmp_path / "o1", device="cpu")
    heard = load_audio(tmp_path / "o1" / outcome.outputs[0], 16000)
    want = load_audio(media["dub0"], 16000)
    n = min(len(heard), len(want))
    assert np.corrcoef(heard[:n], want[:n])[0, 1] > 0.9  # the dialogue stream, not the tone, is the output's sound
    assert not any("audio streams" in w for w in outcome.warnings)
    # The script goes to the engine in the row's language: one espeak-ng cannot speak stops the job, by name.
    (tmp_path / "o2").mkdir()
    with pytest.raises(OptionError, match="'qq'"):
        run_job(BatchJob(clip="c", lang="qq", dub=dub, video=media["clip0"], options={"script": script}),
                tmp_path / "o2", device="cpu")


@pytest.mark.slow
def test_a_batch_runs_every_job_once_resumes_redoes_what_changed_and_reports(media, tmp_path):
    # Each job its own dub file, so changing one changes one job; one dub's name carries markup, one is no audio.
    dubs = tmp_path / "dubs"
    dubs.mkdir()
    names = {("A", "es-419"): "a_es.wav", ("A", "fr"): "a_fr.wav", ("B", "es-419"): f"b {EVIL}.wav",
             ("B", "fr"): "b_fr.wav"}
    for (clip, _), name in names.items():
        shutil.copy(media["dub0" if clip == "A" else "dub1"], dubs / name)
    (dubs / "broken.wav").write_text("this is not audio")
    jobs = [{"clip": f"clip{c}", "lang": lang, "video": str(media["clip0" if c == "A" else "clip1"]),
             "dub": f"dubs/{name}"} for (c, lang), name in names.items()]
    jobs.append({"clip": "clipA", "lang": "de", "video": str(media["clip0"]), "dub": "dubs/broken.wav"})
    jobs[1]["dub_offset"] = 0.2
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"jobs": jobs}))
    out = tmp_path / "out"
    before = {p: p.stat().st_mtime_ns for p in list(dubs.iterdir()) + [media["clip0"], media["clip1"]]}

    code, events, err = _batch([str(manifest), "-o", str(out), "--num-cpus", "2"])
    assert code == 1, err  # one job failed
    summary = events[-1]
    assert summary["done"] == 4 and list(summary["failed"]) == ["clipA_de"]
    assert "broken.wav" in summary["failed"]["clipA_de"]
    for job in jobs[:4]:
        key = f"{job['clip']}_{job['lang']}"
        video = out / job["clip"] / f"{key}.mp4"
        side = json.loads((out / job["clip"] / f"{key}.json").read_text())
        dub_s = probe_audio(tmp_path / job["dub"]).duration_s + job.get("dub_offset", 0.0)
        assert abs(probe_video(video).duration - dub_s) < 0.1  # the length follows the (shifted) dub
        assert side["outputs"] == [{"name": video.name, "size": video.stat().st_size}]
        assert side["inputs"]["dub"]["path"] == str((tmp_path / job["dub"]).absolute())
        assert side["attempt"]["attempts"] == 1 and side["sync"]["frames_used"] > 40
        assert side["attempt"]["device"] == "cpu"  # Ray gave the task no GPU
        assert (out / side["qc"]["image"]).stat().st_size > 1000
        # The mouth's looks against the clip it was drawn into, frame for frame along the sync's timeline.
        looks = side["qc"]["looks"]
        assert looks["frames_used"] > 40 and 0.3 < looks["same_shape_median"] < 3
        assert looks["colour_de"] < 15 and len(looks["softest_frames"]) == 5
    assert not (out / "clipA" / "clipA_de.mp4").exists()
    _no_partials(out)
    assert {p: p.stat().st_mtime_ns for p in before} == before  # inputs untouched
    journal = [json.loads(line) for line in (out / ".batch" / "journal.jsonl").read_text().splitlines()]
    assert sorted(e["key"] for e in journal if e["event"] == "attempt") == sorted(
        f"{j['clip']}_{j['lang']}" for j in jobs)
    page = (out / "report.html").read_text()
    assert EVIL not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "out of sync" not in page and page.count(">timing +") + page.count(">timing -") == 4  # each result timed, none flagged
    assert page.count("<tr ") == 5 and "broken.wav" in page and "data:image/jpeg;base64," in page
    assert page.count("<script") == 1  # the page's own sorting, nothing from the manifest
    assert page.count("lip colour dE") == 4  # each result's looks

    # Nothing changed: nothing runs (not even Ray) but what failed; fix the broken dub and change one other.
    # A file touched but not changed (a copy tool resetting dates) is still the same input.
    os.utime(dubs / "a_es.wav", (time.time(), time.time()))
    shutil.copy(media["dub2"], dubs / "broken.wav")
    shutil.copy(media["dub2"], dubs / "b_fr.wav")
    (dubs / "a_fr.wav").write_text("damaged since")  # its redo fails: the old result stays, the report says failed
    kept = {p: p.stat().st_mtime_ns for p in out.glob("clip*/*.mp4") if p.name != "clipB_fr.mp4"}
    code, events, err = _batch([str(manifest), "-o", str(out), "--num-cpus", "2"])
    assert code == 1, err
    plan = events[0]
    assert plan["event"] == "plan" and plan["skipped"] == 2
    assert plan["reasons"] == {"clipB_fr": "dub changed", "clipA_de": "new", "clipA_fr": "dub changed"}
    assert list(events[-1]["failed"]) == ["clipA_fr"]
    assert {p: p.stat().st_mtime_ns for p in kept} == kept
    assert abs(probe_video(out / "clipB" / "clipB_fr.mp4").duration - probe_audio(media["dub2"]).duration_s) < 0.1
    page = (out / "report.html").read_text()
    row = next(r for r in page.split("<tr ")[1:] if 'data-clip="clipA" data-lang="fr"' in r)
    assert row.startswith('class="failed"') and "a_fr.wav" in row
    # The same bytes back (a newer date): the old result matches again.
    shutil.copy(media["dub0"], dubs / "a_fr.wav")

    code, events, err = _batch([str(manifest), "-o", str(out)])
    assert code == 0 and events[0]["to_run"] == 0 and events[-1]["skipped"] == 5
    # --force plans every job again (a batch cancelled as it starts: it plans, then runs nothing).
    import threading

    from lipsync_studio.batch.runner import run_batch

    events, stop = [], threading.Event()
    stop.set()
    summary = run_batch(manifest, out, force=True, on_event=events.append, cancel=stop)
    assert events[0]["reasons"] == {f"{j['clip']}_{j['lang']}": "forced" for j in jobs}
    assert summary.cancelled and summary.exit_code == 130
    _no_partials(out)


@pytest.mark.slow
def test_the_report_flags_a_result_whose_mouth_is_out_of_time_with_its_dub():
    """A result whose mouth lags its dub (its sound shifted in a remux, say) is marked bad with how far; one timed
    like real speakers is not; one that cannot be timed is not accused."""
    from lipsync_studio.batch.report import findings
    from lipsync_studio.metrics.sync import MouthLead

    def side(lead):
        return {"sync": {"confidence": 0.3, "correlation": 0.4, "lead": lead}, "result": {"fps": 25.0}}

    late = findings(side(MouthLead(-0.3, -0.34, -0.26, 0.8).as_dict()))
    assert late == [(3, "out of sync by 300 ms: the mouth lags the sound by 300 ms (real speakers lead by 40-320 ms)")]
    assert findings(side(MouthLead(0.16, 0.12, 0.2, 0.8).as_dict())) == []
    assert findings(side(None)) == []


def test_the_report_names_a_soft_or_recoloured_mouth_by_the_clips_own_frames_and_not_a_shut_one():
    """The looks' findings judge softness at the same mouth opening: a mouth only shut where the clip showed teeth
    (a low plain ratio, the same-shape one as the clip's) is no finding; a soft or recoloured one is, with its
    frames."""
    from lipsync_studio.batch.report import findings

    def side(same, same_worst, de):
        verdicts = {"sharpness": False, "sharpness_worst_tenth": False, "same_shape": same >= 0.95,
                    "same_shape_worst_tenth": same_worst >= 0.55, "colour": de <= 3.5, "lip_size": True}
        looks = {"sharpness_median": 0.7, "real_sharpness_median": 1.0, "same_shape_median": same,
                 "real_same_shape_median": 1.0, "same_shape_worst_tenth": same_worst,
                 "real_same_shape_worst_tenth": 0.6, "colour_de": de, "real_colour_de": 3.0,
                 "next_frame_colour_de": 1.2, "area_in_range": 1.0, "softest_frames": [7, 3, 9],
                 "most_recoloured_frames": [4, 5], "verdicts": verdicts}
        return {"sync": {"confidence": 0.3, "correlation": 0.4}, "qc": {"looks": looks}}

    assert findings(side(1.02, 0.7, 2.0)) == []
    soft = findings(side(0.8, 0.4, 2.0))
    assert soft == [(2, "mouth softer than the clip's own of the same opening (sharpness 0.80; real frames 1.00): "
                        "frames 7, 3, 9")]
    assert findings(side(1.0, 0.4, 2.0))[0][1].startswith("some mouths softer")
    assert findings(side(1.0, 0.7, 6.0)) == [(2, "lips recoloured (dE 6.00; the clip's own change 3.00): frames 4, 5")]
    assert findings({"sync": {"confidence": 0.3, "correlation": 0.4}, "qc": {"looks": None}}) == []


def test_a_worker_killed_mid_job_is_retried_and_nothing_partial_is_left(media, tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"clip,lang,video,dub\nc0,es,{media['clip0']},{media['dub0']}\n"
                        f"c1,es,{media['clip1']},{media['dub1']}\n")
    out = tmp_path / "out"
    proc = _batch([str(manifest), "-o", str(out), "--num-cpus", "1", "--max-retries", "2"], wait=False)
    deadline = time.monotonic() + 120
    victim = None
    while victim is None and time.monotonic() < deadline and proc.poll() is None:
        recs = _attempt_records(out)
        if recs:
            victim = recs[0]
        time.sleep(0.05)
    assert victim is not None, proc.communicate()[1]
    os.kill(victim["pid"], signal.SIGKILL)  # the worker process running that job, mid-job
    stdout, err = proc.communicate(timeout=300)
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    assert proc.returncode == 0, err
    assert any(e["event"] == "retry" and e["key"] == victim["key"] for e in events)
    side = json.loads((out / victim["key"].split("_")[0] / f"{victim['key']}.json").read_text())
    assert side["attempt"]["attempts"] == 2 and side["attempt"]["pid"] != victim["pid"]
    assert probe_video(out / side["clip"] / side["outputs"][0]["name"]).n_frames == side["result"]["frames"]
    _no_partials(out)


@pytest.mark.slow
def test_sigterm_cancels_the_batch_and_a_rerun_finishes_only_the_rest(media, tmp_path):
    rows = [f"c{i},{lang},{media[f'clip{i}']},{media[f'dub{i + j}']}" for i, j, lang in
            ((0, 0, "es"), (0, 1, "pt-BR"), (1, 0, "es"))]
    manifest = tmp_path / "m.csv"
    manifest.write_text("clip,lang,video,dub\n" + "\n".join(rows) + "\n")
    out = tmp_path / "out"
    proc = _batch([str(manifest), "-o", str(out), "--num-cpus", "1"], wait=False)
    first = None
    assert proc.stdout is not None
    for line in proc.stdout:
        ev = json.loads(line)
        if ev["event"] == "done":
            first = ev["key"]
            break
    assert first is not None, proc.communicate()[1]
    proc.send_signal(signal.SIGTERM)
    stdout, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    done = sorted(p.stem for p in out.glob("*/*.json"))
    assert first in done and len(done) < 3
    _no_partials(out)
    assert "not done" in (out / "report.html").read_text()
    code, events, err = _batch([str(manifest), "-o", str(out), "--num-cpus", "2"])
    assert code == 0, err
    assert events[0]["skipped"] == len(done) and events[-1]["done"] == 3 - len(done)
    assert len(list(out.glob("*/*.json"))) == 3


@pytest.mark.slow
def test_a_two_node_cluster_loses_a_node_mid_run_and_the_batch_still_completes(media, tmp_path):
    import psutil

    ray_bin = Path(sys.executable).with_name("ray")
    port, worker_port = 26379 + os.getpid() % 1000, 27379 + os.getpid() % 1000
    temp = Path("/tmp") / f"lss-two-{os.getpid()}"
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": os.urandom(16).hex(),
           "RAY_USAGE_STATS_ENABLED": "0", "RAY_health_check_period_ms": "1000",
           "RAY_health_check_failure_threshold": "3"}
    common = ["--num-cpus", "1", "--disable-usage-stats", f"--temp-dir={temp}"]

    def ray(*args):
        return subprocess.run([str(ray_bin), *args], env=env, capture_output=True, text=True, timeout=120)

    started = ray("start", "--head", f"--port={port}", "--include-dashboard=false", *common)
    assert started.returncode == 0, started.stderr
    try:
        node2 = ray("start", f"--address=127.0.0.1:{port}", f"--node-manager-port={worker_port}", *common)
        assert node2.returncode == 0, node2.stderr
        raylet2 = next(p for p in psutil.process_iter(["cmdline"])
                       if "raylet" in " ".join(p.info["cmdline"] or []) and
                       f"--node_manager_port={worker_port}" in " ".join(p.info["cmdline"] or []))
        manifest = tmp_path / "m.csv"
        manifest.write_text("clip,lang,video,dub\n" + "\n".join(
            f"c{i},{lang},{media[f'clip{i}']},{media[f'dub{j}']}" for i in range(2) for j, lang in enumerate(("es", "fr"))
        ) + "\n")
        out = tmp_path / "out"
        proc = _batch([str(manifest), "-o", str(out), "--address", f"127.0.0.1:{port}", "--max-retries", "3"],
                      wait=False, env=env)
        node2_pids = {raylet2.pid} | {c.pid for c in raylet2.children(recursive=True)}
        deadline = time.monotonic() + 150
        hit = None
        while hit is None and time.monotonic() < deadline and proc.poll() is None:
            node2_pids |= {c.pid for c in raylet2.children(recursive=True)}
            hit = next((r for r in _attempt_records(out) if r["pid"] in node2_pids), None)
            time.sleep(0.05)
        assert hit is not None, "no job ran on the second node"
        for p in [raylet2, *raylet2.children(recursive=True)]:  # the whole node dies
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        stdout, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        summary = json.loads(stdout.splitlines()[-1])
        assert summary["done"] == 4 and not summary["failed"]
        side = json.loads((out / hit["key"].split("_")[0] / f"{hit['key']}.json").read_text())
        assert side["attempt"]["attempts"] >= 2 and side["attempt"]["pid"] not in node2_pids
        _no_partials(out)
    finally:
        # Stop the two nodes this test started (found by their session folder), nothing else on the machine.
        mine = [p for p in psutil.process_iter(["cmdline"]) if str(temp) in " ".join(p.info["cmdline"] or [])]
        for p in mine:
            for q in [p, *p.children(recursive=True)]:
                try:
                    q.kill()
                except psutil.NoSuchProcess:
                    pass
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.slow
def test_stereo_rows_and_rows_that_fail_alone_a_2d_clip_with_stereo_options_or_no_face(media, tmp_path):
    from fractions import Fraction

    import numpy as np

    from lipsync_studio.media.writer import VideoFormat, VideoWriter
    from lipsync_studio.samples import random_syllables, stereo_talking_frames, synth_speech
    from lipsync_studio.stereo.layout import join

    own = synth_speech(random_syllables(5, 11), seed=11)
    n = int(np.ceil(own.duration * 25))
    fmt = VideoFormat(crf=14, preset="veryfast")
    paths = {k: tmp_path / f"{k}.mp4" for k in ("left", "right", "packed_SBS")}
    with VideoWriter(paths["left"], Fraction(25), 192, 192, fmt=fmt) as wl, \
            VideoWriter(paths["right"], Fraction(25), 192, 192, fmt=fmt) as wr, \
            VideoWriter(paths["packed_SBS"], Fraction(25), 384, 192, fmt=fmt) as wp:
        for left, right, _ in stereo_talking_frames(own.mouth_opening(np.arange(n) / 25), size=192, seed=11):
            wl.write(left)
            wr.write(right)
            wp.write(join(left, right, "sbs"))
    manifest = tmp_path / "m.csv"
    manifest.write_text("clip,lang,video,left,right,dub,out_layout,stereo_mode\n"
                        f"eyes,es,,{paths['left']},{paths['right']},{media['dub0']},half-sbs,\n"
                        f"packed,es,{paths['packed_SBS']},,,{media['dub0']},separate,independent\n"
                        f"flat,es,{media['clip0']},,,{media['dub0']},tb,\n"
                        f"noface,es,{write_clip(tmp_path / 'bars.mp4', 40)},,,{media['dub0']},,\n")
    out = tmp_path / "out"
    code, events, err = _batch([str(manifest), "-o", str(out), "--num-cpus", "2"])
    assert code == 1, err
    summary = events[-1]
    assert "not stereo" in summary["failed"]["flat_es"]  # a stereo option on a 2D clip fails that row alone
    assert "no face found" in summary["failed"]["noface_es"]  # so does a clip with nobody to lip-sync
    assert not (out / "noface" / "noface_es.mp4").exists()
    eyes = json.loads((out / "eyes" / "eyes_es.json").read_text())
    assert [o["name"] for o in eyes["outputs"]] == ["eyes_es.mp4"]
    info = probe_video(out / "eyes" / "eyes_es.mp4")
    assert (info.width, info.height) == (192, 192)  # half side by side: two 96 px eyes in a 192 px frame
    assert eyes["result"]["stereo"] and eyes["result"]["eye"] == ["half-sbs", 0]
    assert eyes["qc"]["face_found"] > 0.9  # the close-ups and the measure look at the left eye
    assert eyes["qc"]["looks"] is None  # its eyes squeezed to half width: no pixel-for-pixel comparison
    packed = json.loads((out / "packed" / "packed_es.json").read_text())
    assert [o["name"] for o in packed["outputs"]] == ["packed_es_L.mp4", "packed_es_R.mp4"]
    assert packed["result"]["mode"] == "independent"
    assert all(probe_video(out / "packed" / o["name"]).width == 192 for o in packed["outputs"])
    # The left eye's file against the packed clip's left eye.
    assert packed["qc"]["looks"]["frames_used"] > 40 and packed["result"]["source_eye"] == ["sbs", 0]
    _no_partials(out)
