"""Measurements of speed and quality (``lipsync-studio bench``), a front end like the demo: they make their
own media from :mod:`lipsync_studio.samples`, which nothing below the front ends may import.

- :mod:`.stages`: each stage's frames/s against a decode+encode-only pass, peak memory, real-time factors;
- :mod:`.face_quality`: the face tracker's jitter and lag on synthetic clips with known motion.

Scripts in the repository's ``bench/`` measure the rest (the app's responsiveness, the loudness over long
audio, training throughput, stereo depth, the Wav2Lip generator on a GPU).
"""
