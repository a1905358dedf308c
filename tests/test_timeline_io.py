"""Synced shots handed back to the editing timeline (OpenTimelineIO) and an editor's cut read in: the range
written alone, the timeline read back with opentimelineio, each rendered file at the right times with the
right picture and sound. Real files made here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ui_fixtures import talking_media  # noqa: F401


def _frames(path: Path) -> np.ndarray:
    from lipsync_studio.media.video import VideoReader

    with VideoReader(path) as r:
        return np.stack([f for _, f in r.iter_frames()]).astype(np.float32)


def _sound(path: Path) -> np.ndarray:
    from lipsync_studio.media.audio import load_audio

    return load_audio(path, sr=16000)


def _same_sound(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    return float(np.corrcoef(a[:n], b[:n])[0, 1])


def test_a_range_written_alone_is_that_range_of_the_spliced_sync_with_its_stretch_of_the_dub(talking_media, tmp_path):
    from lipsync_studio.cli import main

    clip, dub = talking_media["clip"], talking_media["dub"]
    common = [str(clip), str(dub), "--engine", "builtin", "--no-measure", "--start", "0.8", "--end", "2.0", "-q"]
    assert main(["sync", *common, "-o", str(tmp_path / "whole.mp4")]) == 0
    assert main(["sync", *common, "-o", str(tmp_path / "range.mp4"), "--range-only",
                 "--otio", str(tmp_path / "range.otio")]) == 0
    whole, part = _frames(tmp_path / "whole.mp4"), _frames(tmp_path / "range.mp4")
    assert len(part) == 30  # frames 20..49 (0.8 s to 2.0 s at 25 fps)
    assert np.abs(part - whole[20:50]).mean() < 2.0  # the synced frames, only re-encoded
    assert np.abs(part - whole[19:49]).mean() > np.abs(part - whole[20:50]).mean()  # not a frame off
    heard = _sound(tmp_path / "range.mp4")
    assert _same_sound(heard, _sound(dub)[int(0.8 * 16000):]) > 0.9
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left

    import opentimelineio as otio

    tl = otio.adapters.read_from_file(str(tmp_path / "range.otio"))
    (clip_item,) = tl.video_tracks()[0].find_clips()
    place = clip_item.trimmed_range_in_parent()
    assert place.start_time.to_frames() == 20 and place.duration.to_frames() == 30  # at the range's place
    assert otio.url_utils.filepath_from_url(clip_item.media_reference.target_url) == str(tmp_path / "range.mp4")
    assert clip_item.source_range.start_time.to_frames() == 0
    assert list(clip_item.metadata["lipsync_studio"]["range_frames"]) == [20, 50]


def test_range_only_without_a_range_is_refused(talking_media, tmp_path, capsys):
    from lipsync_studio.cli import main

    assert main(["sync", str(talking_media["clip"]), str(talking_media["dub"]), "-o", str(tmp_path / "x.mp4"),
                 "--range-only"]) == 2
    assert "--range-only needs --start" in capsys.readouterr().err and not list(tmp_path.iterdir())


@pytest.mark.parametrize("kind", ["otio", "edl"])
def test_a_cut_lists_its_shots_and_each_is_synced_at_its_place_with_the_dub_heard_from_there(
        talking_media, tmp_path, capsys, kind):
    import opentimelineio as otio

    from lipsync_studio.cli import main

    clip, dub = talking_media["clip"], talking_media["dub"]
    fps = 25.0
    rt = lambda f: otio.opentime.RationalTime(f, fps)  # noqa: E731
    # The editor's cut: two shots of the clip, out of order, back to back on the cut's timeline.
    tl = otio.schema.Timeline(name="scene")
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for name, src in (("close", 40), ("wide", 10)):
        ref = otio.schema.ExternalReference(target_url=otio.url_utils.url_from_filepath(str(clip)),
                                            available_range=otio.opentime.TimeRange(rt(0), rt(60)))
        track.append(otio.schema.Clip(name=name, media_reference=ref,
                                      source_range=otio.opentime.TimeRange(rt(src), rt(20))))
    tl.tracks.append(track)
    cut = tmp_path / f"scene.{kind}"
    otio.adapters.write_to_file(tl, str(cut))

    assert main(["cut", str(cut), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["shots"]
    assert [(s["source_start_s"], s["duration_s"], s["record_start_s"]) for s in listed] == [(1.6, 0.8, 0.0),
                                                                                             (0.4, 0.8, 0.8)]
    assert all(Path(s["media"]) == clip for s in listed)

    out = tmp_path / "synced"
    assert main(["cut", str(cut), "--dub", str(dub), "-o", str(out), "--engine", "none", "--no-measure",
                 "--json", "-q", "--preset", "ultrafast"]) == 0
    done = otio.adapters.read_from_file(str(out / "scene_synced.otio"))
    shots = list(done.video_tracks()[0].find_clips())
    assert [(c.trimmed_range_in_parent().start_time.to_frames(), c.duration().to_frames()) for c in shots] == [
        (0, 20), (20, 20)]
    (dub_item,) = done.audio_tracks()[0].find_clips()
    assert otio.url_utils.filepath_from_url(dub_item.media_reference.target_url) == str(dub)
    source, sound = _frames(clip), _sound(dub)
    for c, first, at in zip(shots, (40, 10), (0.0, 0.8)):
        f = Path(otio.url_utils.filepath_from_url(c.media_reference.target_url))
        pic = _frames(f)
        # The shot's own source frames (not the cut's timeline times), and the dub from the shot's place on it.
        # (each encode moves levels by ~1.2 on these clips, a plain `sync --engine none` too; this is two)
        assert len(pic) == 20 and np.abs(pic - source[first:first + 20]).mean() < 4.0
        assert np.abs(pic - source[first:first + 20]).mean() < np.abs(pic - source[first + 3:first + 23]).mean()
        assert _same_sound(_sound(f), sound[int(at * 16000):]) > 0.9


def test_an_edl_of_a_camera_clip_is_conformed_by_the_clips_own_time_code(tmp_path):
    """An EDL gives source times as the media's time codes: a camera clip starting at 10:00:00:00 was asked for
    frames 10 hours in (its shot could not be synced). The shot is now read from the clip's own start, synced, and
    written at its source time code, and the synced timeline places it there as editing software relinks it."""
    import opentimelineio as otio
    from conftest import write_clip, write_tone

    from lipsync_studio.app.timeline_io import read_cut
    from lipsync_studio.cli import main
    from lipsync_studio.media.video import probe_video

    clip = write_clip(tmp_path / "A001.mov", 50, audio_seconds=2.0, timecode="10:00:00:00")
    fps, base = 25.0, 10 * 3600 * 25
    rt = lambda f: otio.opentime.RationalTime(f, fps)  # noqa: E731
    tl = otio.schema.Timeline(name="scene")
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    ref = otio.schema.ExternalReference(target_url=otio.url_utils.url_from_filepath(str(clip)),
                                        available_range=otio.opentime.TimeRange(rt(base), rt(50)))
    track.append(otio.schema.Clip(name="close", media_reference=ref,
                                  source_range=otio.opentime.TimeRange(rt(base + 10), rt(20))))
    tl.tracks.append(track)
    cut = tmp_path / "scene.edl"
    otio.adapters.write_to_file(tl, str(cut))
    assert "10:00:00:10" in cut.read_text()  # the editor's source time code
    (shot,) = read_cut(cut)
    assert shot.source_start_s == pytest.approx(0.4) and shot.duration_s == pytest.approx(0.8)

    out = tmp_path / "synced"
    assert main(["cut", str(cut), "--dub", str(write_tone(tmp_path / "dub.wav", 2.0)), "-o", str(out), "--engine",
                 "none", "--no-measure", "-q", "--preset", "ultrafast"]) == 0
    (done,) = otio.adapters.read_from_file(str(out / "scene_synced.otio")).video_tracks()[0].find_clips()
    synced = Path(otio.url_utils.filepath_from_url(done.media_reference.target_url))
    assert probe_video(synced).timecode == "10:00:00:10"
    assert done.source_range.start_time.to_frames() == base + 10 and done.source_range.duration.to_frames() == 20
    assert np.abs(_frames(synced) - _frames(clip)[10:30]).mean() < 4.0  # the shot's own frames
