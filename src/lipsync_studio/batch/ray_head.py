"""The private Ray head of one batch run, in a fresh interpreter of its own: ``ray start --head --block``.

Started by :class:`~lipsync_studio.batch.ray_backend.RayCluster` as ``python -m lipsync_studio.batch.ray_head
PARENT_PID ARGS...`` (ARGS are ``ray start``'s). Why a process of its own: ``ray.init`` starting a local Ray
forks the calling process and runs Python in the child before it executes Ray's servers (a ``preexec_fn``).
In the app that process decodes video in other threads; the child's after-fork clean-up frees their FFmpeg
objects, which wait on worker threads the child does not have, and the start hangs for ever. This process
has no such threads, and the app reaches it by address.

It ends with the thread that started it (Linux's parent-death signal: SIGTERM, which ``ray start --block``
takes as "drain, then stop every Ray process of this node"), so an app that is killed leaves no Ray behind.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def main() -> None:
    parent, args = int(sys.argv[1]), sys.argv[2:]
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    if os.getppid() != parent:  # the starter died before the signal was set
        sys.exit(3)
    from ray.scripts.scripts import main as ray_main

    sys.argv = ["ray", *args]
    ray_main()


if __name__ == "__main__":
    main()
