"""The user's settings: a typed object stored as readable JSON, forgiving when the file is odd."""

from __future__ import annotations

import json
from pathlib import Path

from lipsync_studio.settings import (MAX_RECENT, SCHEMA_VERSION, Settings, cache_dir, config_dir, data_dir, log_dir,
                                     settings_path)


def test_settings_round_trip_through_the_file(tmp_path: Path):
    s = Settings()
    s.run.engine = "wav2lip"
    s.run.extend = "hold"
    s.export.crf = 20
    s.view.volume = 0.5
    s.view.face_style = "wireframe"
    s.remember_clip(tmp_path / "a.mp4")
    s.remember_dub(tmp_path / "b.wav")
    path = s.save(tmp_path / "settings.json")
    data = json.loads(path.read_text())
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["run"]["engine"] == "wav2lip"
    back = Settings.load(path)
    assert back == s
    assert back.last_clip_dir == str(tmp_path)


def test_missing_file_gives_defaults(tmp_path: Path):
    assert Settings.load(tmp_path / "nothing.json") == Settings()


def test_damaged_file_is_moved_aside_not_lost(tmp_path: Path):
    path = tmp_path / "settings.json"
    path.write_text("{ this is not json")
    assert Settings.load(path) == Settings()
    assert (tmp_path / "settings.json.broken").read_text() == "{ this is not json"


def test_unknown_keys_and_wrong_types_fall_back_to_defaults(tmp_path: Path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({
        "schema_version": 1, "from_the_future": 3, "recent_clips": ["a.mp4", 7], "last_clip_dir": 12,
        "run": {"engine": "builtin", "quality": None, "extra": 1},
        "export": {"crf": "high", "preset": "slow"}, "view": "not a dict",
    }))
    s = Settings.load(path)
    assert s.run.engine == "builtin" and s.run.quality == "preview"
    assert s.export.crf == 18 and s.export.preset == "slow"
    assert s.recent_clips == [] and s.last_clip_dir == ""
    assert s.view == Settings().view


def test_ints_are_accepted_for_floats_and_bools_are_not_ints():
    s = Settings.from_dict({"view": {"volume": 1}, "run": {"measure": False}, "export": {"crf": True}})
    assert s.view.volume == 1.0 and isinstance(s.view.volume, float)
    assert s.run.measure is False
    assert s.export.crf == 18


def test_recent_files_are_unique_most_recent_first_and_bounded(tmp_path: Path):
    s = Settings()
    for k in range(MAX_RECENT + 3):
        s.remember_clip(tmp_path / f"c{k}.mp4")
    s.remember_clip(tmp_path / "c5.mp4")
    assert len(s.recent_clips) == MAX_RECENT
    assert s.recent_clips[0] == str(tmp_path / "c5.mp4")
    assert len(set(s.recent_clips)) == MAX_RECENT


def test_home_override_puts_everything_in_one_folder(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("LIPSYNC_STUDIO_HOME", str(tmp_path))
    assert config_dir() == tmp_path / "config"
    assert log_dir() == tmp_path / "log"
    assert data_dir() == tmp_path / "data"
    assert cache_dir() == tmp_path / "cache"
    s = Settings()
    s.run.device = "cpu"
    s.save()
    assert settings_path().is_file()
    assert Settings.load().run.device == "cpu"


def test_default_folders_follow_the_platform(monkeypatch):
    monkeypatch.delenv("LIPSYNC_STUDIO_HOME", raising=False)
    for d in (config_dir(), log_dir(), data_dir(), cache_dir()):
        assert "lipsync-studio" in str(d)
