"""The batch on Ray Core: one task per job, a private local Ray by default or an existing cluster by address.

The only module of the app that imports Ray (and :mod:`.ray_head`, the private Ray's head process). A task gets
paths and small dicts (never media), runs :func:`~lipsync_studio.batch.task.run_attempt` and returns its small dict. A worker or node that dies is Ray's to
retry (``max_retries``); a job that fails for its own reason returns its error and is not retried.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import UserError, rearm_crash_trace


@dataclass(frozen=True)
class RaySettings:
    """How the batch uses Ray.

    Attributes
    ----------
    address: ``HOST:PORT`` of a running cluster's head (``ray start --head``); None: a private local Ray.
    num_cpus: CPUs the private local Ray may use (None: all of this machine's).
    cpus_per_task: CPUs one job reserves.
    gpus_per_task: ``"auto"`` (1 when the cluster has GPUs, else 0), or a number (0, 0.5, 1, ...).
    max_retries: how often a job whose worker or node died is started again.
    max_in_flight: jobs submitted at once (None: twice what the cluster can run at a time).
    """

    address: str | None = None
    num_cpus: int | None = None
    cpus_per_task: float = 1.0
    gpus_per_task: str | float = "auto"
    max_retries: int = 3
    max_in_flight: int | None = None


def _task(job_data: dict, out_dir: str, run_id: str, settings_data: dict) -> dict:
    """The Ray task: the device is what Ray gave this task, not what the process happens to see."""
    import ray

    from .task import run_attempt

    device = "cuda" if ray.get_gpu_ids() else "cpu"
    return run_attempt(job_data, out_dir, run_id, settings_data, device=device,
                       node=ray.get_runtime_context().get_node_id())


def _private_auth() -> None:
    """Token authentication for a private local Ray: a random token for this process's lifetime (Ray reads the
    mode when it is imported and caches the token), so nothing is written to ``~/.ray``. A mode the user set is
    kept."""
    if "RAY_AUTH_MODE" in os.environ:
        return
    os.environ["RAY_AUTH_MODE"] = "token"
    os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(16)
    if "ray" in sys.modules:  # imported before: make it read the mode and token again, as ray.init itself does
        from ray._raylet import AuthenticationTokenLoader, Config

        Config.initialize("")
        AuthenticationTokenLoader.instance().reset_cache()


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail at once, in one line, when nothing answers at ``HOST:PORT`` (Ray itself retries for minutes)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--address must be HOST:PORT, not '{address}'")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise UserError(f"nothing answers at {address} ({exc.strerror or exc})",
                        hint="start the cluster's head with `ray start --head --port PORT`") from None


HEAD_START_TIMEOUT_S = 120.0
HEAD_STOP_TIMEOUT_S = 45.0  # `ray start --block` drains for up to 30 s on SIGTERM


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
        return True
    except OSError:
        return False


def _log_tail(path: str, lines: int = 3) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = [ln.strip() for ln in f.read().splitlines() if ln.strip()]
    except OSError:
        return ""
    return " / ".join(text[-lines:])


def _stop_head(proc: subprocess.Popen) -> None:
    """SIGTERM (Ray drains, then stops its servers and workers), then whatever of its session is left, killed."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=HEAD_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the head leads its own session: its servers and workers are in it
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def start_private_head(num_cpus: int, temp_dir: str) -> tuple[subprocess.Popen, str]:
    """Start a private Ray head in a fresh interpreter (:mod:`.ray_head`); return it and its ``HOST:PORT``.

    Started without running Python between fork and exec (no ``preexec_fn``: the app's decoding threads stay
    out of it), in a session of its own (a Ctrl-C at the terminal reaches the driver, which cancels; not Ray's
    servers). A port taken in the meantime is tried again with another.
    """
    log_path = os.path.join(temp_dir, "head.log")
    why = ""
    for _ in range(3):
        port = _free_port()
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "lipsync_studio.batch.ray_head", str(os.getpid()),
                 "start", "--head", "--block", "--port", str(port), "--node-ip-address", "127.0.0.1",
                 "--num-cpus", str(num_cpus), "--include-dashboard=false", "--disable-usage-stats",
                 "--temp-dir", temp_dir],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + HEAD_START_TIMEOUT_S
        try:
            while proc.poll() is None and time.monotonic() < deadline:
                if _answers(port):
                    return proc, f"127.0.0.1:{port}"
                time.sleep(0.2)
        except BaseException:
            _stop_head(proc)
            raise
        if proc.poll() is None:
            _stop_head(proc)
            raise UserError(f"a local Ray did not start in {HEAD_START_TIMEOUT_S:.0f} s "
                            f"(its log ends: {_log_tail(log_path) or 'nothing'})")
        why = _log_tail(log_path)
        _stop_head(proc)
        if "already in use" not in why.lower():
            break
    raise UserError(f"cannot start a local Ray (its head exited: {why or 'no message'})")


class RayCluster:
    """A connection to Ray for one batch run (a context manager: leaving it shuts a private Ray down)."""

    def __init__(self, settings: RaySettings) -> None:
        self.settings = settings
        self._tmp: str | None = None
        self._head: subprocess.Popen | None = None

    def __enter__(self) -> "RayCluster":
        s = self.settings
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        if s.address is None:
            _private_auth()
        else:
            _check_reachable(s.address)
        import ray

        # Ray's driver puts its own crash handler on SIGTERM; the batch's handlers (cancel, clean up) come back.
        kept = {}
        if threading.current_thread() is threading.main_thread():
            kept = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            if s.address is None:
                # A private instance: its own token, its logs in a temporary folder (short: Ray's sockets live
                # there), no dashboard, nothing printed to the terminal; its head a process of its own.
                self._tmp = tempfile.mkdtemp(prefix="lss-ray-", dir="/tmp" if os.path.isdir("/tmp") else None)
                self._head, address = start_private_head(s.num_cpus or os.cpu_count() or 1, self._tmp)
                ray.init(address=address, log_to_driver=False, logging_level="ERROR")
            else:
                ray.init(address=s.address, log_to_driver=False, logging_level="ERROR")
        except BaseException as exc:  # noqa: BLE001 - a Ctrl-C while Ray starts too: its head goes with it
            self._cleanup()
            rearm_crash_trace()  # a failed start may have taken the crash signals as well
            if isinstance(exc, UserError) or not isinstance(exc, Exception):
                raise
            # Ray's own errors name no file: say what the user can do.
            if s.address is None:
                raise UserError(f"cannot start a local Ray ({type(exc).__name__}: {exc})") from exc
            raise UserError(f"cannot connect to the Ray cluster at {s.address} ({type(exc).__name__}: {exc})",
                            hint="start it with `ray start --head --port PORT`; a cluster with token authentication "
                                 "needs RAY_AUTH_MODE=token and RAY_AUTH_TOKEN (or ~/.ray/auth_token) here too"
                            ) from exc
        for sig, handler in kept.items():
            if handler is not None:
                signal.signal(sig, handler)
        rearm_crash_trace()  # Ray's driver took the crash signals too
        return self

    def _cleanup(self) -> None:
        if self._head is not None:
            _stop_head(self._head)
            self._head = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __exit__(self, *exc) -> None:
        import ray

        ray.shutdown()
        rearm_crash_trace()  # the shutdown leaves no handler on the crash signals
        self._cleanup()

    def slots(self) -> tuple[float, float]:
        """(CPUs, GPUs) in the cluster now."""
        import ray

        res = ray.cluster_resources()
        return float(res.get("CPU", 0.0)), float(res.get("GPU", 0.0))

    def gpus_per_task(self) -> float:
        """The GPUs one task reserves (``auto``: 1 when the cluster has any GPU)."""
        g = self.settings.gpus_per_task
        if g == "auto":
            return 1.0 if self.slots()[1] > 0 else 0.0
        return float(g)

    def run(self, jobs: list[dict], out_dir: str, run_id: str, settings_data: dict,
            on_result: Callable[[dict], None], on_tick: Callable[[], None], cancel: threading.Event) -> bool:
        """Run every job as a task; call ``on_result`` with each job's dict as it finishes.

        Parameters
        ----------
        jobs: :meth:`BatchJob.to_dict` of each job to run.
        on_tick: called about twice a second (the driver reads attempt records, redraws progress).
        cancel: set to stop: the tasks still running are cancelled (their workers killed).

        Returns
        -------
        False when cancelled before every job finished.
        """
        import ray

        s = self.settings
        cpus, gpus = self.slots()
        gpu = self.gpus_per_task()
        if gpu > 0 and gpus < gpu:
            raise UserError(f"each job asks for {gpu:g} GPU, but the cluster has {gpus:g}",
                            hint="use --gpus-per-task 0")
        if cpus < s.cpus_per_task:
            raise UserError(f"each job asks for {s.cpus_per_task:g} CPUs, but the cluster has {cpus:g}",
                            hint="lower --cpus-per-task")
        in_flight = s.max_in_flight or max(1, 2 * int(cpus // max(s.cpus_per_task, 1e-6)))
        remote = ray.remote(_task)
        task_options = {"num_cpus": s.cpus_per_task, "num_gpus": gpu, "max_retries": s.max_retries,
                        "retry_exceptions": False}
        todo = list(jobs)
        pending: dict[Any, dict] = {}
        while todo or pending:
            if cancel.is_set():
                for ref in pending:
                    ray.cancel(ref, force=True, recursive=True)
                # Let the cancelled workers go before the caller cleans their partial folders.
                ray.wait(list(pending), num_returns=len(pending), timeout=10.0)
                return False
            while todo and len(pending) < in_flight:
                job = todo.pop(0)
                ref = remote.options(name=f"lipsync {job['clip']}_{job['lang']}", **task_options).remote(
                    job, out_dir, run_id, settings_data)
                pending[ref] = job
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
            for ref in ready:
                job = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.TaskCancelledError:
                    continue
                except ray.exceptions.RayError as exc:
                    # Retries used up by crashes (a worker or node that died each time), or lost results.
                    cause = getattr(exc, "cause", None)
                    text = str(cause or exc).strip().splitlines()[0] if str(cause or exc).strip() else ""
                    result = {"ok": False, "key": f"{job['clip']}_{job['lang']}", "kind": "system",
                              "error": f"{type(exc).__name__} after {s.max_retries} retries: {text}"[:500]}
                on_result(result)
            on_tick()
        return True
