"""PRNet's UV data (synthetic, in the official formats) and the loss weight masks (16:4:3:0 and 16:10:4:3:0)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from lipsync_studio.face.prnet.masks import (
    EYES_REGION,
    FACE,
    KEYPOINTS_REGION,
    LIPS,
    MOUTH_EMPHASIS,
    MOUTH_REGION,
    NOSE_REGION,
    OUTSIDE,
    PRNET_ORIGINAL,
    official_weight_mask,
    uv_regions,
    uv_weight_mask,
    weight_mask,
)
from lipsync_studio.face.prnet.synthetic import SyntheticUVLayout, synthetic_uv_layout, write_synthetic_uv_data
from lipsync_studio.face.prnet.uv_data import N_VERTICES, UVDataError, load_uv_data


@pytest.fixture(scope="module")
def layout() -> SyntheticUVLayout:
    return synthetic_uv_layout()


@pytest.fixture(scope="module")
def uv_dir(layout, tmp_path_factory):
    return write_synthetic_uv_data(tmp_path_factory.mktemp("uv") / "uv-data", layout)


# --- the synthetic layout --------------------------------------------------------------------------------------------

def test_synthetic_layout_has_prnets_sizes_and_a_plausible_face(layout):
    assert layout.face_ind.size == N_VERTICES == 43867 and int(layout.face_mask.sum()) == N_VERTICES
    assert np.all(np.diff(layout.face_ind) > 0)
    assert layout.triangles.shape[1] == 3 and layout.triangles.min() == 0 and layout.triangles.max() < N_VERTICES
    assert len(np.unique(layout.triangles)) > 0.99 * N_VERTICES  # nearly every vertex is in a triangle
    assert layout.kpt_ind.shape == (2, 68) and layout.canonical_vertices.shape == (N_VERTICES, 3)
    u, v = layout.kpt_ind
    assert layout.face_mask[v, u].all() and len(set(zip(u, v, strict=True))) == 68
    # The 68-point convention: jaw 0 (image left) to 16 (image right) through the chin at 8, brows above eyes,
    # nose between eyes and mouth, the left eye (36-41) left of the right eye (42-47).
    assert u[0] < u[8] < u[16] and v[8] == v[:17].max()
    assert v[17:27].max() < v[36:48].min() and v[36:48].max() < v[33] < v[48:68].min()
    assert u[36:42].max() < u[27] < u[42:48].min()
    assert v[51] < v[62] <= v[66] < v[57]  # outer upper lip, inner lips, outer lower lip


def test_uv_files_round_trip_in_integer_and_float_notation(layout, uv_dir, tmp_path):
    for folder in (uv_dir, write_synthetic_uv_data(tmp_path / "float", layout, float_text=True)):
        uv = load_uv_data(folder)
        np.testing.assert_array_equal(uv.face_ind, layout.face_ind)
        np.testing.assert_array_equal(uv.triangles, layout.triangles)
        np.testing.assert_array_equal(uv.kpt_ind, layout.kpt_ind)
        np.testing.assert_array_equal(uv.face_mask, layout.face_mask)
        np.testing.assert_array_equal(uv.eye_mask, layout.eye_mask)
        np.testing.assert_array_equal(uv.weight_mask, layout.weight_png)
        np.testing.assert_allclose(uv.canonical_vertices, layout.canonical_vertices)
    assert uv.n_vertices == N_VERTICES and uv.uv_coords.shape == (N_VERTICES, 2)
    assert (uv.face_ind[:, None] == (uv.uv_coords[:, 1] * 256 + uv.uv_coords[:, 0])[:, None]).all()
    assert (uv.keypoints_uv == layout.kpt_ind.T).all()
    head = (uv_dir / "face_ind.txt").read_text().split()[:2]
    assert head == [str(layout.face_ind[0]), str(layout.face_ind[1])]
    assert (tmp_path / "float" / "uv_kpt_ind.txt").read_text().count("\n") == 2  # 2 rows × 68


def test_optional_uv_files_may_be_absent(layout, tmp_path):
    folder = write_synthetic_uv_data(tmp_path / "minimal", layout, eyes=False, weight_mask=False, face_mask=False,
                                     canonical=False)
    uv = load_uv_data(folder)
    assert uv.eye_mask is None and uv.weight_mask is None and uv.canonical_vertices is None
    np.testing.assert_array_equal(uv.face_mask, layout.face_mask)  # made from face_ind


def _break(folder, name, content):
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


@pytest.mark.parametrize(("name", "content", "message"), [
    ("face_ind.txt", None, "face index file is missing"),
    ("face_ind.txt", "", "face index file is empty"),
    ("face_ind.txt", "1 2 x\n", "something other than numbers"),
    ("face_ind.txt", "1.5 2\n", "not whole"),
    ("face_ind.txt", "5 70000\n", "must lie in 0…65535"),
    ("face_ind.txt", "5 5\n", "lists some UV pixels twice"),
    ("triangles.txt", "0 1 2\n3 4\n", "do not all have 3 numbers"),
    ("triangles.txt", "0 1 2 3\n", "must have 3 numbers a line"),
    ("triangles.txt", "0 1 43867\n", "different PRNet versions"),
    ("uv_kpt_ind.txt", "1 2 3\n4 5 6\n", "must be 2×68"),
    ("uv_face_mask.png", b"not a png", "not a readable image"),
    ("canonical_vertices.npy", b"garbage", "not a readable .npy"),
])
def test_damaged_uv_files_are_named_with_what_is_wrong(uv_dir, tmp_path, name, content, message):
    folder = Path(shutil.copytree(uv_dir, tmp_path / "uv"))
    if content is None:
        (folder / name).unlink()
    else:
        _break(folder, name, content)
    with pytest.raises(UVDataError, match=re.escape(message)) as exc:
        load_uv_data(folder)
    assert exc.value.path == folder / name and "Data/uv-data folder of the PRNet repository" in str(exc.value)


def test_inconsistent_uv_images_are_rejected(uv_dir, tmp_path):
    import cv2

    folder = Path(shutil.copytree(uv_dir, tmp_path / "uv"))
    cv2.imwrite(str(folder / "uv_face_mask.png"), np.full((256, 256), 255, np.uint8))
    with pytest.raises(UVDataError, match=r"marks 65536 pixels but face_ind\.txt lists 43867"):
        load_uv_data(folder)
    cv2.imwrite(str(folder / "uv_face_mask.png"), np.zeros((128, 128), np.uint8))
    with pytest.raises(UVDataError, match="128×128 uint8, not 256×256 8-bit"):
        load_uv_data(folder)
    (folder / "uv_face_mask.png").unlink()
    (folder / "uv_face_eyes.png").unlink()
    with pytest.raises(UVDataError, match="face-without-eyes image is missing"):
        load_uv_data(folder)
    np.save(folder / "canonical_vertices.npy", np.zeros((10, 3)))
    (folder / "uv_face.png").unlink()
    with pytest.raises(UVDataError, match=r"must be 43867×3 floats, it is \(10, 3\)"):
        load_uv_data(folder)
    with pytest.raises(UVDataError, match="uv-data folder is missing"):
        load_uv_data(tmp_path / "nowhere")


# --- loss masks ------------------------------------------------------------------------------------------------------

def _region_means(weights: np.ndarray, labels: np.ndarray) -> dict[int, float]:
    return {label: float(weights[labels == label].mean()) for label in np.unique(labels)}


def test_original_prnet_mask_has_ratios_16_4_3_0(layout):
    regions = uv_regions(layout.kpt_ind, layout.face_mask, layout.eye_mask)
    weights = weight_mask(regions, PRNET_ORIGINAL)
    means = _region_means(weights, regions.labels)
    assert means == {OUTSIDE: 0, FACE: 3, NOSE_REGION: 4, EYES_REGION: 4, MOUTH_REGION: 4, KEYPOINTS_REGION: 16}
    # As relative weights of key points : eyes, nose, mouth : face : neck.
    eyes_nose_mouth = np.isin(regions.labels, [EYES_REGION, NOSE_REGION, MOUTH_REGION])
    ratios = np.array([weights[regions.labels == KEYPOINTS_REGION].mean(), weights[eyes_nose_mouth].mean(),
                       weights[regions.labels == FACE].mean(), weights[~layout.face_mask].mean()])
    np.testing.assert_allclose(ratios / ratios[0], np.array([16, 4, 3, 0]) / 16)


def test_mouth_emphasis_mask_has_ratios_16_10_4_3_0(layout):
    regions = uv_regions(layout.kpt_ind, layout.face_mask, layout.eye_mask)
    weights = weight_mask(regions, "mouth")
    eyes_nose = np.isin(regions.labels, [EYES_REGION, NOSE_REGION])
    ratios = np.array([weights[regions.labels == KEYPOINTS_REGION].mean(),
                       weights[regions.labels == MOUTH_REGION].mean(), weights[eyes_nose].mean(),
                       weights[regions.labels == FACE].mean(), weights[~layout.face_mask].mean()])
    np.testing.assert_allclose(ratios / ratios[0], np.array([16, 10, 4, 3, 0]) / 16)
    np.testing.assert_array_equal(uv_weight_mask(layout, MOUTH_EMPHASIS), weights)
    assert weights.dtype == np.float32 and weights.shape == (256, 256)


def test_regions_cover_their_key_points_and_the_neck_weighs_nothing(layout):
    regions = uv_regions(layout.kpt_ind, layout.face_mask, layout.eye_mask)
    u, v = layout.kpt_ind
    labels = regions.labels
    assert (labels[v, u] == KEYPOINTS_REGION).all() and int((labels == KEYPOINTS_REGION).sum()) == 68
    # The centre of the lips, of each eye and the nose fall in their regions; each region is a sizeable blob.
    lips = layout.kpt_ind[:, list(LIPS)].mean(axis=1).round().astype(int)
    assert labels[lips[1], lips[0] + 5] == MOUTH_REGION
    for first in (36, 42):
        cu, cv = layout.kpt_ind[:, first:first + 6].mean(axis=1).round().astype(int)
        assert labels[cv, cu] == EYES_REGION
    assert labels[v[29], u[29] + 2] == NOSE_REGION
    for label in (MOUTH_REGION, EYES_REGION, NOSE_REGION):
        assert 500 < int((labels == label).sum()) < 6000
    assert regions.inter_ocular == pytest.approx(85.0, abs=2)
    # Neck and everything outside the face: weight 0 in both schemes; every face pixel > 0.
    for scheme in (PRNET_ORIGINAL, MOUTH_EMPHASIS):
        weights = weight_mask(regions, scheme)
        assert (weights[~layout.face_mask] == 0).all() and (weights[layout.face_mask] >= 3).all()
    # PRNet's eye region (uv_face.png vs uv_face_eyes.png) is part of the eyes.
    assert (np.isin(labels[layout.eye_mask], [EYES_REGION, KEYPOINTS_REGION])).all()


def test_mask_margins_and_keypoint_radius_grow_their_regions(layout):
    from lipsync_studio.face.prnet.masks import RegionMargins

    small = uv_regions(layout.kpt_ind, layout.face_mask, margins=RegionMargins(mouth=0.0))
    large = uv_regions(layout.kpt_ind, layout.face_mask, margins=RegionMargins(mouth=0.3), keypoint_radius=1)
    assert (large.labels == MOUTH_REGION).sum() > 2 * (small.labels == MOUTH_REGION).sum()
    assert (large.labels == KEYPOINTS_REGION).sum() > 4 * 68
    with pytest.raises(ValueError, match="unknown weight scheme 'loud'"):
        weight_mask(small, "loud")
    with pytest.raises(ValueError, match=r"kpt_ind must be \(2, 68\)"):
        uv_regions(layout.kpt_ind.T, layout.face_mask)


def test_official_weight_png_decodes_to_16_4_3_and_needs_the_face_mask_for_a_zero_neck(layout, uv_dir):
    uv = load_uv_data(uv_dir)
    raw = official_weight_mask(uv.weight_mask)
    assert set(np.unique(raw)) == {0, 3, 4, 16}
    assert (raw[uv.kpt_ind[1], uv.kpt_ind[0]] == 16).all()  # 255 is read as 256
    assert raw[~uv.face_mask].max() == 3  # the PNG alone weighs the neck like the face
    masked = official_weight_mask(uv.weight_mask, uv.face_mask)
    assert (masked[~uv.face_mask] == 0).all() and (masked[uv.face_mask] > 0).all()
    # Loaded UV data gives the same masks as the layout it was written from.
    np.testing.assert_array_equal(uv_weight_mask(uv, "prnet"), uv_weight_mask(layout, "prnet"))
