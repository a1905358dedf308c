"""Command-line hooks: ``lipsync-studio train prepare VIDEOS... -o DATA`` and ``train stereo DATA -o OUT``.

The main CLI wires them: ``add_train_stereo_command(train_subparsers)`` adds both parsers (each sets
``func``); the ``train`` dispatcher calls ``args.func(args)``. Torch is imported only when a command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_train_stereo_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``stereo DATA -o OUT`` and ``prepare VIDEOS... -o DATA`` to the ``train`` subparsers; return ``stereo``'s."""
    from ..amp import add_amp_options
    from .weights import LossWeights

    p = subparsers.add_parser("prepare", help="build the stereo lip-sync training data from stereo videos")
    p.add_argument("videos", type=Path, nargs="+", metavar="VIDEO", help="stereo clips (SBS/TB, with sound)")
    p.add_argument("-o", "--out", type=Path, required=True, metavar="DATA", help="dataset folder (created or extended)")
    p.add_argument("--layout", default="auto", help="how the videos pack the eyes (default auto)")
    p.set_defaults(func=cmd_train_prepare)

    p = subparsers.add_parser("stereo", help="train the stereo cycle lip-sync model (Wav2Lip + cycled disparity)")
    p.add_argument("data", type=Path, metavar="DATA", help="a folder made by `train prepare`")
    p.add_argument("-o", "--out", type=Path, required=True, metavar="OUT",
                   help="output folder: checkpoint.pt (resumed when present), log.jsonl, stereo_cycle.pt")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=4, help="samples of 5 frames per step (default 4)")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--checkpoint-every", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--expert", type=Path, help="SyncNet expert weights (lipsync_expert.pth); without: --w-sync 0")
    p.add_argument("--init", type=Path, help="Wav2Lip generator weights to start from (wav2lip.pth)")
    p.add_argument("--generator", choices=("wav2lip", "tiny"), default="wav2lip",
                   help="wav2lip (the paper) or tiny (a smoke-test stand-in)")
    p.add_argument("--device", default=None, help="torch device (default cpu)")
    add_amp_options(p)
    for name, value in LossWeights().to_dict().items():
        p.add_argument(f"--w-{name.replace('_', '-')}", type=float, default=None, metavar="W",
                       help=f"weight of the {name} term (default {value})")
    p.set_defaults(func=cmd_train_stereo)
    return p


def cmd_train_prepare(args: argparse.Namespace) -> int:
    """Run :func:`~.dataset.prepare`, one line per video; returns 0."""
    from .dataset import prepare

    index = prepare(args.videos, args.out, args.layout,
                    on_video=lambda v, n: print(f"{v}: {n} frames with the face in both eyes", flush=True))
    print(f"wrote {index}", flush=True)
    return 0


def cmd_train_stereo(args: argparse.Namespace) -> int:
    """Train (resuming from ``OUT/checkpoint.pt`` when present), print one line per step, export; returns 0.

    With ``--bench-steps N``: measure the training steps (from the checkpoint when there is one) and print one
    line, writing nothing.
    """
    from ...errors import OptionError
    from .dataset import StereoFaceDataset
    from ...sync.stereo_cycle.model import StereoCycleConfig
    from .train import TrainConfig, Trainer
    from .weights import LossWeights

    given = {name: getattr(args, f"w_{name}") for name in LossWeights().to_dict()}
    weights = LossWeights(**{k: v for k, v in given.items() if v is not None})
    if args.expert is None and weights.sync != 0:
        raise OptionError("the sync term needs the SyncNet expert's weights",
                          hint="give --expert lipsync_expert.pth, or --w-sync 0 to train without it")
    config = TrainConfig(steps=args.steps, batch=args.batch_size, lr=args.lr, lr_disc=args.lr, weights=weights,
                         checkpoint_every=args.checkpoint_every, seed=args.seed,
                         expert=None if args.expert is None else str(args.expert),
                         init_wav2lip=None if args.init is None else str(args.init), amp=args.amp)
    trainer = Trainer(StereoFaceDataset(args.data), args.out, config, StereoCycleConfig(generator=args.generator),
                      device=args.device)
    if args.bench_steps is not None:
        print(trainer.benchmark(args.bench_steps, args.bench_warmup).format(), flush=True)
        return 0
    print(f"device={trainer.device} amp={trainer.precision.mode} step={trainer.step_no}", flush=True)

    def show(log: dict[str, float]) -> None:
        print(" ".join(f"{k}={v:.5g}" if isinstance(v, float) else f"{k}={v}" for k, v in log.items()), flush=True)

    trainer.run(show)
    print(f"wrote {trainer.export()}", flush=True)
    return 0
