"""The open project: clip, dub, result, timeline position; it owns the app's worker threads.

Widgets never talk to the engine: they call the session (``open_clip``, ``seek``, ``run``...) and listen to
its signals. The session forwards long work to its threads (frames, short tasks, jobs) and applies the
answers on the GUI thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from ..engine.sync_job import StereoOptions, SyncOptions, SyncRequest, SyncResult
from ..errors import MediaError
from ..app.export import preview_differences
from ..media.audio import AudioInfo
from ..media.timeline import ExtendPolicy, OutputPlan
from ..media.video import VideoInfo
from ..settings import Settings
from .frame_server import FrameBundle, FrameServer
from .job_worker import JobRunner
from ..app.jobs import QUALITY, JobTask, preview_path, sync_task
from .threads import Tasks, start_worker, stop_worker
from ..app.waveforms import Waveform, waveform_of

log = logging.getLogger("lipsync_studio.ui")


@dataclass(frozen=True)
class DubInfo:
    """The loaded dub: its file, what its headers say of the stream heard (``stream``: the one chosen, None: the
    file's main one), every audio stream of a file holding several (a delivery's mix, M&E, dialogue), and the
    channels of that stream heard (from 1; None: all)."""

    path: Path
    audio: AudioInfo
    streams: tuple[AudioInfo, ...] = ()
    stream: int | None = None
    channels: tuple[int, ...] | None = None


#: The timeline with no clip open.
_NO_CLIP = OutputPlan(n_out=0, fps=Fraction(25), audio_seconds=0.0, n_clip=0, extend=ExtendPolicy.HOLD)


class Session(QObject):
    """The project the window shows. Signals (GUI thread, plain data):

    - ``clip_changed(info: VideoInfo | None)``, ``dub_changed(dub: DubInfo | None)``
    - ``result_changed(result: SyncResult | None, stale: bool)``: the last run's result (``stale`` once the
      dub, the offset or the clip changed since).
    - ``timeline_changed(timeline: OutputPlan)``: what the user scrubs changed: the output's frames and which clip
      frame each shows (the clip itself, frame for frame, until a dub is open).
    - ``position_changed(position: int)``: the playhead moved (frames follow through ``frame_ready``).
    - ``frame_ready(bundle: FrameBundle)``: frames to show.
    - ``thumbnail_ready(index: int, image: ndarray)``: a timeline thumbnail of clip frame ``index``.
    - ``waveform_ready(role: str, waveform: Waveform | None)``: ``role`` is ``"clip"`` or ``"dub"``.
    - ``offset_changed(seconds: float)``: the dub offset.
    - ``faces_changed(faces: ClipFaces | None)``: the clip's face tracks (after "Track faces", or from the cache).
    - ``marks_changed(mark_in: int | None, mark_out: int | None)``: the In and Out marks (output frames, Out
      included): a run syncs only that range, spliced into the whole clip.
    - ``project_changed(path: Path | None, modified: bool)``: the project file, and whether there are changes
      not saved in it (the window's title shows both).
    - ``project_opened(project: Project, notes: list[str])``: a project was opened and applied; ``notes`` name
      the files it refers to that are missing.
    - ``report_ready(result: SyncResult, report: ResultReport)``: the result's measures read against real
      speech, with the "before" and the sync second by second (computed in the background after a run).
    - ``error(title: str, message: str, details: str)``: something the user must hear about.
    - ``status(text: str)``: a passing note for the status bar.
    """

    clip_changed = Signal(object)
    dub_changed = Signal(object)
    result_changed = Signal(object, bool)
    timeline_changed = Signal(object)
    position_changed = Signal(int)
    frame_ready = Signal(object)
    thumbnail_ready = Signal(int, object)
    waveform_ready = Signal(str, object)
    offset_changed = Signal(float)
    faces_changed = Signal(object)
    marks_changed = Signal(object, object)
    project_changed = Signal(object, bool)
    project_opened = Signal(object, list)
    report_ready = Signal(object, object)
    error = Signal(str, str, str)
    status = Signal(str)

    def __init__(self, settings: Settings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.clip: VideoInfo | None = None
        self.dub: DubInfo | None = None
        self.result = None
        self.result_stale = False
        self.offset_s = 0.0
        self.position = 0
        self.layout = "mono"
        self.view_mode = "original"
        self.timeline: OutputPlan = _NO_CLIP
        self.faces = None
        #: The face to sync and show (track id), None for the largest.
        self.face_id: int | tuple[int, ...] | None = None  # ids: one person seen as several faces
        #: Whether face tracking is installed (the window sets it from the capabilities).
        self.faces_enabled = False
        self._previews: set[Path] = set()
        #: The request that made ``result`` (its output: the preview file), None without a result.
        self.result_request: SyncRequest | None = None
        #: Whether ``result`` was exported (a preview is removed when the app closes).
        self.result_exported = False
        #: In and Out marks (output frames, Out included; None: the timeline's start / end).
        self.mark_in: int | None = None
        self.mark_out: int | None = None
        #: The project file (None: not saved yet) and whether something changed since it was saved or opened.
        self.project_path: Path | None = None
        self.modified = False
        #: A project being opened: applied step by step as its clip and dub open.
        self._restoring = None
        self._restore_notes: list[str] = []
        self._recovered: tuple[Path | None] | None = None  # opening a recovery file: the project file it had
        self._faces_saved = None

        self.frames = FrameServer()
        self.frames.clip_opened.connect(self._on_clip_opened)
        self.frames.result_opened.connect(self._on_result_opened)
        self.frames.open_failed.connect(self._on_open_failed)
        self.frames.frame_ready.connect(self._on_frame)
        self.frames.thumbnail_ready.connect(self.thumbnail_ready)

        self.tasks = Tasks()
        self.tasks_thread = start_worker(self.tasks, "lipsync-tasks")
        self.tasks.done.connect(self._on_task_done)
        self.tasks.failed.connect(self._on_task_failed)

        self.jobs = JobRunner(self)
        self.jobs.finished.connect(self._on_job_finished)

        # Scrubbing is throttled: the newest position is sent to the frame server at most ~60 times a second.
        self._seek_timer = QTimer(self)
        self._seek_timer.setSingleShot(True)
        self._seek_timer.setInterval(15)
        self._seek_timer.timeout.connect(self._send_request)

    # -- opening ---------------------------------------------------------------------------------------
    def open_clip(self, path: str | Path) -> None:
        """Open a video as the clip (answered by ``clip_changed`` or ``error``)."""
        self.status.emit(f"Opening {Path(path).name}…")
        self.frames.open_clip(path)

    def open_dub(self, path: str | Path) -> None:
        """Open an audio file (or a video's sound) as the dub."""
        from ..media.audio import audio_streams, probe_audio

        self.status.emit(f"Opening dub {Path(path).name}…")
        self.tasks.submit("dub", lambda p: DubInfo(Path(p), probe_audio(p), tuple(audio_streams(p))), str(path))

    def set_dub_stream(self, stream: int | None) -> None:
        """Hear (and sync to) the dub's audio stream ``stream`` (None: the file's main one)."""
        from ..media.audio import probe_audio

        if self.dub is None or stream == self.dub.stream:
            return
        # Channels belong to a stream: another one is heard whole.
        self._hear_dub(replace(self.dub, audio=probe_audio(self.dub.path, stream), stream=stream, channels=None))

    def set_dub_channels(self, channels: tuple[int, ...] | None) -> None:
        """Hear (and sync to) only these channels of the dub's stream (from 1; None: all)."""
        if self.dub is None or channels == self.dub.channels:
            return
        self._hear_dub(replace(self.dub, channels=None if channels is None else tuple(channels)))

    def _hear_dub(self, dub: DubInfo) -> None:
        self.dub = dub
        self.touch()
        self.dub_changed.emit(dub)
        self._mark_stale()
        self._update_timeline()
        self.tasks.submit("wave:dub", waveform_of, str(dub.path), 3000, False, dub.stream, dub.channels)

    def close_dub(self) -> None:
        """Forget the dub."""
        self.dub = None
        self.touch()
        self.set_offset(0.0)
        self.dub_changed.emit(None)
        self.waveform_ready.emit("dub", None)
        self._mark_stale()
        self._update_timeline()

    # -- timeline --------------------------------------------------------------------------------------
    def seek(self, position: int) -> None:
        """Move the playhead to ``position`` (clamped); the frames follow."""
        n = self.timeline.n_out
        position = int(min(max(0, position), max(0, n - 1)))
        if position != self.position:
            self.position = position
            self.position_changed.emit(position)
        if not self._seek_timer.isActive():
            self._seek_timer.start()

    def refresh(self) -> None:
        """Ask again for the frames at the playhead."""
        self._send_request()

    def _send_request(self) -> None:
        if self.clip is not None:
            self.frames.request(self.position)

    def set_layout(self, layout: str) -> None:
        """The clip's stereo layout (a ``StereoLayout`` value; ``mono`` for 2D)."""
        if layout != self.layout:
            self.layout = layout
            self.touch()
            self.frames.set_view(self.view_mode, layout)
            self._mark_stale()
            self._send_request()

    def set_view_mode(self, mode: str) -> None:
        """The viewer's mode (the frame server makes the stereo pictures it needs)."""
        if mode != self.view_mode:
            self.view_mode = mode
            self.frames.set_view(mode, self.layout)
            self._send_request()

    def set_offset(self, seconds: float) -> None:
        """Shift the dub by ``seconds`` (later when positive) to fix a slightly misaligned dub."""
        seconds = float(seconds)
        if abs(seconds - self.offset_s) < 1e-6:
            return
        self.offset_s = seconds
        self.offset_changed.emit(seconds)
        self.touch()
        self._mark_stale()
        self._update_timeline()

    def set_marks(self, mark_in: int | None, mark_out: int | None) -> None:
        """Limit the sync to output frames ``mark_in..mark_out`` (None: the start / the end); an In after the Out
        moves the Out (and the other way round), as editing software does."""
        last = max(0, self.timeline.n_out - 1)
        mark_in = None if mark_in is None else min(max(0, int(mark_in)), last)
        mark_out = None if mark_out is None else min(max(0, int(mark_out)), last)
        if mark_in is not None and mark_out is not None and mark_out < mark_in:
            if mark_in != self.mark_in:
                mark_out = None
            else:
                mark_in = None
        if (mark_in, mark_out) == (self.mark_in, self.mark_out):
            return
        self.mark_in, self.mark_out = mark_in, mark_out
        self.marks_changed.emit(mark_in, mark_out)
        self.touch()
        self.replan()

    def replan(self) -> None:
        """The run options changed: recompute the output timeline (the result is out of date when it was made
        with other choices)."""
        self.touch()
        if self.result_request is not None and self.clip is not None and self.dub is not None:
            now = self.sync_request(self.result_request.output, self.sync_options(),
                                    out_layout=self.result_request.stereo.out_layout
                                    if self.result_request.stereo is not None else None)
            if preview_differences(self.result_request, now):
                self._mark_stale()
        self._update_timeline()

    def source_frames(self) -> np.ndarray | None:
        """(n_out,) the clip frame each timeline frame shows once a dub is open; None: the clip as it is."""
        return self.timeline.source_indices() if self.dub is not None and self.clip is not None else None

    def _update_timeline(self) -> None:
        from ..media.timeline import plan_output

        if self.clip is None:
            self.timeline = _NO_CLIP
        elif self.dub is None:
            self.timeline = plan_output(self.clip.n_frames, self.clip.fps, self.clip.n_frames / float(self.clip.fps))
        else:
            r = self.settings.run
            dub_s = max(0.04, self.dub.audio.duration_s + self.offset_s)
            try:
                self.timeline = plan_output(self.clip.n_frames, self.clip.fps, dub_s, r.extend, r.shorten)
            except ValueError:
                self.timeline = plan_output(self.clip.n_frames, self.clip.fps, dub_s)
        self.frames.set_plan(self.source_frames())
        self.timeline_changed.emit(self.timeline)
        self.seek(min(self.position, max(0, self.timeline.n_out - 1)))
        self._send_request()

    # -- jobs ------------------------------------------------------------------------------------------
    def sync_options(self, quality: str | None = None, fmt=None) -> SyncOptions:
        """The run options as the engine wants them (``fmt`` overrides the quality's encoder settings)."""
        from ..sync.phones import script_beside

        r = self.settings.run
        fps = float(self.timeline.fps)
        return SyncOptions(extend=r.extend, shorten=r.shorten, fmt=fmt or QUALITY.get(quality or r.quality, QUALITY["preview"]),
                           engine=r.engine, face=self.face_id, measure=r.measure,
                           device=r.device or "auto",
                           start_s=None if self.mark_in is None else self.mark_in / fps,
                           end_s=None if self.mark_out is None else (self.mark_out + 1) / fps,
                           script=script_beside(self.dub.path) if self.dub is not None else None,
                           dub_stream=self.dub.stream if self.dub is not None else None,
                           dub_channels=self.dub.channels if self.dub is not None else None)

    def _hear_ahead(self) -> None:
        """With a clip and a dub open, their phones start being heard for the built-in engine while the user looks
        (:func:`~lipsync_studio.sync.builtin.engine.hear_ahead`): a Run then plans at once instead of waiting for
        them (its faces often come from the cache)."""
        if self.clip is None or self.dub is None or self.dub.stream is not None or self.dub.channels is not None:
            return
        from ..sync.builtin.engine import hear_ahead

        hear_ahead(self.clip.path, self.dub.path, self.settings.run.engine, 1000.0 * self.offset_s)

    def run(self) -> JobTask | None:
        """Start a sync of the clip to the dub (a preview in the cache folder); None if it cannot start."""
        if self.clip is None or self.dub is None:
            self.status.emit("Open a clip and a dub first")
            return None
        opts = self.sync_options()
        # The preview keeps a stereo clip's packing, so the viewer shows it like the clip.
        request = self.sync_request(self.clip.path, opts, out_layout=self.layout)
        out = preview_path(request, self.settings.run.engine)
        out.parent.mkdir(parents=True, exist_ok=True)
        task = sync_task(replace(request, output=out), name="Sync")
        if not self.jobs.start(task):
            return None
        self._previews.add(out)
        self._run_inputs = (self.clip.path, self.dub.path)
        self._run_request = replace(request, output=out)
        return task

    def export_changes(self, output: Path, fmt, out_layout: str | None = None) -> list[str]:
        """Why an export to ``output`` must sync again rather than write the approved preview, one line each in
        the Run panel's words; empty: the preview is what would be synced, and is written as it is (copied,
        or re-encoded with ``fmt``)."""
        if self.clip is None or self.dub is None:
            return ["no clip and dub are open"]
        if self.result is None or self.result_request is None:
            return ["there is no preview of this clip and dub yet (Run makes one)"]
        if not Path(self.result.output).is_file():
            return ["the preview's file is gone"]
        if out_layout in ("same", "") and self.layout != "mono":
            out_layout = self.layout  # "Same as the clip": the packing the preview keeps
        wanted = self.sync_request(Path(output), self.sync_options(fmt=fmt), out_layout=out_layout)
        changes = preview_differences(self.result_request, wanted)
        if not changes and self.clip.transparent:
            from ..media.writer import keeps_alpha

            # WebM takes VP9 whatever was chosen (for_container); a codec the container refuses is the export's to
            # report, not this question's.
            if keeps_alpha(fmt) or Path(output).suffix.lower() == ".webm":
                changes = ["a transparent photo's outline moves with the face drawn: the preview holds no "
                           "transparency, a new sync writes it"]
        if not changes and wanted.stereo is not None:
            from ..app.export import same_encoding

            if wanted.stereo.out_layout == "separate":
                changes = ["two files, one per eye, are written by a new sync"]
            elif not same_encoding(fmt, self.result_request.options.fmt):
                changes = ["a stereo preview is only copied, with the preview's encoder settings"]
        return changes

    def export_video(self, output: Path, fmt, range_only: bool = False,
                     timeline: Path | None = None) -> JobTask | None:
        """Start writing the synced video to ``output`` with the encoder settings ``fmt``: the approved
        preview when nothing changed since it was made (:meth:`export_changes`), else a new sync.

        ``range_only``: with In/Out marks, write only that range (not spliced into the whole clip).
        ``timeline``: also write an OpenTimelineIO timeline there, the video at its place.
        """
        if self.clip is None or self.dub is None:
            return None
        if range_only and (self.mark_in is not None or self.mark_out is not None):
            from ..app import range_export

            request = self.sync_request(Path(output), self.sync_options(fmt=fmt))
            if not self.export_changes(output, fmt):
                preview, made_by = self.result, self.result_request
                run = lambda p, c: range_export.export_preview_range(preview, made_by, Path(output), fmt, p, c)  # noqa: E731
            else:
                run = lambda p, c: range_export.sync_range_only(request, p, c)  # noqa: E731
            task = JobTask(name="Export", run=run, output=Path(output))
            self._export_request = None  # a range alone is not the result the viewer shows
        elif not self.export_changes(output, fmt):
            from ..app.export import export_task

            task = export_task(self.result, Path(output), fmt, self.result_request.options.fmt)
        else:
            task = sync_task(self.sync_request(Path(output), self.sync_options(fmt=fmt)), name="Export")
        if not range_only or (self.mark_in is None and self.mark_out is None):
            self._export_request = self.sync_request(Path(output), self.sync_options(fmt=fmt))
        if timeline is not None:
            from ..app.timeline_io import with_timeline

            task = with_timeline(task, Path(timeline), self.clip.path, self.dub.path)
        return task if self.jobs.start(task) else None

    def sync_request(self, output: Path, options: SyncOptions, out_layout: str | None = None,
                     vr_name: bool = False) -> SyncRequest:
        """The request for syncing the open clip to the open dub into ``output`` (stereo for a stereo clip)."""
        stereo = None
        if self.layout != "mono":
            stereo = StereoOptions(layout=self.layout, out_layout=out_layout or self.layout,
                                   mode=self.settings.run.stereo_mode, vr_name=vr_name)
        return SyncRequest(self.clip.path, self.dub.path, Path(output), options,
                           dub_offset_ms=1000.0 * self.offset_s, stereo=stereo)

    def track_faces(self) -> JobTask | None:
        """Start tracking the clip's faces (answered by ``faces_changed``); None if it cannot start now."""
        from ..app.faces import track_task

        if self.clip is None or not self.faces_enabled:
            return None
        task = track_task(self.clip.path)
        return task if self.jobs.start(task) else None

    def export_meshes(self, folder: Path, start_s: float | None, end_s: float | None, face,
                      texture: bool, synced: bool = False) -> JobTask | None:
        """Start writing the face's OBJ sequence into ``folder``: of the sync's result when ``synced`` and there
        is an up-to-date one (the mouth says the dub), else of the clip."""
        from ..app.faces import mesh_export_task

        if self.clip is None:
            return None
        if synced and self.has_fresh_result():
            task = mesh_export_task(Path(self.result.output), Path(folder), start_s, end_s, face, texture,
                                    synced_from=(self.clip.path, self.dub.path if self.dub is not None else None))
        else:
            task = mesh_export_task(self.clip.path, Path(folder), start_s, end_s, face, texture)
        return task if self.jobs.start(task) else None

    def export_face_video(self, output: Path, view, face, synced: bool = False) -> JobTask | None:
        """Start rendering the face's 3D video (``view``: a ``ViewOptions``) to ``output``: of the sync's result
        when ``synced`` and there is an up-to-date one, else of the clip."""
        from ..app.faces import mesh_export_task

        if self.clip is None:
            return None
        source, synced_from = self.clip.path, None
        if synced and self.has_fresh_result():
            source = Path(self.result.output)
            synced_from = (self.clip.path, self.dub.path if self.dub is not None else None)
        task = mesh_export_task(source, None, None, None, face, False, synced_from, video=Path(output), view=view)
        return task if self.jobs.start(task) else None

    def has_fresh_result(self) -> bool:
        """Whether a sync result of the current clip and dub exists and is up to date."""
        return self.result is not None and not self.result_stale and getattr(self.result, "output", None) is not None

    def export_stereo(self, output: Path, fmt, out_layout: str) -> JobTask | None:
        """Start writing the synced stereo video to ``output`` in ``out_layout`` (``sbs``, ``anaglyph``, ...)."""
        if self.clip is None or self.dub is None or self.layout == "mono":
            return None
        # The app names full SBS the VR way, as its Export dialog says.
        request = self.sync_request(Path(output), self.sync_options(fmt=fmt), out_layout=out_layout, vr_name=True)
        if not self.export_changes(output, fmt, out_layout):
            from ..app.export import export_task
            from ..stereo.writer import stereo_output_paths

            same = out_layout in ("same", "")  # kept in the clip's own packing: no VR-style name
            final = stereo_output_paths(output, self.layout if same else out_layout, vr_name=not same)[0]
            task = export_task(self.result, final, fmt, self.result_request.options.fmt)
        else:
            task = sync_task(request, name="Export")
        self._export_request = request
        return task if self.jobs.start(task) else None

    def cancel(self) -> None:
        """Ask the running job to stop."""
        self.jobs.cancel()

    def _on_job_finished(self, result: object) -> None:
        task = self.jobs.current
        if task is None:
            return
        if task.name == "Sync" and task.output is not None:
            current = (self.clip.path if self.clip else None, self.dub.path if self.dub else None)
            if current != getattr(self, "_run_inputs", None):
                self.status.emit("The clip or the dub changed while the sync ran: press Run again")
                return
            self.result = result
            self.result_stale = False
            self.result_request = getattr(self, "_run_request", None)
            self.result_exported = False
            self.touch()
            self.frames.open_result(task.output)
            self.request_report()
            self._hear_ahead()  # a Run again (other choices, the same clip and dub) plans at once too
            if self.faces is None and self.faces_enabled and self.clip is not None:
                from ..app.faces import cached_faces  # the engine tracked the faces: show them too

                self.tasks.submit("faces:cached", cached_faces, self.clip.path)
        elif task.name == "Export" and isinstance(result, SyncResult):
            self._export_finished(result)
        elif task.name == "Track faces":
            self.faces = result
            self.faces_changed.emit(result)


    def _export_finished(self, result: SyncResult) -> None:
        """An export synced with the current choices is the result now (the viewer shows it, up to date);
        one written from the preview leaves the result as it is."""
        request = getattr(self, "_export_request", None)
        if (result.engine_info or {}).get("range_frames") is not None:
            return  # a range written alone: the whole preview stays what the viewer shows
        if request is None or self.clip is None or self.dub is None or request.video != self.clip.path \
                or request.dub != self.dub.path or abs(request.dub_offset_ms - 1000.0 * self.offset_s) > 0.05 \
                or request.options.dub_stream != self.dub.stream or request.options.dub_channels != self.dub.channels:
            return
        if self.result is not None and not self.result_stale and self.result_request is not None \
                and not preview_differences(self.result_request, request):
            self.result_exported = True
            return  # the preview was exported (or an equal sync): it stays what the viewer shows
        if request.stereo is not None and request.stereo.out_layout != self.layout:
            return  # another packing than the clip's: the viewer cannot show it as the result
        self.result = result
        self.result_stale = False
        self.result_request = request
        self.result_exported = True
        self.frames.open_result(result.output)
        self.request_report()

    def request_report(self) -> None:
        """Read the result's measures against real speech, with a "before" and second by second, in the
        background (answered by ``report_ready``); only for a measured 2D result."""
        r = self.result
        if r is None or getattr(r, "sync", None) is None or r.is_stereo or self.clip is None:
            return
        from ..app.verdicts import report_for

        self.tasks.submit("report", report_for, r, self.clip.path, self.faces, self.source_frames(), self.face_id)

    def _mark_stale(self) -> None:
        if self.result is not None and not self.result_stale:
            self.result_stale = True
            self.result_changed.emit(self.result, True)

    # -- answers from the threads ----------------------------------------------------------------------
    def _on_clip_opened(self, info: VideoInfo) -> None:
        self.clip = info
        self.settings.remember_clip(info.path)
        self.touch()
        self.result = None
        self.result_stale = False
        self.result_request = None
        self.frames.open_result(None)
        self.position = 0
        if self.mark_in is not None or self.mark_out is not None:
            self.mark_in = self.mark_out = None
            self.marks_changed.emit(None, None)
        self.clip_changed.emit(info)
        self.result_changed.emit(None, False)
        self._update_timeline()
        self.position_changed.emit(0)  # the playhead belongs to the new clip, even when it was at 0 before
        self.status.emit(f"Opened {info.path.name}")
        self.tasks.submit("wave:clip", waveform_of, str(info.path), 3000, True)
        self._hear_ahead()
        self.faces = None
        self.face_id = None
        self.faces_changed.emit(None)
        restoring = self._restoring
        if restoring is not None and restoring.faces_file is not None:
            from ..face.track import ClipFaces

            try:  # the project's own copy of the tracks (a small file): no tracking, no cache needed
                faces = ClipFaces.load(restoring.faces_file)
                if faces.n_frames == info.n_frames:
                    self.faces = self._faces_saved = faces
                    self.faces_changed.emit(faces)
            except (OSError, ValueError, KeyError) as exc:
                log.info("project face tracks not read: %s", exc)
        if self.faces_enabled and self.faces is None:
            from ..app.faces import cached_faces

            self.tasks.submit("faces:cached", cached_faces, info.path)
        if restoring is not None:
            if restoring.dub is not None and restoring.dub.is_file():
                self.open_dub(restoring.dub)
            else:
                self._finish_restore()

    def _on_result_opened(self, info: VideoInfo | None) -> None:
        if info is not None:
            self.result_changed.emit(self.result, False)
        self._send_request()

    def _on_open_failed(self, role: str, path: str, message: str, details: str) -> None:
        title = "Cannot open the clip" if role == "clip" else "Cannot show the result"
        if role == "clip" and self._restoring is not None:
            self._restore_notes.append(f"The clip could not be opened: {message}")
            self._finish_restore()
        self.status.emit(title)
        self.error.emit(title, message, details)

    def _on_frame(self, bundle: FrameBundle) -> None:
        self.frame_ready.emit(bundle)

    def _on_task_done(self, key: str, value: object) -> None:
        if key == "dub":
            assert isinstance(value, DubInfo)
            self.dub = value
            self.settings.remember_dub(value.path)
            self.touch()
            self.offset_s = 0.0
            self.offset_changed.emit(0.0)
            self.dub_changed.emit(value)
            self._mark_stale()
            self._update_timeline()
            self.status.emit(f"Opened dub {value.path.name}")
            self.tasks.submit("wave:dub", waveform_of, str(value.path))
            self._hear_ahead()
            if self._restoring is not None:
                self._finish_restore()
        elif key == "report":
            result, report = value
            if result is self.result:
                self.report_ready.emit(result, report)
        elif key == "faces:cached":
            if value is not None and self.clip is not None and self.faces is None:
                self.faces = value
                self.faces_changed.emit(value)
        elif key.startswith("wave:"):
            role = key.split(":", 1)[1]
            current = self.clip.path if role == "clip" and self.clip else self.dub.path if self.dub else None
            if isinstance(value, Waveform) and current is not None and value.path == Path(current):
                self.waveform_ready.emit(role, value)

    def _on_task_failed(self, key: str, message: str, details: str) -> None:
        if key == "dub":
            self.error.emit("Cannot open the dub", message, details)
            if self._restoring is not None:
                self._finish_restore()
        elif key == "report":
            log.info("the result's report failed: %s", message)
        elif key == "wave:clip":
            self.waveform_ready.emit("clip", None)
            log.info("no waveform for the clip: %s", message)
        elif key == "wave:dub":
            self.waveform_ready.emit("dub", None)
            self.error.emit("Cannot read the dub's sound", message, details)

    # -- projects --------------------------------------------------------------------------------------
    def touch(self) -> None:
        """Something the project keeps changed (not while a project is being opened)."""
        if self._restoring is None and not self.modified:
            self.modified = True
            self.project_changed.emit(self.project_path, True)

    def to_project(self):
        """The open work as a :class:`~lipsync_studio.app.project.Project` (paths absolute)."""
        from dataclasses import asdict

        from ..app.project import Preview, Project
        from ..sync.phones import script_beside

        previews = ()
        if self.result is not None and self.result_request is not None and Path(self.result.output).is_file():
            previews = (Preview(Path(self.result.output), self.result_request, self.result, self.result_stale),)
        return Project(clip=self.clip.path if self.clip else None, dub=self.dub.path if self.dub else None,
                       script=script_beside(self.dub.path) if self.dub is not None else None,
                       dub_offset_ms=1000.0 * self.offset_s, dub_stream=self.dub.stream if self.dub else None,
                       dub_channels=self.dub.channels if self.dub else None,
                       mark_in=self.mark_in, mark_out=self.mark_out, layout=self.layout, face=self.face_id,
                       position=self.position,
                       run=asdict(self.settings.run), previews=previews)

    def save_project(self, path: str | Path) -> Path:
        """Save the open work as the project ``path`` (``.lsproj`` added when missing; written atomically); it
        becomes the project's file. Returns the file written.

        Raises
        ------
        ProjectError
            It cannot be written (the message names the file).
        """
        from ..app.project import PROJECT_SUFFIX, save_project

        path = Path(path).absolute()
        if path.suffix.lower() != PROJECT_SUFFIX:
            path = path.with_name(path.name + PROJECT_SUFFIX)
        faces = self.faces if self.faces is not None and self.faces is not self._faces_saved else None
        saved = save_project(self.to_project(), path, faces=faces)
        if faces is not None:
            self._faces_saved = faces
        if saved.previews and self.result is not None:
            pv = saved.previews[0]  # the copy kept with the project: the cache's copy goes when the app closes
            self.result, self.result_request = pv.result, pv.request
        self.project_path = path
        self.modified = False
        self.settings.remember_project(path)
        self.project_changed.emit(path, False)
        return path

    def open_project(self, path: str | Path, recovery: bool = False) -> bool:
        """Open the project file ``path``: its clip and dub, offset, marks, face, Run settings and preview
        (answered by ``project_opened``); False (and ``error``) when the file is not a readable project.

        A file it refers to that is missing is named in ``project_opened``'s notes; the project opens without
        it (and without its preview when the clip or the dub is missing).

        ``recovery``: ``path`` is a recovery file (:mod:`~lipsync_studio.app.recovery`): the work comes back unsaved,
        as the project it had (or none), its preview as a render not yet exported; not listed as a recent project.
        """
        from ..app.project import ProjectError, load_project
        from ..app.recovery import recovered_project_file

        try:
            project, notes = load_project(path)
        except ProjectError as exc:
            self.error.emit("Cannot open the project", str(exc), "")
            return False
        from ..settings import Settings

        # The Run panel edits these settings in place: the project's values go into them (bad values: defaults).
        self.settings.run.__dict__.update(Settings.from_dict({"run": project.run}).run.__dict__)
        self.project_path = Path(path).absolute()
        self._recovered = (recovered_project_file(self.project_path),) if recovery else None
        if not recovery:
            self.settings.remember_project(self.project_path)
        self._restoring, self._restore_notes = project, list(notes)
        log.info("opening project %s (%d preview(s), %d note(s))", self.project_path, len(project.previews), len(notes))
        self.status.emit(f"Opening project {self.project_path.name}…")
        if project.clip is not None:
            self.open_clip(project.clip)
        else:
            self.new_project(keep_path=True)
            self._restoring = project
            self._finish_restore()
        return True

    def new_project(self, keep_path: bool = False) -> None:
        """Start again: no project file (unless ``keep_path``), no clip, no dub, no result."""
        if not keep_path:
            self.project_path = None
        self._restoring = None
        self.dub = None
        self.offset_s = 0.0
        self.offset_changed.emit(0.0)
        self.dub_changed.emit(None)
        self.waveform_ready.emit("dub", None)
        self.clip = None
        self.result = self.result_request = None
        self.result_stale = False
        self.faces = self._faces_saved = None
        self.face_id = None
        self.frames.open_result(None)
        self.mark_in = self.mark_out = None
        self.marks_changed.emit(None, None)
        self.position = 0
        self.clip_changed.emit(None)
        self.faces_changed.emit(None)
        self.result_changed.emit(None, False)
        self._update_timeline()
        self.modified = False
        self.project_changed.emit(self.project_path, False)

    def _finish_restore(self) -> None:
        """The project's clip and dub are open (or failed): apply the rest of it."""
        project, self._restoring = self._restoring, None
        if project is None:
            return
        if self.clip is not None:
            self._restoring = project  # nothing below is a change of the project
            self.set_layout(project.layout)
            self.offset_s = project.dub_offset_ms / 1000.0 if self.dub is not None else 0.0
            self.offset_changed.emit(self.offset_s)
            if self.dub is not None and project.dub_stream is not None:
                try:
                    self.set_dub_stream(project.dub_stream)
                except MediaError as exc:  # the file changed since: its main stream is heard
                    self._restore_notes.append(f"The dub's stream #{project.dub_stream} is gone: {exc}")
            if self.dub is not None and project.dub_channels is not None:
                if max(project.dub_channels) <= self.dub.audio.channels:
                    self.set_dub_channels(project.dub_channels)
                else:  # the file changed since: all its channels are heard
                    self._restore_notes.append(f"The dub's channels {project.dub_channels} are gone: it has "
                                               f"{self.dub.audio.channels}")
            self._update_timeline()
            self.face_id = project.face
            self.set_marks(project.mark_in, project.mark_out)
            if project.previews and self.dub is not None:
                pv = project.previews[0]
                self.result, self.result_request = pv.result, pv.request
                self._run_inputs = (self.clip.path, self.dub.path)
                now = self.sync_request(pv.request.output, self.sync_options(),
                                        out_layout=pv.request.stereo.out_layout if pv.request.stereo else None)
                self.result_stale = bool(pv.stale or preview_differences(pv.request, now))
                self.result_exported = True  # kept with the project: closing loses nothing
                self.frames.open_result(pv.file)
                self.request_report()
            self.seek(project.position)
            self._restoring = None
        recovered, self._recovered = self._recovered, None
        if recovered is not None:  # the work as it was, unsaved: its own project file (or none), its preview a render
            from ..settings import cache_dir

            self.project_path = recovered[0]
            self.modified = self.clip is not None
            if self.result is not None:
                self.result_exported = cache_dir().absolute() not in Path(self.result.output).absolute().parents
                if not self.result_exported:
                    self._previews.add(Path(self.result.output))  # removed at a clean close, as any render
        else:
            self.modified = False
        self.project_changed.emit(self.project_path, self.modified)
        notes, self._restore_notes = self._restore_notes, []
        self.project_opened.emit(project, notes)
        if recovered is not None:
            self.status.emit("Recovered the work that was open when Lipsync Studio closed unexpectedly")
        else:
            self.status.emit(f"Opened project {self.project_path.name}" if self.project_path else "Opened project")

    # -- end -------------------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Cancel any job, stop every thread and remove this session's preview renders."""
        self._seek_timer.stop()
        self.jobs.shutdown()
        self.frames.shutdown()
        stop_worker(self.tasks_thread)
        self.tasks_thread = None
        for p in self._previews:
            p.unlink(missing_ok=True)
