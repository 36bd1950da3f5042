"""Kafka's murmur2 key hash (the Java client's default partitioner, and librdkafka's
`murmur2_random`): which partition of a topic a keyed record goes to. Pure."""

from __future__ import annotations

import functools

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """The 32-bit hash as Kafka computes it (org.apache.kafka.common.utils.Utils.murmur2), signed."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    whole = length - length % 4
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = length % 4
    if tail >= 3:
        h ^= data[whole + 2] << 16
    if tail >= 2:
        h ^= data[whole + 1] << 8
    if tail >= 1:
        h ^= data[whole]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


@functools.lru_cache(maxsize=1 << 16)  # pure Python; busy keys repeat
def key_partition(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a record keyed `key`."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions
