"""Readable results: each sync measure read against real speech, with the clip's own mouth as "before", and
the sync second by second where a click seeks. Real widgets, a real sync and measure of media made here."""

from __future__ import annotations

import numpy as np

from ui_fixtures import main_window, no_threads_left, open_media, talking_media, ui_home  # noqa: F401


def test_verdicts_read_each_measure_against_real_speech():
    from lipsync_studio.app.verdicts import lead_verdict, part_verdict, score_verdict
    from lipsync_studio.metrics.sync import AS_REAL, REAL_SPEECH, MouthLead, PhoneticAgreement

    def agreement(**parts):
        base = dict(closure=None, rounding=None, leak=None, loudness=0.0, bilabials=0, score=0.0)
        return PhoneticAgreement(**{**base, **parts})

    real = agreement(rounding=AS_REAL["rounding"] + 0.1, score=1.0)
    lo, hi = REAL_SPEECH["rounding"]
    v = part_verdict(real, "rounding")
    assert v.level == "good" and v.text.startswith("as real speech") and f"{lo:.2f}–{hi:.2f}" in v.text
    assert part_verdict(agreement(rounding=0.0), "rounding").level == "weak"
    assert part_verdict(agreement(leak=REAL_SPEECH["leak"][1] + 0.1), "leak").level == "weak"  # moves in pauses
    assert part_verdict(agreement(), "rounding") is None  # not measured: no verdict
    assert score_verdict(real).level == "good" and score_verdict(agreement(rounding=0.0, score=0.2)).level == "weak"
    # No phonetic part measured (a quarter-second dub): not judged on its loudness alone.
    assert score_verdict(agreement(score=0.2)).text.startswith("too little speech to judge")
    # Timing: within real speakers' leads (40-320 ms, a frame's slack) in time; beyond them only where the leads
    # near the best one do not reach them; not measured, no verdict.
    assert lead_verdict(MouthLead(0.12, 0.10, 0.16, 0.9), 25.0).level == "good"
    assert lead_verdict(MouthLead(0.0, -0.02, 0.04, 0.9), 25.0).level == "good"  # one frame's slack
    assert lead_verdict(MouthLead(0.5, 0.3, 0.6, 0.4), 25.0).level == "fair"
    late = lead_verdict(MouthLead(-0.3, -0.34, -0.26, 0.8), 25.0)
    assert late.level == "weak" and late.text.startswith("out of sync by 300 ms: the mouth lags the sound by 300 ms")
    assert lead_verdict(MouthLead(0.6, 0.56, 0.64, 0.8), 30.0).text.startswith("out of sync by 247 ms")
    assert lead_verdict(None, 25.0) is None


def test_the_per_second_agreement_is_high_where_the_mouth_says_the_phones_and_low_where_it_does_not():
    from lipsync_studio.app.verdicts import agreement_per_second
    from lipsync_studio.sync.phones import PhoneSegments

    fps = 25.0
    # Four seconds of speech: "ba" "boo" "mee" ... with pauses; a mouth that shuts on each b/m, is wide at
    # i/e/a, narrow at o/u, and still in the pauses.
    labels, start = [], []
    t = 0.0
    for word in [("B", "AA"), ("M", "UW"), ("SIL",), ("P", "IY"), ("B", "OW"), ("SIL",)] * 2:
        for p in word:
            labels.append(p)
            start.append(t)
            t += 0.5 if p == "SIL" else 0.16
    start = np.array(start)
    phones = PhoneSegments(tuple(labels), start, np.append(start[1:], t))
    n = int(t * fps)
    centres = np.arange(n) / fps + 0.04
    lab = np.array(labels + ["SIL"], dtype=object)[phones.at(centres)]
    gap = np.where(np.isin(lab, ["B", "M", "P", "SIL"]), 0.02, 0.5) + np.random.default_rng(0).normal(0, 0.01, n)
    width = np.where(np.isin(lab, ["UW", "OW"]), 0.8, 1.1)
    good = agreement_per_second(gap, width, phones, fps)
    bad = agreement_per_second(gap[::-1], width[::-1], phones, fps)
    assert len(good) == int(np.ceil(n / fps))
    assert np.nanmean(good) > 0.8 and np.nanmean(bad) < np.nanmean(good) - 0.3
    # A second of another shot (the face not on screen) is no second of this face's, whatever its neighbours say.
    away = gap.copy()
    away[int(2 * fps):int(3 * fps)] = np.nan
    cut = agreement_per_second(away, width, phones, fps)
    assert np.isnan(cut[2]) and np.isfinite(cut[[1, 3]]).all()


def test_the_result_box_shows_verdicts_a_before_and_the_sync_over_time_that_seeks(qtbot, main_window, talking_media,
                                                                                 monkeypatch):
    from PySide6.QtCore import QPoint, Qt

    from lipsync_studio.sync.builtin import engine as E

    win = main_window
    open_media(qtbot, win, talking_media["clip"], talking_media["dub"])
    rp, s = win.run_panel, win.session
    # With both open, their phones are being heard while the user looks; the Run takes that up (and, done, a next
    # Run's is heard).
    key = E._sounds_key(talking_media["clip"], talking_media["dub"])
    ahead = E._AHEAD.get(key)
    assert ahead is not None
    taken, real = [], E._heard_ahead
    monkeypatch.setattr(E, "_heard_ahead", lambda clip, dub: taken.append(real(clip, dub)) or taken[-1])
    rp.engine.setCurrentIndex(rp.engine.findData("builtin"))
    rp.measure.setChecked(True)
    with qtbot.waitSignal(s.report_ready, timeout=180000) as sig:
        rp.run_btn.click()
    result, report = sig.args
    assert taken and taken[0] is not None and E._AHEAD.get(key) not in (None, ahead)
    assert report.before is not None and report.before.phonetic is not None
    texts = [rp.measures.itemAt(i).widget().text() for i in range(rp.measures.count())]
    assert "before" in texts and "Phonetic sync" in texts and f"{result.sync.phonetic.score:.2f}" in texts
    assert f"{report.before.phonetic.score:.2f}" in texts
    assert any("real speech (" in t for t in texts)  # each measure's verdict, with real speech's range
    # Its timing: the engine's mouth runs ahead of the dub as real speakers' do, and says so.
    assert result.sync.lead is not None and "Timing" in texts
    assert f"{1000 * result.sync.lead.lead_s:+.0f} ms" in texts
    assert any(t.startswith("in time (real speakers") for t in texts), texts
    # The synced mouth says the dub's phones better than the clip's own mouth did.
    assert result.sync.phonetic.score > report.before.phonetic.score

    strip = rp.strip
    assert strip.isVisible() and len(report.after_per_second) == int(np.ceil(result.frames / result.fps))
    win.run_scroll.ensureWidgetVisible(strip)
    r = strip._plot()
    x = int(r.left() + r.width() * 2.5 / len(report.after_per_second))  # the middle of second 2
    qtbot.mouseClick(strip, Qt.MouseButton.LeftButton, pos=QPoint(x, int(r.center().y())))
    assert s.position == int(round(2 * result.fps))
    qtbot.waitUntil(lambda: win.transport.frame_label.text().startswith(f"frame {s.position + 1} "), timeout=5000)


def test_the_result_box_writes_out_the_warnings(qtbot, main_window, tmp_path):
    """A warning (here: a face in another shot left unsynced) is written out in the Result box under its count, not
    only flashed in the status line."""
    from conftest import write_tone, write_two_shot_clip

    from lipsync_studio.engine.sync_job import SyncOptions, SyncRequest, run_sync
    from lipsync_studio.ui.job_link import result_measures

    clip = write_two_shot_clip(tmp_path / "two_shots.mp4")
    result = run_sync(SyncRequest(clip, write_tone(tmp_path / "dub.wav", 4.0), tmp_path / "out.mp4",
                                  SyncOptions(engine="builtin", measure=False)))
    rp = main_window.run_panel
    rp.show_measures(result_measures(result))
    texts = [rp.measures.itemAt(i).widget().text() for i in range(rp.measures.count())]
    assert "Warnings" in texts and "1" in texts
    assert any("only face" in t and "is on screen where it is not" in t for t in texts), texts
