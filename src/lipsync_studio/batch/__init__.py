"""Batch dubbing: a manifest of (clip, language) jobs run as Ray tasks, resumable, with a QC report.

The only part of the app that knows about Ray (:mod:`.ray_backend`); the sync job is reached through one adapter
(:func:`.execute.run_job`).
"""
