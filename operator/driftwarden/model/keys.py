"""64-bit hashes of id columns: which spill partition a row goes to, and its sampling key.

Both sides of the label join must send an id to the same partition, so ids are first
brought to one type (:func:`common_id_type`: int64 when both sides hold integers,
otherwise strings) and then hashed from their values alone. Integers go through
splitmix64; strings through a polynomial hash of their bytes (vectorised with
prefix sums: the hash of bytes ``b[s:e]`` is ``(S[e] − S[s]) · P^−s`` mod 2^64, where
``S`` sums ``b[j]·P^j``), then splitmix64. A collision only puts two ids in one
partition; the join itself compares the ids.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_P = 0x100000001B3  # the FNV prime: odd, so invertible modulo 2^64
_P_INV = pow(_P, -1, 2**64)


def mix(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """splitmix64's finaliser (Steele, Lea & Flood 2014), in place on a copy."""
    x = x.copy()  # the caller's array stays as it was
    x ^= x >> np.uint64(30)
    x *= _MIX1
    x ^= x >> np.uint64(27)
    x *= _MIX2
    x ^= x >> np.uint64(31)
    return x


def common_id_type(a: pa.DataType, b: pa.DataType) -> pa.DataType:
    """The type both sides' ids are cast to before hashing and joining."""
    if pa.types.is_integer(a) and pa.types.is_integer(b):
        return pa.int64()
    return pa.large_string()


def _powers(base: int, count: int) -> NDArray[np.uint64]:
    powers = np.full(count, base, dtype=np.uint64)
    if count:
        powers[0] = 1
    with np.errstate(over="ignore"):
        return np.cumprod(powers, dtype=np.uint64)  # wraps modulo 2^64, as wanted


def id_hashes(ids: pa.Array) -> NDArray[np.uint64]:
    """A 64-bit hash of each (non-null) id; ids of type int64 or large_string."""
    with np.errstate(over="ignore"):
        if pa.types.is_integer(ids.type):
            values = np.asarray(ids.cast(pa.int64()).to_numpy(zero_copy_only=False))
            return mix(values.view(np.uint64) * _GOLDEN)
        binary = pc.cast(ids, pa.large_binary())
        if isinstance(binary, pa.ChunkedArray):
            binary = binary.combine_chunks()
        buffers = binary.buffers()
        offsets = np.frombuffer(buffers[1], dtype=np.int64)[
            binary.offset : binary.offset + len(binary) + 1
        ]
        start, end = int(offsets[0]), int(offsets[-1])
        data = (
            np.frombuffer(buffers[2], dtype=np.uint8)[start:end].astype(np.uint64)
            if buffers[2] is not None and end > start
            else np.zeros(0, dtype=np.uint64)
        )
        local = offsets - start
        prefix = np.zeros(data.size + 1, dtype=np.uint64)
        np.cumsum(data * _powers(_P, data.size), out=prefix[1:])
        inverse = _powers(_P_INV, data.size + 1)
        sums = (prefix[local[1:]] - prefix[local[:-1]]) * inverse[local[:-1]]
        lengths = np.diff(local).astype(np.uint64)
        return mix(sums ^ (lengths * _GOLDEN))


def sampling_keys(hashes: NDArray[np.uint64], seed: int) -> NDArray[np.float64]:
    """Uniform keys in [0, 1) of ids from their hashes: a row's key depends on its id and
    the seed only, so both periods and every partitioning keep the same rows."""
    salt = np.uint64(
        int.from_bytes(
            hashlib.blake2b(seed.to_bytes(8, "little", signed=True), digest_size=8).digest(),
            "little",
        )
    )
    with np.errstate(over="ignore"):
        x = mix(hashes ^ salt) >> np.uint64(11)  # 53 bits: exact in a float64
    return x.astype(np.float64) * 2.0**-53
