"""A guard against a reference-count bug of PySide6 6.12.0 on Python 3.11.

PySide6(-Essentials) 6.12.0 returns ``None`` (and sometimes ``True``/``False``) from C++ methods without
taking a reference: every ``painter.setPen(...)``, every ``widget.repaint()`` takes one reference from
``None``. From Python 3.12 these objects are immortal and nothing happens; on Python 3.11 their count
reaches zero after a few minutes of painting and the interpreter aborts ("Fatal Python error:
none_dealloc: deallocating None"). 6.11.x does not have the bug.

The guard gives ``None``, ``True`` and ``False`` 2**40 extra references once (what Python 3.12 does by
making them immortal), so the lost references never bring them to zero. It is applied only on Python < 3.12
with PySide6 6.12.0, when this module is imported (every UI module imports it through ``theme``).
The real fix is to install another PySide6 (``PySide6-Essentials!=6.12.0``).
"""

from __future__ import annotations

import sys

_BOOST = 1 << 40
_applied = False


def needs_guard(pyside_version: str, python: tuple[int, int] = sys.version_info[:2]) -> bool:
    """Whether this PySide6 on this Python loses references to ``None``."""
    return python < (3, 12) and pyside_version.startswith("6.12.0")


def guard_singleton_refcounts() -> bool:
    """Apply the guard when it is needed (once); return whether it is in place."""
    global _applied
    if _applied:
        return True
    import PySide6

    if not needs_guard(PySide6.__version__):
        return False
    import ctypes

    for obj in (None, True, False):
        # CPython: ob_refcnt is the first field of every object (this runs with the GIL held).
        ctypes.c_ssize_t.from_address(id(obj)).value += _BOOST
    _applied = True
    return True


guard_singleton_refcounts()
