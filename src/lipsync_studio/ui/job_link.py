"""Wires the session's jobs into the window: Run/Cancel state, progress, the outcome of each job.

Every job (sync, export, face tracking, mesh export) goes through the session's one job worker; this keeps
the Run panel, the toolbar actions and the status bar in step with it, shows the result's measures and
reports failures in a dialog.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer

if TYPE_CHECKING:  # pragma: no cover
    from .main_window import MainWindow


class JobLink(QObject):
    """Follows ``window.session.jobs`` and updates the window's job controls."""

    def __init__(self, window: "MainWindow", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.w = window
        jobs = window.session.jobs
        jobs.started.connect(self._started)
        jobs.progress.connect(window.run_panel.show_progress)
        jobs.progress.connect(window.status_line.show_progress)
        jobs.finished.connect(self._finished)
        jobs.cancelled.connect(self._cancelled)
        jobs.errored.connect(self._errored)
        # After the Run panel has laid out the new rows (a child of the scroll area: it dies with it).
        self._reveal = QTimer(window.run_scroll)
        self._reveal.setSingleShot(True)
        self._reveal.setInterval(100)
        self._reveal.timeout.connect(self._reveal_result)

    def _reveal_result(self) -> None:
        """Scroll the Run panel to the Result box, and to the strip below it when it is shown (the box's top
        wins when both do not fit)."""
        w = self.w
        if not w.run_panel.strip.isHidden():
            w.run_scroll.ensureWidgetVisible(w.run_panel.strip, 0, 0)
        w.run_scroll.ensureWidgetVisible(w.run_panel.result_box, 0, 0)

    def update_state(self) -> None:
        """Enable Run, Cancel, Export and Track Faces for the situation."""
        w, s = self.w, self.w.session
        why = "" if s.clip and s.dub else ("Open a clip first (Ctrl+O)" if s.clip is None else
                                           "Open a dub to sync to (Ctrl+Shift+O)")
        can, busy = not why, s.jobs.busy
        w.run_panel.set_state(can_run=can, running=busy, why=why)
        a = w.actions_
        a.run.setEnabled(can and not busy)
        a.cancel.setEnabled(busy)
        a.export.setEnabled(s.clip is not None and not busy)
        a.track_faces.setEnabled(s.clip is not None and not busy and w.caps.face_mesh)

    def _started(self, name: str) -> None:
        self.w.run_panel.job_started(name)
        self.w.status_line.set_job(f"{name}…")
        self.update_state()

    def _finished(self, result) -> None:
        w = self.w
        task = w.session.jobs.current
        name = task.name if task else "Job"
        self.update_state()
        w.status_line.set_job("")
        unchanged = bool(getattr(result, "unchanged", False))
        w.run_panel.job_ended(describe_result(name, result), True, keep_rate=name in ("Sync", "Export"),
                              warning="Picture unchanged" if unchanged else "")
        if name == "Sync" or (name == "Export" and w.session.result is result):  # an export can be the result
            w.run_panel.show_measures(result_measures(result))
            # On a short screen the Result box is below the fold: bring it into view.
            self._reveal.start()
            if not w.viewer.compare:
                w.viewer_bar.set_mode("result")
        for note in shown_warnings(result):
            w.status_line.flash(note)

    def _cancelled(self) -> None:
        self.update_state()
        self.w.status_line.set_job("")
        self.w.run_panel.job_ended("Cancelled; nothing was written", False)

    def _errored(self, message: str, details: str) -> None:
        task = self.w.session.jobs.current
        self.update_state()
        self.w.status_line.set_job("")
        self.w.run_panel.job_ended("Failed (see the message)", False)
        self.w.errors.report(f"{task.name if task else 'The job'} failed", message, details)


def shown_warnings(result) -> list[str]:
    """A result's warnings in the app's words: that a transparent clip's result keeps no transparency says what
    the app's Export offers, not which ``--codec`` to give (the preview is H.264 by design)."""
    from ..engine.sync_job import TRANSPARENCY_NOT_KEPT

    return [("This result keeps no transparency (H.264, HEVC and DNxHR hold none): around the clip's subject it "
             "shows the colours the clip stores there. Export as ProRes 4444 (MOV) or VP9 (WebM) keeps it"
             if TRANSPARENCY_NOT_KEPT in note else note) for note in getattr(result, "warnings", ())]


def describe_result(name: str, result) -> str:
    """One line saying what a finished job did."""
    if name == "Track faces":
        n = len(getattr(result, "tracks", {}))
        return f"Faces tracked: {n} face{'s' if n != 1 else ''} found" if n else "No face found in this clip"
    if name == "Export meshes":
        return f"Exported {result.frames} meshes to {result.folder.name}"
    if name == "Export 3D face video":
        return f"Exported the 3D face ({result.frames} frames) to {', '.join(p.name for p in result.videos)}"
    if getattr(result, "unchanged", False):
        return (f"⚠ {name} changed nothing: no face was found to sync, so the picture is unchanged (the clip "
                f"re-timed to the dub, {result.frames} frames)")
    return f"{name} finished: {result.frames} frames, {result.duration:.2f} s"


def result_measures(result, before=None) -> list[tuple]:
    """Rows of the Run panel's Result box for a ``SyncResult``: ``(name, value, tooltip)`` for facts, and
    ``(name, value, tooltip, verdict, before)`` for the sync measures (``before``: the ``SyncScore`` of the clip's
    own mouth re-timed to the dub, when known)."""
    from ..app.verdicts import measure_rows

    from ..app.timecode import format_timecode
    from ..app.words import engine_label

    engine = getattr(result, "engine", "none")
    rows = [
        ("Engine", engine_label(engine), "The lip-sync engine that made the result"),
        ("Frames", f"{result.frames}", "Frames written"),
        ("Duration", format_timecode(result.frames, result.fps), f"{result.duration:.2f} s at {result.fps:g} fps"),
    ]
    if getattr(result, "is_stereo", False):
        rows.append(("Stereo", f"{result.mode} eyes, {result.layout}", "How the right eye followed the synced left "
                     "eye, and the output's packing"))
    eyes = [("", getattr(result, "sync", None))]
    if getattr(result, "is_stereo", False):
        eyes = [("Left eye: ", result.sync), ("Right eye: ", result.sync_right)]
    measured = False
    for label, score in eyes:
        if score is None:
            continue
        measured = True
        if score.frames_used == 0:
            rows.append((f"{label}Sync", "no face", "Not measured: no face was found in the result"))
            continue
        rows += [(f"{label}{name}", value, tip, verdict, was)
                 for name, value, tip, verdict, was in measure_rows(score, before if not label else None, result.fps)]
    if getattr(result, "unchanged", False):
        rows.insert(0, ("Picture", "unchanged", "No frame was changed: no face was found to sync. The result is "
                                               "the clip re-timed to the dub."))
    elif getattr(result, "changed_frames", None) is not None:
        rows.insert(1, ("Synced frames", f"{result.changed_frames} of {result.frames}",
                        "Frames whose mouth the engine changed (the rest had no face to sync)"))
    if not measured:
        rows.append(("Sync", "—", "Not measured: tick “Measure the result's sync” (needs an engine other than "
                                  "None)"))
    notes = shown_warnings(result)
    if notes:
        from ..app.verdicts import Verdict

        # Written out under the count (a status-line flash is gone in seconds): a face left unsynced, a damaged file.
        rows.append(("Warnings", str(len(notes)), "\n".join(notes), Verdict("\n".join(notes), "fair")))
    return rows
