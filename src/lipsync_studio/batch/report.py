"""The QC report: ``DIR/report.html``, one self-contained page a reviewer works through, worst results first.

Per job: the mouth close-ups (inline JPEG), the sync measures against what real speech scores on the same
measure, the mouth's looks (sharpness, lip colour) against the clip's own frames, a small plot of the result's
mouth opening over the dub's loudness, the warnings, links to the files.
Failed jobs come first with their error. Every text that comes from the manifest, a file name or an error
message is HTML-escaped; the page's only script is its own sorting, and it reads data attributes, never HTML.
"""

from __future__ import annotations

import base64
import html
import math
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .. import __version__
from .manifest import BatchJob
from .sidecar import read_sidecar, sidecar_path

#: The weight-free sync measure (metrics/sync.py) on real talking heads with their own speech: six clips of
#: 7-8 s (five HDTF speakers and one LivePortrait driving clip, 25 fps), measured with ``lipsync-studio eval``.
#: A result inside these ranges moves its mouth with its sound about as much as real speech does.
REAL_SPEECH = {"correlation": (0.12, 0.54), "confidence": (0.10, 0.35)}
FACE_FOUND_MIN = 0.9


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _timing_words(lead_s: float) -> str:
    """``"the mouth leads the sound by 140 ms (real speakers lead by 40-320 ms)"``."""
    from ..metrics.sync import describe_lead, real_lead_words

    return f"the mouth {describe_lead(lead_s)} ({real_lead_words()})"


def findings(sidecar: dict[str, Any]) -> list[tuple[int, str]]:
    """What a reviewer should look at in a finished job: ``(severity 1 note .. 3 bad, text)``, worst first."""
    from ..metrics.sync import MouthLead, real_lead_words

    out: list[tuple[int, str]] = []
    sync = sidecar.get("sync") or {}
    conf, corr = sync.get("confidence"), sync.get("correlation")
    lo_c, hi_c = REAL_SPEECH["confidence"]
    if conf is None:
        out.append((3, "no sync measure"))
    elif conf < lo_c / 2:
        out.append((3, f"mouth hardly follows the dub (confidence {conf:.2f}; real speech {lo_c:.2f}-{hi_c:.2f})"))
    elif conf < lo_c:
        out.append((2, f"weak sync (confidence {conf:.2f}; real speech {lo_c:.2f}-{hi_c:.2f})"))
    if corr is not None and corr < REAL_SPEECH["correlation"][0]:
        out.append((2, f"low correlation of mouth and sound ({corr:.2f})"))
    lead = MouthLead.from_dict(sync.get("lead"))
    if lead is not None:
        state, by = lead.judge(float((sidecar.get("result") or {}).get("fps") or 25.0))
        if state == "out":
            out.append((3, f"{lead.out_of_sync_words(by)} ({real_lead_words()})"))
    out += looks_findings((sidecar.get("qc") or {}).get("looks"))
    found = (sidecar.get("qc") or {}).get("face_found")
    if found is not None and found < FACE_FOUND_MIN:
        out.append((3 if found < 0.5 else 2, f"face found in only {found:.0%} of the result's frames"))
    for w in sidecar.get("warnings") or []:
        out.append((2, str(w)))
    if (sidecar.get("attempt") or {}).get("attempts", 1) > 1:
        out.append((1, f"took {sidecar['attempt']['attempts']} attempts (a worker or node was lost)"))
    return sorted(out, key=lambda f: -f[0])


def _num(x: Any) -> str:
    return f"{x:.2f}" if isinstance(x, (int, float)) and math.isfinite(x) else "n/a"


def _frames(looks: dict[str, Any], key: str) -> str:
    frames = looks.get(key) or []
    return f": frames {', '.join(map(str, frames[:5]))}" if frames else ""


def looks_findings(looks: dict[str, Any] | None) -> list[tuple[int, str]]:
    """Where the result's mouth looks unlike the clip's own frames (the QC's looks, each verdict against what a
    real different frame of the clip scores): ``(2, text)`` each, naming the worst frames."""
    if not looks:
        return []
    v = looks.get("verdicts") or {}
    out = []
    # Softness is judged at the same mouth opening: a shut mouth drawn where the clip showed teeth has fewer edges
    # without being soft (the plain ratio, shown beside, falls for that too).
    if v.get("same_shape") is False:
        out.append((2, f"mouth softer than the clip's own of the same opening (sharpness "
                       f"{_num(looks.get('same_shape_median'))}; real frames "
                       f"{_num(looks.get('real_same_shape_median'))})" + _frames(looks, "softest_frames")))
    elif v.get("same_shape_worst_tenth") is False:
        out.append((2, f"some mouths softer than the clip's own of the same opening (worst tenth "
                       f"{_num(looks.get('same_shape_worst_tenth'))}; real frames "
                       f"{_num(looks.get('real_same_shape_worst_tenth'))})" + _frames(looks, "softest_frames")))
    if v.get("colour") is False:
        natural = max((x for x in (looks.get("real_colour_de"), looks.get("next_frame_colour_de"))
                       if isinstance(x, (int, float))), default=float("nan"))
        out.append((2, f"lips recoloured (dE {_num(looks.get('colour_de'))}; the clip's own change "
                       f"{_num(natural)})" + _frames(looks, "most_recoloured_frames")))
    if v.get("lip_size") is False:
        share = looks.get("area_in_range")
        out.append((2, "lips larger or smaller than the clip ever shows them"
                       + (f" in {1 - share:.0%} of frames" if isinstance(share, (int, float)) else "")))
    return out


def _looks_block(looks: dict[str, Any] | None) -> str:
    """The looks in two lines: sharpness (at the same mouth opening) and lip colour, the clip's own in brackets."""
    if not looks:
        return ""
    title = ("The result's mouth against the clip frames it was drawn into, in brackets a real different frame of "
             "the clip against the same frames. Sharpness: the median ratio at the same mouth opening (over all "
             f"frames {_num(looks.get('sharpness_median'))} [{_num(looks.get('real_sharpness_median'))}]: a shut "
             "mouth has fewer edges than teeth). Lip colour: the mean Lab difference of the lips.")
    return (f'<div class="meas looks" title="{_e(title)}"><span>sharpness</span> '
            f'<b>{_num(looks.get("same_shape_median"))}</b> [{_num(looks.get("real_same_shape_median"))}]<br>'
            f'<span>lip colour dE</span> <b>{_num(looks.get("colour_de"))}</b> '
            f'[{_num(looks.get("real_colour_de"))}]</div>')


def badness(sidecar: dict[str, Any]) -> float:
    """A sort key: higher is worse (findings first, then low sync confidence)."""
    conf = (sidecar.get("sync") or {}).get("confidence")
    return sum(10.0 ** s for s, _ in findings(sidecar)) + (1.0 - conf if conf is not None else 2.0)


def _plot(qc: dict[str, Any], width: int = 627, height: int = 72) -> str:
    """An inline SVG: the dub's loudness (blue area) and the result's mouth opening (orange line) over time."""
    mouth, loud = qc.get("mouth") or [], qc.get("loudness_db") or []
    n = max(len(mouth), len(loud))
    if n < 2:
        return f'<svg class="plot" width="{width}" height="{height}"></svg>'
    vals = [v for v in loud if v is not None]
    peak = max(vals) if vals else 0.0
    floor = max(min(vals) if vals else -100.0, peak - 45.0)
    m_vals = [v for v in mouth if v is not None]
    m_top = max(max(m_vals) if m_vals else 0.0, 1e-3)
    pad = 4

    def xy(i: int, v: float) -> str:
        return f"{pad + i * (width - 2 * pad) / (n - 1):.1f},{height - pad - v * (height - 2 * pad):.1f}"

    area = [xy(0, 0.0)] + [xy(i, min(1.0, max(0.0, (v - floor) / max(peak - floor, 1e-6))))
                           for i, v in enumerate(loud) if v is not None] + [xy(len(loud) - 1, 0.0)]
    segs, cur = [], []
    for i, v in enumerate(mouth):
        if v is None:
            if len(cur) > 1:
                segs.append(cur)
            cur = []
        else:
            cur.append(xy(i, min(1.0, v / m_top)))
    if len(cur) > 1:
        segs.append(cur)
    lines = "".join(f'<polyline points="{" ".join(s)}" fill="none" stroke="#f59e0b" stroke-width="1.6"/>'
                    for s in segs)
    frames = qc.get("frames") or n
    ticks = "".join(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{height - pad}" y2="{height}" stroke="#e2e8f0"/>'
                    for x in (pad + f / max(frames - 1, 1) * (width - 2 * pad) for f in qc.get("strip_frames", [])))
    lines += ticks
    secs = qc.get("frames", 0) / qc["fps"] if qc.get("fps") else 0.0
    return (f'<svg class="plot" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">'
            f'<title>mouth opening (orange) over the dub loudness (blue), {secs:.1f} s</title>'
            f'<rect width="{width}" height="{height}" fill="#0f172a"/>'
            f'<polygon points="{" ".join(area)}" fill="#38bdf8" fill-opacity="0.35" stroke="none"/>'
            f'{lines}<text x="{width - pad}" y="12" fill="#94a3b8" font-size="10" text-anchor="end">'
            f'{secs:.1f} s</text></svg>')


def _range_bar(label: str, value: float | None, lo: float, hi: float, top: float = 0.8) -> str:
    """A small bar: the real-speech range shaded, the job's value as a tick."""
    if value is None or not math.isfinite(value):
        return f'<div class="meas"><span>{_e(label)}</span> <b>n/a</b></div>'
    pos = min(1.0, max(0.0, value / top)) * 100
    ok = "in" if lo <= value <= hi else ("low" if value < lo else "high")
    return (f'<div class="meas {ok}"><span>{_e(label)}</span> <b>{value:.2f}</b>'
            f'<div class="bar" title="real speech {lo:.2f}-{hi:.2f}"><i style="left:{lo / top * 100:.1f}%;'
            f'width:{(hi - lo) / top * 100:.1f}%"></i><em style="left:{pos:.1f}%"></em></div></div>')


def _image(out_dir: Path, rel: str | None) -> str:
    if not rel:
        return ""
    p = out_dir / rel
    try:
        data = base64.b64encode(p.read_bytes()).decode("ascii")
    except OSError:
        return '<div class="noimg">close-ups missing</div>'
    return f'<img class="strip" alt="mouth close-ups" src="data:image/jpeg;base64,{data}">'


def _href(out_dir: Path, p: Path) -> str:
    try:
        rel = p.relative_to(out_dir).as_posix()
    except ValueError:
        return _e(p.as_uri())
    return _e(quote(rel))


def _job_row(out_dir: Path, job: BatchJob, sidecar: dict[str, Any] | None, error: str | None) -> str:
    heard = [f"stream #{job.options['dub_stream']}"] if job.options.get("dub_stream") is not None else []
    heard += [f"channels {', '.join(map(str, job.options['dub_channels']))}"] if job.options.get("dub_channels") else []
    sources = " + ".join(f"{role} {p.name}" + (f" ({', '.join(heard)})" if role == "dub" and heard else "")
                         for role, p in job.inputs.items())
    head = (f'<div class="id"><b>{_e(job.clip)}</b> <span class="lang">{_e(job.lang)}</span>'
            f'<div class="src" title="{_e(sources)}">{_e(sources)}</div></div>')
    if sidecar is None:
        state = "failed" if error is not None else "notdone"
        text = _e(error) if error is not None else "not done (cancelled or not run yet)"
        return (f'<tr class="{state}" data-bad="{1e9 if error is not None else 1e8}" data-clip="{_e(job.clip)}" '
                f'data-lang="{_e(job.lang)}" data-row="{job.row}"><td class="state">{state.upper()}</td><td>{head}</td>'
                f'<td colspan="3" class="error">{text}</td></tr>')
    sync = sidecar.get("sync") or {}
    qc = sidecar.get("qc") or {}
    found = findings(sidecar)
    level = max((s for s, _ in found), default=0)
    notes = "".join(f'<li class="s{s}">{_e(t)}</li>' for s, t in found) or '<li class="s0">no findings</li>'
    links = " ".join(f'<a href="{_href(out_dir, out_dir / job.clip / o["name"])}">{_e(o["name"])}</a>'
                     for o in sidecar.get("outputs", []))
    links += f' <a class="side" href="{_href(out_dir, sidecar_path(out_dir, job))}">sidecar</a>'
    lead = (sync.get("lead") or {}).get("lead_s")
    att = sidecar.get("attempt") or {}
    timing = ""
    if isinstance(lead, (int, float)):
        timing = f'<span title="{_e(_timing_words(lead))}">timing {1000 * lead:+.0f} ms</span> · '
    meta = (f'{sidecar.get("result", {}).get("duration", 0):.1f} s · ' + timing
            + f'{_e(att.get("host", ""))} · {att.get("attempts", 1)} attempt(s)')
    state = {0: "ok", 1: "ok", 2: "check", 3: "bad"}[level]
    return (f'<tr class="{state}" data-bad="{badness(sidecar):.4f}" data-clip="{_e(job.clip)}" '
            f'data-lang="{_e(job.lang)}" data-row="{job.row}"><td class="state">{state.upper()}</td>'
            f'<td>{head}<div class="links">{links}</div><div class="meta">{meta}</div></td>'
            f'<td>{_image(out_dir, qc.get("image"))}{_plot(qc) if qc else ""}</td>'
            f'<td>{_range_bar("confidence", sync.get("confidence"), *REAL_SPEECH["confidence"])}'
            f'{_range_bar("correlation", sync.get("correlation"), *REAL_SPEECH["correlation"])}'
            f'{_looks_block(qc.get("looks"))}</td>'
            f'<td><ul class="notes">{notes}</ul></td></tr>')


_CSS = """
body{font:13px/1.4 system-ui,sans-serif;background:#0b1120;color:#e2e8f0;margin:16px}
h1{font-size:18px;margin:0 0 4px}.sum{color:#94a3b8;margin-bottom:10px}.sum b{color:#e2e8f0}
button{background:#1e293b;color:#e2e8f0;border:1px solid #334155;border-radius:4px;padding:3px 9px;cursor:pointer}
button.on{background:#2563eb}table{border-collapse:collapse;width:100%;margin-top:8px}
td{border-top:1px solid #1e293b;padding:6px 8px;vertical-align:top}
td.state{font-weight:700;font-size:11px;width:56px}tr.ok td.state{color:#4ade80}tr.check td.state{color:#fbbf24}
tr.bad td.state,tr.failed td.state{color:#f87171}tr.notdone td.state{color:#94a3b8}
.lang{background:#1e293b;border-radius:3px;padding:0 5px}.src,.meta{color:#94a3b8;font-size:11px;max-width:260px;
overflow-wrap:anywhere}.links a{color:#93c5fd;margin-right:6px}.strip{display:block;height:56px;border-radius:3px}
.plot{display:block;margin-top:4px;border-radius:3px}.error{color:#fca5a5;white-space:pre-wrap;overflow-wrap:anywhere}
.meas{margin-bottom:8px;width:170px}.meas span{color:#94a3b8}.meas.low b{color:#f87171}.meas.in b{color:#4ade80}
.bar{position:relative;height:6px;background:#1e293b;border-radius:3px;margin-top:2px}
.bar i{position:absolute;top:0;bottom:0;background:#166534}.bar em{position:absolute;top:-3px;width:2px;height:12px;
background:#f8fafc}.notes{margin:0;padding-left:16px}.notes .s3{color:#f87171}.notes .s2{color:#fbbf24}
.notes .s1,.notes .s0{color:#94a3b8}.legend{color:#94a3b8;font-size:11px}
"""

_JS = """
function sortBy(key){
  const body=document.querySelector('tbody');const rows=Array.from(body.rows);
  const num=(r,k)=>parseFloat(r.dataset[k]);
  rows.sort((a,b)=>key==='bad'?num(b,'bad')-num(a,'bad'):
    key==='row'?num(a,'row')-num(b,'row'):(a.dataset[key]+'_'+a.dataset.lang).localeCompare(b.dataset[key]+'_'+b.dataset.lang));
  rows.forEach(r=>body.appendChild(r));
  document.querySelectorAll('button').forEach(b=>b.classList.toggle('on',b.dataset.key===key));
}
document.querySelectorAll('button').forEach(b=>b.addEventListener('click',()=>sortBy(b.dataset.key)));
sortBy('bad');
"""


def write_report(out_dir: Path, jobs: list[BatchJob], failed: dict[str, str] | None = None,
                 settings: dict[str, Any] | None = None) -> Path:
    """Write ``out_dir/report.html`` for ``jobs``.

    Parameters
    ----------
    failed: key -> error of the jobs that failed in this run (shown as failed even where an older result exists).
    settings: the batch settings; a job shows as done only when its sidecar matches its inputs, options and
        these settings (a stale result of changed inputs shows as not done).
    """
    from .sidecar import why_not_done

    import hashlib

    from ..media.output import temporary_sibling

    failed = failed or {}
    rows, counts = [], {"ok": 0, "check": 0, "bad": 0, "failed": 0, "notdone": 0}
    for job in jobs:
        current = job.key not in failed and (settings is None or why_not_done(job, out_dir, settings) is None)
        sc = read_sidecar(sidecar_path(out_dir, job)) if current else None
        row = _job_row(out_dir, job, sc, failed.get(job.key))
        rows.append(row)
        counts[row.split('"', 2)[1]] += 1
    # Only this page's own script may run, even if some text were ever left unescaped.
    script_hash = "sha256-" + base64.b64encode(hashlib.sha256(_JS.encode()).digest()).decode()
    summary = " · ".join(f"<b>{v}</b> {k.replace('notdone', 'not done')}" for k, v in counts.items() if v)
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
            f'style-src \'unsafe-inline\'; script-src \'{script_hash}\'">'
            f'<title>Lipsync Studio batch QC — {len(jobs)} jobs</title><style>{_CSS}</style></head><body>'
            f'<h1>Batch QC report</h1><div class="sum">{len(jobs)} jobs: {summary} · {_e(str(out_dir))} · '
            f'lipsync-studio {_e(__version__)} · {time.strftime("%Y-%m-%d %H:%M")}</div>'
            f'<div>sort: <button data-key="bad">worst first</button> <button data-key="clip">clip</button> '
            f'<button data-key="row">manifest order</button></div>'
            f'<div class="legend">Close-ups: the result\'s mouth at the loudest moment of each eighth of the '
            f'clip (ticks under the plot): a closed mouth there is a miss. Plot: the dub\'s loudness (blue) and the '
            f'result\'s mouth opening (orange) over time. Bars: the job\'s sync measure; '
            f'green: where real speech scores ({REAL_SPEECH["confidence"][0]:.2f}-{REAL_SPEECH["confidence"][1]:.2f} '
            f'confidence); a result far above it follows the dub\'s loudness more tightly than real speech does (this measure '
            f'rewards that: it finds a mouth that does not follow the sound, it does not grade a good one). '
            f'Sharpness (at the same mouth opening) and lip colour: the result\'s mouth against the clip frames it '
            f'was drawn into, in brackets what a real different frame of the clip scores against the same '
            f'frames.</div>'
            f'<table><tbody>{"".join(rows)}</tbody></table><script>{_JS}</script></body></html>')
    path = out_dir / "report.html"
    tmp = temporary_sibling(path)
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path
