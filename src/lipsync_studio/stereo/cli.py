"""Command-line glue for the stereo features, for ``cli.py`` to wire in.

- ``lipsync-studio stereoize VIDEO -o OUT``: 2D → stereo (:func:`add_stereoize_command`, :func:`cmd_stereoize`);
- ``lipsync-studio eval OUT --stereo [--reference INPUT]``: stereo consistency
  (:func:`add_eval_stereo_options`, :func:`cmd_eval_stereo`);
- ``--layout/--right/--out-layout/--anaglyph/--vr-name`` for commands that read and write stereo
  (:func:`add_stereo_io_options`, :func:`stereo_io_from_args`).

Handlers take the parsed arguments and an optional progress callback and return the exit code; they raise
:class:`~lipsync_studio.errors.UserError` for bad input, which ``cli.main`` turns into a one-line message.
Nothing heavy is imported until a handler runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INPUT_LAYOUTS = ("auto", "mono", "sbs", "sbs-rl", "half-sbs", "half-sbs-rl", "tb", "tb-rl", "half-tb", "half-tb-rl")
OUTPUT_LAYOUTS = ("sbs", "sbs-rl", "half-sbs", "half-sbs-rl", "tb", "tb-rl", "half-tb", "half-tb-rl",
                  "anaglyph", "separate")
ANAGLYPH_METHODS = ("dubois", "gray", "color", "half-color")

_OUT_LAYOUT_HELP = ("sbs: full side by side, left eye first (default; --vr-name: named *_LRF_Full_SBS for VR players); "
                    "half-sbs / half-tb: for 3D TVs (H.264 gets the frame-packing flag); "
                    "anaglyph: red-cyan (4:4:4); separate: OUT_L and OUT_R files")


def add_stereo_io_options(parser: argparse.ArgumentParser, *, output: bool = True) -> None:
    """Options for a command that reads a stereo clip (and writes one): layout, right eye, output layout."""
    g = parser.add_argument_group("stereo")
    g.add_argument("--layout", choices=INPUT_LAYOUTS, default="auto",
                   help="how VIDEO packs the eyes (default auto: detected from the picture and the file name)")
    g.add_argument("--right", type=Path, metavar="RIGHT",
                   help="the right eye as its own file (VIDEO is then the left eye)")
    if output:
        g.add_argument("--out-layout", choices=OUTPUT_LAYOUTS, default=None,
                       help=_OUT_LAYOUT_HELP + " (default: the input's own packing, with its VR metadata "
                            "(st3d/sv3d) written back)")
        g.add_argument("--anaglyph", choices=ANAGLYPH_METHODS, default="dubois",
                       help="anaglyph method for --out-layout anaglyph (default dubois)")
        _add_vr_name_options(g)


def _add_vr_name_options(g) -> None:
    g.add_argument("--vr-name", action="store_true",
                   help="name a full-SBS OUT the VR players' way (OUT_LRF_Full_SBS.mp4); without it OUT is the "
                        "file written, exactly (when OUT is a folder the VR name is used)")
    # The old opt-out, now the default: still accepted so that scripts written for it keep working.
    g.add_argument("--no-vr-name", action="store_true", help=argparse.SUPPRESS)


@dataclass(frozen=True)
class StereoIO:
    """The stereo input/output choices of one command line."""

    layout: str
    right: Path | None
    out_layout: str | None
    anaglyph: str
    vr_name: bool


def stereo_io_from_args(args: argparse.Namespace) -> StereoIO:
    """Read the options :func:`add_stereo_io_options` added."""
    return StereoIO(layout=getattr(args, "layout", "auto"), right=getattr(args, "right", None),
                    out_layout=getattr(args, "out_layout", None), anaglyph=getattr(args, "anaglyph", "dubois"),
                    vr_name=getattr(args, "vr_name", False))


def add_stereoize_command(subparsers: Any, add_output_format: Callable[[argparse.ArgumentParser], None] | None = None
                          ) -> argparse.ArgumentParser:
    """Add ``stereoize VIDEO -o OUT`` to the command's subparsers; return its parser.

    ``add_output_format`` adds the shared ``--codec/--crf/--preset/--pix-fmt`` group (``cli._add_output_format``);
    without it the defaults of :class:`~lipsync_studio.media.writer.VideoFormat` apply.
    """
    p = subparsers.add_parser("stereoize", help="make a stereo 3D clip from a 2D one, with depth from the 3D face")
    p.add_argument("video", type=Path, metavar="VIDEO", help="a 2D clip with a visible face")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT", help=".mp4, .mov, .mkv or .webm")
    p.add_argument("--out-layout", choices=OUTPUT_LAYOUTS, default="sbs", help=_OUT_LAYOUT_HELP)
    p.add_argument("--anaglyph", choices=ANAGLYPH_METHODS, default="dubois",
                   help="anaglyph method for --out-layout anaglyph (default dubois)")
    p.add_argument("--face-disparity", type=float, default=1.5, metavar="PCT",
                   help="disparity of the face's nearest point, in %% of the width (default 1.5; 1-2 is comfortable)")
    p.add_argument("--background-disparity", type=float, default=0.0, metavar="PCT",
                   help="disparity of the background in %% of the width (default 0: the screen plane; "
                        "negative: behind it)")
    p.add_argument("--depth-ratio", type=float, default=3.0, metavar="R",
                   help="background distance / face distance; smaller gives the face more relief (default 3)")
    p.add_argument("--no-body", action="store_true", help="no head-and-shoulders proxy: only the face stands out")
    p.add_argument("--face", type=int, help="which face gives the depth (track id; default: the largest)")
    _add_vr_name_options(p)
    if add_output_format is not None:
        add_output_format(p)
    return p


def add_eval_stereo_options(eval_parser: argparse.ArgumentParser) -> None:
    """Add ``--stereo`` and its options to the existing ``eval`` command."""
    g = eval_parser.add_argument_group("stereo consistency (--stereo)")
    g.add_argument("--stereo", action="store_true",
                   help="measure how well the two eyes agree (around the mouth and elsewhere)")
    g.add_argument("--reference", type=Path, metavar="INPUT",
                   help="the clip VIDEO was made from: with --stereo its disparity is the yardstick; without, how the "
                        "mouth looks against it (sharpness, lip colour and size beside the clip's natural change)")
    g.add_argument("--layout", choices=INPUT_LAYOUTS, default="auto", help="how VIDEO packs the eyes (default auto)")
    g.add_argument("--right", type=Path, metavar="RIGHT", help="VIDEO's right eye as its own file")
    g.add_argument("--reference-layout", choices=INPUT_LAYOUTS, default="auto",
                   help="how INPUT packs the eyes (default auto)")
    g.add_argument("--reference-right", type=Path, metavar="RIGHT", help="INPUT's right eye as its own file")
    g.add_argument("--frames", type=int, default=48, metavar="N",
                   help="frames to measure, spread through the clip (default 48; 0: every frame)")
    g.add_argument("--face", type=int, metavar="ID", help="which face (track id in the left eye; default: the largest)")


def add_stereo_arguments(subparsers: Any, eval_parser: argparse.ArgumentParser | None = None,
                         add_output_format: Callable[[argparse.ArgumentParser], None] | None = None) -> None:
    """Everything at once: the ``stereoize`` command, and ``--stereo`` on ``eval`` when its parser is given."""
    add_stereoize_command(subparsers, add_output_format)
    if eval_parser is not None:
        add_eval_stereo_options(eval_parser)


def _format_from(args: argparse.Namespace):
    from ..media.writer import VideoFormat

    base = VideoFormat()
    return VideoFormat(codec=getattr(args, "codec", base.codec), crf=getattr(args, "crf", base.crf),
                       preset=getattr(args, "preset", base.preset), pix_fmt=getattr(args, "pix_fmt", base.pix_fmt))


def cmd_stereoize(args: argparse.Namespace, on_progress: Callable | None = None) -> int:
    """Run ``stereoize``; print what was written."""
    from .anaglyph import AnaglyphMethod
    from .stereoize import StereoizeOptions, StereoizeSettings, stereoize
    from .writer import OutputLayout

    settings = StereoizeSettings(face_disparity=args.face_disparity / 100.0,
                                 background_disparity=args.background_disparity / 100.0,
                                 background_distance=args.depth_ratio, body=not args.no_body)
    output, vr_name = Path(args.output), args.vr_name
    if output.is_dir():  # a folder: the clip's name, the VR way for full SBS
        output, vr_name = output / f"{Path(args.video).stem}_3d.mp4", True
    opts = StereoizeOptions(settings=settings, layout=OutputLayout.parse(args.out_layout),
                            anaglyph=AnaglyphMethod.parse(args.anaglyph), fmt=_format_from(args), face=args.face,
                            vr_name=vr_name)
    result = stereoize(args.video, output, opts, on_progress=on_progress)
    for note in result.warnings:
        print(f"warning: {note}", file=sys.stderr)
    files = " and ".join(str(p) for p in result.outputs)
    flag = f"; frame-packing flag {result.frame_packing}" if result.frame_packing else ""
    print(f"wrote {files} ({result.frames} frames, {result.layout}{flag}; face at {result.face_disparity_px:.1f} px "
          f"disparity, background at {result.background_disparity_px:.1f} px; "
          f"{100 * result.filled_share:.2f}% of the right eye filled in)")
    return 0


_STEREO_ONLY = ("right", "reference_right")  # --reference also serves the plain eval (the looks measure)


def check_eval_args(args: argparse.Namespace) -> None:
    """Refuse stereo-only ``eval`` options given without ``--stereo`` (call it before a plain ``eval``)."""
    from ..errors import OptionError

    if getattr(args, "stereo", False):
        return
    given = [f"--{name.replace('_', '-')}" for name in _STEREO_ONLY if getattr(args, name, None) is not None]
    given += [f"--{name.replace('_', '-')}" for name in ("layout", "reference_layout")
              if getattr(args, name, "auto") != "auto"]
    if given:
        raise OptionError(f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} for the stereo measure",
                          hint="add --stereo")


def cmd_eval_stereo(args: argparse.Namespace, on_progress: Callable | None = None) -> int:
    """Run ``eval --stereo``; print the summary (or JSON with ``--json``)."""
    from ..errors import OptionError
    from .metrics import StereoEvalOptions, evaluate_stereo

    if getattr(args, "dub", None) is not None:
        raise OptionError("--dub measures lip sync, --stereo the stereo pair; run them as two commands")
    if args.frames < 0:
        raise OptionError(f"--frames must be 0 (every frame) or more, not {args.frames}")
    opts = StereoEvalOptions(layout=args.layout, right=args.right, reference_layout=args.reference_layout,
                             reference_right=args.reference_right, frames=args.frames, face=getattr(args, "face", None))
    result = evaluate_stereo(args.video, args.reference, opts, on_progress=on_progress)
    print(json.dumps(result.as_dict(), indent=2) if getattr(args, "json", False) else result.summary())
    return 0
