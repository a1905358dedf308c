"""Wav2Lip generator throughput (frames/s) in fp32 and fp16 at several batch sizes, on the best device here.

Usage::

    .venv/bin/python bench/wav2lip_gpu.py [--device auto|cuda|mps|cpu] [--batches 1 16 64 128] [--seconds 3]
                                          [--weights models/wav2lip.pth] [--json]

Random weights are used unless ``--weights`` is given (speed does not depend on the values). Each setting is
warmed up, then timed for about ``--seconds`` seconds with the device synchronised, counting frames through
the network only (inputs already on the device), and once more end to end through the predictor (numpy in,
numpy out, including the host ⇄ device copies). fp16 is skipped on the CPU unless ``--cpu-fp16``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _time(fn, device, seconds: float) -> tuple[float, int]:
    fn()
    fn()
    _sync(device)
    n, start = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        _sync(device)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and n >= 3:
            return elapsed, n


def main(argv: list[str] | None = None) -> int:
    import numpy as np
    import torch

    from lipsync_studio.inference import is_out_of_memory, pick_device
    from lipsync_studio.sync.wav2lip.checkpoint import load_wav2lip
    from lipsync_studio.sync.wav2lip.network import Wav2Lip
    from lipsync_studio.sync.wav2lip.predictor import Wav2LipPredictor

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 16, 64, 128])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--weights", type=Path, default=None)
    ap.add_argument("--cpu-fp16", action="store_true")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = ap.parse_args(argv)

    device = pick_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or device.type
    if not args.json:
        print(f"device: {device} ({name}); torch {torch.__version__}; CPU threads {torch.get_num_threads()}")
    rows = []
    precisions = ["fp32", "fp16"] if device.type != "cpu" or args.cpu_fp16 else ["fp32"]
    rng = np.random.default_rng(0)
    for precision in precisions:
        model = load_wav2lip(args.weights) if args.weights else Wav2Lip()
        dtype = torch.float16 if precision == "fp16" else torch.float32
        model = model.to(device, dtype).eval()
        for batch in args.batches:
            row = {"device": str(device), "device_name": name, "precision": precision, "batch": batch}
            try:
                faces = torch.rand(batch, 6, 96, 96, device=device, dtype=dtype)
                mel = torch.randn(batch, 1, 80, 16, device=device, dtype=dtype)

                def net() -> None:
                    with torch.inference_mode():
                        model(mel, faces)

                t, n = _time(net, device, args.seconds)
                row["network_fps"] = round(batch * n / t, 1)
                predictor = Wav2LipPredictor(model, device=device, half=precision == "fp16", batch_size=batch)
                crops = rng.integers(0, 256, (batch, 96, 96, 3), dtype=np.uint8)
                windows = rng.normal(size=(batch, 80, 16)).astype(np.float32)
                t, n = _time(lambda: predictor.predict(crops, windows), device, args.seconds)
                row["end_to_end_fps"] = round(batch * n / t, 1)
                if device.type == "cuda":
                    row["peak_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20)
                    torch.cuda.reset_peak_memory_stats(device)
            except RuntimeError as exc:
                if not is_out_of_memory(exc):
                    raise
                row["error"] = "out of memory"
            rows.append(row)
            if not args.json:
                extra = f"  peak {row['peak_mib']} MiB" if "peak_mib" in row else ""
                if "error" in row:
                    print(f"{precision}  batch {batch:4d}: {row['error']}")
                else:
                    print(f"{precision}  batch {batch:4d}: network {row['network_fps']:9.1f} frames/s   "
                          f"end to end {row['end_to_end_fps']:9.1f} frames/s{extra}")
        del model
        if device.type == "cuda":
            torch.cuda.empty_cache()
    if args.json:
        print(json.dumps({"device": str(device), "device_name": name, "torch": torch.__version__, "rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
