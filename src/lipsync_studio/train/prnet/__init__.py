"""Helpers of :mod:`lipsync_studio.train.prnet_finetune`: the position-map dataset and the data we render ourselves.

- :mod:`.dataset` — face3d-processed 300W-LP pairs (``*.jpg`` + ``*.npy``), held-out split, the paper's augmentation;
- :mod:`.render` — training pairs in the same format rendered from our own face meshes of a synthetic talking clip.
"""
