"""Training throughput (samples/s) of both training procedures in fp32 and mixed precision, on synthetic data.

Usage::

    .venv/bin/python bench/train_throughput.py [--device auto|cuda|cpu] [--procedures prnet stereo]
                                               [--modes off fp16] [--steps 20] [--warmup 3] [--json] [sizes...]

For each procedure (``train prnet``: ResFCN256 on 256×256 crops; ``train stereo``: the stereo cycle model on
runs of 5 frames) and each precision, the real training step (:func:`lipsync_studio.train.prnet_finetune.benchmark`,
:meth:`lipsync_studio.train.stereo_cycle.train.Trainer.benchmark`) runs ``--warmup`` untimed and ``--steps`` timed
steps on random data of the right shapes, with the device synchronised around the timing; nothing is written
but a temporary dataset. The table gives samples/s, s/step, peak memory and the speed-up against fp32 (``off``).

The default precisions are ``off`` and ``fp16`` on CUDA (fp16 autocast with gradient scaling) and ``off`` and
``bf16`` elsewhere. The default sizes are the real ones (official PRNet width, batch 16; the Wav2Lip generator,
batch 4): minutes on a GPU. On a CPU use small ones, e.g. (a couple of minutes on two cores)::

    .venv/bin/python bench/train_throughput.py --device cpu --steps 3 --warmup 1 --prnet-batch 2 \\
        --prnet-channels 4 --stereo-batch 1 --generator tiny --disp-channels 8

bf16 is only fast on CPUs with bf16 instructions (AVX512-BF16, AMX); elsewhere PyTorch falls back to slow
convolutions and bf16 comes out several times *slower* than fp32.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def _prnet_data(folder: Path, pairs: int, seed: int = 0) -> Path:
    """``pairs`` random 256×256 crops with noisy dome position maps, and the synthetic uv-data."""
    import cv2
    import numpy as np

    from lipsync_studio.face.prnet.synthetic import identity_position_map, write_synthetic_uv_data

    folder.mkdir(parents=True)
    write_synthetic_uv_data(folder / "uv-data")
    rng = np.random.default_rng(seed)
    base = identity_position_map()
    for i in range(pairs):
        cv2.imwrite(str(folder / f"pair_{i:04d}.jpg"), rng.integers(0, 256, (256, 256, 3), dtype=np.uint8))
        np.save(folder / f"pair_{i:04d}.npy", (base + rng.normal(0, 2, base.shape)).astype(np.float32))
    return folder


def _stereo_data(folder: Path, frames: int, seed: int = 0) -> Path:
    """One shard of ``frames`` random stereo face crops and mel windows, in the ``train prepare`` format."""
    import numpy as np

    from lipsync_studio.train.stereo_cycle.dataset import FORMAT, VERSION

    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    np.savez(folder / "random.npz", left=rng.integers(0, 256, (frames, 96, 96, 3), dtype=np.uint8),
             right=rng.integers(0, 256, (frames, 96, 96, 3), dtype=np.uint8),
             mel=rng.normal(size=(frames, 80, 16)).astype(np.float32), frame=np.arange(frames, dtype=np.int64),
             fps=np.float64(25.0))
    (folder / "index.json").write_text(json.dumps({"format": FORMAT, "version": VERSION, "shards": [
        {"file": "random.npz", "source": "random", "frames": frames, "fps": 25.0}]}))
    return folder


def main(argv: list[str] | None = None) -> int:
    import torch

    from lipsync_studio.inference import is_out_of_memory, pick_device
    from lipsync_studio.train.prnet_finetune import benchmark as prnet_benchmark
    from lipsync_studio.train.stereo_cycle.dataset import StereoFaceDataset
    from lipsync_studio.sync.stereo_cycle.model import StereoCycleConfig
    from lipsync_studio.train.stereo_cycle.train import TrainConfig, Trainer

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cuda, cuda:N, cpu")
    ap.add_argument("--procedures", nargs="+", choices=("prnet", "stereo"), default=["prnet", "stereo"])
    ap.add_argument("--modes", nargs="+", choices=("off", "fp16", "bf16"), default=None,
                    help="precisions to compare (default: off fp16 on CUDA, off bf16 elsewhere)")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per setting (default 20)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first (default 3)")
    ap.add_argument("--prnet-batch", type=int, default=16, help="PRNet crops per step (default 16, the paper's)")
    ap.add_argument("--prnet-channels", type=int, default=16, help="ResFCN256 width (default 16, the official)")
    ap.add_argument("--prnet-pairs", type=int, default=64, help="synthetic pairs to cycle through (default 64)")
    ap.add_argument("--stereo-batch", type=int, default=4, help="stereo samples of 5 frames per step (default 4)")
    ap.add_argument("--generator", choices=("wav2lip", "tiny"), default="wav2lip",
                    help="the stereo model's face generator (tiny: the smoke-test stand-in)")
    ap.add_argument("--disp-channels", type=int, default=16, help="disparity U-Net width (default 16)")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = ap.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    modes = args.modes or (["off", "fp16"] if device.type == "cuda" else ["off", "bf16"])
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or device.type
    if not args.json:
        print(f"device: {device} ({name}); torch {torch.__version__}; CPU threads {torch.get_num_threads()}",
              flush=True)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="train-bench-") as tmp:
        root = Path(tmp)
        prnet_dir = _prnet_data(root / "prnet", args.prnet_pairs) if "prnet" in args.procedures else None
        stereo_dir = _stereo_data(root / "stereo", max(40, 8 * args.stereo_batch)) \
            if "stereo" in args.procedures else None
        for procedure in args.procedures:
            for mode in modes:
                batch = args.prnet_batch if procedure == "prnet" else args.stereo_batch
                row = {"procedure": procedure, "amp": mode, "batch": batch}
                try:
                    if procedure == "prnet":
                        result = prnet_benchmark(prnet_dir, steps=args.steps, warmup=args.warmup, batch_size=batch,
                                                 base_channels=args.prnet_channels, holdout=0.0, device=str(device),
                                                 amp=mode)
                    else:
                        model_config = StereoCycleConfig(generator=args.generator, disp_channels=args.disp_channels)
                        trainer = Trainer(StereoFaceDataset(stereo_dir), root / f"stereo-out-{mode}",
                                          TrainConfig(batch=batch, amp=mode), model_config, device=str(device))
                        result = trainer.benchmark(args.steps, args.warmup)
                        del trainer
                    row.update(result.to_dict())
                except RuntimeError as exc:
                    if not is_out_of_memory(exc):
                        raise
                    row["error"] = "out of memory"
                rows.append(row)
                if not args.json:
                    print(result.format() if "error" not in row else f"{procedure} {mode}: {row['error']}",
                          flush=True)
                if device.type == "cuda":
                    torch.cuda.empty_cache()
    for row in rows:
        base = next((r for r in rows if r["procedure"] == row["procedure"] and r["amp"] == "off" and "error" not in r),
                    None)
        if base is not None and "error" not in row:
            row["speedup_vs_fp32"] = row["samples_per_second"] / base["samples_per_second"]
    if args.json:
        print(json.dumps({"device": str(device), "device_name": name, "torch": torch.__version__, "rows": rows}))
        return 0
    print()
    print(f"{'procedure':<10}{'amp':<6}{'batch':>6}{'samples/s':>12}{'s/step':>10}{'peak MiB':>10}{'× fp32':>8}")
    for row in rows:
        if "error" in row:
            print(f"{row['procedure']:<10}{row['amp']:<6}{row['batch']:>6}  {row['error']}")
            continue
        peak = "-" if row["peak_memory_bytes"] is None else f"{row['peak_memory_bytes'] / 2**20:.0f}"
        ratio = f"{row['speedup_vs_fp32']:.2f}" if "speedup_vs_fp32" in row else "-"
        print(f"{row['procedure']:<10}{row['amp']:<6}{row['batch']:>6}{row['samples_per_second']:>12.3g}"
              f"{row['seconds_per_step']:>10.4g}{peak:>10}{ratio:>8}")
    kind = next((r["memory_kind"] for r in rows if "memory_kind" in r), None)
    if kind:
        print(f"peak memory: {kind}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
