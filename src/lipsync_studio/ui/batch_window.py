"""The Batch window: one clip with a dub per language (or a manifest), run through the same batch layer as
``lipsync-studio batch``, each job's state as it goes, and the QC report when it is done.

The batch runs in a worker thread (:func:`~.threads.start_worker`); its events arrive here as plain dicts.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QUrl, Signal, Slot
from PySide6.QtGui import QColor, QDesktopServices
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QPushButton, QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from ..app.media_files import VIDEO_FILTER
from .theme import COLORS
from .threads import start_worker, stop_worker

_COLUMNS = ("clip", "language", "dub", "state", "sync", "note")
_STATE_COLOUR = {"done": "ok", "already done": "ok", "failed": "bad", "running": "accent_light", "retry": "warn"}


class _BatchWorker(QObject):
    """Runs :func:`~lipsync_studio.batch.runner.run_batch` in its thread; reports through signals."""

    event = Signal(object)  # one batch event (a dict)
    finished = Signal(object, str)  # (BatchSummary or None, error message)
    _start = Signal(str, str, int)

    def __init__(self) -> None:
        super().__init__()
        self.cancel = threading.Event()
        self._start.connect(self._run)

    def start(self, manifest: Path, out_dir: Path, cpus: int) -> None:
        """Begin the batch (returns at once)."""
        self.cancel.clear()
        self._start.emit(str(manifest), str(out_dir), cpus)

    @Slot(str, str, int)
    def _run(self, manifest: str, out_dir: str, cpus: int) -> None:
        from ..batch.ray_backend import RaySettings
        from ..batch.runner import run_batch
        from .errors import describe_exception

        try:
            summary = run_batch(manifest, out_dir, ray_settings=RaySettings(num_cpus=cpus or None),
                                on_event=self.event.emit, cancel=self.cancel)
        except BaseException as exc:  # noqa: BLE001 - the window says what went wrong
            self.finished.emit(None, describe_exception(exc)[0])
            return
        self.finished.emit(summary, "")


class BatchWindow(QDialog):
    """Dub a clip into several languages (or run a manifest) and follow each job.

    ``rows``: the jobs added by hand (clip, lang, dub); ``manifest``: the manifest file run (written into the
    output folder as ``manifest.json`` for jobs added by hand); ``summary``: the last run's
    :class:`~lipsync_studio.batch.runner.BatchSummary`; ``last_message``: what the window last said.
    """

    def __init__(self, parent: QWidget | None = None, clip: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Batch")
        self.resize(980, 520)
        self.rows: list[dict[str, Any]] = []
        self.manifest: Path | None = None
        self.summary = None
        self.last_message = ""
        self._thread = None
        self._worker: _BatchWorker | None = None
        self._row_of: dict[str, int] = {}
        col = QVBoxLayout(self)
        col.setContentsMargins(16, 14, 16, 14)
        top = QHBoxLayout()
        self.clip_edit = QLineEdit(str(clip) if clip else "")
        self.clip_edit.setPlaceholderText("clip to dub")
        pick_clip = QPushButton("Clip…")
        pick_clip.clicked.connect(self._pick_clip)
        self.lang_edit = QLineEdit()
        self.lang_edit.setPlaceholderText("language (es-419)")
        self.lang_edit.setMaximumWidth(140)
        self.add_dub_button = QPushButton("Add Dub…")
        self.add_dub_button.clicked.connect(lambda: self._pick_dub())
        open_manifest = QPushButton("Open Manifest…")
        open_manifest.clicked.connect(self._pick_manifest)
        for w in (self.clip_edit, pick_clip, self.lang_edit, self.add_dub_button, open_manifest):
            top.addWidget(w)
        col.addLayout(top)
        self.table = QTableWidget(0, len(_COLUMNS))
        self.table.setHorizontalHeaderLabels([c.capitalize() for c in _COLUMNS])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(len(_COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        col.addWidget(self.table, 1)
        bottom = QHBoxLayout()
        self.out_edit = QLineEdit()
        self.out_edit.setPlaceholderText("output folder")
        pick_out = QPushButton("Folder…")
        pick_out.clicked.connect(self._pick_out)
        self.cpus = QSpinBox()
        self.cpus.setRange(0, 256)
        self.cpus.setSpecialValueText("all CPUs")
        self.cpus.setToolTip("CPUs the batch may use on this machine")
        self.status = QLabel("Add a clip and a dub per language, or open a manifest.")
        self.status.setObjectName("hint")
        self.run_button = QPushButton("Run")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.report_button = QPushButton("Open Report")
        self.report_button.setEnabled(False)
        self.report_button.clicked.connect(self._open_report)
        for w in (self.out_edit, pick_out, self.cpus, self.run_button, self.cancel_button, self.report_button):
            bottom.addWidget(w)
        col.addWidget(self.status)
        col.addLayout(bottom)

    # -- building the job list ---------------------------------------------------------------------------

    def add_dub(self, lang: str, dub: Path, clip: Path | None = None) -> None:
        """Add the job: ``clip`` (default: the clip field) dubbed into ``lang`` with ``dub``."""
        clip = Path(clip or self.clip_edit.text().strip())
        clip_id = "".join(c if c.isalnum() or c in "._-" else "_" for c in clip.stem).lstrip(".") or "clip"
        self.manifest = None
        self.rows.append({"clip": clip_id, "lang": lang.strip(), "video": str(clip.absolute()),
                          "dub": str(Path(dub).absolute())})
        self._add_row(clip_id, lang.strip(), Path(dub).name)

    def open_manifest(self, path: Path) -> None:
        """Show a manifest's jobs (checked now: a bad manifest is reported and not shown)."""
        from ..batch.execute import SUPPORTED_OPTIONS
        from ..batch.manifest import read_manifest
        from .errors import describe_exception

        try:
            jobs = read_manifest(path, SUPPORTED_OPTIONS)
        except Exception as exc:  # noqa: BLE001 - said in the window
            self._say(describe_exception(exc)[0])
            return
        self.rows, self.manifest = [], Path(path)
        self.table.setRowCount(0)
        self._row_of.clear()
        for job in jobs:
            self._add_row(job.clip, job.lang, job.dub.name)
        self._say(f"{len(jobs)} jobs from {Path(path).name}")

    def _add_row(self, clip: str, lang: str, dub: str) -> None:
        r = self.table.rowCount()
        self.table.insertRow(r)
        for c, text in enumerate((clip, lang, dub, "queued", "", "")):
            self.table.setItem(r, c, QTableWidgetItem(text))
        self._row_of[f"{clip}_{lang}"] = r

    def _set(self, key: str, state: str, sync: str = "", note: str = "") -> None:
        r = self._row_of.get(key)
        if r is None:
            return
        item = QTableWidgetItem(state)
        colour = _STATE_COLOUR.get(state)
        if colour:
            item.setForeground(QColor(COLORS.get(colour, COLORS["text"])))
        self.table.setItem(r, 3, item)
        if sync:
            self.table.setItem(r, 4, QTableWidgetItem(sync))
        if note or state in ("done", "failed"):
            self.table.setItem(r, 5, QTableWidgetItem(note))

    def _say(self, text: str) -> None:
        self.last_message = text
        self.status.setText(text)

    # -- running -----------------------------------------------------------------------------------------

    def run(self) -> None:
        """Start the batch into the output folder (jobs added by hand are saved there as ``manifest.json``)."""
        from ..batch.manifest import write_manifest

        out = Path(self.out_edit.text().strip()) if self.out_edit.text().strip() else None
        if out is None:
            self._say("Choose an output folder first.")
            return
        if self.manifest is None:
            if not self.rows:
                self._say("Add a clip and a dub per language, or open a manifest.")
                return
            try:
                out.mkdir(parents=True, exist_ok=True)
                self.manifest = write_manifest(out / "manifest.json", self.rows)
            except OSError as exc:
                self._say(f"{out}: cannot be written ({exc.strerror})")
                return
        self._worker = _BatchWorker()
        self._worker.event.connect(self._on_event)
        self._worker.finished.connect(self._on_finished)
        self._thread = start_worker(self._worker, "batch")
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.report_button.setEnabled(False)
        self._say("Starting…")
        self._worker.start(self.manifest, out, self.cpus.value())

    def cancel(self) -> None:
        """Stop the batch: running jobs are cancelled, finished ones kept (run again to resume)."""
        if self._worker is not None:
            self._worker.cancel.set()
            self._say("Cancelling…")

    @Slot(object)
    def _on_event(self, ev: dict) -> None:
        kind = ev.get("event")
        if kind == "plan":
            for key, r in self._row_of.items():
                if key not in ev.get("reasons", {}):
                    self._set(key, "already done")
            self._say(f"{ev['to_run']} of {ev['jobs']} jobs to run")
        elif kind in ("attempt", "retry"):
            self._set(ev["key"], "running" if kind == "attempt" else "retry",
                      note="" if kind == "attempt" else f"attempt {ev['number']}")
        elif kind == "done":
            sync = (ev["sidecar"].get("sync") or {}).get("confidence")
            self._set(ev["key"], "done", f"{sync:.2f}" if sync is not None else "")
        elif kind == "failed":
            self._set(ev["key"], "failed", note=ev.get("error", ""))

    @Slot(object, str)
    def _on_finished(self, summary, error: str) -> None:
        stop_worker(self._thread)
        self._thread, self._worker = None, None
        self.summary = summary
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if summary is None:
            self._say(error)
            return
        self.report_button.setEnabled(summary.report is not None and summary.report.exists())
        self._say(f"{len(summary.done)} done, {len(summary.failed)} failed, {len(summary.skipped)} already done"
                  + (" (cancelled: run again to resume)" if summary.cancelled else ""))

    def _open_report(self) -> None:
        if self.summary is not None and self.summary.report is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.summary.report)))

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        """Closing cancels a running batch and waits for it to unwind."""
        if self._worker is not None:
            self._worker.cancel.set()
            stop_worker(self._thread, 60_000, keep=(self._worker,))  # a stuck one is left running, not destroyed
        super().closeEvent(event)

    # -- file pickers ------------------------------------------------------------------------------------

    def _pick_clip(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Clip", "", VIDEO_FILTER)
        if path:
            self.clip_edit.setText(path)

    def _pick_dub(self) -> None:
        if not self.clip_edit.text().strip():
            self._say("Choose the clip first.")
            return
        if not self.lang_edit.text().strip():
            self._say("Type the dub's language first (a BCP 47 tag: es-419, pt-BR, fr).")
            return
        path, _ = QFileDialog.getOpenFileName(self, "Dub", "", "Audio (*.wav *.mp3 *.m4a *.flac *.ogg);;All files (*)")
        if path:
            self.add_dub(self.lang_edit.text(), Path(path))
            self.lang_edit.clear()

    def _pick_manifest(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Manifest", "", "Manifests (*.csv *.json *.tsv)")
        if path:
            self.open_manifest(Path(path))

    def _pick_out(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Output folder")
        if path:
            self.out_edit.setText(path)
