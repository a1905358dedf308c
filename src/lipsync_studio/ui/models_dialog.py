"""The Models dialog: which weights are installed, whether they are intact, their licence, where to get
them, and "Add from File…" (checked, then copied into the models folder). Hashing and copying run in the
session's tasks thread, so a 400 MB file never freezes the window."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QColor, QDesktopServices
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QFileDialog, QHBoxLayout, QHeaderView, QLabel,
                               QPushButton, QTableWidget, QTableWidgetItem, QTextBrowser, QVBoxLayout, QWidget)

from ..weights import ModelRegistry, ModelState, ModelStatus
from .theme import COLORS, icon
from ..app.words import WITHOUT_MODEL, without_model
from .threads import Tasks

_STATE_STYLE = {
    ModelState.READY: ("check", COLORS["ok"]),
    ModelState.MISSING: ("add", COLORS["dim"]),
    ModelState.INCOMPLETE: ("warning", COLORS["warn"]),
    ModelState.DAMAGED: ("error", COLORS["bad"]),
}


def _scan(registry: ModelRegistry, verify: bool) -> list[ModelStatus]:
    return registry.statuses(verify=verify)


class ModelsDialog(QDialog):
    """Model weights. ``statuses`` holds the last scan; ``last_message`` what the dialog last said."""

    def __init__(self, registry: ModelRegistry, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        self.tasks = tasks
        self.statuses: list[ModelStatus] = []
        self.last_message = ""
        self.setWindowTitle("Models")
        self.resize(900, 560)
        col = QVBoxLayout(self)
        col.setContentsMargins(16, 14, 16, 14)
        intro = QLabel("Lipsync Studio works without any downloaded weights. When you have a network's official "
                       "weights, add them here and the feature that uses them switches on.")
        intro.setWordWrap(True)
        intro.setObjectName("hint")
        col.addWidget(intro)
        folder_row = QHBoxLayout()
        self.folder = QLabel()
        self.folder.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        folder_row.addWidget(QLabel("Models folder:"))
        folder_row.addWidget(self.folder, 1)
        open_folder = QPushButton(icon("folder"), "  Open")
        open_folder.clicked.connect(self._open_folder)
        folder_row.addWidget(open_folder)
        col.addLayout(folder_row)

        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["Model", "Status", "Used for", "Without it", "Licence"])
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(True)  # long cells wrap within the dialog rather than being cut off
        h = self.table.horizontalHeader()
        h.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        h.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        h.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        h.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        h.setSectionResizeMode(4, QHeaderView.ResizeMode.Interactive)
        self.table.setColumnWidth(1, 150)
        self.table.setColumnWidth(4, 150)
        self.table.itemSelectionChanged.connect(self._show_details)
        col.addWidget(self.table, 3)

        self.details = QTextBrowser()
        self.details.setOpenExternalLinks(True)
        col.addWidget(self.details, 2)

        buttons = QHBoxLayout()
        self.add_btn = QPushButton(icon("add"), "  Add from File…")
        self.add_btn.setToolTip("Check a weights file and copy it into the models folder under its expected name")
        self.add_btn.clicked.connect(self._add_clicked)
        self.verify_btn = QPushButton(icon("check"), "  Verify Checksums")
        self.verify_btn.setToolTip("Compute each installed file's SHA-256 and compare it with the published or "
                                   "recorded one")
        self.verify_btn.clicked.connect(lambda: self.refresh(verify=True))
        self.note = QLabel("")
        self.note.setObjectName("hint")
        self.note.setWordWrap(True)  # a long error wraps; it never widens the dialog past the screen
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        buttons.addWidget(self.add_btn)
        buttons.addWidget(self.verify_btn)
        buttons.addWidget(self.note, 1)
        buttons.addWidget(close)
        col.addLayout(buttons)

        tasks.done.connect(self._task_done)
        tasks.failed.connect(self._task_failed)
        self.refresh()

    # -- scanning --------------------------------------------------------------------------------------
    def refresh(self, verify: bool = False) -> None:
        """Scan the models folder again (``verify`` hashes every file, in the background)."""
        self.folder.setText(str(self.registry.models_dir))
        self._say("Verifying checksums…" if verify else "Looking for weights…")
        self._busy(True)
        self.tasks.submit("models:scan", _scan, self.registry, verify)

    def _busy(self, on: bool) -> None:
        self.add_btn.setEnabled(not on)
        self.verify_btn.setEnabled(not on)

    def _say(self, text: str) -> None:
        self.last_message = text
        self.note.setText(text)

    def _task_done(self, key: str, value: object) -> None:
        if key == "models:scan":
            self._busy(False)
            self._fill(value)
            ready = sum(s.state is ModelState.READY for s in self.statuses)
            self._say(f"{ready} of {len(self.statuses)} models installed")
        elif key == "models:add":
            self._say(f"Added {Path(value).name}")
            self.refresh()

    def _task_failed(self, key: str, message: str, details: str) -> None:
        if key in ("models:scan", "models:add"):
            self._busy(False)
            self._say(("Could not add the file: " if key == "models:add" else "Could not scan: ") + message)

    def _fill(self, statuses: list[ModelStatus]) -> None:
        selected = self.selected_id()
        self.statuses = statuses
        self.table.setRowCount(len(statuses))
        for r, st in enumerate(statuses):
            name = QTableWidgetItem(st.spec.name)
            name.setData(Qt.ItemDataRole.UserRole, st.spec.id)
            ic, color = _STATE_STYLE[st.state]
            state = QTableWidgetItem(icon(ic), st.summary)
            state.setForeground(QColor(color))
            state.setToolTip(st.summary)
            used = QTableWidgetItem(st.spec.used_for)
            used.setToolTip(st.spec.used_for)
            lic = QTableWidgetItem(st.spec.licence)
            lic.setToolTip(st.spec.licence)
            instead = WITHOUT_MODEL.get(st.spec.id, "")  # the table says what is used; the tooltip and the
            without = QTableWidgetItem("—" if st.state is ModelState.READY else instead[:1].upper() + instead[1:])
            full = without_model(st.spec.id)  # details below add what doing without costs
            without.setToolTip(f"Without these weights: {full}" if full else "")
            for c, item in enumerate((name, state, used, without, lic)):
                self.table.setItem(r, c, item)
            if st.spec.id == selected:
                self.table.selectRow(r)
        self.table.resizeRowsToContents()
        if self.selected_id() is None and statuses:
            self.table.selectRow(0)
        self._show_details()

    def selected_id(self) -> str | None:
        """The id of the selected model, or None."""
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        item = self.table.item(rows[0].row(), 0)
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def _show_details(self) -> None:
        mid = self.selected_id()
        st = next((s for s in self.statuses if s.spec.id == mid), None)
        if st is None:
            self.details.setHtml("")
            return
        s = st.spec
        link = f"<a href='{s.source_url}' style='color:{COLORS['accent_light']}'>{s.source_url}</a>" if s.source_url else ""
        rows = []
        for f in st.files:
            if not f.present:
                what = "<span style='color:%s'>missing</span>" % COLORS["dim"]
            elif f.problem:
                what = f"<span style='color:{COLORS['bad']}'>{f.problem}</span>"
            else:
                what = f"<span style='color:{COLORS['ok']}'>present</span>, {f.size / 1e6:,.1f} MB, {f.checksum.value}"
            size = f" (≈{f.spec.approx_mb:g} MB)" if f.spec.approx_mb and not f.present else ""
            rows.append(f"<tr><td><code>{f.spec.path}</code>{size}</td><td>&nbsp;&nbsp;{what}</td></tr>")
        self.details.setHtml(
            f"<h3 style='margin:0'>{s.name}</h3><p style='color:{COLORS['dim']}'>{s.network}</p>"
            f"<p><b>Used for:</b> {s.used_for}<br>"
            + (f"<b>Without it:</b> {without_model(s.id)}<br>" if s.id in WITHOUT_MODEL else "")
            + f"<b>Licence:</b> {s.licence}<br>"
            f"<b>Where to get it:</b> {s.source} {link}</p><table>{''.join(rows)}</table>")

    # -- adding ----------------------------------------------------------------------------------------
    def _add_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Add model weights", str(Path.home()),
                                              "Model weights (*.pth *.pt *.model *.index *.data-* *.npy *.txt);;"
                                              "All files (*)")
        if path:
            self.add_file(path)

    def add_file(self, path: str | Path, model_id: str | None = None) -> None:
        """Check ``path`` and copy it into the models folder (for the selected model when the name is not known)."""
        mid = model_id
        if mid is None and not self.registry.identify(path):
            mid = self.selected_id()
        self._busy(True)
        self._say(f"Checking and copying {Path(path).name}…")
        self.tasks.submit("models:add", self.registry.add_from_file, str(path), mid)

    def _open_folder(self) -> None:
        self.registry.models_dir.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.registry.models_dir)))
