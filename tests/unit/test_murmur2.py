"""The stitched topic's partition of a journey is Kafka's murmur2 partition of its key: the one
librdkafka's `murmur2_random` and the Java client pick, so journeys stay put across clients."""

from __future__ import annotations

import pytest

from journey.streams.murmur2 import key_partition, murmur2

# org.apache.kafka.common.utils.UtilsTest#testMurmur2
KAFKA_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


@pytest.mark.parametrize(("data", "expected"), KAFKA_VECTORS.items())
def test_murmur2_matches_kafkas_java_client(data: bytes, expected: int) -> None:
    assert murmur2(data) == expected


def test_key_partition_is_the_positive_hash_modulo_the_partitions() -> None:
    assert key_partition("foobar", 6) == (-790332482 & 0x7FFFFFFF) % 6
    assert {key_partition(f"cust-{n:06d}", 6) for n in range(100)} == set(range(6))
