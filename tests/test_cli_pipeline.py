"""The command line as a pipeline runs it: ``-o`` is the file written, options anywhere, only our own words
on the terminal, JSON results, SIGTERM/SIGINT stop cleanly, and a killed run's partial is swept later.

Every test runs the real command in a subprocess on a small clip it makes, and sends real signals.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

NOISE = ("W0000", "I0000", "TensorFlow Lite", "absl::InitializeLog", "inference_feedback_manager")


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    """A 2.5 s 160 px talking clip, a 4 s dub and a 20 s dub (long enough to be stopped mid-render)."""
    from lipsync_studio.demo import make_dub, make_talking_clip
    from lipsync_studio.media.writer import VideoFormat

    folder = tmp_path_factory.mktemp("pipeline")
    clip = make_talking_clip(folder / "clip.mp4", syllables=7, size=160, fmt=VideoFormat(preset="ultrafast"))["path"]
    dub = make_dub(folder / "dub.wav", syllables=10)["path"]
    long = make_dub(folder / "long.wav", syllables=55)["path"]
    return {"clip": Path(clip), "dub": Path(dub), "long": Path(long)}


def _env(cache: Path) -> dict[str, str]:
    # A cache of its own: the face tracker (and its native log lines) really runs.
    return {**os.environ, "LIPSYNC_STUDIO_CACHE_DIR": str(cache)}


def cli(*args: str, cache: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lipsync_studio.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=300, env=_env(cache))


def _partials(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if ".partial-" in p.name)


def _start_and_wait_for_partial(media, out: Path, cache: Path) -> subprocess.Popen:
    """Start a sync of the long dub into ``out``; return once it is writing (its partial file exists)."""
    proc = subprocess.Popen([sys.executable, "-m", "lipsync_studio.cli", "sync", str(media["clip"]),
                             str(media["long"]), "-o", str(out), "--no-measure"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env(cache))
    deadline = time.monotonic() + 120
    while not [p for p in _partials(out.parent) if p.suffix == ".mp4"]:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the sync never started writing"
        time.sleep(0.01)
    time.sleep(0.2)  # a few frames in
    return proc


def test_options_after_the_command_json_and_no_third_party_log_lines(media, tmp_path):
    out = tmp_path / "out.mp4"
    proc = cli("sync", media["clip"], media["dub"], "-o", out, "-q", "--json", cache=tmp_path / "cache")
    assert proc.returncode == 0, proc.stderr
    for noise in NOISE:
        assert noise not in proc.stderr, proc.stderr
    assert proc.stderr.strip() == ""
    result = json.loads(proc.stdout)
    assert result["output"] == str(out) and result["outputs"] == [str(out)] and out.exists()
    assert result["layout"] == "2d" and result["mode"] is None and result["engine"] == "builtin"
    assert result["sync"]["frames_used"] > 0 and set(result["timings"]) >= {"open", "faces", "render", "measure"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "out.mp4"]
    # --debug (after the command too) lets the libraries' own lines through: still reachable.
    proc = cli("sync", media["clip"], media["dub"], "-o", tmp_path / "dbg.mp4", "--no-measure", "--debug",
               cache=tmp_path / "cache2")
    assert proc.returncode == 0 and any(n in proc.stderr for n in NOISE), proc.stderr


@pytest.mark.parametrize("sig, code, name", [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "SIGINT")])
def test_a_signal_stops_the_sync_cleanly_and_leaves_nothing(media, tmp_path, sig, code, name):
    out = tmp_path / "out.mp4"
    proc = _start_and_wait_for_partial(media, out, tmp_path.parent / f"cache-{tmp_path.name}")
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, (stdout, stderr)
    assert stderr.strip().splitlines() == [f"stopped by {name}; nothing was written"], stderr
    assert list(tmp_path.iterdir()) == []  # nothing under the final name, no partial, no shifted dub


def test_a_killed_runs_partial_is_swept_by_the_next_run_and_only_that(media, tmp_path):
    from lipsync_studio.media.output import temporary_sibling

    cache = tmp_path.parent / f"cache-{tmp_path.name}"
    proc = _start_and_wait_for_partial(media, tmp_path / "out.mp4", cache)
    proc.kill()
    proc.communicate(timeout=60)
    (killed,) = _partials(tmp_path)
    live = temporary_sibling(tmp_path / "busy.mp4")  # owned by this (live) test process
    live.write_bytes(b"still being written")
    foreign = tmp_path / ".other.partial-0badc0de.mp4"  # not our kind of name: never touched
    foreign.write_bytes(b"someone else's")
    other_host = tmp_path / ".x.partial-elsewhere-1-0badc0de.mp4"  # another machine's (a shared folder)
    other_host.write_bytes(b"a cluster node's")
    proc = cli("sync", media["clip"], media["dub"], "-o", tmp_path / "next.mp4", "--engine", "none", "-q",
               cache=cache)
    assert proc.returncode == 0, proc.stderr
    assert not killed.exists()
    assert live.exists() and foreign.exists() and other_host.exists()
    assert (tmp_path / "next.mp4").exists() and not (tmp_path / "out.mp4").exists()


def test_a_folder_as_output_gets_the_clips_name(media, tmp_path):
    proc = cli("-q", "sync", media["clip"], media["dub"], "-o", tmp_path, "--engine", "none",
               cache=tmp_path.parent / f"cache-{tmp_path.name}")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip_synced.mp4"]
