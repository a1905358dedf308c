"""CRC-32C (Castagnoli), the checksum TensorFlow writes into checkpoints, in numpy.

TensorFlow checks every table block of a checkpoint's ``.index`` file and every tensor in its ``.data`` file
with CRC-32C (polynomial 0x1EDC6F41, reflected 0x82F63B78, initial value and final xor 0xFFFFFFFF) and stores
it *masked* (:func:`mask`). No CRC-32C package is a dependency of Lipsync Studio, so it is computed here.

A byte-at-a-time loop in Python would need about a minute for PRNet's 53 MB of weights. Instead the data are cut
into equal chunks whose CRC registers advance together, one byte column per numpy step, and the chunk results are
chained with the linear operator "advance the register over L zero bytes" (CRC is linear over GF(2):
``raw(r, A‖B) = raw(zeros(len B) advanced from raw(r, A)) xor raw(0, B)``). That runs at about 100 MB/s on one core.
"""

from __future__ import annotations

import sys
from functools import lru_cache

import numpy as np

POLYNOMIAL = 0x82F63B78
"""The Castagnoli polynomial in reflected (LSB-first) form."""

MASK_DELTA = 0xA282EAD8
"""The constant TensorFlow (and LevelDB) add when masking a stored CRC."""

_SMALL = 4096  # below this many bytes the plain table loop is faster than the chunked one
_LOW_BYTE = 0 if sys.byteorder == "little" else 3


def _byte_table() -> np.ndarray:
    crc = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        crc = np.where(crc & 1, (crc >> 1) ^ np.uint32(POLYNOMIAL), crc >> 1).astype(np.uint32)
    return crc


_TABLE = _byte_table()
_TABLE_LIST = [int(v) for v in _TABLE]


def _advance_small(register: int, data: bytes | memoryview) -> int:
    """Advance a raw (unconditioned) CRC register over ``data`` one byte at a time."""
    table = _TABLE_LIST
    for byte in bytes(data):
        register = table[(register ^ byte) & 0xFF] ^ (register >> 8)
    return register


@lru_cache(maxsize=16)
def _zeros_operator(length: int) -> tuple[list[int], ...]:
    """Four 256-entry tables that advance a raw register over ``length`` zero bytes (one table per input byte)."""
    basis = (np.uint32(1) << np.arange(32, dtype=np.uint32)).astype(np.uint32)
    for _ in range(length):
        basis = _TABLE[basis & 0xFF] ^ (basis >> 8)
    # images[k][v]: the image of the register value v << (8 k); built by xor-ing the images of v's bits.
    values = np.arange(256, dtype=np.uint32)
    tables = []
    for k in range(4):
        out = np.zeros(256, dtype=np.uint32)
        for bit in range(8):
            out ^= np.where((values >> bit) & 1, basis[8 * k + bit], np.uint32(0)).astype(np.uint32)
        tables.append([int(v) for v in out])
    return tuple(tables)


def _advance_chunked(register: int, data: np.ndarray) -> int:
    n = data.size
    # Chunk length: a power of two near sqrt(n), at most 2048 (measured fastest: each step reads one byte of
    # every chunk, a strided gather); the few zero-byte operators needed are cached.
    length = 1 << max(8, min(11, n.bit_length() // 2))
    count = n // length
    chunks = data[: count * length].reshape(count, length)
    regs = np.zeros(count, dtype=np.uint32)
    low_bytes = regs.view(np.uint8)[_LOW_BYTE::4]  # the register's low byte, as a view
    index = np.empty(count, dtype=np.uint8)
    looked_up = np.empty(count, dtype=np.uint32)
    for j in range(length):
        np.bitwise_xor(low_bytes, chunks[:, j], out=index)
        np.take(_TABLE, index, out=looked_up)
        regs >>= 8
        regs ^= looked_up
    t0, t1, t2, t3 = _zeros_operator(length)
    for chunk_register in regs.tolist():
        register = (t0[register & 0xFF] ^ t1[(register >> 8) & 0xFF] ^ t2[(register >> 16) & 0xFF]
                    ^ t3[register >> 24] ^ chunk_register)
    return _advance_small(register, data[count * length:].tobytes())


def crc32c(data: bytes | bytearray | memoryview | np.ndarray, crc: int = 0) -> int:
    """The CRC-32C of ``data``, optionally continuing from the CRC ``crc`` of the bytes before it.

    Parameters
    ----------
    data:
        The bytes; a numpy array is taken as its raw (C-order) bytes.
    crc:
        The CRC-32C of everything before ``data`` (0 to start), so that
        ``crc32c(b, crc32c(a)) == crc32c(a + b)``.

    Returns
    -------
    int
        The unmasked CRC-32C, 0 … 2**32-1.
    """
    if isinstance(data, np.ndarray):
        raw = np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    else:
        raw = np.frombuffer(data, dtype=np.uint8)
    register = (crc ^ 0xFFFFFFFF) & 0xFFFFFFFF
    register = _advance_small(register, raw.tobytes()) if raw.size < _SMALL else _advance_chunked(register, raw)
    return register ^ 0xFFFFFFFF


def mask(crc: int) -> int:
    """Mask a CRC the way TensorFlow stores it: rotate right by 15 bits, then add :data:`MASK_DELTA` (mod 2**32).

    Storing a CRC of data that itself holds CRCs is fragile; masking avoids that (LevelDB's rationale).
    """
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + MASK_DELTA) & 0xFFFFFFFF


def unmask(masked: int) -> int:
    """Invert :func:`mask`."""
    rot = (masked - MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF
