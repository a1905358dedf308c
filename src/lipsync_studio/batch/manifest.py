"""The batch manifest: one row per job (a clip into one language), read from CSV or JSON and checked whole.

Columns (CSV header or JSON keys):

- ``clip``: the clip's id; names the folder ``DIR/<clip>/`` and the files in it.
- ``lang``: the dub's language as a BCP 47 tag (``es-419``, ``pt-BR``).
- ``video``: the clip, or ``left`` and ``right``: a stereo clip as one file per eye.
- ``dub``: the new audio.
- optional per job: ``face`` (track id), ``script`` (the dub's text, in the language ``lang`` names),
  ``dub_offset`` (seconds the dub starts after the picture; negative: before), ``dub_stream`` (which of the dub
  file's audio streams holds the dialogue, numbered as ``probe`` lists them), ``dub_channels`` (which of its
  channels, from 1: ``5,6`` or ``5-6``), ``stereo_mode`` and ``out_layout`` (stereo clips).

Relative paths are taken from the manifest's own folder. Every problem in the manifest is found before any work
starts and reported with its row: the CSV line number (the header is line 1), or a JSON job's 1-based index.
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError

REQUIRED = ("clip", "lang", "dub")
INPUTS = ("video", "left", "right")
OPTIONS = ("face", "script", "dub_offset", "dub_stream", "dub_channels", "stereo_mode", "out_layout")
COLUMNS = REQUIRED + INPUTS + OPTIONS

#: What a clip id or a language tag may hold: it becomes a folder and file name under the output folder.
SAFE_NAME = re.compile(r"[A-Za-z0-9._-]+")
#: BCP 47's shape: a 2-3 letter language, then subtags of 1-8 letters or digits (script, region, variant).
BCP47 = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")
MAX_NAME = 100  # a clip id or tag; keeps DIR/<clip>/<clip>_<lang>.<ext> well under common path limits
MAX_OFFSET_S = 600.0


class ManifestError(UserError):
    """The manifest has problems; nothing was run. ``problems`` holds one line per problem, with its row."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.problems = list(problems)
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        super().__init__(f"{len(problems)} problem(s) in the manifest; nothing was run:\n  " + "\n  ".join(shown),
                         path=path)


@dataclass(frozen=True)
class BatchJob:
    """One job of a batch: a clip (2D, or stereo as one packed file or two eye files) into one language.

    Attributes
    ----------
    clip, lang: the clip's id and the language tag (both safe as file names).
    dub: the dub's absolute path.
    video: the clip's absolute path (None when given as ``left`` / ``right``).
    left, right: the eyes' files of a stereo clip given as two files.
    options: the job's own options, only those given: ``face`` (int), ``script`` (Path), ``dub_offset``
        (float, seconds), ``dub_stream`` (int), ``dub_channels`` (tuple of int, from 1), ``stereo_mode`` and
        ``out_layout`` (str).
    row: where the job is in the manifest (CSV line or JSON index).
    """

    clip: str
    lang: str
    dub: Path
    video: Path | None = None
    left: Path | None = None
    right: Path | None = None
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=True)
    row: int = 0

    @property
    def key(self) -> str:
        """``<clip>_<lang>``: the stem of the job's output, sidecar and QC files."""
        return f"{self.clip}_{self.lang}"

    @property
    def inputs(self) -> dict[str, Path]:
        """The job's input files by role (``video`` or ``left``/``right``, ``dub``, ``script``)."""
        found = {k: getattr(self, k) for k in ("video", "left", "right", "dub") if getattr(self, k) is not None}
        if self.options.get("script") is not None:
            found["script"] = Path(self.options["script"])
        return found

    def plain_options(self) -> dict[str, Any]:
        """The options as JSON data (paths as strings), sorted: what a sidecar records and compares."""
        return {k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v)
                for k, v in sorted(self.options.items())}

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for a Ray task's argument and the journal)."""
        return {"clip": self.clip, "lang": self.lang, "row": self.row,
                **{k: str(v) for k, v in self.inputs.items() if k != "script"},
                "options": self.plain_options()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "BatchJob":
        """The inverse of :meth:`to_dict`."""
        opts = dict(d.get("options", {}))
        if opts.get("script") is not None:
            opts["script"] = Path(opts["script"])
        if opts.get("dub_channels") is not None:
            opts["dub_channels"] = tuple(opts["dub_channels"])
        return cls(clip=d["clip"], lang=d["lang"], dub=Path(d["dub"]),
                   video=Path(d["video"]) if d.get("video") else None,
                   left=Path(d["left"]) if d.get("left") else None,
                   right=Path(d["right"]) if d.get("right") else None, options=opts, row=int(d.get("row", 0)))


def _read_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """The manifest's rows as ``(row number, {column: value})``; empty cells dropped."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UserError("the manifest does not exist", path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"the manifest cannot be read ({exc})", path=path) from None
    rows: list[tuple[int, dict[str, Any]]] = []
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"is not valid JSON (line {exc.lineno}: {exc.msg})", path=path) from None
        if isinstance(data, dict) and isinstance(data.get("jobs"), list):
            data = data["jobs"]
        if not isinstance(data, list):
            raise UserError("a JSON manifest is a list of jobs (or {\"jobs\": [...]})", path=path)
        for i, item in enumerate(data, start=1):
            if not isinstance(item, dict):
                raise ManifestError(path, [f"row {i}: a job is an object of column: value"])
            rows.append((i, {str(k): v for k, v in item.items() if v is not None and v != ""}))
        return rows
    if path.suffix.lower() not in (".csv", ".tsv", ".txt"):
        raise UserError(f"unknown manifest type '{path.suffix}'", path=path, hint="use .csv or .json")
    reader = csv.reader(text.splitlines(), delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
    header: list[str] | None = None
    for line_no, cells in enumerate(reader, start=1):
        if not any(c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
            continue  # blank lines and comments
        if header is None:
            header = [c.strip() for c in cells]
            continue
        if len(cells) > len(header):
            raise ManifestError(path, [f"row {line_no}: {len(cells)} cells for {len(header)} columns"])
        rows.append((line_no, {h: c.strip() for h, c in zip(header, cells) if c.strip() != ""}))
    if header is None:
        raise UserError("the manifest is empty", path=path)
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise ManifestError(path, [f"row 1: unknown column(s) {', '.join(map(repr, unknown))} "
                                   f"(known: {', '.join(COLUMNS)})"])
    return rows


def _name_problem(what: str, value: str) -> str | None:
    """Why ``value`` cannot name a folder/file under the output folder, or None."""
    if not SAFE_NAME.fullmatch(value):
        bad = sorted({c for c in value if not SAFE_NAME.fullmatch(c)})
        return f"{what} {value!r} has characters outside [A-Za-z0-9._-]: {' '.join(map(repr, bad))}"
    if value.startswith(".") or ".." in value:
        return f"{what} {value!r} may not start with '.' or contain '..'"
    if len(value) > MAX_NAME:
        return f"{what} {value!r} is longer than {MAX_NAME} characters"
    return None


def _file(value: Any, base: Path, col: str, problems: list[str], where: str) -> Path | None:
    if not isinstance(value, str):
        problems.append(f"{where}: {col} must be a file path, not {value!r}")
        return None
    p = Path(value).expanduser()
    p = (p if p.is_absolute() else base / p).absolute()
    if not p.exists():
        problems.append(f"{where}: {col} file does not exist: {p}")
        return None
    if not p.is_file():
        problems.append(f"{where}: {col} is not a file: {p}")
        return None
    return p


def read_manifest(path: str | Path, supported_options: tuple[str, ...] = OPTIONS) -> list[BatchJob]:
    """Read and check a whole manifest.

    Parameters
    ----------
    path: a ``.csv`` (or ``.tsv``) with a header row, or a ``.json`` list of jobs.
    supported_options: the per-job options the installed sync job can carry out; a row using another is a
        problem (see :data:`lipsync_studio.batch.execute.SUPPORTED_OPTIONS`).

    Returns
    -------
    The jobs, in manifest order.

    Raises
    ------
    ManifestError
        Every problem found, each with its row: a missing file, a duplicate (clip, language), an unknown or
        malformed option, a clip id or language that would name a path outside the output folder.
    """
    from ..stereo.right_eye import MODES
    from ..stereo.writer import OutputLayout

    out_layouts = tuple(layout.value for layout in OutputLayout)

    path = Path(path).expanduser().absolute()
    base = path.parent
    problems: list[str] = []
    jobs: list[BatchJob] = []
    seen: dict[tuple[str, str], int] = {}
    clip_sources: dict[str, tuple[int, tuple]] = {}
    rows = _read_rows(path)
    if not rows:
        raise UserError("the manifest has no jobs", path=path)
    for row, cells in rows:
        where = f"row {row}"
        before = len(problems)
        unknown = [k for k in cells if k not in COLUMNS]
        if unknown:
            problems.append(f"{where}: unknown column(s) {', '.join(map(repr, unknown))} (known: {', '.join(COLUMNS)})")
        for col in REQUIRED:
            if col not in cells:
                problems.append(f"{where}: '{col}' is missing")
        clip, lang = cells.get("clip"), cells.get("lang")
        for what, value in (("clip id", clip), ("language", lang)):
            if value is not None:
                if not isinstance(value, str):
                    problems.append(f"{where}: {what} must be text, not {value!r}")
                elif (why := _name_problem(what, value)) is not None:
                    problems.append(f"{where}: {why}")
        if isinstance(lang, str) and SAFE_NAME.fullmatch(lang) and not BCP47.fullmatch(lang):
            problems.append(f"{where}: language {lang!r} is not a BCP 47 tag (like 'es', 'es-419', 'pt-BR')")
        has_video, has_eyes = "video" in cells, ("left" in cells or "right" in cells)
        if has_video and has_eyes:
            problems.append(f"{where}: give either 'video' or 'left' and 'right', not both")
        elif not has_video and not has_eyes:
            problems.append(f"{where}: 'video' (or 'left' and 'right') is missing")
        elif has_eyes and not ("left" in cells and "right" in cells):
            problems.append(f"{where}: a stereo clip given as two files needs both 'left' and 'right'")
        files = {col: _file(cells[col], base, col, problems, where) for col in ("video", "left", "right", "dub")
                 if col in cells}
        opts: dict[str, Any] = {}
        for col in OPTIONS:
            if col not in cells:
                continue
            if col not in supported_options:
                problems.append(f"{where}: option '{col}' is not supported by this version's sync job")
                continue
            value = cells[col]
            if col in ("face", "dub_stream"):  # a whole number from 0
                try:
                    number = int(str(value))
                    if number < 0 or isinstance(value, float):
                        raise ValueError
                    opts[col] = number
                except ValueError:
                    what = "a track id" if col == "face" else "a stream number"
                    problems.append(f"{where}: {col} must be {what} (0, 1, ...), not {value!r}")
            elif col == "dub_channels":
                from ..engine.dub import parse_channels

                try:
                    opts["dub_channels"] = parse_channels(",".join(map(str, value)) if isinstance(value, list)
                                                          else str(value))
                except ValueError:
                    problems.append(f"{where}: dub_channels must be channels from 1 (3, 5,6 or 5-6), not {value!r}")
            elif col == "dub_offset":
                try:
                    off = float(str(value))
                    if not math.isfinite(off) or abs(off) > MAX_OFFSET_S:
                        raise ValueError
                    opts["dub_offset"] = off
                except ValueError:
                    problems.append(f"{where}: dub_offset must be seconds within ±{MAX_OFFSET_S:g}, not {value!r}")
            elif col == "script":
                p = _file(value, base, col, problems, where)
                if p is not None:
                    opts["script"] = p
            elif col == "stereo_mode":
                if value not in MODES:
                    problems.append(f"{where}: stereo_mode {value!r} is not one of {', '.join(MODES)}")
                else:
                    opts["stereo_mode"] = value
            elif col == "out_layout":
                if value not in out_layouts:
                    problems.append(f"{where}: out_layout {value!r} is not one of {', '.join(out_layouts)}")
                else:
                    opts["out_layout"] = value
        if len(problems) > before:
            continue
        pair = (clip.lower(), lang.lower())
        if pair in seen:
            problems.append(f"{where}: clip {clip!r} into {lang!r} is already row {seen[pair]}")
            continue
        seen[pair] = row
        source = tuple(str(files.get(k)) for k in INPUTS)
        first = clip_sources.setdefault(clip.lower(), (row, source))
        if first[1] != source:
            problems.append(f"{where}: clip {clip!r} names other video file(s) than in row {first[0]}")
            continue
        jobs.append(BatchJob(clip=clip, lang=lang, dub=files["dub"], video=files.get("video"),
                             left=files.get("left"), right=files.get("right"), options=opts, row=row))
    if problems:
        raise ManifestError(path, problems)
    return jobs


def write_manifest(path: str | Path, rows: list[dict[str, Any]]) -> Path:
    """Write ``rows`` (column: value, paths absolute) as a JSON manifest a later ``batch`` run can read again.

    The rows are not checked here: :func:`read_manifest` checks them, the same way for every front end.
    """
    from .sidecar import write_json_atomic

    path = Path(path)
    plain = [{k: (str(v) if isinstance(v, Path) else v) for k, v in row.items() if v not in (None, "")}
             for row in rows]
    write_json_atomic(path, {"jobs": plain})
    return path
