"""The command line: ``lipsync-studio sync|probe|demo|bench …``, the batch twin of the app.

Exit codes: 0 done, 2 bad usage or bad input (a one-line message, no traceback), 1 internal error, 130 / 143
stopped by SIGINT (Ctrl+C) / SIGTERM (nothing left behind). ``-q`` and ``--debug`` go before or after the
command; ``--debug`` shows tracebacks and the native libraries' own log lines. Heavy libraries load only
inside the command that needs them, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import warnings
from pathlib import Path

from . import __version__
from .errors import Cancelled, OptionError, OutputError, UserError


def face_ids(text: str) -> int | tuple[int, ...]:
    """``--face``: a track id, or several joined by commas (one person seen as several faces)."""
    try:
        ids = tuple(int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a face id or a list of them: {text!r} (e.g. 0, or 0,2)") from None
    return ids[0] if len(ids) == 1 else ids


def _channels(text: str) -> tuple[int, ...]:
    """``--dub-channels``: channels numbered from 1 (``5,6`` or ``5-6``)."""
    from .engine.dub import parse_channels

    try:
        return parse_channels(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of channels: {text!r} (e.g. 3, 5,6 or 5-6)") from None


def _add_output_format(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("output")
    g.add_argument("--codec", choices=["h264", "hevc", "vp9", "prores", "dnxhr"], default="h264",
                   help="prores (ProRes 422 HQ) and dnxhr (Avid DNxHR HQ) are editing masters, in .mov")
    g.add_argument("--crf", type=int, default=18,
                   help="quality: lower is better (default 18: visually lossless, the picture's grain kept)")
    g.add_argument("--preset", default="veryfast",
                   help="x264/x265 speed preset (default veryfast; CRF sets quality; slower: smaller files)")
    g.add_argument("--pix-fmt", choices=["yuv420p", "yuv444p"], default="yuv420p")
    g.add_argument("--audio", choices=["auto", "aac", "pcm"], default="auto",
                   help="the sound's codec: pcm (24-bit, .mov/.mkv: the dub exactly as delivered), aac, or auto "
                        "(default: pcm beside prores and dnxhr, aac otherwise)")


def _format_from(args: argparse.Namespace):
    from .media.writer import VideoFormat

    return VideoFormat(codec=args.codec, crf=args.crf, preset=args.preset, pix_fmt=args.pix_fmt, audio=args.audio)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used by the docs and tests)."""
    parser = argparse.ArgumentParser(
        prog="lipsync-studio",
        description="Lip-sync dubbing for 2D and stereoscopic video, with a 3D face mesh for every frame.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_global_options(parser, False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("sync", help="make VIDEO follow the DUB audio and write OUT")
    p.add_argument("video", type=Path, metavar="VIDEO")
    p.add_argument("dub", type=Path, metavar="DUB", help="the new audio (any audio file, or a video's sound)")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT",
                   help="the file written, exactly (.mp4, .mov, .mkv or .webm); a folder: CLIP_synced.mp4 in it")
    p.add_argument("--dub-offset", type=float, default=0.0, metavar="MS",
                   help="shift the dub by MS milliseconds (positive: later, it starts with silence; negative: "
                        "earlier) for a dub that is slightly early or late")
    p.add_argument("--dub-stream", type=int, metavar="N",
                   help="the dub's audio stream to hear and to put in the output, numbered as `probe DUB` lists "
                        "them (a delivery holding the mix, the M&E and the dialogue: choose the dialogue); default: "
                        "the file's main audio stream")
    p.add_argument("--dub-channels", type=_channels, metavar="LIST",
                   help="only these channels of the dub's stream, numbered from 1 as a mixer does (5,6 or 5-6: a "
                        "polyphonic file of stems, its dialogue pair); default: all (a 5.1/7.1 heard from its centre)")
    p.add_argument("--json", action="store_true", help="print the result as JSON (machine-readable)")
    p.add_argument("--extend", choices=["pingpong", "hold", "loop", "trim-audio"], default="pingpong",
                   help="when the dub is longer than the clip (default: pingpong, no visible jump)")
    p.add_argument("--shorten", choices=["trim-picture", "pad-silence"], default="trim-picture",
                   help="when the dub is shorter than the clip (default: trim-picture)")
    p.add_argument("--engine", choices=["auto", "builtin", "wav2lip", "none"], default="auto",
                   help="auto: Wav2Lip when its weights are in the models folder, else the built-in engine; "
                        "none: re-time the picture only")
    p.add_argument("--face", type=face_ids, metavar="ID[,ID...]",
                   help="which face to sync (track id; default: the largest face); several ids (0,2) are one person "
                        "the tracker saw as several faces, in different shots")
    p.add_argument("--no-measure", action="store_true", help="skip measuring the result's sync")
    p.add_argument("--start", type=float, metavar="SEC",
                   help="sync only from SEC seconds of the output on (with --end: a range, spliced into the whole "
                        "clip; the rest is the clip re-timed, unchanged)")
    p.add_argument("--end", type=float, metavar="SEC", help="sync only up to SEC seconds of the output")
    p.add_argument("--otio", type=Path, metavar="FILE.otio",
                   help="also write an OpenTimelineIO timeline referencing the synced file at its place (editing "
                        "software reads it: Resolve, Premiere, Avid through their adapters)")
    p.add_argument("--range-only", action="store_true",
                   help="with --start/--end: write only that range (its frames and its stretch of the dub), not "
                        "spliced into the whole clip")
    p.add_argument("--script", type=Path, metavar="FILE",
                   help="the dub's text (.txt, .srt or .vtt): its phones are aligned to the dub (built-in engine)")
    p.add_argument("--script-lang", default="en", metavar="LANG",
                   help="the script's language as an espeak-ng voice: en (default), de, fr, es, ...")
    p.add_argument("--device", default="auto", help="where networks run: auto (CUDA, MPS, CPU), cpu, cuda, cuda:N, mps")
    p.add_argument("--stereo-mode", choices=["consistent", "independent", "cycle"], default="consistent",
                   help="for a stereo clip: consistent (default: the left eye's change carried to the right "
                        "through the pair's disparity), independent (each eye on its own), cycle (trained model)")
    from .stereo.cli import add_stereo_io_options

    add_stereo_io_options(p)
    _add_output_format(p)

    p = sub.add_parser("eval", help="measure how well a video's mouth follows its sound (or a dub)")
    p.add_argument("video", type=Path, metavar="VIDEO")
    p.add_argument("--dub", type=Path, metavar="AUDIO", help="the sound to measure against (default: the video's own)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    from .stereo.cli import add_eval_stereo_options, add_stereoize_command

    add_eval_stereo_options(p)
    add_stereoize_command(sub, _add_output_format)

    p = sub.add_parser("mesh", help="export the speaker's 3D face for every frame as an OBJ sequence or one "
                                    "animated file (USD, USDZ, glTF, GLB)")
    p.add_argument("video", type=Path, metavar="VIDEO")
    p.add_argument("-o", "--output", type=Path, metavar="OUT",
                   help="a new (or empty) folder for OBJ, or a file: .usd/.usda/.usdc, .usdz, .gltf, .glb")
    p.add_argument("--format", choices=["obj", "usd", "usdz", "gltf", "glb"],
                   help="default: from OUT's extension (none: an OBJ folder)")
    p.add_argument("--backend", choices=["auto", "facemesh", "prnet"], default="auto",
                   help="auto: PRNet when its weights are in the models folder, else the built-in FaceMesh mesh")
    p.add_argument("--face", type=int, help="which face (track id; default: the largest face)")
    p.add_argument("--start", type=float, metavar="S", help="first second to export (default: the start)")
    p.add_argument("--end", type=float, metavar="S", help="second to stop at (default: the end)")
    p.add_argument("--vertex-colors", action="store_true", help="vertex colours instead of per-frame textures")
    p.add_argument("--texture-size", type=int, default=512, help="texture width/height in pixels (default 512)")
    p.add_argument("--video", type=Path, metavar="OUT.mp4", dest="video_out",
                   help="render the face as a video (with the clip's sound over the range); -o is then optional")
    p.add_argument("--style", choices=["shaded", "wireframe", "textured"], default="shaded", help="for --video")
    p.add_argument("--camera", default="front", metavar="VIEW",
                   help="for --video: front, left, right (45° to the speaker's side), turntable, or AZ,EL degrees "
                        "(a negative azimuth as --camera=-30,10)")
    p.add_argument("--background", default="dark", metavar="COLOR",
                   help="for --video: #RRGGBB, R,G,B or black/white/grey/green/blue/dark (default)")
    p.add_argument("--stereo", action="store_true",
                   help="for --video: two virtual eyes, side by side (named *_LRF_Full_SBS for VR players)")
    p.add_argument("--dub", type=Path, metavar="DUB",
                   help="lip-sync VIDEO to DUB first (as `sync` does) and export the synced face, with the dub as "
                        "the video's sound (default: VIDEO's face as it is)")
    p.add_argument("--synced-video", type=Path, metavar="OUT.mp4", help="with --dub: keep the lip-synced 2D video here")

    p = sub.add_parser("probe", help="show what the app sees in a media file")
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("demo", help="make a sample talking clip and dub, and sync them")
    p.add_argument("-o", "--output-dir", type=Path, default=Path("demo-out"), metavar="DIR")

    p = sub.add_parser("bench", help="measure each stage's speed against decoding and encoding alone")
    p.add_argument("--clip", type=Path, help="a clip to measure (default: a generated 720p talking clip)")
    p.add_argument("--dub", type=Path, help="the dub for --clip (default: generated speech)")
    p.add_argument("--seconds", type=float, default=10.0, help="length of the generated clip (default 10)")
    p.add_argument("--height", type=int, default=720, help="height of the generated clip (default 720)")
    p.add_argument("--fps", type=float, default=25.0, help="frame rate of the generated clip (default 25)")
    p.add_argument("--preset", default="veryfast",
                   help="x264 preset every pass writes with (default veryfast, as sync): the encoder's share")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--repeat", type=int, default=1,
                   help="run each pass this many times and keep its fastest run (a shared machine's noise)")
    p.add_argument("--stereo", action="store_true",
                   help="measure the stereo modes on a generated side-by-side clip (--height: each eye's size) "
                        "against syncing one eye alone")

    p = sub.add_parser("train", help="the paper's training procedures (PRNet fine-tuning, the stereo cycle model)")
    train_sub = p.add_subparsers(dest="train_command", metavar="PROCEDURE", required=True)
    from .train.prnet_finetune import add_train_prnet_command
    from .train.stereo_cycle.cli import add_train_stereo_command

    add_train_prnet_command(train_sub)
    add_train_stereo_command(train_sub)  # `prepare VIDEOS -o DATA` and `stereo DATA -o OUT`

    from .batch.cli import add_batch_command

    add_batch_command(sub, _add_output_format)
    from .app.cut_command import add_cut_command

    add_cut_command(sub, _add_output_format)

    p = sub.add_parser("gui", help="open the desktop app (the default with no command, when a display is available)")
    p.add_argument("video", type=Path, nargs="?", metavar="VIDEO",
                   help="a clip to open, or a project file (.lsproj) to open with its dub, settings and previews")
    p.add_argument("dub", type=Path, nargs="?", metavar="DUB", help="a dub to open")
    _accept_global_options_anywhere(parser)
    return parser


def _add_global_options(p: argparse.ArgumentParser, default) -> None:
    p.add_argument("-q", "--quiet", action="store_true", default=default,
                   help="no progress bar, only results and errors")
    p.add_argument("--debug", action="store_true", default=default,
                   help="show Python tracebacks and the libraries' own log lines")


def _accept_global_options_anywhere(parser: argparse.ArgumentParser) -> None:
    """``-q`` and ``--debug`` before or after the command (``lipsync-studio sync … -q``).

    Each command's parser gets them too, with no default of its own (SUPPRESS), so that one given before the
    command is not reset by the command's parser.
    """
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # aliases share a parser
                if not any("--debug" in a.option_strings for a in sub._actions):
                    _add_global_options(sub, argparse.SUPPRESS)
                _accept_global_options_anywhere(sub)


class _Bar:
    """A terminal progress bar over job Progress events (rich, to stderr)."""

    def __init__(self, quiet: bool) -> None:
        # A bar in a log file is noise: draw it only on a terminal.
        self.quiet = quiet or not sys.stderr.isatty()
        self._progress = None
        self._tasks: dict[str, int] = {}

    def __enter__(self):
        if not self.quiet:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("{task.description:>8}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:>6.1f} fps"), TimeRemainingColumn(),
                console=Console(stderr=True), transient=True,
            )
            self._progress.__enter__()
        return self

    def __call__(self, ev) -> None:
        if self._progress is None:
            return
        task = self._tasks.get(ev.stage)
        if task is None:
            task = self._tasks[ev.stage] = self._progress.add_task(ev.stage, total=ev.total or None, rate=0.0)
        self._progress.update(task, completed=ev.done, total=ev.total or None, rate=ev.rate)

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)


_SAID: set[str] = set()


def _say_warning(message: str) -> None:
    """Print a warning for the user once: ``warning: <file>: <what>``."""
    if message not in _SAID:
        _SAID.add(message)
        print(f"warning: {message}", file=sys.stderr)


def _print_media_warnings_as_lines() -> None:
    """Media warnings (a damaged file, ...) reach the user as one line each, from any thread or stage."""
    from .media.warnings import MediaWarning

    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, MediaWarning):
            _say_warning(str(message))
        else:
            default(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def _cmd_sync(args: argparse.Namespace) -> int:
    from .engine.sync_job import SyncOptions, SyncRequest, run_sync

    opts = SyncOptions(extend=args.extend, shorten=args.shorten, fmt=_format_from(args), engine=args.engine,
                       face=args.face, measure=not args.no_measure, device=args.device,
                       start_s=args.start, end_s=args.end, script=args.script, script_lang=args.script_lang,
                       dub_stream=args.dub_stream, dub_channels=args.dub_channels)
    if args.right is None and args.dub_stream is None and args.dub_channels is None:  # the phones heard while the clip's layout is looked at
        from .sync.builtin.engine import hear_ahead

        hear_ahead(args.video, args.dub, args.engine, args.dub_offset)
    request = SyncRequest(args.video, args.dub, args.output, opts, dub_offset_ms=args.dub_offset,
                          stereo=_stereo_options(args) if _is_stereo_input(args) else None)
    if args.otio is not None and not args.otio.absolute().parent.is_dir():
        raise OutputError("the timeline's folder does not exist", path=args.otio.absolute().parent)
    if args.range_only and args.start is None and args.end is None:
        raise OptionError("--range-only needs --start and/or --end (the range to write)")
    with _Bar(args.quiet) as bar:
        if args.range_only:
            from .app.range_export import sync_range_only

            result = sync_range_only(request, on_progress=bar)
        else:
            result = run_sync(request, on_progress=bar)
    if args.otio is not None:
        from .app.timeline_io import write_timeline

        write_timeline(args.otio, [(result, args.video, args.dub, None)])
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    for note in result.warnings:
        _say_warning(note)
    names = ", ".join(str(p) for p in result.outputs)
    kind = f"stereo {result.layout}, {result.mode} mode; " if result.is_stereo else ""
    print(f"wrote {names} ({result.frames} frames, {result.duration:.2f} s at {result.fps:g} fps; "
          f"{kind}engine {result.engine})")
    if args.otio is not None:
        print(f"wrote the timeline {args.otio}")
    if result.sync is not None:
        print(("left eye " if result.is_stereo else "") + result.sync.summary())
    if result.sync_right is not None:
        print("right eye " + result.sync_right.summary())
    return 0


def _is_stereo_input(args: argparse.Namespace) -> bool:
    """Stereo when the user says so (--right, a stereo --layout) or, with --layout auto, when detected."""
    if args.right is not None:
        return True
    if args.layout != "auto":
        from .stereo.layout import StereoLayout

        return StereoLayout.parse(args.layout).is_stereo
    from .stereo.vr import resolve_layout

    layout = resolve_layout(args.video)[0]  # the file's metadata, else the pictures
    args.detected_layout = layout.value  # the stereo job need not look again
    return layout.is_stereo


def _stereo_options(args: argparse.Namespace):
    from .engine.sync_job import StereoOptions
    from .stereo.cli import stereo_io_from_args

    io = stereo_io_from_args(args)
    layout = getattr(args, "detected_layout", None) if io.layout == "auto" else io.layout
    return StereoOptions(layout=layout or io.layout, right=io.right, out_layout=io.out_layout or "same",
                         mode=args.stereo_mode, anaglyph=io.anaglyph, vr_name=io.vr_name)


def _cmd_eval(args: argparse.Namespace) -> int:
    from .stereo.cli import check_eval_args, cmd_eval_stereo

    if args.stereo:
        with _Bar(args.quiet) as bar:
            return cmd_eval_stereo(args, bar)
    check_eval_args(args)
    from .metrics.sync import evaluate_video

    score = evaluate_video(args.video, args.dub)
    looks = None
    if args.reference is not None:
        from .metrics.looks import evaluate_looks

        looks = evaluate_looks(args.video, args.reference)
    if args.json:
        print(json.dumps(score.as_dict() | ({"looks": looks.as_dict()} if looks is not None else {}), indent=2))
    else:
        print(score.summary() + (f"\n{looks.summary()}" if looks is not None else ""))
    return 0


def _cmd_stereoize(args: argparse.Namespace) -> int:
    from .stereo.cli import cmd_stereoize

    with _Bar(args.quiet) as bar:
        return cmd_stereoize(args, bar)


def _cmd_mesh(args: argparse.Namespace) -> int:
    from .engine.mesh_job import MeshOptions, run_mesh
    from .face.obj_export import ObjOptions

    from .errors import OptionError
    from .face.render3d import ViewOptions, parse_color

    try:
        view = ViewOptions(style=args.style, camera=args.camera, background=parse_color(args.background),
                           stereo=args.stereo).check()
    except ValueError as exc:
        raise OptionError(str(exc)) from exc
    opts = MeshOptions(start_s=args.start, end_s=args.end, face=args.face, backend=args.backend,
                       obj=ObjOptions(texture=not args.vertex_colors, texture_size=args.texture_size),
                       format=args.format, video=getattr(args, "video_out", None), view=view, dub=args.dub,
                       synced_video=args.synced_video)
    with _Bar(args.quiet) as bar:
        result = run_mesh(args.video, args.output, opts, on_progress=bar)
    where = [str(result.folder)] if result.folder is not None else []
    print(f"wrote {result.frames} frames to {', '.join(where + [str(v) for v in result.videos])} "
          f"(face {result.face} of {result.faces_found}; "
          f"measured on {result.measured}, filled in on {result.frames - result.measured})")
    return 0


def _cmd_probe(args: argparse.Namespace) -> int:
    from .media.probe import probe, format_probe

    report = probe(args.file)
    from .stereo.vr import add_picture_layout

    add_picture_layout(report)
    print(json.dumps(report, indent=2) if args.json else format_probe(report))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    with _Bar(args.quiet) as bar:
        result = run_demo(args.output_dir, on_progress=bar)
    synced = result["result"]
    print(f"demo clip: {result['clip']}\ndemo dub:  {result['dub']}\nresult:    {result['output']} "
          f"({synced.frames} frames, {synced.duration:.2f} s; engine {synced.engine})")
    if synced.sync is not None:
        print(synced.sync.summary())
    print("next: lipsync-studio sync YOUR_CLIP YOUR_DUB -o dubbed.mp4 (a video, or a portrait photo), "
          "lipsync-studio eval dubbed.mp4, or the app on a desktop: ./run.sh")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from .benchmarks.stages import format_bench, run_bench

    report = run_bench(clip=args.clip, dub=args.dub, seconds=args.seconds, height=args.height, quiet=args.quiet,
                       repeat=args.repeat, stereo=args.stereo, fps=args.fps, preset=args.preset)
    print(json.dumps(report, indent=2) if args.json else format_bench(report))
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    return args.func(args)  # each procedure's parser names its handler


def _cmd_batch(args: argparse.Namespace) -> int:
    from .batch.cli import cmd_batch

    return cmd_batch(args)


def _cmd_cut(args: argparse.Namespace) -> int:
    from .app.cut_command import cmd_cut

    return cmd_cut(args, _format_from(args))


def _cmd_gui(args: argparse.Namespace) -> int:
    from .ui import display_available, run_app

    if not display_available():
        print("error: no display to open the app on (set DISPLAY, or run under xvfb-run); "
              "the command line works without one: lipsync-studio --help", file=sys.stderr)
        return 2
    return run_app(getattr(args, "video", None), getattr(args, "dub", None))


_COMMANDS = {"sync": _cmd_sync, "eval": _cmd_eval, "stereoize": _cmd_stereoize, "mesh": _cmd_mesh, "probe": _cmd_probe, "demo": _cmd_demo, "bench": _cmd_bench, "train": _cmd_train, "gui": _cmd_gui, "batch": _cmd_batch,
             "cut": _cmd_cut}


def _quiet_stdout() -> None:
    """Point standard output at nothing, so the interpreter's last flush into a closed pipe raises nothing more."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    from_shell = argv is None
    args = parser.parse_args(argv)
    if args.command is None:
        # Typed as a bare `lipsync-studio` on a desktop: open the app. Otherwise (no display, or called
        # from code with an explicit empty list) show the help.
        from .ui import display_available

        if from_shell and len(sys.argv) <= 1 and display_available():
            args.command = "gui"
        else:
            parser.print_help()
            return 0
    if not args.debug:
        warnings.simplefilter("ignore", DeprecationWarning)
    _print_media_warnings_as_lines()
    from .terminal import NativeLogFilter, Stopped, stop_on_signals

    # Only our own words on the terminal: the native libraries' log lines go unless --debug asks for them.
    quiet_natives = NativeLogFilter() if from_shell and not args.debug and args.command != "gui" \
        else contextlib.nullcontext()
    # A batch command stops cleanly on SIGTERM/SIGINT; the app keeps its own (Qt's) handling of them.
    signals = stop_on_signals() if args.command != "gui" else contextlib.nullcontext()
    try:
        with quiet_natives, signals:
            code = _COMMANDS[args.command](args)
            sys.stdout.flush()  # a reader gone shows here, inside (a pipe holds what it was given till then)
            return code
    except UserError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Cancelled:
        print("cancelled; nothing was written", file=sys.stderr)
        return 130
    except Stopped as exc:
        print(f"stopped by {exc}; nothing was written", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted; nothing was written", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # What reads our output went away (`probe CLIP | head -1`): nothing to tell anyone; a Unix tool ends so
        # (128 + SIGPIPE). It was reported as an internal error.
        _quiet_stdout()
        return 141
    except Exception as exc:  # noqa: BLE001 - the last line of defence: say it is ours, not the user's
        if args.debug:
            raise
        print(f"internal error: {type(exc).__name__}: {exc} (run again with --debug and report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
