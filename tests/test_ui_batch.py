"""The Batch window: a clip with a dub per language run through the batch layer, each job's state, the report."""

from __future__ import annotations

import json

import pytest

from ui_fixtures import main_window, no_threads_left, open_media, talking_media, ui_home  # noqa: F401


@pytest.mark.slow
def test_batch_window_dubs_a_clip_into_two_languages_and_opens_the_report(qtbot, ui_home, talking_media,
                                                                          no_threads_left, tmp_path):
    from lipsync_studio.demo import make_dub
    from lipsync_studio.ui.app import make_app
    from lipsync_studio.ui.batch_window import BatchWindow

    make_app()
    win = BatchWindow(clip=talking_media["clip"])
    qtbot.addWidget(win)
    win.show()
    fr = make_dub(tmp_path / "dub fr.wav", seed=3, syllables=6)["path"]
    win.add_dub("es-419", talking_media["dub"])
    win.add_dub("fr", fr)
    win.add_dub("../fr", fr)  # a language that would leave the folder: the whole batch is refused
    out = tmp_path / "out"
    win.out_edit.setText(str(out))
    win.run()
    qtbot.waitUntil(lambda: win.run_button.isEnabled(), timeout=60_000)
    assert "row 3" in win.last_message and "'../fr'" in win.last_message
    assert not list(out.glob("clip/*.mp4"))
    win.rows.pop()
    win.table.removeRow(2)
    win.manifest = None
    win.run()
    assert not win.run_button.isEnabled() and win.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: win.run_button.isEnabled(), timeout=240_000)
    assert win.last_message == "2 done, 0 failed, 0 already done", win.last_message
    states = [win.table.item(r, 3).text() for r in range(win.table.rowCount())]
    assert states == ["done", "done"]
    assert all(float(win.table.item(r, 4).text()) > 0 for r in range(2))
    assert win.report_button.isEnabled()
    saved = json.loads((out / "manifest.json").read_text())["jobs"]
    assert [j["lang"] for j in saved] == ["es-419", "fr"]
    assert (out / "clip" / "clip_fr.mp4").exists() and (out / "report.html").exists()
    win.grab().save(str(tmp_path.parent / "batch_window.png"))
    # The same jobs again: nothing to do.
    win.run()
    qtbot.waitUntil(lambda: win.run_button.isEnabled(), timeout=60_000)
    assert win.last_message == "0 done, 0 failed, 2 already done"
    assert [win.table.item(r, 3).text() for r in range(2)] == ["already done", "already done"]
    win.close()


def test_the_sync_menu_opens_the_batch_window_with_the_open_clip(qtbot, main_window, talking_media):
    from lipsync_studio.ui.batch_window import BatchWindow

    open_media(qtbot, main_window, talking_media["clip"])
    main_window.actions_.batch.trigger()
    win = main_window.batch_window
    assert isinstance(win, BatchWindow) and win.isVisible()
    assert win.clip_edit.text() == str(talking_media["clip"])
    win.close()
