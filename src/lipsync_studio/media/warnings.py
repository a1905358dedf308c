"""Warnings shared by the media readers.

A warning (not an error) is raised when a file can be used, but not all of it: a damaged or truncated
recording is read up to the damage, and the user is told where it stops so they can judge whether the
result is still useful.
"""

from __future__ import annotations

__all__ = ["MediaWarning"]


class MediaWarning(UserWarning):
    """A media file was read only in part (damaged or truncated), or with a lossy fallback.

    The message names the file, says what was lost (e.g. "damaged at 12.48 s; read up to there") and
    what the user can do. Front ends show it next to the result rather than aborting the job.
    """
