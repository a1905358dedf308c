"""Slight, smooth, deterministic head motion for synthetic talking faces."""

from __future__ import annotations

import numpy as np

#: At amount 1: translation sway (photo px, peak about 3) and rotation (degrees, peak about 1.5).
SWAY_PX = 1.6
SWAY_DEG = 0.8
MAX_DEG = 2.0


def head_poses(n_frames: int, *, amount: float = 1.0, seed: int = 0,
               fps: float = 25.0) -> np.ndarray:
    """A smooth head-motion path: a few slow sinusoids per axis with random frequencies and phases.

    Parameters
    ----------
    n_frames : int
        Number of video frames.
    amount : float
        Scale of the motion; 0 keeps the head still.
    seed : int
        Seed of the frequencies (0.15-0.6 Hz) and phases.
    fps : float
        Frame rate (frames/s).

    Returns
    -------
    np.ndarray
        (n_frames, 3) float64: dx, dy (photo pixels) and rotation angle (degrees, clipped to
        +-2). Every frame's pose is a pure function of (seed, frame index, fps, amount).
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames) / fps
    poses = np.zeros((n_frames, 3))
    for axis, scale in enumerate((SWAY_PX, 0.6 * SWAY_PX, SWAY_DEG)):
        freqs = rng.uniform(0.15, 0.6, 3)
        phases = rng.uniform(0.0, 2.0 * np.pi, 3)
        weights = np.array([1.0, 0.6, 0.35])
        path = (weights * np.sin(2 * np.pi * freqs * t[:, None] + phases)).sum(axis=1)
        poses[:, axis] = amount * scale * path
    poses[:, 2] = np.clip(poses[:, 2], -MAX_DEG, MAX_DEG)
    return poses
