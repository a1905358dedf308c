"""The layering contract (pyproject.toml ``[tool.importlinter]``): data flows one way, front ends on top, and
production code imports no test scaffolding. Imports inside functions count (grimp reads every import)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import lipsync_studio

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(lipsync_studio.__file__).resolve().parent


def lint(src: Path, config: Path) -> subprocess.CompletedProcess:
    """Run import-linter on the package under ``src`` (a fresh process: it finds the package on its path)."""
    code = ("import sys; from importlinter.cli import lint_imports; "
            f"sys.exit(lint_imports(config_filename={str(config)!r}, no_cache=True))")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"}, cwd=src)


def test_the_package_keeps_its_layers():
    proc = lint(PACKAGE.parent, ROOT / "pyproject.toml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 kept, 0 broken" in proc.stdout


def test_a_lower_layer_importing_a_higher_one_inside_a_function_breaks_the_contract(tmp_path):
    """The contract can fail: media (the bottom data layer) reaching up to the engine, hidden in a function,
    and the engine importing the test media, are each reported."""
    copy = tmp_path / "src" / "lipsync_studio"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "resources"))
    audio = copy / "media" / "audio.py"
    audio.write_text(audio.read_text(encoding="utf-8") + "\n\ndef _sneaky():\n"
                     "    from ..engine.sync_job import run_sync\n\n    return run_sync\n", encoding="utf-8")
    proc = lint(copy.parent, ROOT / "pyproject.toml")
    assert proc.returncode != 0
    assert "lipsync_studio.media.audio -> lipsync_studio.engine.sync_job" in proc.stdout, proc.stdout
    assert "1 kept, 1 broken" in proc.stdout
    job = copy / "engine" / "mesh_job.py"
    job.write_text(job.read_text(encoding="utf-8") + "\n\nfrom ..samples import render_face  # noqa\n",
                   encoding="utf-8")
    proc = lint(copy.parent, ROOT / "pyproject.toml")
    assert "lipsync_studio.engine.mesh_job -> lipsync_studio.samples" in proc.stdout, proc.stdout
    assert "0 kept, 2 broken" in proc.stdout
