"""``probe``: what the app sees in a media file, as plain data (for the CLI, the GUI and bug reports)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import MediaError
from .container import open_input
from .video import probe_video


def probe(path: str | Path) -> dict[str, Any]:
    """Describe a media file: container, streams, and for the first video stream the timeline the app uses.

    Returns
    -------
    dict
        ``file``, ``format``, ``size_bytes``, ``duration_s``, ``streams`` (one dict each),
        ``video`` (or None) and ``audio`` (or None) summaries.

    Raises
    ------
    MediaError
        The file cannot be read, or holds neither video nor audio.
    """
    p = Path(path)
    streams: list[dict[str, Any]] = []
    with open_input(p) as c:
        fmt = c.format.name
        duration = c.duration / 1_000_000 if c.duration else None
        for s in c.streams:
            entry: dict[str, Any] = {"index": s.index, "type": s.type}
            cc = getattr(s, "codec_context", None)
            entry["codec"] = cc.name if cc is not None else None
            if s.type == "video":
                entry.update(width=cc.width, height=cc.height, pix_fmt=cc.pix_fmt,
                             declared_fps=float(s.average_rate) if s.average_rate else None)
            elif s.type == "audio":
                entry.update(sample_rate=cc.sample_rate, channels=cc.layout.nb_channels, layout=cc.layout.name)
            if s.duration is not None and s.time_base is not None:
                entry["duration_s"] = round(float(s.duration * s.time_base), 4)
            lang = s.metadata.get("language")
            if lang and lang != "und":
                entry["language"] = lang
            streams.append(entry)
        has_video = any(s["type"] == "video" for s in streams)
        has_audio = any(s["type"] == "audio" for s in streams)
    if not has_video and not has_audio:
        raise MediaError("holds neither video nor audio", path=p)
    video = None
    if has_video:
        v = probe_video(p)
        video = {
            "width": v.width, "height": v.height, "fps": float(v.fps), "fps_exact": f"{v.fps.numerator}/{v.fps.denominator}",
            "frames": v.n_frames, "duration_s": round(v.duration, 4), "rotation": v.rotation, "codec": v.codec,
            "variable_frame_rate": v.vfr, "stored_frames": v.source_frames, "damaged_at_s": v.damaged_at,
        }
    audio = None
    if has_audio:
        from .audio import probe_audio

        a = probe_audio(p)
        audio = {"sample_rate": a.sample_rate, "channels": a.channels, "duration_s": round(a.duration_s, 4),
                 "codec": a.codec}
    return {"file": str(p), "format": fmt, "size_bytes": p.stat().st_size,
            "duration_s": round(duration, 4) if duration else None, "streams": streams, "video": video, "audio": audio}


def format_probe(report: dict[str, Any]) -> str:
    """The probe report as a few readable lines."""
    lines = [f"{report['file']}  ({report['format']}, {report['size_bytes'] / 1e6:.1f} MB)"]
    v = report["video"]
    if v:
        extra = []
        if v["rotation"]:
            extra.append(f"rotated {v['rotation']}°")
        if v["variable_frame_rate"]:
            extra.append(f"variable frame rate, {v['stored_frames']} stored frames mapped to a constant rate")
        if v["damaged_at_s"] is not None:
            extra.append(f"DAMAGED at {v['damaged_at_s']:.2f} s")
        lines.append(f"  video: {v['width']}x{v['height']} {v['codec']}, {v['fps']:.3f} fps ({v['fps_exact']}), "
                     f"{v['frames']} frames, {v['duration_s']:.3f} s" + (f"; {'; '.join(extra)}" if extra else ""))
    else:
        lines.append("  video: none")
    a = report["audio"]
    if a:
        lines.append(f"  audio: {a['codec']}, {a['sample_rate']} Hz, {a['channels']} ch, {a['duration_s']:.3f} s")
    else:
        lines.append("  audio: none")
    for s in report["streams"]:
        desc = ", ".join(f"{k}={v}" for k, v in s.items() if k not in ("index", "type"))
        lines.append(f"  stream #{s['index']} {s['type']}: {desc}")
    return "\n".join(lines)
