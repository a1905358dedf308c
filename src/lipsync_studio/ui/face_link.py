"""Wires the clip's faces into the widgets: the 3D view, the mesh overlay, the Face box, Track Faces.

When the session's faces change, the speaker's meshes are prepared; every frame the viewer shows then
gets its mesh (3D view) and its outline (overlay) from the same computation.

After a sync the 3D view follows the result: the result video's faces are tracked in the background (the
same face task as the clip's, cached the same way) and the view shows the face of the output frame on
screen, whose mouth is the one the dub made. The view's "Synced result / Original clip" switch changes
that; when the result goes out of date, or another clip opens, the view returns to the clip's face.
"""

from __future__ import annotations

import logging

from pathlib import Path

from PySide6.QtCore import QObject

from .face_view import FaceView
from ..app.faces import FaceFrame, FaceMeshes, describe_tracks, matching_face, track_task
from .frame_server import FrameBundle
from .run_panel import RunPanel
from .session import Session
from .threads import Tasks, start_worker, stop_worker
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
        #: The sync result's face: its meshes once tracked, the result they are of, and how far that got.
        self.synced: FaceMeshes | None = None
        self.synced_state = "none"  # "none" (no fresh result), "tracking", "ready" or "failed"
        self.prefer = "synced"  # what the user chose to see while there is a fresh result
        self._synced_for = None
        self._synced_faces = None
        self._synced_why = ""
        self._generation = 0
        self._cancel = None
        self._bundle: FrameBundle | None = None
        self._tracker: Tasks | None = None
        self._tracker_thread = None
        self._closed = False
        session.faces_enabled = enabled
        session.faces_changed.connect(self._faces_changed)
        session.result_changed.connect(self._result_changed)
        session.frame_ready.connect(self._frame)
        session.clip_changed.connect(lambda info: self.face_view.set_tracking("none" if enabled else "unavailable"))
        session.jobs.started.connect(self._job_started)
        session.jobs.cancelled.connect(self._job_stopped)
        session.jobs.errored.connect(self._job_stopped)
        face_view.track_requested.connect(self.track)
        face_view.face_of_changed.connect(self.show_face_of)
        face_view.closing.connect(self.shutdown)
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
            self._bundle = None  # another clip: its frames are on their way
            self.run_panel.set_faces([])
            self.viewer.set_overlay(None)
            self._update_view()
            return
        self.run_panel.set_faces(describe_tracks(faces))
        self._build(None)
        self._build_synced()  # the result's face that matches the clip's speaker

    def _face_chosen(self, track_id) -> None:
        self.session.face_id = track_id
        self.session.replan()  # a new face makes the last result out of date
        if self.session.faces is not None:
            self._build(track_id)
            self._build_synced()

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
        self.bar.overlay.setEnabled(True)
        self._update_view()

    # -- the sync result's face --------------------------------------------------------------------------
    @property
    def showing(self) -> str:
        """Which face the 3D view shows: ``"synced"`` (the result's) or ``"original"`` (the clip's)."""
        fresh = self._synced_for is not None and self.session.has_fresh_result()
        return "synced" if fresh and self.synced is not None and self.prefer == "synced" else "original"

    def show_face_of(self, face_of: str) -> None:
        """Show the face of the sync's result (``"synced"``, when there is an up-to-date one) or the clip's."""
        self.prefer = face_of
        self._update_view()

    def _result_changed(self, result, stale: bool) -> None:
        fresh = self.session.has_fresh_result()
        if fresh and result is self._synced_for:
            self._update_view()
            return
        self._stop_tracking()
        self.synced, self._synced_faces, self._synced_for, self._synced_why = None, None, None, ""
        self.synced_state = "none"
        if fresh and self.enabled and not self._closed:
            self._synced_for = result
            self.synced_state = "tracking"
            self._track_result(Path(result.output))
        self._update_view()

    def _track_result(self, path: Path) -> None:
        from ..job import CancelToken

        if self._tracker is None:
            self._tracker = Tasks()
            self._tracker_thread = start_worker(self._tracker, "lipsync-result-faces")
            self._tracker.done.connect(self._result_tracked)
            self._tracker.failed.connect(self._result_not_tracked)
        self._generation += 1
        self._cancel = CancelToken()
        task = track_task(path)
        self._tracker.submit(str(self._generation), task.run, lambda progress: None, self._cancel)

    def _stop_tracking(self) -> None:
        if self._cancel is not None:
            self._cancel.cancel()
            self._cancel = None
        self._generation += 1  # whatever still comes back is of an older result

    def _result_tracked(self, key: str, faces) -> None:
        if key != str(self._generation):
            return
        self._cancel = None
        self._synced_faces = faces
        self._build_synced()

    def _result_not_tracked(self, key: str, message: str, details: str) -> None:
        if key != str(self._generation):
            return
        self._cancel = None
        log.info("no face tracked on the sync's result: %s\n%s", message, details)
        self.synced_state, self._synced_why = "failed", f"The result's face could not be tracked: {message}"
        self.session.status.emit(self._synced_why)
        self._update_view()

    def _build_synced(self) -> None:
        """The result's meshes, of the face that matches the clip's chosen one."""
        if self._synced_faces is None:
            return
        face = None
        if self.session.faces is not None:
            face = matching_face(self.session.faces, self.session.face_id, self._synced_faces)
        try:
            self.synced = FaceMeshes(self._synced_faces, face, of="Synced result")
            self.synced_state, self._synced_why = "ready", ""
        except ValueError as exc:
            self.synced = None
            self.synced_state, self._synced_why = "failed", f"No face in the result: {exc}"
            self.session.status.emit(self._synced_why)
        self._update_view()

    def _update_view(self) -> None:
        """Point the 3D view at the face it should show, set its switch, and show the frame on screen."""
        self._last = None
        synced = self.showing == "synced"
        fresh = self._synced_for is not None and self.session.has_fresh_result()
        self.face_view.set_face_of(("synced" if synced else "original") if fresh else None, self.synced_state,
                                   self._synced_why)
        if synced:
            self.face_view.set_mesh_source(self._synced_mesh_for)
        elif self.meshes is not None:
            self.face_view.set_mesh_source(self._mesh_for)
        else:
            self.face_view.set_mesh_source(None)
        if self._bundle is not None and self.face_view.isVisible():
            self._show(self._bundle)
        self.session.refresh()

    def shutdown(self) -> None:
        """Stop tracking the result and end the tracking thread; track no more results (idempotent)."""
        self._closed = True
        self._stop_tracking()
        stop_worker(self._tracker_thread, timeout_ms=30_000)
        self._tracker_thread = None

    # -- frames ----------------------------------------------------------------------------------------
    def _face_frame(self, meshes: FaceMeshes | None, index: int, picture) -> FaceFrame | None:
        if meshes is None:
            return None
        key = (id(meshes), index, id(picture) if picture is not None else None)
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        ff = meshes.frame(index, picture)
        self._last = (key, ff)
        return ff

    def _mesh_for(self, index: int, picture):
        ff = self._face_frame(self.meshes, index, picture)
        return ff.mesh if ff is not None else None

    def _synced_mesh_for(self, index: int, picture):
        """The result's face at output frame ``index`` (``picture``: that frame of the result)."""
        ff = self._face_frame(self.synced, index, picture)
        return ff.mesh if ff is not None else None

    def _show(self, bundle: FrameBundle) -> None:
        if self.showing == "synced":
            if bundle.result is not None:
                self.face_view.show_frame(bundle.position, bundle.result)
        else:
            self.face_view.show_frame(bundle.source, bundle.original)

    def _frame(self, bundle: FrameBundle) -> None:
        if not bundle.final:
            return
        self._bundle = bundle
        if self.overlay:  # the outline is the clip's face, drawn on the clip's picture
            ff = self._face_frame(self.meshes, bundle.source, bundle.original)
            if ff is not None:
                self.viewer.set_overlay(ff.image_points, ff.mesh.triangles)
        if self.face_view.isVisible():
            self._show(bundle)

    def _overlay_toggled(self, on: bool) -> None:
        self.overlay = on
        if not on:
            self.viewer.set_overlay(None)
        elif self.meshes is None and self.session.faces is None:
            self.session.status.emit("Tracking the faces for the mesh overlay…")
            self.track()
        else:
            self.session.refresh()
