"""Our murmur2 partitioner puts every key where Kafka's default partitioner (aiokafka's) puts it."""

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as reference_murmur2
from hypothesis import given
from hypothesis import strategies as st

from kit.events.partitioning import murmur2, partition_for


@given(st.binary(max_size=80))
def test_murmur2_matches_the_reference(data: bytes) -> None:
    assert murmur2(data) & 0x7FFFFFFF == reference_murmur2(data) & 0x7FFFFFFF


@given(st.binary(min_size=1, max_size=64), st.integers(min_value=1, max_value=64))
def test_partition_matches_the_default_partitioner(key: bytes, count: int) -> None:
    partitions = list(range(count))
    assert partition_for(key, partitions) == DefaultPartitioner()(key, partitions, partitions)
