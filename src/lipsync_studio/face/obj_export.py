"""OBJ sequence export: ``frame_000001.obj`` … with ``.mtl`` and texture ``.png`` by relative paths.

Every file has the same vertices in the same order and the same faces, so the sequence imports as an
animation (Blender's "Stop-motion OBJ", MeshLab, Houdini). A ``sequence.json`` beside the frames records the
frame rate, the source clip, each frame's time, head pose, and whether the face was measured or filled in.
The folder is written under a temporary name and appears complete or not at all.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import OutputError
from .mesh3d import FaceMesh3D


@dataclass(frozen=True)
class ObjOptions:
    """What goes into each frame's files.

    Attributes
    ----------
    texture: write a per-frame texture ``.png`` and ``.mtl`` (default); False writes vertex colours.
    texture_size: texture width and height in pixels.
    """

    texture: bool = True
    texture_size: int = 512


def frame_name(number: int) -> str:
    """File stem of frame ``number`` (1-based, as editors number frames)."""
    return f"frame_{number:06d}"


def _format_rows(fmt: str, rows: np.ndarray) -> str:
    buf = io.StringIO()
    np.savetxt(buf, rows, fmt=fmt)
    return buf.getvalue()


def obj_text(mesh: FaceMesh3D, stem: str, options: ObjOptions) -> str:
    """The OBJ file of one frame (faces 1-based, counter-clockwise seen from the front)."""
    head = [f"# Lipsync Studio face mesh, {len(mesh.vertices)} vertices, {len(mesh.triangles)} triangles",
            "# units: millimetres; camera at the origin looking down -z, +y up"]
    if options.texture:
        head.append(f"mtllib {stem}.mtl")
        v = _format_rows("v %.4f %.4f %.4f", mesh.vertices)
        vt = _format_rows("vt %.6f %.6f", mesh.uv)
        f1 = mesh.triangles + 1
        faces = _format_rows("f %d/%d %d/%d %d/%d", np.repeat(f1, 2, axis=1))
        return "\n".join(head) + "\n" + v + vt + "usemtl face\ns off\n" + faces
    v = _format_rows("v %.4f %.4f %.4f %.4f %.4f %.4f", np.hstack([mesh.vertices, mesh.colors]))
    faces = _format_rows("f %d %d %d", mesh.triangles + 1)
    return "\n".join(head) + "\n" + v + "s off\n" + faces


def mtl_text(stem: str) -> str:
    """The material of one frame: its texture by a relative path."""
    return (f"newmtl face\nKa 1.000 1.000 1.000\nKd 1.000 1.000 1.000\nKs 0.000 0.000 0.000\n"
            f"illum 1\nmap_Kd {stem}.png\n")


class ObjSequenceWriter:
    """Writes an OBJ sequence into a folder that appears only when complete.

    Parameters
    ----------
    folder: the final folder; it must not exist, or be empty.
    options: texture or vertex colours.
    """

    def __init__(self, folder: str | Path, options: ObjOptions = ObjOptions()) -> None:
        from ..media.output import temporary_sibling

        self.folder = Path(folder).absolute()
        if self.folder.exists() and (not self.folder.is_dir() or any(self.folder.iterdir())):
            raise OutputError("exists and is not an empty folder", path=self.folder,
                              hint="choose a new folder name; nothing is overwritten")
        if not self.folder.parent.is_dir():
            raise OutputError("the output folder's parent does not exist", path=self.folder.parent)
        if not os.access(self.folder.parent, os.W_OK) or self.folder.parent.stat().st_mode & 0o222 == 0:
            raise OutputError("the output folder is read-only", path=self.folder.parent)
        self.options = options
        self.tmp = temporary_sibling(self.folder)
        self.tmp.mkdir()
        self.frames: list[dict] = []

    def write(self, number: int, time_s: float, mesh: FaceMesh3D, texture: np.ndarray | None = None) -> None:
        """Write frame ``number`` (1-based); ``texture`` (S, S, 3) uint8 RGB when writing textures."""
        import cv2

        stem = frame_name(number)
        try:
            (self.tmp / f"{stem}.obj").write_text(obj_text(mesh, stem, self.options))
            if self.options.texture:
                if texture is None:
                    raise ValueError("a texture is needed when writing textured OBJ files")
                (self.tmp / f"{stem}.mtl").write_text(mtl_text(stem))
                if not cv2.imwrite(str(self.tmp / f"{stem}.png"), cv2.cvtColor(texture, cv2.COLOR_RGB2BGR)):
                    raise OSError(f"could not write {stem}.png")
        except OSError as exc:
            self.abort()
            from ..media.output import os_error_to_output_error

            raise os_error_to_output_error(exc, self.folder) from exc
        self.frames.append({"file": f"{stem}.obj", "time_s": round(time_s, 6), "measured": bool(mesh.measured),
                            "rotation": np.round(mesh.rotation, 6).tolist(),
                            "translation_mm": np.round(mesh.translation, 3).tolist()})

    def close(self, meta: dict) -> Path:
        """Write ``sequence.json`` and move the folder to its final name."""
        info = dict(meta, frames=self.frames, units="mm", up="+y", forward="-z",
                    vertex_order="identical on every frame (MediaPipe FaceMesh 468-point order)")
        (self.tmp / "sequence.json").write_text(json.dumps(info, indent=1))
        if self.folder.exists():
            self.folder.rmdir()  # checked empty at the start
        os.replace(self.tmp, self.folder)
        return self.folder

    def abort(self) -> None:
        """Remove everything written so far."""
        import shutil

        shutil.rmtree(self.tmp, ignore_errors=True)
