"""``python -m bench.events`` (``make bench``): the outbox relay against its peer, raw aiokafka.

1. Throughput: N events produced by a bare ``AIOKafkaProducer`` (same settings as the relay:
   idempotent, ``acks=all``; same payloads and headers) to a fresh topic, versus the relay moving N
   committed outbox rows from PostgreSQL to Kafka and marking them sent. Both in this run, same broker.
2. Latency: events published at a fixed rate (one transaction each, on schedule, late ones sent at
   once without skipping) while the relay and a consumer run; latency = handler start - commit.

Needs the local Kafka and PostgreSQL (``make infra``). Prints a table; copy it to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from typing import Any

from sqlalchemy import func, select

from bench.events.model import bench_event, payload
from contracts.events.base import Event, dead_letter_topic
from kit.db import KIT_METADATA, Database, utcnow
from kit.events import CloudEvent, EventConsumer, OutboxRelay, ensure_topics, publish
from kit.events.outbox import event_source, outbox_table
from kit.events.relay import create_producer
from kit.ids import uuid7
from kit.testing import LocalInfrastructure


async def raw_producer_throughput(bootstrap: str, model: type[Event], count: int) -> float:
    """Events/s of a bare aiokafka producer sending the relay's records."""
    producer = create_producer(bootstrap)
    await producer.start()
    try:
        records = []
        for _ in range(count):
            event = payload(model)
            envelope = CloudEvent(
                id=str(uuid7()),
                source=event_source(model.topic),
                type=model.event_type,
                data=event.model_dump(mode="json"),
                time=utcnow(),
                subject=event.key(),
                tenant="nrw",
            )
            records.append((event.key().encode(), envelope.kafka_value(), envelope.kafka_headers()))
        started = time.perf_counter()
        futures = [await producer.send(model.topic, value=v, key=k, headers=h) for k, v, h in records]
        await asyncio.gather(*futures)
        return count / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def relay_throughput(database: Database, bootstrap: str, model: type[Event], count: int) -> float:
    """Events/s of a running relay moving `count` committed outbox rows to Kafka."""
    async with database.session() as session, session.begin():
        await publish(session, payload(model), tenant="nrw")
    stop = asyncio.Event()
    relay = OutboxRelay(database, service="bench", bootstrap_servers=bootstrap, batch_size=1000)
    task = asyncio.create_task(relay.run(stop))
    await _wait_until_relayed(database)  # producer connected before the clock starts, as the raw peer's
    async with database.session() as session, session.begin():
        for _ in range(count):
            await publish(session, payload(model), tenant="nrw")
        started = time.perf_counter()  # the commit below wakes the relay
    await _wait_until_relayed(database)
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    return count / elapsed


async def _wait_until_relayed(database: Database) -> None:
    query = select(func.count()).select_from(outbox_table).where(outbox_table.c.sent_at.is_(None))
    while True:
        async with database.session() as session:
            if not await session.scalar(query):
                return
        await asyncio.sleep(0.01)


async def latency(database: Database, bootstrap: str, model: type[Event], rate: int, seconds: float) -> list[float]:
    """Commit-to-handler latencies (ms) of events published at `rate` per second.

    The publisher is a process of its own, as a service's API is beside its worker; both sides take
    their times from the same monotonic clock.
    """
    handled: dict[str, float] = {}
    total = int(rate * seconds)
    all_handled = asyncio.Event()

    async def handler(_session: Any, _event: Any, envelope: CloudEvent) -> None:
        handled.setdefault(envelope.id, time.monotonic())
        if len(handled) >= total:
            all_handled.set()

    stop = asyncio.Event()
    relay = OutboxRelay(database, service="bench", bootstrap_servers=bootstrap)
    consumer = EventConsumer(
        database, service="bench", bootstrap_servers=bootstrap, handlers={model: handler}, group_id=f"bench-{uuid7()}"
    )
    tasks = [asyncio.create_task(relay.run(stop)), asyncio.create_task(consumer.run(stop))]
    await asyncio.wait_for(consumer.assigned.wait(), timeout=60)
    publisher = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.events.publisher",
        database.url,
        model.topic,
        str(rate),
        str(seconds),
        stdout=asyncio.subprocess.PIPE,
    )
    output, _ = await publisher.communicate()
    committed = json.loads(output)
    await asyncio.wait_for(all_handled.wait(), timeout=60)
    stop.set()
    await asyncio.gather(*tasks)
    return [(handled[event_id] - at) * 1000 for event_id, at in committed.items()]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def main() -> None:
    """Run both parts and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=30_000, help="events per throughput run")
    parser.add_argument("--rate", type=int, default=1_000, help="events/s of the latency run")
    parser.add_argument("--seconds", type=float, default=15, help="length of the latency run")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds (the median is reported)")
    args = parser.parse_args()

    infrastructure = LocalInfrastructure()
    infrastructure.start_postgres()
    bootstrap = infrastructure.start_kafka()
    url = await infrastructure.create_database("bench_events")
    database = Database(url, pool_size=5)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(KIT_METADATA.create_all)
        raw, relayed = [], []
        for _ in range(args.rounds):
            raw_model, relay_model = (
                bench_event(f"bench.raw{uuid7().hex[-8:]}"),
                bench_event(f"bench.relay{uuid7().hex[-8:]}"),
            )
            await ensure_topics(bootstrap, [raw_model.topic, relay_model.topic], partitions=3)
            raw.append(await raw_producer_throughput(bootstrap, raw_model, args.events))
            relayed.append(await relay_throughput(database, bootstrap, relay_model, args.events))
        model = bench_event(f"bench.lat{uuid7().hex[-8:]}")
        await ensure_topics(bootstrap, [model.topic, dead_letter_topic(model.topic)], partitions=3)
        latencies = await latency(database, bootstrap, model, args.rate, args.seconds)
    finally:
        await database.dispose()
        await infrastructure.drop_database(url)

    raw_median, relay_median = statistics.median(raw), statistics.median(relayed)
    print(f"throughput, {args.events} events, median of {args.rounds} rounds")
    print(f"  raw aiokafka producer : {raw_median:10.0f} events/s   (rounds: {', '.join(f'{r:.0f}' for r in raw)})")
    print(
        f"  outbox relay          : {relay_median:10.0f} events/s   (rounds: {', '.join(f'{r:.0f}' for r in relayed)})"
    )
    print(f"  relay / raw           : {relay_median / raw_median:10.0%}   (target >= 50 %)")
    print(f"latency commit -> handler at {args.rate} events/s for {args.seconds:.0f} s ({len(latencies)} events)")
    print(
        f"  p50 {percentile(latencies, 50):7.1f} ms   p99 {percentile(latencies, 99):7.1f} ms   "
        f"max {max(latencies):7.1f} ms   (target p99 <= 100 ms)"
    )


if __name__ == "__main__":
    asyncio.run(main())
