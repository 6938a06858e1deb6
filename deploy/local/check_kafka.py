#!/usr/bin/env python3
"""Round-trip check of the local Kafka broker with aiokafka (the client the services use).

Creates a fresh topic with AIOKafkaAdminClient, produces keyed messages with headers through an
idempotent producer (acks=all), consumes them in a consumer group with manual commits, checks
payloads, headers and committed offsets, then restarts the group to prove it resumes after the
commit, and deletes the topic. Exits 0 on success, 1 on any failure.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 python3 deploy/local/check_kafka.py

Needs aiokafka (pip install aiokafka).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid

BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
TIMEOUT_S = float(os.environ.get("CHECK_KAFKA_TIMEOUT", "60"))
N_MESSAGES = 20
PARTITIONS = 3


class CheckFailedError(Exception):
    pass


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise CheckFailedError(what)


async def consume(topic: str, group: str, want: int, *, commit: bool) -> list:
    """Reads up to `want` records in consumer group `group`.

    With commit=True it commits after every batch and checks the stored offsets. With want=0 it
    waits for the partition assignment, then polls briefly and returns whatever arrived (the
    caller expects nothing) and checks the resumed positions equal the end offsets.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=BOOTSTRAP,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="check-kafka-consumer",
    )
    await consumer.start()
    got = []
    tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    try:
        deadline = time.monotonic() + 30
        if want == 0:
            while not consumer.assignment() and time.monotonic() < deadline:
                await consumer.getmany(timeout_ms=200)
            expect(bool(consumer.assignment()), "consumer got no partitions assigned")
            batch = await consumer.getmany(timeout_ms=1500)
            for records in batch.values():
                got.extend(records)
            ends = await consumer.end_offsets(tps)
            for tp in tps:
                position = await consumer.position(tp)
                expect(position == ends[tp], f"{tp}: resumed at {position}, end offset {ends[tp]}")
            return got
        while len(got) < want and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=1000, max_records=100)
            for records in batch.values():
                got.extend(records)
            if commit and batch:
                await consumer.commit()
        if commit:
            # verify what the group coordinator stored
            for tp in tps:
                committed = await consumer.committed(tp)
                position = await consumer.position(tp)
                expect(committed == position, f"{tp}: committed {committed} != position {position}")
    finally:
        await consumer.stop()
    return got


async def run() -> None:
    import aiokafka
    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    suffix = uuid.uuid4().hex[:10]
    topic = f"basisdienste.check-kafka.{suffix}"
    group = f"basisdienste-check-kafka-{suffix}"
    print(f"aiokafka {aiokafka.__version__} -> {BOOTSTRAP}, topic {topic}")

    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP, client_id="check-kafka-admin")
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name=topic, num_partitions=PARTITIONS, replication_factor=1)])
        # wait until the topic metadata is visible
        for _ in range(50):
            if topic in await admin.list_topics():
                break
            await asyncio.sleep(0.2)
        else:
            raise CheckFailedError(f"topic {topic} not visible after creation")
        described = await admin.describe_topics([topic])
        expect(len(described[0]["partitions"]) == PARTITIONS, f"unexpected topic description {described}")
        print(f"  created topic with {PARTITIONS} partitions")

        producer = AIOKafkaProducer(
            bootstrap_servers=BOOTSTRAP,
            enable_idempotence=True,
            acks="all",
            client_id="check-kafka-producer",
        )
        await producer.start()
        sent = {}
        try:
            futures = []
            for i in range(N_MESSAGES):
                key = f"key-{i % 5}".encode()
                value = f"value-{i}-{suffix}".encode()
                headers = [("event-id", str(uuid.uuid4()).encode()), ("seq", str(i).encode())]
                sent[value] = (key, headers)
                futures.append(await producer.send(topic, value=value, key=key, headers=headers))
            metas = await asyncio.gather(*futures)
            expect(all(m.offset >= 0 for m in metas), "producer returned no offsets")
        finally:
            await producer.stop()
        print(f"  produced {N_MESSAGES} messages (idempotent, acks=all)")

        # first half of the group's life: read everything, commit manually
        got = await consume(topic, group, N_MESSAGES, commit=True)
        expect(len(got) == N_MESSAGES, f"consumed {len(got)} of {N_MESSAGES} messages")
        for rec in got:
            expect(rec.value in sent, f"unexpected message {rec.value!r}")
            key, headers = sent[rec.value]
            expect(rec.key == key, f"key mismatch for {rec.value!r}: {rec.key!r} != {key!r}")
            expect(list(rec.headers) == headers, f"headers mismatch for {rec.value!r}: {rec.headers!r}")
        print(f"  consumed {len(got)} messages in group {group}, keys and headers intact, offsets committed")

        # the same group must resume after the committed offsets: nothing left to read
        again = await consume(topic, group, 0, commit=False)
        expect(not again, f"group re-read {len(again)} committed messages")
        print("  group resumed after its committed offsets")

        committed = await admin.list_consumer_group_offsets(group)
        total = sum(meta.offset for tp, meta in committed.items() if tp.topic == topic)
        expect(total == N_MESSAGES, f"admin sees committed offsets summing to {total}, want {N_MESSAGES}")
    finally:
        try:
            await admin.delete_topics([topic])
        except Exception as exc:
            print(f"  (could not delete {topic}: {exc!r})", file=sys.stderr)
        await admin.close()


def main() -> int:
    try:
        asyncio.run(asyncio.wait_for(run(), TIMEOUT_S))
    except ImportError as exc:
        print(f"check_kafka: FAILED: {exc} (pip install aiokafka)", file=sys.stderr)
        return 1
    except Exception as exc:
        print(f"check_kafka: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print("check_kafka: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
