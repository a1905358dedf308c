"""What the command line does to the process it runs in: only our own words on the terminal, clean stops.

- :class:`NativeLogFilter`: the face tracker's native libraries (MediaPipe, TensorFlow Lite, absl/glog) write
  their own log lines straight to file descriptor 2 (``W0000 … inference_feedback_manager …``,
  ``INFO: Created TensorFlow Lite XNNPACK delegate``), below Python, where no Python setting reaches them.
  The filter puts a pipe under descriptor 2 and passes on every line but those; Python's own ``sys.stderr``
  keeps the real terminal (so the progress bar still sees a terminal). ``--debug`` leaves it off.
- :func:`stop_on_signals`: SIGTERM (what a batch system, a container or a cluster sends to cancel) and SIGINT
  (Ctrl+C) both raise :class:`Stopped` in the main thread, which unwinds through the job: writers remove their
  partial files, temporary folders go. The exit code is ``128 + signal`` (143 for SIGTERM, 130 for SIGINT).

No Qt, no heavy imports: used by ``cli.main`` only.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator

#: Lines of the native libraries' own logs: glog/absl (``W0000 00:00:… 123 file.cc:45] …``), TF Lite's
#: ``INFO:``/``WARNING:`` lines, and absl's notice about its own initialisation.
NATIVE_NOISE = re.compile(
    rb"^(?:[IWEF]\d{4} [\d:. ]+\s*\d+ [\w./-]+:\d+\]"
    rb"|INFO: (?:Created TensorFlow Lite|Initialized TensorFlow Lite)"
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|E0000 |W0000 |I0000 )"
)


class NativeLogFilter:
    """Drop the native libraries' log lines from descriptor 2 while active (a context manager).

    Parameters
    ----------
    pattern : re.Pattern
        Lines (bytes, without the newline) that are dropped; everything else passes unchanged.
    """

    def __init__(self, pattern: re.Pattern = NATIVE_NOISE) -> None:
        self.pattern = pattern
        self.dropped = 0
        self._saved: int | None = None
        self._thread: threading.Thread | None = None
        self._old_stderr = None

    def __enter__(self) -> "NativeLogFilter":
        try:
            sys.stderr.flush()
            self._saved = os.dup(2)
            read_end, write_end = os.pipe()
            os.dup2(write_end, 2)
            os.close(write_end)
        except (OSError, ValueError, AttributeError):  # no descriptor 2 (a GUI launcher): nothing to filter
            self._saved = None
            return self
        # Python's own messages go straight to the real stderr (a terminal stays a terminal for the bar).
        self._old_stderr = sys.stderr
        sys.stderr = open(self._saved, "w", buffering=1, encoding=getattr(self._old_stderr, "encoding", None)
                          or "utf-8", errors="backslashreplace", closefd=False)
        self._thread = threading.Thread(target=self._pump, args=(read_end, self._saved), name="native-log-filter",
                                        daemon=True)
        self._thread.start()
        return self

    def _pump(self, read_end: int, out: int) -> None:
        with os.fdopen(read_end, "rb", buffering=0) as src:
            pending = b""
            while chunk := src.read(65536):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    self._pass(line + b"\n", out)
            if pending:
                self._pass(pending, out)

    def _pass(self, line: bytes, out: int) -> None:
        if self.pattern.match(line):
            self.dropped += 1
            return
        with contextlib.suppress(OSError):
            os.write(out, line)

    def __exit__(self, *exc) -> None:
        if self._saved is None:
            return
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        sys.stderr = self._old_stderr
        os.dup2(self._saved, 2)  # closes the pipe's last write end: the pump reads to the end and stops
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        os.close(self._saved)
        self._saved = None


class Stopped(KeyboardInterrupt):
    """The process was asked to stop by a signal (SIGTERM, SIGINT).

    A :class:`KeyboardInterrupt`, so that everything that cleans up after Ctrl+C (writers removing their
    partial files, worker threads told to stop) does the same for SIGTERM.

    Attributes
    ----------
    signum : int
        The signal received; the command line exits with ``128 + signum``.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)

    @property
    def exit_code(self) -> int:
        """The conventional exit code of a process stopped by this signal (143 SIGTERM, 130 SIGINT)."""
        return 128 + self.signum


@contextlib.contextmanager
def stop_on_signals(signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT)) -> Iterator[None]:
    """Turn the given signals into :class:`Stopped` in the main thread while the block runs.

    After the first signal the others are ignored until the block ends, so that a second Ctrl+C or a
    repeated SIGTERM cannot cut the clean-up short. Outside the main thread this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        for s in signals:
            signal.signal(s, signal.SIG_IGN)
        raise Stopped(signum)

    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
