"""``lipsync-studio cut CUT``: list the shots of an editor's cut (OTIO, EDL) and, with ``--dub DUB -o DIR``, sync
each shot's range to the programme's dub and write the synced shots back as a timeline (``DIR/<cut>_synced.otio``)
to open in the editing software."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_cut_command(sub, add_output_format) -> None:
    """Add the ``cut`` subcommand to the command line's subparsers."""
    p = sub.add_parser("cut", help="list the shots of an editing cut (.otio, .edl); with --dub and -o, sync each "
                                   "shot to the dub and write the synced shots as a timeline")
    p.add_argument("cut", type=Path, metavar="CUT", help="an OpenTimelineIO timeline (.otio) or a CMX 3600 EDL")
    p.add_argument("--dub", type=Path, metavar="DUB",
                   help="the programme's new sound, from the cut's start: each shot hears it from its place")
    p.add_argument("-o", "--output-dir", type=Path, metavar="DIR",
                   help="with --dub: write the synced shots (NN_name.mp4) and CUT_synced.otio here")
    p.add_argument("--rate", type=float, metavar="FPS",
                   help="an EDL's frame rate (EDLs do not say it; default: the first shot's media file's)")
    p.add_argument("--engine", choices=["auto", "builtin", "wav2lip", "none"], default="auto")
    p.add_argument("--no-measure", action="store_true", help="skip measuring each shot's sync")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    add_output_format(p)


def cmd_cut(args: argparse.Namespace, fmt) -> int:
    """Run ``cut`` (``fmt``: the encoder settings from the output options); the exit code."""
    from ..engine.sync_job import SyncOptions
    from ..errors import OptionError
    from .range_export import sync_range_only
    from .timeline_io import cut_requests, describe_shots, read_cut, write_timeline

    shots = read_cut(args.cut, args.rate)
    if args.dub is None:
        if args.json:
            print(json.dumps({"cut": str(args.cut), "shots": describe_shots(shots)}, indent=2))
        else:
            print(f"{args.cut}: {len(shots)} shot{'s' if len(shots) != 1 else ''}")
            for i, s in enumerate(shots, 1):
                print(f"{i:3d}  {s.name:<24.24}  {s.media.name}  source {s.source_start_s:.2f}-"
                      f"{s.source_start_s + s.duration_s:.2f} s  at {s.record_start_s:.2f} s on the cut")
        return 0
    if args.output_dir is None:
        raise OptionError("--dub needs -o DIR: where the synced shots and their timeline go")
    missing = [s for s in shots if not s.media.is_file()]
    if missing:
        raise OptionError("the cut's media are missing: " + ", ".join(f"{s.name} ({s.media})" for s in missing))
    args.output_dir.mkdir(parents=True, exist_ok=True)
    opts = SyncOptions(engine=args.engine, measure=not args.no_measure, fmt=fmt)
    placed = []
    for i, (shot, request) in enumerate(zip(shots, cut_requests(shots, args.dub, args.output_dir, opts)), 1):
        if not args.quiet:
            print(f"shot {i}/{len(shots)}: {shot.name} ({shot.duration_s:.2f} s)", flush=True)
        result = sync_range_only(request)
        placed.append((result, shot.media, args.dub, shot.record_start_s))
    timeline = write_timeline(args.output_dir / f"{args.cut.stem}_synced.otio", placed,
                              name=f"{args.cut.stem} (synced)", dub=args.dub)
    if args.json:
        print(json.dumps({"timeline": str(timeline), "shots": [
            {"name": s.name, "output": str(r.output), "frames": r.frames, "record_start_s": s.record_start_s,
             "sync": None if r.sync is None else r.sync.as_dict(), "warnings": list(r.warnings)}
            for s, (r, *_) in zip(shots, placed)]}, indent=2))
    else:
        print(f"wrote {len(placed)} synced shot{'s' if len(placed) != 1 else ''} and {timeline}")
    return 0
