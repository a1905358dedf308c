"""The paper's stereo cycle lip-sync model: Wav2Lip inside a cycled disparity network (Pilzer et al. 2018).

Training only: the networks and the exported file's loader are in :mod:`lipsync_studio.sync.stereo_cycle`.
Modules: :mod:`.losses` (each term; weights in :mod:`.weights`), :mod:`.dataset` (``prepare`` and the shard
reader), :mod:`.train` (the loop, checkpoints, export), :mod:`.cli` (the ``train stereo`` / ``train prepare``
commands).
Torch is imported by the submodules only.
"""
