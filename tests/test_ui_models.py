"""The Models dialog: what is installed, licences and sources, Add from File (checked, then copied)."""

from __future__ import annotations

import zipfile

from ui_fixtures import main_window, no_threads_left, ui_home  # noqa: F401
from lipsync_studio.weights import ModelState


def _checkpoint(path):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
        zf.writestr("archive/data/0", b"w" * 1_500_000)
    return path


def test_models_dialog_lists_models_and_adds_a_file(qtbot, main_window, ui_home, tmp_path):
    win = main_window
    win.open_models()
    dlg = win.models_dialog
    qtbot.waitUntil(lambda: len(dlg.statuses) == 6, timeout=10000)
    assert dlg.table.rowCount() == 6
    assert str(ui_home / "data" / "models") == dlg.folder.text()
    assert dlg.last_message == "0 of 6 models installed"
    names = [dlg.table.item(r, 0).text() for r in range(6)]
    assert "Wav2Lip-GAN" in names and "PRNet" in names
    dlg.table.selectRow(names.index("SyncNet v2"))
    html = dlg.details.toHtml()
    assert "MIT" in html and "syncnet_python" in html

    # A failed download is refused with the reason; nothing is copied.
    page = tmp_path / "wav2lip_gan.pth"
    page.write_text("<html><body>Sign in</body></html>" + " " * 2_000_000)
    dlg.add_file(page)
    qtbot.waitUntil(lambda: "Could not add" in dlg.last_message, timeout=10000)
    assert "web page" in dlg.last_message
    assert not (ui_home / "data" / "models" / "wav2lip_gan.pth").exists()

    # A checkpoint under another name is added for the selected model and shows as ready.
    dlg.table.selectRow(names.index("Wav2Lip"))
    dlg.add_file(_checkpoint(tmp_path / "my_download.bin"))
    qtbot.waitUntil(lambda: dlg.last_message == "1 of 6 models installed", timeout=10000)
    st = next(s for s in dlg.statuses if s.spec.id == "wav2lip")
    assert st.state is ModelState.READY and st.files[0].path.name == "wav2lip.pth"
    row = names.index("Wav2Lip")
    assert "ready" in dlg.table.item(row, 1).text()
    dlg.verify_btn.click()
    qtbot.waitUntil(lambda: dlg.last_message == "1 of 6 models installed" and dlg.verify_btn.isEnabled(),
                    timeout=10000)
    dlg.close()
