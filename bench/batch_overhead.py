"""The batch's overhead: a batch of short clips against the same jobs run one after another with ``sync``.

Makes ``--clips`` talking clips (``--size`` px, ``--syllables`` of speech: ~2-3 s) and ``--langs`` dubs, then
times, each with a fresh analysis cache so neither borrows the other's face tracking:

- ``sequential``: ``lipsync-studio -q sync CLIP DUB -o OUT`` for every (clip, dub), one after another (what a
  studio does by hand today; each command measures its result, as the batch does);
- ``batch``: ``lipsync-studio -q batch MANIFEST -o DIR`` on a private local Ray limited to ``--batch-cpus`` CPUs
  (default 1: the same one-job-at-a-time as the sequential run, so the ratio is the batch's own overhead:
  Ray's start, the task layer, sidecars, close-ups, the report), and, with ``--also-all-cores``, on all cores.

Prints one JSON line with the wall seconds of each run and ``ratio`` = fastest batch / fastest sequential (the bar:
<= 1.15). ``--repeat N`` alternates the order of the variants (ABBA) against a shared machine's drifting load.

    python bench/batch_overhead.py --clips 4 --langs 2 --repeat 2 --out /tmp/batch-bench
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
    """Wall seconds of ``cmd``. (Not CPU seconds: Ray's processes leave the process tree, so their CPU would
    not be counted.)"""
    env = {**os.environ, "LIPSYNC_STUDIO_CACHE_DIR": str(cache)}
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", type=int, default=4)
    p.add_argument("--langs", type=int, default=2)
    p.add_argument("--size", type=int, default=192, help="clip size in px")
    p.add_argument("--syllables", type=int, default=7, help="speech per clip and dub (~0.4 s each)")
    p.add_argument("--batch-cpus", type=int, default=1, help="CPUs of the batch's local Ray (default 1)")
    p.add_argument("--also-all-cores", action="store_true", help="also time the batch on every core")
    p.add_argument("--repeat", type=int, default=1, help="runs of each variant, alternating their order (fastest kept)")
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

    def sequential(r: int) -> float:
        seq_dir = out / f"sequential-{r}"
        seq_dir.mkdir()
        return sum(_run(cli + ["sync", str(clip), str(dubs[lang]), "-o", str(seq_dir / f"clip{i}_{lang}.mp4")],
                        out / f"cache-seq-{r}") for i, clip in enumerate(clips) for lang in langs)

    def batch(r: int, cpus: int | None) -> float:
        extra = ["--num-cpus", str(cpus)] if cpus else []
        return _run(cli + ["batch", str(manifest), "-o", str(out / f"batch-{cpus or 'all'}-{r}"), *extra],
                    out / f"cache-batch-{cpus or 'all'}-{r}")

    # A shared machine's load drifts: alternate the order (ABBA) and keep each variant's fastest run.
    t_seq, t_batch, t_all = [], [], []
    for r in range(args.repeat):
        order = ["seq", "batch"] if r % 2 == 0 else ["batch", "seq"]
        for what in order:
            if what == "seq":
                t_seq.append(sequential(r))
            else:
                t_batch.append(batch(r, args.batch_cpus))
                if args.also_all_cores:
                    t_all.append(batch(r, None))
    report = {"jobs": len(clips) * len(langs), "clip_px": args.size, "repeat": args.repeat,
              "sequential_s": [round(t, 2) for t in t_seq], f"batch_{args.batch_cpus}cpu_s": [round(t, 2) for t in t_batch],
              "ratio": round(min(t_batch) / min(t_seq), 3)}
    if args.also_all_cores:
        report["batch_all_cores_s"] = [round(t, 2) for t in t_all]
        report["ratio_all_cores"] = round(min(t_all) / min(t_seq), 3)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
