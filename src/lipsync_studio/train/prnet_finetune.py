"""Fine-tune PRNet with the paper's mouth-emphasis loss (16:10:4:3:0) or PRNet's own (16:4:3:0).

**Data**: a folder of face3d-processed 300W-LP pairs (``NAME.jpg`` + ``NAME.npy``, see
:mod:`.prnet.dataset`) and the UV layout they were rendered in (PRNet's ``uv-data`` folder; by default
``DATA/uv-data``). :func:`~.prnet.render.render_training_pairs` makes such a folder from our own face meshes.

**Training** (Feng et al. 2018 and the paper): Adam (β = 0.9, 0.999) from ``lr`` (1e-4), halved every
``halve_every`` epochs (5); batches of 16; the paper's augmentation; the loss is PRNet's weighted MSE on the
normalised position map (target / 281.6 against the network's sigmoid output)::

    loss = mean over pixels and x, y, z of  w(u, v) · (pred − target)²,   w = region weight / 16

with the region weights of :mod:`lipsync_studio.face.prnet.masks` (``mask="original"``: 16:4:3:0,
``mask="mouth"``: 16:10:4:3:0; neck and background 0). The total is logged with its split by region
(key points, mouth, eyes, nose, rest of face), which add up to it.

**Mixed precision** (``amp``, :mod:`lipsync_studio.train.amp`): ``auto`` trains in fp16 autocast with gradient
scaling on CUDA and in fp32 elsewhere; ``bf16`` is offered on CUDA and the CPU. The network runs in autocast; the
loss is computed in fp32 from the prediction cast up (the weighted squared errors of a good fit, ~1e-4 of the
normalised position, are below half precision's resolution near 1). Weights stay fp32.

**Checkpoints** (``OUT/checkpoints/last.pt``, written at the end of every epoch, when ``max_steps`` stops a run, and
at the end): model, optimizer, the gradient scaler (fp16), epoch, step, seed, the torch RNG state, the precision
and the settings. Training randomness is a function of (seed, epoch, batch) (:mod:`.prnet.dataset`), so
``resume=True`` continues exactly as an uninterrupted run would (bit for bit on CPU with the same precision; tested).

**Throughput** (:func:`benchmark`, ``--bench-steps N``): samples/s of the training step on the real data, nothing
written.

**Evaluation** on the held-out split (no augmentation, eval mode), PRNet's NME: the mean 2-D (x, y) distance
between predicted and true points divided by the size of the true 68-key-point box, ``sqrt(w · h)`` (as in PRNet's
and 3DDFA's AFLW2000-3D evaluation), for the 68 key points, the mouth (key points 48–67) and the whole face (every
``face_ind`` vertex, dense). Reported as fractions (×100 for %).

**Result** ``OUT/prnet.pth`` (a ResFCN256 state dict) next to a copy of the layout in ``OUT/uv-data``: the folder
loads with :func:`lipsync_studio.face.prnet.weights.load_prnet` and the app's PRNet backend
(:class:`~lipsync_studio.face.prnet.predictor.PRNetPredictor.from_directory`). Only the official width loads there.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lipsync_studio.errors import OptionError
from lipsync_studio.train.amp import add_amp_options

if TYPE_CHECKING:
    import argparse

    import torch
    from torch import nn

    from lipsync_studio.face.prnet.uv_data import PRNetUVData
    from lipsync_studio.train.amp import MixedPrecision, Throughput
    from lipsync_studio.train.prnet.dataset import PositionMapDataset

MASKS = {"original": "prnet", "mouth": "mouth"}
"""``--mask`` choice → weight scheme name in :mod:`lipsync_studio.face.prnet.masks`."""

TERMS = ("keypoints", "mouth", "eyes", "nose", "face")
WEIGHTS_FILE = "prnet.pth"
CHECKPOINT = Path("checkpoints") / "last.pt"
MOUTH_KEYPOINTS = slice(48, 68)


@dataclass(frozen=True)
class FinetuneSettings:
    """Everything that decides a run (stored in the checkpoint; a resumed run must use the same, except
    ``epochs`` and ``amp``, the requested precision: a run may go on on another machine)."""

    epochs: int = 30
    batch_size: int = 16
    lr: float = 1e-4
    halve_every: int = 5
    mask: str = "mouth"
    holdout: float = 0.1
    seed: int = 0
    base_channels: int = 16
    augment: bool = True
    amp: str = "auto"


def learning_rate(settings: FinetuneSettings, epoch: int) -> float:
    """The learning rate of ``epoch`` (0-based): ``lr · 0.5^(epoch // halve_every)``."""
    return settings.lr * 0.5 ** (epoch // settings.halve_every) if settings.halve_every > 0 else settings.lr


class WeightedPositionLoss:
    """PRNet's weighted MSE on normalised position maps, split by UV region.

    Parameters
    ----------
    uv: the layout (for its regions). mask: ``"original"`` (16:4:3:0) or ``"mouth"`` (16:10:4:3:0).
    """

    def __init__(self, uv: PRNetUVData, mask: str = "mouth") -> None:
        import torch

        from lipsync_studio.face.prnet import masks

        if mask not in MASKS:
            raise OptionError(f"unknown loss mask {mask!r}; choose one of {', '.join(MASKS)}")
        regions = masks.uv_regions(uv.kpt_ind, uv.face_mask, uv.eye_mask)
        weights = masks.weight_mask(regions, MASKS[mask]) / 16.0
        labels = {"keypoints": masks.KEYPOINTS_REGION, "mouth": masks.MOUTH_REGION, "eyes": masks.EYES_REGION,
                  "nose": masks.NOSE_REGION, "face": masks.FACE}
        self.mask = mask
        self.weights = torch.from_numpy(weights.astype(np.float32))  # (256, 256)
        self.region_weights = {name: torch.from_numpy(np.where(regions.labels == label, weights, 0)
                                                      .astype(np.float32)) for name, label in labels.items()}

    def __call__(self, pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """(total loss, {term: value}) for (B, 3, 256, 256) normalised prediction and target."""
        import torch

        squared = (pred - target).square()
        total = (squared * self.weights.to(pred.device)).mean()
        with torch.no_grad():
            terms = {name: float((squared * w.to(pred.device)).mean()) for name, w in self.region_weights.items()}
        terms["total"] = float(total.detach())
        return total, terms


def nme(pred: np.ndarray, target: np.ndarray, uv: PRNetUVData) -> dict[str, float]:
    """PRNet's NME of one face (see the module docstring): keys ``keypoints``, ``mouth``, ``face``.

    pred, target: (256, 256, 3) position maps in crop pixels.
    """
    kp_t = target[uv.kpt_ind[1], uv.kpt_ind[0], :2].astype(np.float64)
    kp_p = pred[uv.kpt_ind[1], uv.kpt_ind[0], :2].astype(np.float64)
    w, h = kp_t.max(0) - kp_t.min(0)
    norm = math.sqrt(max(w * h, 1e-12))
    dist = np.linalg.norm(kp_p - kp_t, axis=1)
    face_t = target.reshape(-1, 3)[uv.face_ind, :2].astype(np.float64)
    face_p = pred.reshape(-1, 3)[uv.face_ind, :2].astype(np.float64)
    return {"keypoints": float(dist.mean() / norm), "mouth": float(dist[MOUTH_KEYPOINTS].mean() / norm),
            "face": float(np.linalg.norm(face_p - face_t, axis=1).mean() / norm)}


def evaluate(model: nn.Module, data: PositionMapDataset, uv: PRNetUVData, batch_size: int = 16,
             device: str | torch.device = "cpu") -> dict[str, float]:
    """Mean NME over ``data`` (no augmentation, eval mode); empty dict for no data. Restores train mode after."""
    import torch

    from lipsync_studio.face.prnet.network import MAX_POSITION

    if len(data) == 0:
        return {}
    was_training = model.training
    model.eval()
    scores: list[dict[str, float]] = []
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            pairs = [data.item(i) for i in range(start, min(start + batch_size, len(data)))]
            images = torch.from_numpy(np.stack([im.transpose(2, 0, 1) for im, _ in pairs])).to(device)
            pred = (model(images) * MAX_POSITION).permute(0, 2, 3, 1).cpu().numpy()
            scores += [nme(p, t, uv) for p, (_, t) in zip(pred, pairs)]
    model.train(was_training)
    return {f"nme_{k}": float(np.mean([s[k] for s in scores])) for k in scores[0]}


def _save_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, epoch: int, step: int,
                     settings: FinetuneSettings, precision: MixedPrecision) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch, "step": step,
                "torch_rng": torch.get_rng_state(), "settings": asdict(settings), "amp": precision.mode,
                "scaler": precision.state_dict()}, tmp)
    os.replace(tmp, path)  # a reader never sees half a checkpoint


def _load_checkpoint(path: Path) -> dict[str, Any]:
    import pickle

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as exc:
        raise OptionError(f"cannot read the training checkpoint ({type(exc).__name__}: {exc})", path,
                          "start without --resume, or point --out at the run to continue") from None


@dataclass
class _Run:
    """The pieces of a run that :func:`finetune` and :func:`benchmark` share."""

    uv: PRNetUVData
    uv_path: Path
    train_data: PositionMapDataset
    held_data: PositionMapDataset
    model: nn.Module
    optimizer: torch.optim.Optimizer
    criterion: WeightedPositionLoss
    device: torch.device
    precision: MixedPrecision


def _set_up(data_dir: Path, *, lr: float, mask: str, uv_dir: str | os.PathLike[str] | None,
            init: str | os.PathLike[str] | None, holdout: float, seed: int, base_channels: int, augment: bool,
            cache_pairs: int, amp: str, device: str | None) -> _Run:
    """Data, network (initialised from ``seed`` or ``init``), optimiser, loss and precision of a run."""
    import torch

    from lipsync_studio.face.prnet.network import ResFCN256
    from lipsync_studio.face.prnet.uv_data import load_uv_data
    from lipsync_studio.face.prnet.weights import load_prnet_state, read_state_dict
    from lipsync_studio.train.amp import MixedPrecision, resolve_amp
    from lipsync_studio.train.prnet.dataset import PositionMapDataset, list_pairs, split_pairs

    dev = torch.device(device or "cpu")
    precision = MixedPrecision(resolve_amp(amp, dev), dev)  # before the data: a wrong --amp fails at once
    uv_path = Path(uv_dir) if uv_dir is not None else data_dir / "uv-data"
    uv = load_uv_data(uv_path)
    train_pairs, held_pairs = split_pairs(list_pairs(data_dir), holdout, root=data_dir)
    small = len(train_pairs) + len(held_pairs) <= cache_pairs
    train_data = PositionMapDataset(train_pairs, augment_data=augment, cache=small)
    held_data = PositionMapDataset(held_pairs, augment_data=False, cache=small)
    if len(train_data) == 0:
        raise OptionError("no training pairs left after the held-out split", data_dir, "lower --holdout")
    criterion = WeightedPositionLoss(uv, mask)

    torch.manual_seed(seed)
    model = ResFCN256(base_channels=base_channels)
    if init is not None:
        load_prnet_state(model, read_state_dict(init), init)
    model.to(dev).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    return _Run(uv, uv_path, train_data, held_data, model, optimizer, criterion, dev, precision)


def _train_step(run: _Run, images: np.ndarray, positions: np.ndarray, step: int) -> dict[str, float]:
    """One update on a batch (images and position maps (B, 3, 256, 256)); returns the loss terms."""
    import torch

    from lipsync_studio.face.prnet.network import MAX_POSITION

    x = torch.from_numpy(images).to(run.device)
    target = torch.from_numpy(positions).to(run.device) / MAX_POSITION
    with run.precision.autocast():
        pred = run.model(x)
    loss, terms = run.criterion(pred.float(), target)  # fp32 (see the module docstring)
    if not math.isfinite(terms["total"]):
        raise FloatingPointError(f"the loss became {terms['total']} at step {step}")
    run.optimizer.zero_grad(set_to_none=True)
    run.precision.backward(loss)
    run.precision.step(run.optimizer)
    run.precision.update()
    return terms


def finetune(data_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, epochs: int = 30,
             batch_size: int = 16, lr: float = 1e-4, mask: str = "mouth", uv_dir: str | os.PathLike[str] | None = None,
             resume: bool = False, log: Callable[[dict[str, Any]], None] | None = None, halve_every: int = 5,
             init: str | os.PathLike[str] | None = None, holdout: float = 0.1, seed: int = 0,
             base_channels: int = 16, max_steps: int | None = None, augment: bool = True,
             eval_every: int = 1, cache_pairs: int = 2000, device: str | None = None,
             amp: str = "auto") -> dict[str, Any]:
    """Fine-tune (or train) ResFCN256 on position-map pairs; write the result as a PRNet model folder.

    Parameters
    ----------
    data_dir: folder of ``NAME.jpg`` + ``NAME.npy`` pairs. out_dir: where ``prnet.pth``, ``uv-data/``,
        ``checkpoints/last.pt``, ``log.jsonl`` and ``metrics.json`` go.
    epochs, batch_size, lr, halve_every: the schedule (lr halves every ``halve_every`` epochs; 0 = never).
    mask: ``"mouth"`` (16:10:4:3:0) or ``"original"`` (16:4:3:0).
    uv_dir: the layout the position maps use (default ``data_dir/uv-data``).
    resume: continue from ``out_dir/checkpoints/last.pt`` (same settings required; ``epochs`` and ``amp`` may
        change).
    log: called with every record (``{"event": "start", "step", "device", "amp"}`` first, then
        ``{"step", "epoch", "lr", "total", "keypoints", …}`` per step, and ``{"epoch", "nme_…"}`` after each
        epoch); the same records go to ``log.jsonl``.
    init: weights to start from (anything :func:`~lipsync_studio.face.prnet.weights.read_state_dict` reads, e.g.
        the official checkpoint); default: random initialisation from ``seed``.
    holdout: share of the pairs held out for evaluation. seed: initialisation, order and augmentation.
    base_channels: network width (16 = official; only the official width loads in the app).
    max_steps: stop (with a checkpoint) once this many steps have run in total — to interrupt a run.
    augment: the paper's augmentation (off for tests that must overfit).
    eval_every: evaluate on the held-out split every this many epochs (0: only after the last epoch).
    cache_pairs: keep the pairs in memory when there are at most this many (else read them for every batch).
    device: torch device (default CPU).
    amp: mixed precision, ``"auto"``, ``"off"``, ``"fp16"`` or ``"bf16"`` (:mod:`lipsync_studio.train.amp`).

    Returns
    -------
    dict: ``weights`` (path), ``step``, ``epoch`` (epochs completed), ``losses`` (per-step totals of this call),
    ``metrics`` (held-out NME of the last evaluation), ``step_seconds`` (mean wall time of a step), ``device``,
    ``amp`` (the precision used: off, fp16 or bf16).

    Raises
    ------
    OptionError
        A bad option (mask, schedule, a precision the device cannot train in), or a resume that does not fit.
    """
    import torch

    if mask not in MASKS:
        raise OptionError(f"unknown loss mask {mask!r}; choose one of {', '.join(MASKS)}")
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise OptionError("epochs and batch size must be at least 1 and the learning rate positive")
    settings = FinetuneSettings(epochs=epochs, batch_size=batch_size, lr=lr, halve_every=halve_every, mask=mask,
                                holdout=holdout, seed=seed, base_channels=base_channels, augment=augment, amp=amp)
    data_dir, out = Path(data_dir), Path(out_dir)
    run = _set_up(data_dir, lr=lr, mask=mask, uv_dir=uv_dir, init=init, holdout=holdout, seed=seed,
                  base_channels=base_channels, augment=augment, cache_pairs=cache_pairs, amp=amp, device=device)
    model, optimizer, train_data = run.model, run.optimizer, run.train_data
    step = 0
    checkpoint = out / CHECKPOINT
    if resume:
        if not checkpoint.is_file():
            raise OptionError("there is no checkpoint to resume from", checkpoint, "start without --resume")
        state = _load_checkpoint(checkpoint)
        saved = FinetuneSettings(**state["settings"])
        changed = [k for k, v in asdict(saved).items() if k not in ("epochs", "amp") and getattr(settings, k) != v]
        if changed:
            raise OptionError(f"the run to resume was started with other settings ({', '.join(changed)})",
                              checkpoint, "use the same options as the first run (only --epochs and --amp may "
                                          "change)")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        run.precision.load_state_dict(state.get("scaler"))
        torch.set_rng_state(state["torch_rng"])
        step = int(state["step"])
    out.mkdir(parents=True, exist_ok=True)
    log_file = (out / "log.jsonl").open("a", encoding="utf-8")

    def record(entry: dict[str, Any]) -> None:
        log_file.write(json.dumps(entry) + "\n")
        log_file.flush()
        if log is not None:
            log(entry)

    per_epoch = train_data.steps_per_epoch(batch_size)
    losses: list[float] = []
    metrics: dict[str, float] = {}
    seconds: list[float] = []
    epoch = step // per_epoch
    try:
        record({"event": "start", "step": step, "device": str(run.device), "amp": run.precision.mode})
        while epoch < epochs and (max_steps is None or step < max_steps):
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(settings, epoch)
            for index, images, positions in train_data.batches(epoch, batch_size, seed, start=step % per_epoch):
                started = time.perf_counter()
                terms = _train_step(run, images, positions, step)
                step += 1
                seconds.append(time.perf_counter() - started)
                losses.append(terms["total"])
                record({"step": step, "epoch": epoch, "batch": index, "lr": optimizer.param_groups[0]["lr"], **terms})
                if max_steps is not None and step >= max_steps:
                    break
            if step % per_epoch == 0:  # the epoch is complete
                epoch += 1
                if epoch == epochs or (eval_every > 0 and epoch % eval_every == 0):
                    metrics = evaluate(model, run.held_data, run.uv, batch_size, run.device)
                    record({"epoch": epoch, "step": step, **metrics})
            _save_checkpoint(checkpoint, model, optimizer, epoch, step, settings, run.precision)
    finally:
        log_file.close()

    model.eval()
    weights = out / WEIGHTS_FILE
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, weights)
    if run.uv_path.resolve() != (out / "uv-data").resolve():
        shutil.copytree(run.uv_path, out / "uv-data", dirs_exist_ok=True)
    result = {"weights": weights, "step": step, "epoch": epoch, "losses": losses, "metrics": metrics,
              "step_seconds": float(np.mean(seconds)) if seconds else 0.0, "train_pairs": len(train_data),
              "held_out_pairs": len(run.held_data), "device": str(run.device), "amp": run.precision.mode}
    (out / "metrics.json").write_text(json.dumps({k: v for k, v in result.items() if k != "losses"}, default=str,
                                                 indent=2), encoding="utf-8")
    return result


def benchmark(data_dir: str | os.PathLike[str], *, steps: int, warmup: int = 2, batch_size: int = 16,
              lr: float = 1e-4, mask: str = "mouth", uv_dir: str | os.PathLike[str] | None = None,
              init: str | os.PathLike[str] | None = None, holdout: float = 0.1, seed: int = 0,
              base_channels: int = 16, augment: bool = True, cache_pairs: int = 2000, device: str | None = None,
              amp: str = "auto") -> Throughput:
    """Training throughput on ``data_dir``: ``warmup`` untimed, then ``steps`` timed steps; writes nothing.

    The steps are :func:`finetune`'s (batch preparation and augmentation included) on the same options, from
    a fresh network (or ``init``), epoch after epoch as the run would go.

    Returns
    -------
    Throughput
        Samples (face crops) per second, seconds per step, device, precision and peak memory.
    """
    from lipsync_studio.train.amp import measure_throughput

    if mask not in MASKS:
        raise OptionError(f"unknown loss mask {mask!r}; choose one of {', '.join(MASKS)}")
    if batch_size < 1 or lr <= 0:
        raise OptionError("the batch size must be at least 1 and the learning rate positive")
    run = _set_up(Path(data_dir), lr=lr, mask=mask, uv_dir=uv_dir, init=init, holdout=holdout, seed=seed,
                  base_channels=base_channels, augment=augment, cache_pairs=cache_pairs, amp=amp, device=device)

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        epoch = 0
        while True:  # the training set is not empty (checked by _set_up)
            for _, images, positions in run.train_data.batches(epoch, batch_size, seed):
                yield images, positions
            epoch += 1

    stream = batches()
    done = 0

    def one_step() -> int:
        nonlocal done
        images, positions = next(stream)
        _train_step(run, images, positions, done)
        done += 1
        return len(images)

    return measure_throughput(one_step, steps=steps, warmup=warmup, device=run.device, procedure="prnet",
                              amp=run.precision.mode, sample="256×256 crops")


def add_train_prnet_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``prnet DATA -o OUT [...]`` to a ``train`` sub-command's subparsers; returns the parser."""
    p = subparsers.add_parser("prnet", help="fine-tune PRNet on position maps (mouth-emphasis loss)",
                              description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("data", type=Path, help="folder of NAME.jpg + NAME.npy pairs (face3d-processed 300W-LP)")
    p.add_argument("-o", "--out", type=Path, required=True, help="output folder (weights, uv-data, checkpoints)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-4, help="initial learning rate (default 1e-4)")
    p.add_argument("--halve-every", type=int, default=5, help="epochs between halvings of the lr (0: never)")
    p.add_argument("--mask", choices=sorted(MASKS), default="mouth",
                   help="loss weights: mouth = 16:10:4:3:0 (the paper), original = PRNet's 16:4:3:0")
    p.add_argument("--uv-data", type=Path, default=None, help="PRNet uv-data folder (default DATA/uv-data)")
    p.add_argument("--init", type=Path, default=None, help="weights to start from (e.g. the official checkpoint)")
    p.add_argument("--holdout", type=float, default=0.1, help="share of pairs held out for evaluation")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-every", type=int, default=1, help="epochs between held-out evaluations (0: at the end)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/last.pt")
    p.add_argument("--no-augment", action="store_true", help="skip the rotation and colour augmentation")
    p.add_argument("--device", default=None, help="torch device (default cpu)")
    add_amp_options(p)
    p.set_defaults(func=cmd_train_prnet)
    return p


def cmd_train_prnet(args: argparse.Namespace) -> int:
    """Run :func:`finetune` (or :func:`benchmark` with ``--bench-steps``) from parsed arguments; returns 0.

    Training prints one line per logged record; the benchmark prints one line.
    """
    if args.bench_steps is not None:
        result = benchmark(args.data, steps=args.bench_steps, warmup=args.bench_warmup, batch_size=args.batch_size,
                           lr=args.lr, mask=args.mask, uv_dir=args.uv_data, init=args.init, holdout=args.holdout,
                           seed=args.seed, augment=not args.no_augment, device=args.device, amp=args.amp)
        print(result.format(), flush=True)
        return 0

    def show(entry: dict[str, Any]) -> None:
        print(" ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in entry.items()),
              flush=True)

    result = finetune(args.data, args.out, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                      mask=args.mask, uv_dir=args.uv_data, resume=args.resume, log=show,
                      halve_every=args.halve_every, init=args.init, holdout=args.holdout, seed=args.seed,
                      augment=not args.no_augment, eval_every=args.eval_every, device=args.device, amp=args.amp)
    print(f"wrote {result['weights']}", flush=True)
    return 0
