"""Wires the clip's faces into the widgets: the 3D view, the mesh overlay, the Face box, Track Faces.

When the session's faces change, the speaker's meshes are prepared; every frame the viewer shows then
gets its mesh (3D view) and its outline (overlay) from the same computation.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject

from .face_view import FaceView
from ..app.faces import FaceFrame, FaceMeshes, describe_tracks
from .frame_server import FrameBundle
from .run_panel import RunPanel
from .session import Session
from .viewer import VideoViewer
from .viewer_bar import ViewerBar

log = logging.getLogger("lipsync_studio.ui")


class FaceLink(QObject):
    """Keeps the face widgets in step with the session."""

    def __init__(self, session: Session, face_view: FaceView, viewer: VideoViewer, bar: ViewerBar,
                 run_panel: RunPanel, enabled: bool, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session, self.face_view, self.viewer, self.bar, self.run_panel = session, face_view, viewer, bar, run_panel
        self.enabled = enabled
        self.meshes: FaceMeshes | None = None
        self.overlay = False
        self._last: tuple[tuple, FaceFrame] | None = None
        session.faces_enabled = enabled
        session.faces_changed.connect(self._faces_changed)
        session.frame_ready.connect(self._frame)
        session.clip_changed.connect(lambda info: self.face_view.set_tracking("none" if enabled else "unavailable"))
        session.jobs.started.connect(self._job_started)
        session.jobs.cancelled.connect(self._job_stopped)
        session.jobs.errored.connect(self._job_stopped)
        face_view.track_requested.connect(self.track)
        bar.overlay_toggled.connect(self._overlay_toggled)
        run_panel.face_changed.connect(self._face_chosen)
        face_view.set_tracking("unavailable")

    def track(self) -> None:
        """Track the faces (the Track Faces button, the Sync menu, or the overlay asking for them)."""
        if self.session.track_faces() is None:
            self.session.status.emit("Face tracking cannot start now (open a clip; wait for the running job)")

    def _job_started(self, name: str) -> None:
        if name == "Track faces":
            self.face_view.set_tracking("running")

    def _job_stopped(self, *args) -> None:
        if self.session.faces is None and self.session.clip is not None and self.enabled:
            self.face_view.set_tracking("none")

    def _faces_changed(self, faces) -> None:
        self._last = None
        self.meshes = None
        if faces is None:
            self.face_view.set_mesh_source(None)
            self.run_panel.set_faces([])
            self.viewer.set_overlay(None)
            return
        self.run_panel.set_faces(describe_tracks(faces))
        self._build(None)

    def _face_chosen(self, track_id) -> None:
        self.session.face_id = track_id
        self.session.replan()  # a new face makes the last result out of date
        if self.session.faces is not None:
            self._build(track_id)

    def _build(self, track_id) -> None:
        try:
            self.meshes = FaceMeshes(self.session.faces, track_id)
        except ValueError as exc:
            self.meshes = None
            self.face_view.set_mesh_source(None)
            self.face_view.set_tracking("done")
            self.session.status.emit(f"No face to show: {exc}")
            return
        self._last = None
        self.face_view.set_tracking("done")
        self.face_view.set_mesh_source(self._mesh_for)
        self.bar.overlay.setEnabled(True)
        self.session.refresh()

    def _face_frame(self, index: int, picture) -> FaceFrame | None:
        if self.meshes is None:
            return None
        key = (index, id(picture) if picture is not None else None)
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        ff = self.meshes.frame(index, picture)
        self._last = (key, ff)
        return ff

    def _mesh_for(self, index: int, picture):
        ff = self._face_frame(index, picture)
        return ff.mesh if ff is not None else None

    def _frame(self, bundle: FrameBundle) -> None:
        if self.meshes is None or not bundle.final:
            return
        ff = self._face_frame(bundle.source, bundle.original)
        if self.overlay and ff is not None:
            self.viewer.set_overlay(ff.image_points, ff.mesh.triangles)
        if self.face_view.isVisible():
            self.face_view.show_frame(bundle.source, bundle.original)

    def _overlay_toggled(self, on: bool) -> None:
        self.overlay = on
        if not on:
            self.viewer.set_overlay(None)
        elif self.meshes is None and self.session.faces is None:
            self.session.status.emit("Tracking the faces for the mesh overlay…")
            self.track()
        else:
            self.session.refresh()
