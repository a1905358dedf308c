"""The models registry: the manifest, what is found, checksums, and adding a file safely."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from lipsync_studio.errors import UserError
from lipsync_studio.weights import Checksum, ModelRegistry, ModelState, load_manifest, weight_path
from lipsync_studio.weights.manifest import parse_manifest
from lipsync_studio.weights.registry import default_models_dir

REPO = Path(__file__).resolve().parents[1]


def torch_like(path: Path, payload: bytes = b"x" * 2_000_000) -> Path:
    """A file in PyTorch's zip checkpoint layout (what torch.save writes since 1.6)."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
        zf.writestr("archive/data/0", payload)
    return path


def test_manifest_lists_every_model_the_app_uses():
    ids = {m.id for m in load_manifest()}
    assert {"wav2lip", "wav2lip_gan", "lipsync_expert", "syncnet_v2", "prnet", "stereo_cycle"} <= ids
    for m in load_manifest():
        assert m.name and m.licence and m.source and m.used_for and m.files


def test_checkout_shows_the_packaged_manifest():
    checkout = REPO / "models" / "manifest.json"
    packaged = REPO / "src" / "lipsync_studio" / "weights" / "manifest.json"
    assert json.loads(checkout.read_text()) == json.loads(packaged.read_text())


def test_models_folder_is_the_checkout_or_the_user_data_dir(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("LIPSYNC_STUDIO_HOME", raising=False)
    monkeypatch.delenv("LIPSYNC_STUDIO_MODELS_DIR", raising=False)
    assert default_models_dir() == REPO / "models"
    monkeypatch.setenv("LIPSYNC_STUDIO_HOME", str(tmp_path))
    assert default_models_dir() == tmp_path / "data" / "models"
    monkeypatch.setenv("LIPSYNC_STUDIO_MODELS_DIR", str(tmp_path / "mine"))
    assert default_models_dir() == tmp_path / "mine"


def test_nothing_installed_means_missing_and_no_path(tmp_path: Path):
    reg = ModelRegistry(tmp_path)
    assert all(s.state is ModelState.MISSING for s in reg.statuses())
    assert weight_path("wav2lip", tmp_path) is None


def test_add_from_file_copies_under_the_expected_name_and_records_the_checksum(tmp_path: Path):
    reg = ModelRegistry(tmp_path / "models")
    src = torch_like(tmp_path / "downloaded.pth")
    dest = reg.add_from_file(src, "wav2lip_gan")
    assert dest == tmp_path / "models" / "wav2lip_gan.pth"
    assert dest.read_bytes() == src.read_bytes()
    st = reg.status("wav2lip_gan")
    assert st.state is ModelState.READY
    assert st.files[0].checksum is Checksum.MATCHES_RECORDED
    assert reg.path_for("wav2lip_gan") == dest
    assert not list((tmp_path / "models").glob(".*adding*"))


def test_a_real_torch_checkpoint_is_accepted(tmp_path: Path):
    torch = pytest.importorskip("torch")
    src = tmp_path / "lipsync_expert.pth"
    torch.save({"state_dict": {"w": torch.zeros(300_000)}}, src)
    dest = ModelRegistry(tmp_path / "models").add_from_file(src)  # identified by its name
    assert dest.name == "lipsync_expert.pth"


def test_published_names_are_recognised(tmp_path: Path):
    reg = ModelRegistry(tmp_path / "models")
    hits = reg.identify(tmp_path / "Wav2Lip-SD-GAN.pt")
    assert [(m.id, f.path) for m, f in hits] == [("wav2lip_gan", "wav2lip_gan.pth")]


def test_a_failed_download_saved_as_a_web_page_is_refused(tmp_path: Path):
    reg = ModelRegistry(tmp_path / "models")
    page = tmp_path / "wav2lip.pth"
    page.write_text("<!DOCTYPE html><html><body>Sign in to continue</body></html>" + " " * 2_000_000)
    with pytest.raises(UserError, match="web page"):
        reg.add_from_file(page)
    assert not (tmp_path / "models" / "wav2lip.pth").exists()


def test_wrong_kind_of_file_and_unknown_names_are_refused(tmp_path: Path):
    reg = ModelRegistry(tmp_path / "models")
    junk = tmp_path / "syncnet_v2.model"
    junk.write_bytes(b"\x00\x01" * 1_000_000)
    with pytest.raises(UserError, match="not a PyTorch checkpoint"):
        reg.add_from_file(junk)
    other = torch_like(tmp_path / "something.bin")
    with pytest.raises(UserError, match="select the model"):
        reg.add_from_file(other)
    empty = tmp_path / "wav2lip.pth"
    empty.write_bytes(b"")
    with pytest.raises(UserError, match="empty"):
        reg.add_from_file(empty)


def test_pinned_sizes_and_tensorflow_indexes_are_checked(tmp_path: Path):
    reg = ModelRegistry(tmp_path / "models")
    index = tmp_path / "256_256_resfcn256_weight.index"
    index.write_bytes(b"\x00" * 20311 + (0xDB4775248B80FB57).to_bytes(8, "little"))
    reg.add_from_file(index, "prnet")
    st = reg.status("prnet")
    assert st.state is ModelState.INCOMPLETE and "missing" in st.summary
    bad = tmp_path / "256_256_resfcn256_weight.data-00000-of-00001"
    bad.write_bytes(b"\x01" * 1000)
    with pytest.raises(UserError, match="160,290,984"):
        reg.add_from_file(bad, "prnet")


def test_a_file_changed_after_it_was_added_is_reported(tmp_path: Path):
    reg = ModelRegistry(tmp_path / "models")
    dest = reg.add_from_file(torch_like(tmp_path / "wav2lip.pth"))
    torch_like(dest, payload=b"y" * 2_000_000)
    st = reg.status("wav2lip", verify=True)
    assert st.files[0].checksum is Checksum.CHANGED


def test_published_checksum_mismatch_makes_a_model_damaged(tmp_path: Path):
    data = json.loads((REPO / "models" / "manifest.json").read_text())
    data["models"] = [m for m in data["models"] if m["id"] == "wav2lip"]
    data["models"][0]["files"][0]["sha256"] = "0" * 64
    reg = ModelRegistry(tmp_path / "models", parse_manifest(data))
    with pytest.raises(UserError, match="checksum mismatch"):
        reg.add_from_file(torch_like(tmp_path / "wav2lip.pth"))
    assert not (tmp_path / "models" / "wav2lip.pth").exists()
    torch_like(tmp_path / "models" / "wav2lip.pth")  # put there by hand
    st = reg.status("wav2lip", verify=True)
    assert st.state is ModelState.DAMAGED and "download it again" in st.summary
