"""Jobs: named stages run over a clip, with progress events and cooperative cancellation.

Below every layer (like :mod:`.errors`): the engine runs its jobs with it, and so do the stereo measures and
stereoize, which report progress and can be cancelled too.

No Qt here. The CLI turns :class:`Progress` events into a terminal bar; the GUI's worker thread turns them
into signals. A stage calls :meth:`StageContext.advance` after each batch, which reports progress and
raises :class:`~lipsync_studio.errors.Cancelled` when the user has cancelled.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import Cancelled


@dataclass(frozen=True)
class Progress:
    """One progress report.

    Attributes
    ----------
    stage: the stage's name (``"render"``, ...).
    stage_index, n_stages: which stage of how many (0-based index).
    done, total: units done in this stage (frames, usually) and the stage's total (0 if unknown).
    rate: units per second in this stage so far.
    eta_s: seconds left in this stage, or None when unknown.
    message: an optional line for the user.
    job_eta_s: seconds left in the whole job (this stage and the ones after it), or None when unknown.
    """

    stage: str
    stage_index: int
    n_stages: int
    done: int
    total: int
    rate: float
    eta_s: float | None
    message: str = ""
    job_eta_s: float | None = None


ProgressCallback = Callable[[Progress], None]


class CancelToken:
    """Set from any thread to ask a running job to stop at its next check."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the job to stop."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether cancellation was asked for."""
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`Cancelled` if cancellation was asked for."""
        if self._event.is_set():
            raise Cancelled()


@dataclass
class Stage:
    """A named step of a job.

    Attributes
    ----------
    name: shown to the user.
    run: ``run(ctx) -> None``; reads and writes ``ctx.state`` and calls ``ctx.advance``.
    total: expected units, or a callable computing it from the state when the stage starts.
    like: the name of an earlier stage whose units cost about as much as this one's (``measure`` tracks the
        mouth in every frame, as ``faces`` did): the whole job's time left is estimated from it. Empty: from
        the speed of the stage running at the time.
    """

    name: str
    run: Callable[["StageContext"], None]
    total: int | Callable[[dict[str, Any]], int] = 0
    like: str = ""


@dataclass
class StageContext:
    """What a running stage sees: the shared state, and progress/cancel hooks."""

    stage: str
    stage_index: int
    n_stages: int
    total: int
    state: dict[str, Any]
    cancel: CancelToken
    on_progress: ProgressCallback | None
    done: int = 0
    started: float = field(default_factory=time.perf_counter)
    _last_report: float = 0.0
    #: ``job_eta(ctx) -> seconds | None``: the time left in the stages after this one (set by :class:`Job`).
    later_s: Callable[["StageContext"], float | None] | None = None

    def check(self) -> None:
        """Raise :class:`Cancelled` if the user cancelled."""
        self.cancel.raise_if_cancelled()

    def advance(self, n: int = 1, message: str = "", *, force: bool = False) -> None:
        """Count ``n`` more units done, report progress (at most ~20 times a second) and check cancel."""
        self.done += n
        now = time.perf_counter()
        if self.on_progress is not None and (force or now - self._last_report >= 0.05 or self.done >= self.total):
            self._last_report = now
            self.on_progress(self.snapshot(message))
        self.check()

    def snapshot(self, message: str = "") -> Progress:
        """The current progress as an event."""
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if self.total and rate > 0 else None
        later = self.later_s(self) if self.later_s is not None and eta is not None else None
        return Progress(self.stage, self.stage_index, self.n_stages, self.done, self.total, rate, eta, message,
                        job_eta_s=eta + later if later is not None else None)


class Job:
    """A sequence of stages sharing a state dict.

    Parameters
    ----------
    name: what the job does (``"sync"``, ``"export"``, ...).
    stages: run in order.
    state: initial shared state (inputs, options).
    """

    def __init__(self, name: str, stages: list[Stage], state: dict[str, Any] | None = None) -> None:
        self.name = name
        self.stages = stages
        self.state: dict[str, Any] = dict(state or {})
        self.timings: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def run(self, on_progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> dict[str, Any]:
        """Run every stage; return the final state.

        Raises
        ------
        Cancelled
            The cancel token was set; stages clean up their partial outputs as they unwind.
        """
        cancel = cancel or CancelToken()
        n = len(self.stages)
        for k, stage in enumerate(self.stages):
            cancel.raise_if_cancelled()
            total = stage.total(self.state) if callable(stage.total) else stage.total
            ctx = StageContext(stage.name, k, n, int(total), self.state, cancel, on_progress,
                               later_s=lambda c, k=k: self._later_s(k, c))
            if on_progress is not None:
                on_progress(ctx.snapshot())
            stage.run(ctx)
            self.timings[stage.name] = time.perf_counter() - ctx.started
            self.counts[stage.name] = ctx.done
            if on_progress is not None:
                on_progress(ctx.snapshot())
        return self.state

    def _later_s(self, k: int, ctx: StageContext) -> float | None:
        """Estimated seconds of the stages after stage ``k``: each stage's units at the cost per unit of the
        stage it is ``like`` (when that one ran), else at the running stage's; None while a total is unknown."""
        if ctx.done <= 0 or ctx.total <= 1:  # a one-step stage says nothing of the speed per frame
            return None
        per_here = (time.perf_counter() - ctx.started) / ctx.done
        left = 0.0
        for stage in self.stages[k + 1:]:
            try:
                total = stage.total(self.state) if callable(stage.total) else stage.total
            except (KeyError, AttributeError, TypeError):
                return None
            ref = stage.like
            per = self.timings[ref] / self.counts[ref] if ref and self.counts.get(ref) else per_here
            left += int(total) * per
        return left


def run_collecting_warnings(job: Job, on_progress: ProgressCallback | None = None,
                            cancel: CancelToken | None = None) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Run ``job``; return its final state and the media warnings it raised (each once, in order).

    Media warnings (a damaged input, ...) belong in the job's result for the front end to show; any other
    warning is passed on as usual. A temporary file the job made in place of one of the user's
    (``state["stands_for"]``: its path → the user's; a dub shifted in time) is named as the user's file in them: a
    warning about the shifted dub named a hidden file beside the output that was gone when it was read.
    """
    from .media.warnings import collecting_media_warnings

    # Not warnings.catch_warnings: it swaps process-wide state, so another thread's catch_warnings (an app task)
    # could drop this job's notes or turn them into errors (see media.warnings).
    with collecting_media_warnings() as caught:
        state = job.run(on_progress, cancel)
    notes = list(caught)
    for made, given in (state.get("stands_for") or {}).items():
        notes = [n.replace(str(made), str(given)) for n in notes]
    return state, tuple(dict.fromkeys(notes))


@contextlib.contextmanager
def cleanup_files(state: dict[str, Any]) -> Iterator[None]:
    """Remove the temporary files and folders a job listed in ``state["cleanup"]`` when the block ends,
    whether the job finished, failed or was cancelled."""
    try:
        yield
    finally:
        for p in state.get("cleanup", ()):
            p = Path(p)
            with contextlib.suppress(OSError):
                if p.is_dir():
                    shutil.rmtree(p)
                else:
                    p.unlink(missing_ok=True)
