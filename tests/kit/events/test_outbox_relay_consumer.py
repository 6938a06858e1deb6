"""The outbox, the relay and the consumer against the real broker and PostgreSQL."""

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from opentelemetry import trace

from contracts.events.base import Event, dead_letter_topic
from kit.db import Database
from kit.events import CloudEvent, EventConsumer, OutboxRelay, ensure_topics, publish
from kit.events.consumer import inbox_table
from kit.telemetry.tracing import configure_tracing
from kit.testing import TopicWatcher
from tests.kit.events.widgets import (
    effect_counts,
    record_effect,
    register_widgets,
    wait_for_effects,
    widget_event_type,
)


@contextlib.asynccontextmanager
async def running(*runners: Any) -> AsyncIterator[asyncio.Event]:
    """Run relays/consumers as tasks until the block ends."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(runner.run(stop)) for runner in runners]
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)


async def _topic_with_dlq(kafka_bootstrap: str, topic: str) -> type[Event]:
    await ensure_topics(kafka_bootstrap, [topic, dead_letter_topic(topic)], partitions=3)
    return widget_event_type(topic)


def _relay(database: Database, kafka_bootstrap: str, **kwargs: Any) -> OutboxRelay:
    return OutboxRelay(database, service="test", bootstrap_servers=kafka_bootstrap, poll_interval=0.2, **kwargs)


def _consumer(database: Database, kafka_bootstrap: str, model: type[Event], handler: Any = record_effect, **kw: Any):
    return EventConsumer(
        database,
        service="test",
        bootstrap_servers=kafka_bootstrap,
        handlers={model: handler},
        group_id=f"test-{uuid.uuid4().hex[:8]}",
        retry_backoff=0.05,
        **kw,
    )


async def test_committed_events_reach_kafka_as_cloudevents(clean_database, kafka_bootstrap, topic) -> None:
    model = await _topic_with_dlq(kafka_bootstrap, topic)
    configure_tracing("test")
    widget_id = uuid.uuid4()
    async with TopicWatcher(kafka_bootstrap, topic) as watcher, running(_relay(clean_database, kafka_bootstrap)):
        with trace.get_tracer("test").start_as_current_span("request") as span:
            async with clean_database.session() as session, session.begin():
                event_id = await publish(session, model(widget_id=widget_id, name="first"), tenant="nrw")
        record = await watcher.next_record()
    envelope = CloudEvent.from_kafka(record.headers, record.value)
    assert envelope.id == str(event_id)
    assert envelope.type == model.event_type
    assert envelope.source == "/basisdienste/test"
    assert envelope.subject == str(widget_id) == record.key.decode()
    assert envelope.tenant == "nrw"
    assert envelope.data == {"widget_id": str(widget_id), "name": "first"}
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert envelope.traceparent is not None and envelope.traceparent.split("-")[1] == trace_id


async def test_rolled_back_events_are_never_sent(clean_database, kafka_bootstrap, topic) -> None:
    model = await _topic_with_dlq(kafka_bootstrap, topic)
    async with clean_database.session() as session, session.begin():
        await publish(session, model(widget_id=uuid.uuid4(), name="ghost"))
        await session.rollback()
    kept = await register_widgets(clean_database, model, 1)
    async with TopicWatcher(kafka_bootstrap, topic) as watcher, running(_relay(clean_database, kafka_bootstrap)):
        await watcher.next_record(lambda r: r.key.decode() == str(kept[0]))
        with pytest.raises(TimeoutError):
            await watcher.next_record(timeout=1.5)


async def test_an_event_too_large_for_kafka_is_refused_when_published(clean_database, topic) -> None:
    model = widget_event_type(topic)
    async with clean_database.session() as session, session.begin():
        with pytest.raises(ValueError, match="at most"):
            await publish(session, model(widget_id=uuid.uuid4(), name="x" * 1_000_000))


async def test_consumer_applies_each_event_once_in_order_per_key(clean_database, kafka_bootstrap, topic) -> None:
    model = await _topic_with_dlq(kafka_bootstrap, topic)
    ids = await register_widgets(clean_database, model, 50)
    consumer = _consumer(clean_database, kafka_bootstrap, model)
    async with running(_relay(clean_database, kafka_bootstrap), consumer):
        counts = await wait_for_effects(clean_database, 50)
    assert counts == dict.fromkeys(ids, 1)


async def test_events_of_one_aggregate_arrive_in_the_order_they_were_written(
    clean_database, kafka_bootstrap, topic
) -> None:
    model = await _topic_with_dlq(kafka_bootstrap, topic)
    keys = [uuid.uuid4() for _ in range(5)]
    async with clean_database.session() as session, session.begin():  # many events per key, one transaction
        for step in range(40):
            for key in keys:
                await publish(session, model(widget_id=key, name=f"step{step:02d}"))
    async with (
        TopicWatcher(kafka_bootstrap, topic) as watcher,
        running(
            _relay(clean_database, kafka_bootstrap, batch_size=7)  # small batches: many claims in flight
        ),
    ):
        records = await watcher.collect(200)
    for key in keys:
        steps = [json.loads(r.value)["name"] for r in records if r.key.decode() == str(key)]
        assert steps == [f"step{step:02d}" for step in range(40)]


async def test_redelivered_events_are_skipped_by_the_inbox(clean_database, kafka_bootstrap, topic) -> None:
    model = await _topic_with_dlq(kafka_bootstrap, topic)
    ids = await register_widgets(clean_database, model, 3)
    async with TopicWatcher(kafka_bootstrap, topic) as watcher, running(_relay(clean_database, kafka_bootstrap)):
        records = await watcher.collect(3)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:  # every record a second time, as a relay that crashed before marking would send them
        for record in records:
            await producer.send_and_wait(topic, value=record.value, key=record.key, headers=list(record.headers))
    finally:
        await producer.stop()
    consumer = _consumer(clean_database, kafka_bootstrap, model)
    async with running(consumer):
        await wait_for_effects(clean_database, 3)
        await asyncio.sleep(2)  # time for the duplicates to arrive and be skipped
    assert await effect_counts(clean_database) == dict.fromkeys(ids, 1)
    async with clean_database.session() as session:
        assert len((await session.execute(inbox_table.select())).all()) == 3


async def test_failing_handler_is_retried_then_dead_lettered_and_the_partition_goes_on(
    clean_database, kafka_bootstrap, topic
) -> None:
    model = await _topic_with_dlq(kafka_bootstrap, topic)
    attempts: dict[str, int] = {}

    async def fussy(session, event, envelope) -> None:
        if event.name == "poison":
            attempts[envelope.id] = attempts.get(envelope.id, 0) + 1
            raise ValueError("cannot digest poison")
        await record_effect(session, event, envelope)

    poison_key = uuid.uuid4()
    async with clean_database.session() as session, session.begin():
        # The same key throughout: the poison and the later events share one partition.
        await publish(session, model(widget_id=poison_key, name="poison"))
    async with clean_database.session() as session, session.begin():
        await publish(session, model(widget_id=poison_key, name="after"))
    consumer = _consumer(clean_database, kafka_bootstrap, model, handler=fussy, max_attempts=3)
    async with (
        TopicWatcher(kafka_bootstrap, dead_letter_topic(topic)) as dlq,
        running(_relay(clean_database, kafka_bootstrap), consumer),
    ):
        dead = await dlq.next_record()
        counts = await wait_for_effects(clean_database, 1)
    headers = dict(dead.headers)
    assert headers["dlq_error_type"] == b"ValueError"
    assert headers["dlq_error_message"] == b"cannot digest poison"
    assert headers["dlq_attempts"] == b"3"
    assert headers["dlq_original_topic"] == topic.encode()
    assert json.loads(dead.value)["name"] == "poison"
    assert list(attempts.values()) == [3 + 1]  # the batch attempt, then three on its own
    assert counts == {poison_key: 1}


@pytest.mark.parametrize(
    ("headers", "value"),
    [
        ([], b"\x00\x01 not json at all"),
        ([("ce_specversion", b"1.0"), ("ce_id", b"x"), ("ce_source", b"/s")], b"{}"),
        ("valid-envelope", b'{"widget_id": "not-a-uuid", "name": 1}'),
    ],
    ids=["not-json", "not-a-cloudevent", "data-does-not-fit-the-model"],
)
async def test_malformed_records_go_to_the_dlq_and_the_consumer_goes_on(
    clean_database, kafka_bootstrap, topic, headers, value
) -> None:
    model = await _topic_with_dlq(kafka_bootstrap, topic)
    if headers == "valid-envelope":
        headers = [
            ("ce_specversion", b"1.0"),
            ("ce_id", b"bad-1"),
            ("ce_source", b"/t"),
            ("ce_type", model.event_type.encode()),
        ]
    good_key = uuid.uuid4()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=value, key=str(good_key).encode(), headers=headers)
    finally:
        await producer.stop()
    async with clean_database.session() as session, session.begin():
        await publish(session, model(widget_id=good_key, name="good"))
    consumer = _consumer(clean_database, kafka_bootstrap, model)
    async with (
        TopicWatcher(kafka_bootstrap, dead_letter_topic(topic)) as dlq,
        running(_relay(clean_database, kafka_bootstrap), consumer),
    ):
        dead = await dlq.next_record()
        counts = await wait_for_effects(clean_database, 1)
    assert dead.value == value
    assert dict(dead.headers)["dlq_attempts"] == b"1"
    assert counts == {good_key: 1}


async def test_two_relays_share_the_outbox_without_sending_twice_or_reordering(
    clean_database, kafka_bootstrap, topic
) -> None:
    model = await _topic_with_dlq(kafka_bootstrap, topic)
    keys = [uuid.uuid4() for _ in range(40)]
    async with clean_database.session() as session, session.begin():
        for step in range(10):
            for key in keys:
                await publish(session, model(widget_id=key, name=f"step{step}"))
    relays = [_relay(clean_database, kafka_bootstrap, batch_size=20) for _ in range(2)]
    async with TopicWatcher(kafka_bootstrap, topic) as watcher, running(*relays):
        records = await watcher.collect(400)
        with pytest.raises(TimeoutError):
            await watcher.next_record(timeout=1.5)
        owned = [relay.shards.owned for relay in relays]
    assert len({dict(r.headers)["ce_id"] for r in records}) == 400
    for key in keys:  # each aggregate's events in the order they were written
        steps = [json.loads(r.value)["name"] for r in records if r.key.decode() == str(key)]
        assert steps == [f"step{step}" for step in range(10)]
    assert not owned[0] & owned[1]  # the shards are split between the two, not shared
    assert len(owned[0]) == len(owned[1]) == 8
