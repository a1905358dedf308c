"""PRNet (Feng et al., ECCV 2018): a 3D face mesh per frame from a UV position map, when its weights are present.

Modules, in the order data flows:

- :mod:`.tf_checkpoint` (with :mod:`.sstable`, :mod:`.crc32c`) — read/write TensorFlow 1 checkpoints without TF;
- :mod:`.weights` — the official checkpoint or a ``.pth`` → :class:`~.network.ResFCN256`;
- :mod:`.network` — ResFCN256 in PyTorch;
- :mod:`.uv_data` — PRNet's UV layout files; :mod:`.synthetic` — a stand-in layout for tests;
- :mod:`.predictor` — crop, run, uncrop: :class:`PRNetFace` meshes in image pixels;
- :mod:`.masks` — the training loss weights (PRNet's 16:4:3:0, the paper's 16:10:4:3:0).

Nothing heavy is imported here; the names below load their module on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ResFCN256": "network", "MAX_POSITION": "network",
    "TFCheckpoint": "tf_checkpoint", "read_tf_checkpoint": "tf_checkpoint", "write_tf_checkpoint": "tf_checkpoint",
    "TFCheckpointError": "tf_checkpoint",
    "load_prnet": "weights", "read_state_dict": "weights", "PRNetWeightsError": "weights",
    "PRNetUVData": "uv_data", "load_uv_data": "uv_data", "UVDataError": "uv_data",
    "PRNetPredictor": "predictor", "PRNetFace": "predictor", "box_from_landmarks": "predictor",
    "uv_weight_mask": "masks", "PRNET_ORIGINAL": "masks", "MOUTH_EMPHASIS": "masks",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
