"""``mesh`` on a VR clip: the face is found through the projection and meshed in the flat view it is seen in, so
the meshes are in that pinhole view's metric space, and ``sequence.json`` says which view."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pytest

pytest.importorskip("mediapipe")


def test_a_vr180_face_off_centre_is_meshed_in_the_view_around_it(tmp_path):
    from lipsync_studio.engine.mesh_job import run_mesh
    from lipsync_studio.media.writer import VideoWriter
    from lipsync_studio.samples import talking_face_frames
    from lipsync_studio.samples.vr_scene import VRTalkingScene
    from lipsync_studio.stereo.layout import join
    from lipsync_studio.stereo.projection import rotation

    scene = VRTalkingScene("vr180", 400, 45.0, 10.0)  # far off-centre, where the fisheye bends the face
    clip = tmp_path / "vr180_tb.mp4"
    with VideoWriter(clip, Fraction(25), scene.eye_w, 2 * scene.eye_h) as w:
        w.vr_metadata = scene.metadata()
        for f in talking_face_frames(np.abs(np.sin(np.arange(8) / 2)), size=256):
            w.write(join(*scene.eyes(f), "tb"))
    result = run_mesh(clip, tmp_path / "meshes")
    assert result.frames == 8 and result.measured == 8
    seq = json.loads((result.folder / "sequence.json").read_text())
    view = seq["view"]
    assert view["projection"] == "mesh" and view["eye"] == "left"
    assert abs(view["yaw_deg"] - 45.0) < 4 and abs(view["pitch_deg"] - 10.0) < 4
    assert view["focal_px"] == pytest.approx(0.5 * view["size_px"] / math.tan(math.radians(view["fov_deg"]) / 2),
                                             rel=1e-3)
    # In the view's camera (x right, +y up, -z forward) the face sits straight ahead; turned by the view's
    # direction it points where the head stands in the scene.
    for frame in seq["frames"]:
        t = np.array(frame["translation_mm"], np.float64)
        assert t[2] < 0 and math.hypot(t[0], t[1]) < 0.1 * -t[2]
        world = rotation(math.radians(view["yaw_deg"]), math.radians(view["pitch_deg"])) @ (t * [1, -1, -1])
        angle = math.degrees(math.acos(np.clip(world @ scene.face_direction / np.linalg.norm(world), -1, 1)))
        assert angle < 6
