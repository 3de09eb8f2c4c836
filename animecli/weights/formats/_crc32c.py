"""CRC-32C (Castagnoli), as TensorFlow and LevelDB use it, vectorised with numpy.

The data is cut into equal power-of-two chunks whose CRCs are computed side by side (one numpy step per
byte position), then merged pairwise: CRC is linear, so ``crc(A || B)`` is ``crc(B)`` xor
``crc(A)`` advanced over ``len(B)`` zero bytes, and that advance is a fixed 32x32 bit matrix.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

_POLY = 0x82F63B78  # reflected Castagnoli polynomial
_MASK_DELTA = 0xA282EAD8
_LANES = 4096  # chunks processed side by side
_MIN_CHUNK_BITS = 6  # chunks of at least 64 bytes; shorter inputs go byte by byte


def _byte_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(_POLY), table >> 1).astype(np.uint32)
    return table


_TABLE = _byte_table()
_TABLE_LIST = _TABLE.tolist()
_BYTE_BITS = ((np.arange(256)[:, None] >> np.arange(8)) & 1).astype(bool)  # bit j of each byte value


@lru_cache(maxsize=None)
def _zero_bytes_columns(log2_bytes: int) -> tuple[int, ...]:
    """Images of the 32 register bits after feeding 2**log2_bytes zero bytes (a 32x32 GF(2) matrix)."""
    if log2_bytes == 0:
        return tuple(_TABLE_LIST[(1 << b) & 0xFF] ^ ((1 << b) >> 8) for b in range(32))
    half = _zero_bytes_columns(log2_bytes - 1)
    return tuple(_apply(half, c) for c in half)


def _apply(columns, value: int) -> int:
    out = 0
    for bit in range(32):
        if value >> bit & 1:
            out ^= columns[bit]
    return out


@lru_cache(maxsize=None)
def _zero_bytes_tables(log2_bytes: int) -> np.ndarray:
    """The same map as four 256-entry tables, one per register byte, for numpy lookups."""
    cols = np.array(_zero_bytes_columns(log2_bytes), dtype=np.uint32).reshape(4, 1, 8)
    return np.bitwise_xor.reduce(np.where(_BYTE_BITS, cols, 0), axis=2).astype(np.uint32)


def crc32c(data) -> int:
    """CRC-32C of a bytes-like object."""
    raw = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    size = raw.size
    if size < (1 << _MIN_CHUNK_BITS):
        register = 0xFFFFFFFF
        for byte in raw.tolist():
            register = _TABLE_LIST[(register ^ byte) & 0xFF] ^ (register >> 8)
        return register ^ 0xFFFFFFFF
    chunk_bits = max(_MIN_CHUNK_BITS, (-(-size // _LANES) - 1).bit_length())
    chunk = 1 << chunk_bits
    count = -(-size // chunk)
    # Leading zero bytes keep a zero register at zero, so the data goes at the end; starting
    # the register at 0xFFFFFFFF is the same as flipping the first four data bytes.
    padded = np.zeros(count * chunk, dtype=np.uint8)
    start = padded.size - size
    padded[start:] = raw
    padded[start : start + 4] ^= 0xFF
    registers = np.zeros(count, dtype=np.uint32)
    for column in padded.reshape(count, chunk).T.copy():
        registers = _TABLE[(registers ^ column) & 0xFF] ^ (registers >> np.uint32(8))
    level = chunk_bits
    while registers.size > 1:
        if registers.size % 2:  # one more all-zero chunk in front changes nothing
            registers = np.concatenate([np.zeros(1, dtype=np.uint32), registers])
        tables, left = _zero_bytes_tables(level), registers[0::2]
        advanced = tables[0][left & 0xFF] ^ tables[1][(left >> 8) & 0xFF]
        advanced ^= tables[2][(left >> 16) & 0xFF] ^ tables[3][left >> 24]
        registers = advanced ^ registers[1::2]
        level += 1
    return int(registers[0]) ^ 0xFFFFFFFF


def masked(crc: int) -> int:
    """LevelDB/TensorFlow's stored form of a CRC (rotated and offset)."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF
