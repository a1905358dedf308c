"""The look: Fusion style, a dark palette, the QSS theme and the app's own SVG icons.

Icons and the stylesheet are package resources (``lipsync_studio/resources``), found with
``importlib.resources`` so that a wheel or the PyInstaller build finds them too.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import QApplication

from . import qt_compat  # noqa: F401 - guards PySide6 6.12.0's lost references on Python 3.11

#: Colours the custom-drawn widgets share with the stylesheet.
COLORS = {
    "window": "#1a1c1f",
    "panel": "#222428",
    "base": "#17181b",
    "video_bg": "#0e0f11",
    "text": "#d5d8de",
    "dim": "#8d939c",
    "grid": "#2e3136",
    "accent": "#2f6fd0",
    "accent_light": "#4c9eff",
    "playhead": "#ff4d4d",
    "clip_wave": "#4fc3a1",
    "dub_wave": "#e8a33d",
    "thumb_bg": "#121315",
    "ok": "#5cc8a8",
    "warn": "#e8a33d",
    "bad": "#ff6b6b",
}


def resource_dir() -> Path:
    """The package's resources folder on disk."""
    return Path(str(resources.files("lipsync_studio") / "resources"))


@cache
def icon(name: str) -> QIcon:
    """The app icon ``name`` (``icons/<name>.svg``); an empty icon if it does not exist."""
    path = resource_dir() / "icons" / f"{name}.svg"
    return QIcon(str(path)) if path.is_file() else QIcon()


def stylesheet() -> str:
    """The dark QSS with icon URLs pointing at the installed icons folder."""
    text = (resource_dir() / "dark.qss").read_text(encoding="utf-8")
    return text.replace("@ICONS@", (resource_dir() / "icons").as_posix())


def apply_theme(app: QApplication) -> None:
    """Give ``app`` the Fusion style, the dark palette, the stylesheet and the app icon."""
    app.setStyle("Fusion")
    pal = QPalette()
    c = {k: QColor(v) for k, v in COLORS.items()}
    pal.setColor(QPalette.ColorRole.Window, c["window"])
    pal.setColor(QPalette.ColorRole.WindowText, c["text"])
    pal.setColor(QPalette.ColorRole.Base, c["base"])
    pal.setColor(QPalette.ColorRole.AlternateBase, QColor("#1f2124"))
    pal.setColor(QPalette.ColorRole.ToolTipBase, QColor("#2b2e34"))
    pal.setColor(QPalette.ColorRole.ToolTipText, QColor("#e6e8ec"))
    pal.setColor(QPalette.ColorRole.Text, c["text"])
    pal.setColor(QPalette.ColorRole.Button, QColor("#2c2f35"))
    pal.setColor(QPalette.ColorRole.ButtonText, c["text"])
    pal.setColor(QPalette.ColorRole.Highlight, c["accent"])
    pal.setColor(QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
    pal.setColor(QPalette.ColorRole.Link, c["accent_light"])
    pal.setColor(QPalette.ColorRole.PlaceholderText, QColor("#6b7079"))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor("#5d626a"))
    app.setPalette(pal)
    app.setStyleSheet(stylesheet())
    app.setWindowIcon(icon("app"))
