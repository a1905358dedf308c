"""One attempt at one job, wherever it runs (a Ray worker, or in-process): plain Python, paths in, a dict out.

An attempt first leaves a small record ``DIR/.batch/runs/<run>/attempts/<key>.<attempt>.json`` (node, host,
process id, start time): the driver journals it and counts the job's attempts from these, so an attempt that
died with its worker is still on record. The job then writes into a hidden folder ``DIR/<clip>/.<key>.part-<attempt>``;
only when everything is written are the files renamed to their final names, the QC close-ups put in
``DIR/.batch/qc/``, and the sidecar written last. A failure removes the partial folder; a killed worker leaves it
for the next run's clean-up, never under a final name.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
import traceback
import uuid
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import UserError
from .manifest import BatchJob

BATCH_FOLDER = ".batch"


def run_folder(out_dir: Path, run_id: str) -> Path:
    """Where a batch run keeps its attempt records."""
    return out_dir / BATCH_FOLDER / "runs" / run_id


def qc_image_path(out_dir: Path, job: BatchJob) -> Path:
    """The job's mouth close-ups (JPEG)."""
    return out_dir / BATCH_FOLDER / "qc" / f"{job.key}.jpg"


def part_folders(out_dir: Path, job: BatchJob) -> list[Path]:
    """Partial folders left by attempts at ``job`` that did not finish."""
    folder = out_dir / job.clip
    return sorted(folder.glob(f".{job.key}.part-*")) if folder.is_dir() else []


def attempts_of(out_dir: Path, run_id: str, key: str) -> list[dict[str, Any]]:
    """The attempt records of job ``key`` in run ``run_id``, oldest first."""
    import json

    found = []
    for p in (run_folder(out_dir, run_id) / "attempts").glob(f"{key}.*.json"):
        try:
            found.append(json.loads(p.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue  # being written
    return sorted(found, key=lambda a: a.get("started", 0.0))


def run_attempt(job_data: dict[str, Any], out_dir: str, run_id: str, settings_data: dict[str, Any],
                device: str = "auto", node: str = "") -> dict[str, Any]:
    """Run one attempt at a job and return what the driver needs (small, JSON-serialisable).

    Parameters
    ----------
    job_data: :meth:`BatchJob.to_dict`; out_dir: the batch's output folder; run_id: this batch run.
    settings_data: :meth:`~lipsync_studio.batch.execute.BatchSettings.as_dict`.
    device: where the job's networks run (the Ray task passes what Ray gave it).
    node: the cluster node's id, when known.

    Returns
    -------
    ``{"ok": True, "sidecar": {...}}``, or ``{"ok": False, "error": message, "kind": "input" | "internal"}``
    for a job that failed for its own reason (bad media, no face, a bug): retrying it would fail again.
    """
    from .execute import BatchSettings, run_job
    from .qc import measure_looks, measure_result, write_jpeg
    from .sidecar import input_fingerprints, sidecar_path, write_json_atomic

    job = BatchJob.from_dict(job_data)
    settings = BatchSettings(**settings_data)
    root = Path(out_dir)
    attempt_id = uuid.uuid4().hex[:10]
    started = time.time()
    record = {"key": job.key, "attempt": attempt_id, "pid": os.getpid(), "host": socket.gethostname(),
              "node": node, "started": started}
    attempts_dir = run_folder(root, run_id) / "attempts"
    attempts_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(attempts_dir / f"{job.key}.{attempt_id}.json", record)
    part = root / job.clip / f".{job.key}.part-{attempt_id}"
    try:
        part.mkdir(parents=True)
        fingerprints = input_fingerprints(job)  # before the work: what the result is made from
        outcome = run_job(job, part, device, settings)
        synced = time.time()
        first = part / outcome.outputs[0]
        qc, strip = measure_result(first, outcome.eye)
        if qc["face_found"] == 0:  # the job "succeeded" with nothing to sync: not a deliverable
            raise UserError("no face found in the result: nothing was lip-synced", path=job.video or job.left,
                            hint="check the clip, or choose the face with the 'face' column")
        if outcome.source is not None:
            qc["looks"] = measure_looks(first, Path(outcome.source), outcome.eye, outcome.source_eye,
                                        outcome.source_frames)
        write_jpeg(part / ".qc.jpg", strip)
        measured = time.time()
        outputs = [{"name": name, "size": (part / name).stat().st_size} for name in outcome.outputs]
        # From here the old result is being replaced: its sidecar no longer describes what is there.
        sidecar_path(root, job).unlink(missing_ok=True)
        for name in outcome.outputs:
            os.replace(part / name, root / job.clip / name)
        qc_file = qc_image_path(root, job)
        qc_file.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part / ".qc.jpg", qc_file)
        attempts = attempts_of(root, run_id, job.key)
        sidecar = {
            "sidecar_version": 1, "clip": job.clip, "lang": job.lang, "row": job.row,
            "outputs": outputs, "inputs": fingerprints, "options": job.plain_options(), "settings": settings.as_dict(),
            "app_version": __version__, "run": run_id,
            "attempt": {"id": attempt_id, "attempts": max(1, len(attempts)), "host": record["host"], "node": node,
                        "pid": record["pid"], "device": device},
            "timings": {"started": round(started, 3), "finished": round(time.time(), 3),
                        "sync_s": round(synced - started, 3), "qc_s": round(measured - synced, 3),
                        "stages": outcome.timings},
            "result": {k: v for k, v in outcome.as_dict().items() if k not in ("outputs", "warnings", "timings", "sync")},
            "sync": outcome.sync if outcome.sync is not None else qc["sync"],
            "warnings": list(outcome.warnings),
            "qc": {**qc, "image": str(qc_file.relative_to(root))},
        }
        write_json_atomic(sidecar_path(root, job), sidecar)  # last: the job is done
        return {"ok": True, "key": job.key, "sidecar": sidecar}
    except UserError as exc:
        return {"ok": False, "key": job.key, "kind": "input", "error": str(exc), "attempt": attempt_id,
                "host": record["host"]}
    except Exception as exc:  # noqa: BLE001 - a bug in one job must not stop the batch; it is reported as ours
        return {"ok": False, "key": job.key, "kind": "internal", "attempt": attempt_id, "host": record["host"],
                "error": f"internal error: {type(exc).__name__}: {exc}",
                "traceback": "".join(traceback.format_exception(exc))[-4000:]}
    finally:
        shutil.rmtree(part, ignore_errors=True)
