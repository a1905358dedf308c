"""The models folder: which weights are there, whether they are intact, and adding a file to it.

Checksums: a file whose publisher's SHA-256 is pinned in the manifest is checked against it. For the others
(most publishers give none) the app records the SHA-256 when the file is added (``.checksums.json`` in the
models folder) and later reports a file that changed since. Hashing a 400 MB file takes a second or two, so
:meth:`ModelRegistry.statuses` only hashes when asked (``verify=True``) and reuses a recorded digest while
the file's size and modification time are unchanged.
"""

from __future__ import annotations

import enum
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from .manifest import ModelSpec, WeightFile, load_manifest
from .validate import check_format, sha256_of

_RECORD = ".checksums.json"


class Checksum(str, enum.Enum):
    """What is known about a present file's SHA-256."""

    NOT_CHECKED = "not checked"
    MATCHES_PUBLISHED = "matches the published checksum"
    MATCHES_RECORDED = "unchanged since it was added"
    NO_REFERENCE = "no published checksum to compare with"
    MISMATCH = "differs from the published checksum"
    CHANGED = "changed since it was added"


class ModelState(str, enum.Enum):
    """A model's overall state, as the Models dialog shows it."""

    READY = "ready"  #: every file present and nothing wrong found
    MISSING = "missing"  #: no file present
    INCOMPLETE = "incomplete"  #: some files present, some missing
    DAMAGED = "damaged"  #: a file is present but wrong (format, size or checksum)


@dataclass(frozen=True)
class FileStatus:
    """One expected file, as found on disk.

    Attributes
    ----------
    spec: what the manifest expects.
    path: where it is (or would be).
    present: whether a file is there.
    size: its size in bytes, or None.
    checksum: what is known about its SHA-256.
    problem: what is wrong with it in words, or None.
    """

    spec: WeightFile
    path: Path
    present: bool
    size: int | None
    checksum: Checksum
    problem: str | None


@dataclass(frozen=True)
class ModelStatus:
    """A model and its files as found.

    Attributes
    ----------
    spec: the manifest entry.
    state: ready, missing, incomplete or damaged.
    files: one status per expected file.
    """

    spec: ModelSpec
    state: ModelState
    files: tuple[FileStatus, ...]

    @property
    def summary(self) -> str:
        """One line for the user: what state and why."""
        if self.state is ModelState.READY:
            verified = [f.checksum for f in self.files]
            if all(c is Checksum.MATCHES_PUBLISHED for c in verified):
                return "ready, checksum verified"
            if all(c in (Checksum.MATCHES_PUBLISHED, Checksum.MATCHES_RECORDED) for c in verified):
                return "ready, unchanged since added"
            return "ready"
        if self.state is ModelState.MISSING:
            return "not installed"
        if self.state is ModelState.INCOMPLETE:
            missing = [f.spec.path for f in self.files if not f.present]
            return f"incomplete: {len(missing)} of {len(self.files)} files missing ({', '.join(missing[:2])}…)" \
                if len(missing) > 2 else f"incomplete: missing {', '.join(missing)}"
        bad = next(f for f in self.files if f.problem)
        return f"damaged: {bad.spec.path} {bad.problem}"


def _find_checkout_models() -> Path | None:
    """``models/`` of a source checkout (``pyproject.toml`` beside it), or None for an installed app."""
    root = Path(__file__).resolve().parents[3]
    if (root / "pyproject.toml").is_file() and (root / "models" / "README.md").is_file():
        return root / "models"
    return None


def default_models_dir() -> Path:
    """Where weights live: ``$LIPSYNC_STUDIO_MODELS_DIR``, else ``models/`` in a checkout, else the data dir."""
    from ..settings import data_dir

    env = os.environ.get("LIPSYNC_STUDIO_MODELS_DIR")
    if env:
        return Path(env).expanduser()
    if os.environ.get("LIPSYNC_STUDIO_HOME"):
        return data_dir() / "models"
    return _find_checkout_models() or data_dir() / "models"


class ModelRegistry:
    """The models the manifest lists, looked up in one models folder.

    Parameters
    ----------
    models_dir: the folder; :func:`default_models_dir` when None.
    models: the manifest's models; the shipped manifest when None.
    """

    def __init__(self, models_dir: str | Path | None = None, models: tuple[ModelSpec, ...] | None = None) -> None:
        self.models_dir = Path(models_dir) if models_dir else default_models_dir()
        self.models = models if models is not None else load_manifest()

    # -- lookup ----------------------------------------------------------------------------------------
    def spec(self, model_id: str) -> ModelSpec:
        """The manifest entry of ``model_id``; KeyError when there is none."""
        for m in self.models:
            if m.id == model_id:
                return m
        raise KeyError(f"no model {model_id!r} in the manifest")

    def path_of(self, f: WeightFile) -> Path:
        """Where file ``f`` goes in the models folder."""
        return self.models_dir.joinpath(*f.path.split("/"))

    def path_for(self, model_id: str) -> Path | None:
        """The model's first file when the model is ready to use, else None (features then fall back)."""
        st = self.status(model_id)
        return self.path_of(st.spec.files[0]) if st.state is ModelState.READY else None

    # -- status ----------------------------------------------------------------------------------------
    def statuses(self, *, verify: bool = False,
                 on_progress: Callable[[str, int, int], None] | None = None) -> list[ModelStatus]:
        """Every model's status. ``verify`` hashes files (``on_progress(file, done, total)`` bytes)."""
        return [self.status(m.id, verify=verify, on_progress=on_progress) for m in self.models]

    def status(self, model_id: str, *, verify: bool = False,
               on_progress: Callable[[str, int, int], None] | None = None) -> ModelStatus:
        """One model's status (see :meth:`statuses`)."""
        spec = self.spec(model_id)
        record = self._read_record()
        files = tuple(self._file_status(f, record, verify, on_progress) for f in spec.files)
        present = [f for f in files if f.present]
        if any(f.problem for f in files):
            state = ModelState.DAMAGED
        elif not present:
            state = ModelState.MISSING
        elif len(present) < len(files):
            state = ModelState.INCOMPLETE
        else:
            state = ModelState.READY
        return ModelStatus(spec, state, files)

    def _file_status(self, f: WeightFile, record: dict[str, Any], verify: bool,
                     on_progress: Callable[[str, int, int], None] | None) -> FileStatus:
        p = self.path_of(f)
        if not p.is_file():
            return FileStatus(f, p, False, None, Checksum.NOT_CHECKED, None)
        st = p.stat()
        problem = check_format(p, f)
        checksum = Checksum.NOT_CHECKED
        rec = record.get(f.path)
        same_file = rec is not None and rec.get("size") == st.st_size and rec.get("mtime_ns") == st.st_mtime_ns
        if problem is None and (verify or same_file):
            digest = rec["sha256"] if same_file and not verify else sha256_of(
                p, (lambda d, t: on_progress(f.path, d, t)) if on_progress else None)
            if f.sha256:
                checksum = Checksum.MATCHES_PUBLISHED if digest == f.sha256.lower() else Checksum.MISMATCH
            elif rec is not None:
                checksum = Checksum.MATCHES_RECORDED if digest == rec.get("sha256") else Checksum.CHANGED
            else:
                checksum = Checksum.NO_REFERENCE
            if checksum is Checksum.MISMATCH:
                problem = "differs from the published file (checksum mismatch): download it again"
        return FileStatus(f, p, True, st.st_size, checksum, problem)

    # -- adding a file ---------------------------------------------------------------------------------
    def identify(self, source: str | Path) -> list[tuple[ModelSpec, WeightFile]]:
        """Which expected files ``source`` could be, by name (or published name), best guesses first."""
        name = Path(source).name.lower()
        hits = []
        for m in self.models:
            for f in m.files:
                names = [f.name.lower(), *(n.lower() for n in f.also_named)]
                if name in names:
                    hits.append((m, f))
        return hits

    def add_from_file(self, source: str | Path, model_id: str | None = None, file_path: str | None = None, *,
                      on_progress: Callable[[int, int], None] | None = None) -> Path:
        """Check ``source`` and copy it into the models folder under the manifest's name; return the copy.

        Parameters
        ----------
        source: the file the user picked.
        model_id, file_path: which expected file it is; guessed from the file name when not given.
        on_progress: ``(done_bytes, total_bytes)`` while copying.

        Raises
        ------
        UserError
            The file cannot be identified, is not the expected kind of file, or its checksum differs from
            the published one. Nothing is left in the models folder in that case.
        """
        src = Path(source)
        if not src.is_file():
            raise UserError("is not a file", path=src)
        target = self._target(src, model_id, file_path)
        problem = check_format(src, target)
        if problem:
            raise UserError(problem, path=src, hint=f"choose the {target.name} file of {self._owner(target).name}")
        dest = self.path_of(target)
        try:
            if dest.exists() and os.path.samefile(src, dest):
                digest = sha256_of(dest, on_progress)
                self._write_record(target.path, dest, digest)
                return dest
        except OSError:
            pass
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"the models folder cannot be created ({exc.strerror or exc})", path=dest.parent,
                            hint="choose another models folder in the Models dialog") from exc
        tmp = dest.with_name(f".{dest.name}.adding-{os.getpid()}")
        try:
            digest = _copy_hashing(src, tmp, on_progress)
            if target.sha256 and digest != target.sha256.lower():
                raise UserError("differs from the published file (checksum mismatch)", path=src,
                                hint="download it again from " + (self._owner(target).source_url or "its source"))
            os.replace(tmp, dest)
        except OSError as exc:
            raise UserError(f"could not be copied into the models folder ({exc.strerror or exc})", path=src,
                            hint="check the free space and permissions of " + str(self.models_dir)) from exc
        finally:
            tmp.unlink(missing_ok=True)
        self._write_record(target.path, dest, digest)
        return dest

    def _owner(self, f: WeightFile) -> ModelSpec:
        return next(m for m in self.models if f in m.files)

    def _target(self, src: Path, model_id: str | None, file_path: str | None) -> WeightFile:
        if model_id is not None:
            spec = self.spec(model_id)
            if file_path is not None:
                for f in spec.files:
                    if f.path == file_path:
                        return f
                raise KeyError(f"{model_id!r} has no file {file_path!r}")
            by_name = [f for m, f in self.identify(src) if m.id == model_id]
            if by_name:
                return by_name[0]
            if len(spec.files) == 1:
                return spec.files[0]
            raise UserError(f"is not one of the files {spec.name} needs", path=src,
                            hint="expected one of " + ", ".join(f.name for f in spec.files))
        hits = self.identify(src)
        if not hits:
            raise UserError("is not a weight file the app knows by name", path=src,
                            hint="select the model in the list first, then add its file")
        return hits[0][1]

    # -- checksum record -------------------------------------------------------------------------------
    def _read_record(self) -> dict[str, Any]:
        try:
            data = json.loads((self.models_dir / _RECORD).read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def _write_record(self, rel: str, dest: Path, digest: str) -> None:
        record = self._read_record()
        st = dest.stat()
        record[rel] = {"sha256": digest, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                       "added": time.strftime("%Y-%m-%dT%H:%M:%S")}
        path = self.models_dir / _RECORD
        tmp = path.with_name(f".{_RECORD}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)


def _copy_hashing(src: Path, dst: Path, on_progress: Callable[[int, int], None] | None) -> str:
    """Copy ``src`` to ``dst`` and return the SHA-256 of what was copied (one read of the source)."""
    import hashlib

    h = hashlib.sha256()
    total = src.stat().st_size
    done = 0
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while chunk := fin.read(4 << 20):
            h.update(chunk)
            fout.write(chunk)
            done += len(chunk)
            if on_progress is not None:
                on_progress(done, total)
    shutil.copystat(src, dst)
    return h.hexdigest()
