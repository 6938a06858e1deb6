"""Await events on a Kafka topic in tests: every record published after the watcher started."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType
from typing import Self

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from kit.events.envelope import CloudEvent


class TopicWatcher:
    """Reads a topic from its current end, outside any consumer group."""

    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        self.topic = topic
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
        self.records: list[ConsumerRecord[bytes, bytes]] = []

    async def __aenter__(self) -> Self:
        await self._consumer.start()
        partitions = await self._wait_for_partitions()
        assignment = [TopicPartition(self.topic, p) for p in partitions]
        self._consumer.assign(assignment)
        await self._consumer.seek_to_end(*assignment)
        for tp in assignment:  # resolve the end offsets now, before anything is published
            await self._consumer.position(tp)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._consumer.stop()

    async def _wait_for_partitions(self) -> set[int]:
        for _ in range(100):
            partitions = self._consumer.partitions_for_topic(self.topic)
            if partitions:
                return set(partitions)
            await self._consumer._client.force_metadata_update()  # the topic may have just been created
            await asyncio.sleep(0.1)
        raise TimeoutError(f"topic {self.topic} has no partitions")

    async def next_record(
        self, predicate: Callable[[ConsumerRecord[bytes, bytes]], bool] = lambda _: True, timeout: float = 20
    ) -> ConsumerRecord[bytes, bytes]:
        """The next record matching `predicate`, waiting at most `timeout` seconds."""
        async with asyncio.timeout(timeout):
            while True:
                batches = await self._consumer.getmany(timeout_ms=200)
                for records in batches.values():
                    self.records.extend(records)
                for record in self.records:
                    if predicate(record):
                        self.records.remove(record)
                        return record

    async def next_event(
        self, predicate: Callable[[CloudEvent], bool] = lambda _: True, timeout: float = 20
    ) -> CloudEvent:
        """The next CloudEvent matching `predicate`."""
        record = await self.next_record(lambda r: predicate(CloudEvent.from_kafka(r.headers, r.value)), timeout=timeout)
        return CloudEvent.from_kafka(record.headers, record.value)

    async def collect(self, count: int, timeout: float = 30) -> list[ConsumerRecord[bytes, bytes]]:
        """The next `count` records, in arrival order."""
        return [await self.next_record(timeout=timeout) for _ in range(count)]
