"""Frames for the viewer and the thumbnail strip, decoded off the GUI thread, latest request wins.

The GUI calls :meth:`FrameServer.request` as often as it likes (every slider move): only the newest request
is kept, the worker thread decodes it, and the frame comes back through ``frame_ready``. While decoding
forward towards a far request the server shows the frames it passes (at most every 40 ms), so a fast scrub
keeps moving instead of freezing. In idle time it makes the timeline's thumbnails.

Positions are on the *output* timeline: with a dub loaded, position ``k`` shows clip frame
``plan[k]`` as the original (the re-timing plan, e.g. ping-pong past the clip's end) and result frame ``k``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot

from .errors import describe_exception
from .threads import start_worker, stop_worker

#: Memory the scrubbing cache of each open video may use.
_CACHE_BYTES = 160 << 20
#: Forward jumps up to this many frames decode through (showing frames on the way) instead of seeking.
_DECODE_THROUGH = 48
#: While decoding through, show a passing frame at most this often (seconds).
_SHOW_EVERY = 0.04
#: Thumbnails wait until scrubbing has paused this long (seconds), so they never slow a scrub down.
_IDLE_AFTER = 0.4


@dataclass(frozen=True)
class FrameBundle:
    """What the viewer shows at one position.

    Attributes
    ----------
    position: output-timeline frame index.
    source: clip frame index shown as the original.
    original: ``(H, W, 3) uint8 RGB`` clip frame, or None when no clip is open.
    result: ``(H, W, 3) uint8 RGB`` result frame, or None when there is no result (yet) at this position.
    final: False for a frame shown in passing while decoding towards a newer request.
    view: ``(h, w, 3) uint8 RGB`` stereo picture (anaglyph or disparity colour map) for the stereo view modes,
        else None.
    view_of: ``"result"`` or ``"original"``: which frame ``view`` was made from.
    """

    position: int
    source: int
    original: np.ndarray | None
    result: np.ndarray | None
    final: bool = True
    view: np.ndarray | None = None
    view_of: str = ""


class _Track:
    """One open video, the last frame decoded from it, and its thumbnail pass."""

    def __init__(self, path: Path) -> None:
        from ..media.video import VideoReader, probe_video

        info = probe_video(path)
        n_cache = int(max(8, min(240, _CACHE_BYTES // max(1, info.width * info.height * 3))))
        self.reader = VideoReader(path, cache_frames=n_cache)
        self.info = self.reader.info
        self.last = -10**9

    def frame(self, index: int) -> np.ndarray:
        index = min(max(0, index), self.info.n_frames - 1)
        img = self.reader.frame(index)
        self.last = index
        return img

    def close(self) -> None:
        self.reader.close()


class FrameServer(QObject):
    """Decodes frames in its own thread. Signals (payloads are plain data):

    - ``clip_opened(info: VideoInfo)``, ``result_opened(info: VideoInfo | None)``: a video was opened (None:
      the result was closed).
    - ``open_failed(role: str, path: str, message: str, details: str)``: ``role`` is ``"clip"`` or
      ``"result"``; ``message`` says what is wrong with the file and what to do.
    - ``frame_ready(bundle: FrameBundle)``: frames for the newest request (and passing frames).
    - ``thumbnail_ready(index: int, image: ndarray)``: a small ``(h, w, 3) uint8`` picture of clip frame
      ``index`` for the timeline.
    """

    clip_opened = Signal(object)
    result_opened = Signal(object)
    open_failed = Signal(str, str, str, str)
    frame_ready = Signal(object)
    thumbnail_ready = Signal(int, object)
    _wake = Signal()
    _rest = Signal(int)  # milliseconds until the thumbnails go on (the GUI thread's timer)
    _open = Signal(str, str)

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._pending: int | None = None
        self._plan: np.ndarray | None = None
        self._thumb_wanted: list[int] = []
        self._thumb_height = 48
        self._thumb_iter = None
        self._thumb_pos = -1
        self._clip: _Track | None = None
        self._result: _Track | None = None
        self._last_request = 0.0
        self._view = ("original", "mono")
        self._window = None
        self._disparity_cache = None
        self._wake.connect(self._serve)
        self._open.connect(self._do_open)
        # Thumbnails wait while the user scrubs: one timer in the GUI thread, connected once here, started by a
        # signal from the worker. ``QTimer.singleShot(ms, callable)`` on the worker made a new connection each
        # time, holding the interpreter lock while it waited for Qt's connection lock; the GUI thread,
        # disconnecting a signal at that moment, held that lock and waited for the interpreter's: both hung (seen
        # once in the suite, test_ui_editor, the window frozen). A signal's emit makes no connection.
        self._idle = QTimer()
        self._idle.setSingleShot(True)
        self._idle.timeout.connect(self._wake)
        self._rest.connect(self._idle.start)
        self.thread = start_worker(self, "lipsync-frames")

    # -- GUI-thread API -------------------------------------------------------------------------------
    def open_clip(self, path: str | Path) -> None:
        """Open ``path`` as the clip (answered by ``clip_opened`` or ``open_failed``)."""
        self._open.emit("clip", str(path))

    def open_result(self, path: str | Path | None) -> None:
        """Open ``path`` as the result, or close the result with None (answered by ``result_opened``)."""
        self._open.emit("result", "" if path is None else str(path))

    def set_plan(self, source_indices: np.ndarray | None) -> None:
        """Which clip frame each output position shows (``(n_out,) int``), or None for the clip's own timeline."""
        with self._lock:
            self._plan = None if source_indices is None else np.asarray(source_indices, dtype=np.int64)

    def request(self, position: int) -> None:
        """Ask for the frames at ``position``; replaces any request not yet served."""
        with self._lock:
            self._pending = int(position)
            self._last_request = time.perf_counter()
        self._wake.emit()

    def set_view(self, mode: str, layout: str) -> None:
        """The viewer's mode and the clip's stereo layout: ``anaglyph`` and ``disparity`` of a stereo clip make
        ``FrameBundle.view`` (computed here, off the GUI thread)."""
        with self._lock:
            self._view = (mode, layout)

    def set_window(self, window) -> None:
        """A window into a VR clip's sphere (:class:`~lipsync_studio.stereo.views.SphereWindow`), or None: with one,
        the stereo views (side by side, anaglyph, disparity) show the window's pair instead of the whole eyes."""
        with self._lock:
            self._window = window

    def request_thumbnails(self, indices: list[int], height: int) -> None:
        """Make thumbnails of clip frames ``indices``, ``height`` pixels high, in idle time (replaces the last ask)."""
        with self._lock:
            self._thumb_wanted = sorted(set(int(i) for i in indices))
            self._thumb_height = int(height)
        self._wake.emit()

    def shutdown(self) -> None:
        """Stop the thread and close the videos."""
        with self._lock:
            self._pending = None
            self._thumb_wanted = []
        stop_worker(self.thread)  # first: the worker emits no rest after this
        self.thread = None
        if self._idle is not None:
            # The idle timer lives in the GUI thread and Python owns it: it goes here, in its own thread. Left to
            # the server's garbage collection, it went in whatever thread collected (any thread may), which cannot
            # stop a GUI-thread timer: one started again by a rest the worker emitted as it stopped stayed
            # registered and fired on freed memory (the suite's rare segfault: QTimerInfoList::activateTimers ->
            # notify on a freed object, some tests after the window had closed).
            import shiboken6

            self._idle.stop()
            shiboken6.delete(self._idle)  # its queued starts go with it
            self._idle = None
        for track in (self._clip, self._result):
            if track is not None:
                track.close()
        self._clip = self._result = None

    # -- worker thread --------------------------------------------------------------------------------
    @Slot(str, str)
    def _do_open(self, role: str, path: str) -> None:
        old = self._clip if role == "clip" else self._result
        if role == "result" and not path:
            if old is not None:
                old.close()
            self._result = None
            self.result_opened.emit(None)
            return
        try:
            track = _Track(Path(path))
        except BaseException as exc:  # noqa: BLE001 - any failure becomes a message for the user
            message, details = describe_exception(exc)
            self.open_failed.emit(role, path, message, details)
            return
        if old is not None:
            old.close()
        if role == "clip":
            self._clip = track
            if self._result is not None:  # the last clip's result: never paired with this clip's frames
                self._result.close()
                self._result = None
            self._thumb_iter = None
            self._thumb_pos = -1
            self.clip_opened.emit(track.info)
        else:
            self._result = track
            self.result_opened.emit(track.info)

    def _take(self) -> int | None:
        with self._lock:
            p, self._pending = self._pending, None
            return p

    def _has_pending(self) -> bool:
        with self._lock:
            return self._pending is not None

    def _source_of(self, position: int) -> int:
        with self._lock:
            plan = self._plan
        if plan is not None and len(plan):
            return int(plan[min(max(0, position), len(plan) - 1)])
        return position

    @Slot()
    def _serve(self) -> None:
        position = self._take()
        if position is None:
            self._thumbnail_slice()
            return
        try:
            self._serve_position(position)
        except BaseException as exc:  # noqa: BLE001 - a bad frame must not kill the thread
            message, details = describe_exception(exc)
            role = "clip"
            self.open_failed.emit(role, str(self._clip.info.path) if self._clip else "", message, details)

    def _serve_position(self, position: int) -> None:
        clip, result = self._clip, self._result
        if clip is None:
            return
        last_shown = time.perf_counter()
        while True:
            source = self._source_of(position)
            target = min(max(0, source), clip.info.n_frames - 1)
            if clip.last < target - 8 and target - clip.last <= _DECODE_THROUGH:
                # Decode through in steps the reader continues without seeking; show frames on the way.
                step = clip.last + 8
                img = clip.frame(step)
                newer = self._take()
                if newer is not None:
                    position = newer
                if time.perf_counter() - last_shown >= _SHOW_EVERY:
                    last_shown = time.perf_counter()
                    self.frame_ready.emit(FrameBundle(position, step, img, None, final=False))
                continue
            original = clip.frame(target)
            res = None
            if result is not None and 0 <= position < result.info.n_frames:
                res = result.frame(position)
            view, view_of = self._stereo_view(original, res)
            self.frame_ready.emit(FrameBundle(position, target, original, res, view=view, view_of=view_of))
            return

    def _stereo_view(self, original: np.ndarray, result: np.ndarray | None) -> tuple[np.ndarray | None, str]:
        """The anaglyph or disparity picture of the result (else the original), when the viewer shows one."""
        with self._lock:
            mode, layout = self._view
            window = self._window
        if window is not None and window.layout == "mono":  # a one-eye VR clip: its one picture, looked into
            if mode == "original" or (mode == "result" and result is not None and result.shape == original.shape):
                return window.view(original if mode == "original" else result), mode
            return None, ""
        vr = window is not None and mode in ("side-by-side", "anaglyph", "disparity")
        if not vr and (mode not in ("anaglyph", "disparity") or layout == "mono"):
            return None, ""
        from ..stereo.layout import split
        from ..stereo.views import anaglyph_view, disparity_view, side_by_side_view

        frame, of = (result, "result") if result is not None and result.shape == original.shape else (original,
                                                                                                       "original")
        left, right = split(frame, window.layout if vr else layout)
        if vr:  # a flat window into the sphere: the views work on its pair
            left, right = window.views(left, right)
            if mode == "side-by-side":
                return side_by_side_view(left, right), of
        if mode == "anaglyph":
            return anaglyph_view(left, right), of
        if self._disparity_cache is None:
            from dataclasses import replace

            from ..stereo.disparity import DisparityCache, DisparitySettings

            # Half resolution: a live preview (~0.1 s at 720p); scrubbing back to a frame is instant.
            self._disparity_cache = DisparityCache(replace(DisparitySettings(), downscale=2), folder=False,
                                                   memory_frames=64)
        return disparity_view(left, right, cache=self._disparity_cache), of

    def _thumbnail_slice(self, budget_s: float = 0.03) -> None:
        """Decode towards the next wanted thumbnail for at most ``budget_s``; continue later if needed."""
        clip = self._clip
        with self._lock:
            wanted = self._thumb_wanted
            height = self._thumb_height
            quiet = time.perf_counter() - self._last_request
        if clip is None or not wanted:
            return
        if quiet < _IDLE_AFTER:  # the user is scrubbing: come back when they pause
            self._rest.emit(int((_IDLE_AFTER - quiet) * 1000) + 10)
            return
        t0 = time.perf_counter()
        while wanted and time.perf_counter() - t0 < budget_s:
            if self._has_pending():
                break
            target = min(wanted[0], clip.info.n_frames - 1)
            if self._thumb_iter is None or not (self._thumb_pos < target <= self._thumb_pos + 96):
                self._thumb_iter = clip.reader.iter_frames(target)
                self._thumb_pos = target - 1
            try:
                i, img = next(self._thumb_iter)
            except StopIteration:
                self._thumb_iter = None
                wanted.pop(0)
                continue
            self._thumb_pos = i
            if i >= target:
                wanted.pop(0)
                self.thumbnail_ready.emit(target, _shrink(img, height))
        with self._lock:
            if self._thumb_wanted is wanted:
                self._thumb_wanted = wanted
            more = bool(self._thumb_wanted)
        if more:
            self._wake.emit()


def _shrink(img: np.ndarray, height: int) -> np.ndarray:
    """A small copy of ``img`` about ``height`` pixels high (block averaging; the GUI smooths the rest)."""
    k = max(1, img.shape[0] // max(1, height * 2))
    small = img[: img.shape[0] // k * k, : img.shape[1] // k * k]
    if k > 1:
        h, w = small.shape[0] // k, small.shape[1] // k
        small = small.reshape(h, k, w, k, 3).mean(axis=(1, 3)).astype(np.uint8)
    return np.ascontiguousarray(small)
