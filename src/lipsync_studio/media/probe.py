"""``probe``: what the app sees in a media file, as plain data (for the CLI, the GUI and bug reports)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..errors import MediaError
from .container import is_attached_picture, open_input, picture_stream
from .fields import describe as describe_fields
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
    from .camm import motion_tracks, track_id
    from .stills import still_format

    p = Path(path)
    streams: list[dict[str, Any]] = []
    motion_ids = {track_id(t) for t in motion_tracks(p)}
    with open_input(p) as c:
        picture = picture_stream(c)
        fmt = (still_format(p) or "").lower() or c.format.name  # a HEIC/AVIF photo opens as the TIFF it became
        duration = c.duration / 1_000_000 if c.duration else None
        for s in c.streams:
            entry: dict[str, Any] = {"index": s.index, "type": s.type}
            cc = getattr(s, "codec_context", None)
            entry["codec"] = cc.name if cc is not None else None
            if s.type == "data" and s.id in motion_ids:
                entry["codec"] = "camm (camera motion)"
            if s.type == "video":
                entry.update(width=cc.width, height=cc.height, pix_fmt=cc.pix_fmt,
                             declared_fps=float(s.average_rate) if s.average_rate else None)
                if is_attached_picture(s):
                    entry["attached_picture"] = True  # cover art, not a moving picture
            elif s.type == "audio":
                entry.update(sample_rate=cc.sample_rate, channels=cc.layout.nb_channels, layout=cc.layout.name)
            if s.duration is not None and s.time_base is not None:
                entry["duration_s"] = round(float(s.duration * s.time_base), 4)
            lang = s.metadata.get("language")
            if lang and lang != "und":
                entry["language"] = lang
            if s.metadata.get("title"):  # a delivery's tracks are named so: "Dialogue", "M&E", "Mix"
                entry["title"] = s.metadata["title"]
            streams.append(entry)
        has_video = picture is not None
        has_audio = any(s["type"] == "audio" for s in streams)
    if not has_video and not has_audio:
        raise MediaError("holds neither video nor audio", path=p)
    video = None
    if has_video:
        v = probe_video(p)
        video = {
            "width": v.width, "height": v.height, "fps": float(v.fps), "fps_exact": f"{v.fps.numerator}/{v.fps.denominator}",
            "frames": v.n_frames, "duration_s": round(v.duration, 4), "rotation": v.rotation, "mirrored": v.mirrored,
            "codec": v.codec,
            "variable_frame_rate": v.vfr, "stored_frames": v.source_frames, "damaged_at_s": v.damaged_at,
            "views": v.views, "colour": {**asdict(v.colour), "summary": v.colour.describe()},
            "sample_aspect": f"{v.sample_aspect.numerator}/{v.sample_aspect.denominator}",
            "display_size": list(v.display_size), "timecode": v.timecode, "field_order": v.field_order,
            "photo": v.photo, "transparent": v.transparent,
        }
    audio = None
    if has_audio:
        from .audio import probe_audio

        a = probe_audio(p)
        audio = {"sample_rate": a.sample_rate, "channels": a.channels, "duration_s": round(a.duration_s, 4),
                 "codec": a.codec}
    vr = None
    if has_video:
        from .vrmeta import read_vr_metadata

        vr = read_vr_metadata(p).as_dict()
    return {"file": str(p), "format": fmt, "size_bytes": p.stat().st_size,
            "duration_s": round(duration, 4) if duration else None, "streams": streams, "video": video, "audio": audio,
            "vr": vr}


def format_probe(report: dict[str, Any]) -> str:
    """The probe report as a few readable lines."""
    lines = [f"{report['file']}  ({report['format']}, {report['size_bytes'] / 1e6:.1f} MB)"]
    v = report["video"]
    if v:
        extra = []
        if v["timecode"]:
            extra.append(f"time code {v['timecode']}")
        if v["sample_aspect"] != "1/1":
            extra.append(f"pixels {v['sample_aspect'].replace('/', ':')}, shown {v['display_size'][0]}x{v['display_size'][1]}")
        if v["colour"]["summary"]:
            extra.append(v["colour"]["summary"])
        if describe_fields(v["field_order"]):
            extra.append(describe_fields(v["field_order"]))
        if v["mirrored"]:
            extra.append("mirrored" + (f", rotated {v['rotation']}°" if v["rotation"] else ""))
        elif v["rotation"]:
            extra.append(f"rotated {v['rotation']}°")
        if v["variable_frame_rate"]:
            extra.append(f"variable frame rate, {v['stored_frames']} stored frames mapped to a constant rate")
        if v["damaged_at_s"] is not None:
            extra.append(f"DAMAGED at {v['damaged_at_s']:.2f} s")
        if v["transparent"]:
            extra.insert(0, "transparent around its subject (ProRes and VP9 results keep it)")
        if v["photo"]:  # a still: no rate or length of its own (the dub gives both)
            lines.append(f"  video: {v['width']}x{v['height']} photo ({v['photo']})"
                         + (f"; {'; '.join(extra)}" if extra else ""))
        else:
            lines.append(f"  video: {v['width']}x{v['height']} {v['codec']}, {v['fps']:.3f} fps ({v['fps_exact']}), "
                         f"{v['frames']} frames, {v['duration_s']:.3f} s" + (f"; {'; '.join(extra)}" if extra else ""))
        lines.extend(_stereo_lines(report))
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


def _stereo_lines(report: dict[str, Any]) -> list[str]:
    """The stereo/VR line(s): what the file declares, else what the pictures show (when measured)."""
    vr = report.get("vr")
    out = []
    if vr and (vr["stereo"] or vr["projection"] or vr["views"] > 1):
        parts = []
        if vr["views"] > 1:
            v = report.get("video") or {}
            if v.get("views", 1) > 1:
                parts.append(f"MV-HEVC, two views (spatial video), each {v['width'] // 2}x{v['height']}, read as "
                             "full side by side, left view first")
            else:
                parts.append("MV-HEVC, two views (spatial video) declared, but only the first decodes here")
        if vr["stereo"] and vr["views"] < 2:
            parts.append(f"{vr['stereo']}" + (f" ({vr['layout']})" if vr["layout"] else ""))
        if vr["projection"] and vr["projection"] != "rectilinear":
            proj = vr["projection"] + (f" ({len(vr['meshes'])} mesh{'es' if len(vr['meshes']) > 1 else ''})"
                                       if vr["meshes"] else "")
            parts.append(f"projection {proj}")
        if vr["fov_deg"]:
            parts.append(f"field of view {vr['fov_deg'][0]:g}° x {vr['fov_deg'][1]:g}°")
        out.append(f"  stereo: {', '.join(parts)}; from the file's metadata ({vr['source']})")
        out.extend(f"    note: {n}" for n in vr["notes"])
    pictures = report.get("stereo_from_pictures")
    if pictures:
        out.append(f"  stereo: {pictures['layout']} (confidence {pictures['confidence']:.2f}); detected from the "
                   "pictures: the file declares no stereo metadata")
    return out
