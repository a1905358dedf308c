"""The paper's stereo cycle lip-sync model at inference: the networks (:mod:`.model`: Wav2Lip inside a cycled
disparity network, Pilzer et al. 2018) and the loader/predictor of the exported file (:mod:`.predictor`).
Training lives in :mod:`lipsync_studio.train.stereo_cycle`. Torch is imported by the submodules only.
"""
