"""The paper's stereo cycle lip-sync model: Wav2Lip inside a cycled disparity network (Pilzer et al. 2018).

Modules: :mod:`.model` (networks and the torch warp ``f_w``), :mod:`.losses` (each term; weights in :mod:`.weights`),
:mod:`.dataset` (``prepare`` and the shard reader), :mod:`.train` (the loop, checkpoints, export and
:func:`~.train.load_stereo_cycle`), :mod:`.cli` (the ``train stereo`` / ``train prepare`` commands).
Torch is imported by the submodules only.
"""
