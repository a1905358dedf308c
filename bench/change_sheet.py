"""Where a change to the engine shows: the output frames it alters most, as source / before / after crops.

Two folders written by ``bench/xrecon_all.py`` (or ``xrecon.py``) with the same clips, one per version of the
engine: every output frame of both is compared (99.5th percentile of the per-pixel difference), and the frames
that differ most are cut out around where they differ, beside the clip's frame of the same index, in a
contact sheet. Found with it (2026-12-05): a second jaw line under the chin on four of six real heads, which the
mouth crops of the looks bench never showed.

usage: python bench/change_sheet.py BEFORE_DIR AFTER_DIR SHEET.png [--first K] [--count N] [--size PX]
       [--per-result N] [--zoom Z]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def _frames(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def ranked(before: Path, after: Path) -> list[tuple[float, str, str, int]]:
    """(difference, clip folder, direction like ``A_to_B``, frame) for every output frame, largest first."""
    rows = []
    for folder in sorted(p for p in before.iterdir() if p.is_dir()):
        for name in sorted(folder.glob("*_to_*_builtin.mp4")):
            other = after / folder.name / name.name
            if not other.exists():
                continue
            for k, (x, y) in enumerate(zip(_frames(name), _frames(other))):
                d = np.abs(x.astype(np.int16) - y.astype(np.int16)).max(-1)
                rows.append((float(np.percentile(d, 99.5)), folder.name, name.name[:-len("_builtin.mp4")], k))
    return sorted(rows, reverse=True)


def main() -> int:
    import cv2

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("sheet", type=Path)
    ap.add_argument("--first", type=int, default=0, help="skip this many of the most changed frames")
    ap.add_argument("--count", type=int, default=8)
    ap.add_argument("--size", type=int, default=220, help="crop size in pixels")
    ap.add_argument("--per-result", type=int, default=0,
                    help="at most this many frames from each clip and direction (0: no limit)")
    ap.add_argument("--zoom", type=float, default=1.0, help="enlarge each crop this many times (Lanczos)")
    args = ap.parse_args()
    rows = ranked(args.before, args.after)
    if args.per_result > 0:
        seen: dict[tuple[str, str], int] = {}
        kept = []
        for row in rows:
            key = (row[1], row[2])
            if seen.get(key, 0) < args.per_result:
                seen[key] = seen.get(key, 0) + 1
                kept.append(row)
        rows = kept
    print(f"{len(rows)} frames compared; most changed:")
    tiles = []
    s = args.size
    for diff, clip, direction, k in rows[args.first:args.first + args.count]:
        print(f"  {diff:6.1f}  {clip} {direction} frame {k}")
        src = _frames(args.before / clip / f"pic_{direction[0]}.mp4")
        x = _frames(args.before / clip / f"{direction}_builtin.mp4")[k]
        y = _frames(args.after / clip / f"{direction}_builtin.mp4")[k]
        d = np.abs(x.astype(np.int16) - y.astype(np.int16)).max(-1)
        ys, xs = np.nonzero(d > 20) if (d > 20).any() else np.nonzero(d >= d.max())
        y0, x0 = max(int(np.median(ys)) - s // 2, 0), max(int(np.median(xs)) - s // 2, 0)
        crops = [np.pad(im, ((0, s), (0, s), (0, 0)))[y0:y0 + s, x0:x0 + s] for im in (src[min(k, len(src) - 1)], x, y)]
        if args.zoom != 1.0:
            crops = [cv2.resize(c, None, fx=args.zoom, fy=args.zoom, interpolation=cv2.INTER_LANCZOS4) for c in crops]
        tile = np.concatenate(crops, 1).copy()
        cv2.putText(tile, f"{clip[:14]} {direction} {k}: source | before | after", (4, 14), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4, (255, 255, 0), 1)
        tiles.append(tile)
    if not tiles:
        print("nothing to compare")
        return 1
    if len(tiles) % 2:
        tiles.append(np.zeros_like(tiles[0]))
    sheet = np.concatenate([np.concatenate(tiles[i:i + 2], 1) for i in range(0, len(tiles), 2)], 0)
    cv2.imwrite(str(args.sheet), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"wrote {args.sheet}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
