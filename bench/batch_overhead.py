"""The batch's overhead: a batch of short clips against the same jobs run one after another with ``sync``.

Makes ``--clips`` talking clips (``--size`` px, ``--syllables`` of speech: ~2-3 s) and ``--langs`` dubs, then
times, each with a fresh analysis cache so neither borrows the other's face tracking:

- ``sequential``: ``lipsync-studio -q sync CLIP DUB -o OUT`` for every (clip, dub), one after another (what a
  studio does by hand today; each command measures its result, as the batch does);
- ``batch``: ``lipsync-studio -q batch MANIFEST -o DIR`` on a private local Ray limited to ``--batch-cpus`` CPUs
  (default 1: the same one-job-at-a-time as the sequential run, so the ratio is the batch's own overhead:
  Ray's start, the task layer, sidecars, close-ups, the report), and, with ``--also-all-cores``, on all cores.

Prints one JSON line with the seconds of each and ``ratio`` = batch / sequential (the bar: <= 1.15).

    python bench/batch_overhead.py --clips 4 --langs 2 --out /tmp/batch-bench
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path


def _run(cmd: list[str], cache: Path) -> float:
    env = {**os.environ, "LIPSYNC_STUDIO_CACHE_DIR": str(cache)}
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", type=int, default=4)
    p.add_argument("--langs", type=int, default=2)
    p.add_argument("--size", type=int, default=192, help="clip size in px")
    p.add_argument("--syllables", type=int, default=7, help="speech per clip and dub (~0.4 s each)")
    p.add_argument("--batch-cpus", type=int, default=1, help="CPUs of the batch's local Ray (default 1)")
    p.add_argument("--also-all-cores", action="store_true", help="also time the batch on every core")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()

    from lipsync_studio.demo import make_dub, make_talking_clip

    out = args.out
    shutil.rmtree(out, ignore_errors=True)
    media = out / "media"
    media.mkdir(parents=True)
    clips = [make_talking_clip(media / f"clip{i}.mp4", seed=1 + i, syllables=args.syllables, size=args.size)["path"]
             for i in range(args.clips)]
    langs = ["es", "fr", "de", "it", "pt-BR", "ja"][:args.langs]
    dubs = {lang: make_dub(media / f"dub_{lang}.wav", seed=7 + j, syllables=args.syllables)["path"]
            for j, lang in enumerate(langs)}
    manifest = out / "manifest.csv"
    with open(manifest, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["clip", "lang", "video", "dub"])
        for i, clip in enumerate(clips):
            for lang in langs:
                w.writerow([f"clip{i}", lang, str(clip), str(dubs[lang])])
    cli = [sys.executable, "-m", "lipsync_studio.cli", "-q"]
    seq_dir = out / "sequential"
    seq_dir.mkdir()
    t_seq = 0.0
    for i, clip in enumerate(clips):
        for lang in langs:
            t_seq += _run(cli + ["sync", str(clip), str(dubs[lang]), "-o", str(seq_dir / f"clip{i}_{lang}.mp4")],
                          out / "cache-seq")
    t_batch = _run(cli + ["batch", str(manifest), "-o", str(out / "batch"), "--num-cpus", str(args.batch_cpus)],
                   out / "cache-batch")
    report = {"jobs": len(clips) * len(langs), "clip_px": args.size, "sequential_s": round(t_seq, 2),
              f"batch_{args.batch_cpus}cpu_s": round(t_batch, 2), "ratio": round(t_batch / t_seq, 3)}
    if args.also_all_cores:
        t_all = _run(cli + ["batch", str(manifest), "-o", str(out / "batch-all")], out / "cache-all")
        report["batch_all_cores_s"] = round(t_all, 2)
        report["ratio_all_cores"] = round(t_all / t_seq, 3)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
