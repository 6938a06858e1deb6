"""The consumer runner: hands Kafka records to handlers, each effect exactly once.

For every record the handler runs inside a database transaction that also records the event id in
the ``inbox`` table; a redelivered event finds its id there and is skipped. Offsets are committed
only after that transaction, so a crash in between redelivers rather than loses. A handler that
raises is retried with backoff; after ``max_attempts`` the record goes to ``<topic>.dlq`` with the
error in its headers and the partition moves on. Records that are no CloudEvent, or whose data does
not fit the event model, go to the dead-letter topic at once: retrying cannot fix them.

Infrastructure failures (database or broker unreachable) are not the event's fault: they never
count as attempts; the runner backs off and resumes from the last committed offset.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from pydantic import ValidationError
from sqlalchemy import Column, String, Table, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events.base import Event, dead_letter_topic
from kit.db import KIT_METADATA, Database, UTCDateTime, utcnow
from kit.events.envelope import CloudEvent, InvalidEnvelopeError
from kit.events.relay import close_producer, create_producer, sleep_or_stop
from kit.telemetry import metrics
from kit.telemetry.tracing import start_consumer_span

log = logging.getLogger(__name__)

#: A handler gets the session of the transaction its effect must happen in, the event, its envelope.
Handler = Callable[[AsyncSession, Any, CloudEvent], Awaitable[None]]

inbox_table = Table(
    "inbox",
    KIT_METADATA,
    Column("consumer", String(128), primary_key=True),
    Column("event_id", String(255), primary_key=True),
    Column("topic", String(249), nullable=False),
    Column("handled_at", UTCDateTime, nullable=False, index=True),
)

#: Inbox rows are kept longer than any topic keeps a record (Kafka's default retention is 7 days):
#: an event older than this cannot be redelivered.
INBOX_RETENTION = dt.timedelta(days=14)


async def purge_inbox(session: AsyncSession, older_than: dt.timedelta = INBOX_RETENTION) -> int:
    """Delete inbox rows of events handled longer ago than any redelivery can come; returns how many."""
    result = await session.execute(delete(inbox_table).where(inbox_table.c.handled_at < utcnow() - older_than))
    return int(result.rowcount)  # type: ignore[attr-defined]


_MAX_ERROR_HEADER = 1000
_MAX_BACKOFF = 5.0


@dataclass(frozen=True)
class _Delivery:
    record: ConsumerRecord[bytes, bytes]
    envelope: CloudEvent
    event: Event
    handler: Handler


class InfrastructureError(Exception):
    """The database or the broker failed; the event itself may be fine."""


def is_infrastructure_error(error: BaseException) -> bool:
    """Whether `error` means a dependency is down rather than that the handler rejects the event."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(
        error,
        OperationalError | InterfaceError | OSError | KafkaError | asyncpg.PostgresConnectionError | TimeoutError,
    )


class EventConsumer:
    """Consumes the topics of the events in `handlers` as consumer group `group_id`."""

    def __init__(
        self,
        database: Database,
        *,
        service: str,
        bootstrap_servers: str,
        handlers: Mapping[type[Event], Handler],
        group_id: str | None = None,
        max_attempts: int = 5,
        retry_backoff: float = 0.2,
        max_records: int = 500,
    ) -> None:
        self.database = database
        self.service = service
        self.bootstrap_servers = bootstrap_servers
        self.group_id = group_id or service
        self.models: dict[str, tuple[type[Event], Handler]] = {
            model.event_type: (model, handler) for model, handler in handlers.items()
        }
        self.topics: list[str] = sorted({model.topic for model in handlers})
        self.max_attempts = max_attempts
        self.retry_backoff = retry_backoff
        self.max_records = max_records
        self._dlq_producer: AIOKafkaProducer | None = None
        self.assigned = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set, recovering from outages by restarting from committed offsets."""
        try:
            await self._run(stop)
        finally:
            await close_producer(self._dlq_producer)
            self._dlq_producer = None

    async def _run(self, stop: asyncio.Event) -> None:
        backoff = 0.2
        while not stop.is_set():
            consumer = self._create_consumer()
            try:
                await consumer.start()
                await self._consume(consumer, stop)
                backoff = 0.2
            except Exception as error:
                # Outages (and bugs outside the handlers) restart consumption from the committed
                # offsets; the inbox makes the redelivered events harmless.
                expected = isinstance(error, InfrastructureError | KafkaError | OSError | TimeoutError)
                log.warning(
                    "event consumer interrupted, resuming from committed offsets",
                    exc_info=not expected,
                    extra={"group": self.group_id, "error": type(error.__cause__ or error).__name__},
                )
                await sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)
            finally:
                self.assigned.clear()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(consumer.stop(), timeout=10)

    def _create_consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            *self.topics,
            bootstrap_servers=self.bootstrap_servers,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.max_records,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000,
        )

    async def _consume(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=self.max_records)
            if consumer.assignment():
                self.assigned.set()
            if not batches:
                continue
            # Partitions are independent: their batches are handled side by side (order holds
            # within each), and all their offsets are committed in one request afterwards.
            try:
                async with asyncio.TaskGroup() as group:  # one failing partition stops the others
                    for records in batches.values():
                        group.create_task(self.handle_records(records))
            except ExceptionGroup as failures:
                raise failures.exceptions[0] from failures
            await self._commit(consumer, {tp: records[-1].offset + 1 for tp, records in batches.items()})

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        # A partition taken away by a rebalance meanwhile is not ours to commit: its new owner
        # gets the records again and the inbox drops them. That is no reason to leave the group.
        assigned = consumer.assignment()
        owned = {tp: offset for tp, offset in offsets.items() if tp in assigned}
        if not owned:
            return
        try:
            await consumer.commit(owned)
        except (CommitFailedError, IllegalStateError) as error:
            log.info("offsets not committed after a rebalance", extra={"error": type(error).__name__})

    async def handle_records(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Handle one partition's batch of records, in order."""
        deliveries: list[_Delivery] = []
        for record in records:
            delivery = await self._parse(record)
            if delivery is not None:
                deliveries.append(delivery)
        if not deliveries:
            return
        # Fast path: the whole batch in one transaction. Should any handler fail, nothing of the
        # batch is kept and every event gets its own transaction and retries below.
        if len(deliveries) > 1 and await self._handle_together(deliveries):
            return
        for delivery in deliveries:
            await self._handle_with_retries(delivery)

    async def _parse(self, record: ConsumerRecord[bytes, bytes]) -> _Delivery | None:
        try:
            envelope = CloudEvent.from_kafka(record.headers, record.value)
        except InvalidEnvelopeError as error:
            await self._dead_letter(record, error, attempts=1)
            return None
        known = self.models.get(envelope.type)
        if known is None:
            # Another event type on a topic we read: not for us.
            metrics.events_consumed_total.labels(service=self.service, topic=record.topic, outcome="ignored").inc()
            return None
        model, handler = known
        try:
            event = model.model_validate(envelope.data)
        except Exception as error:  # a validator may raise anything; retrying cannot fix the data
            await self._dead_letter(record, error, attempts=1, event_id=envelope.id)
            return None
        return _Delivery(record, envelope, event, handler)

    async def _handle_together(self, deliveries: Sequence[_Delivery]) -> bool:
        started = time.perf_counter()
        try:
            async with self.database.session() as session, session.begin():
                seen = set(
                    (
                        await session.scalars(
                            select(inbox_table.c.event_id).where(
                                inbox_table.c.consumer == self.group_id,
                                inbox_table.c.event_id.in_([d.envelope.id for d in deliveries]),
                            )
                        )
                    ).all()
                )
                fresh = []
                for delivery in deliveries:  # a crashed relay's resend often arrives in the same poll
                    if delivery.envelope.id not in seen:
                        seen.add(delivery.envelope.id)
                        fresh.append(delivery)
                for delivery in fresh:
                    await self._run_handler(session, delivery)
                if fresh:
                    await session.execute(
                        inbox_table.insert(), [self._inbox_row(d.record, d.envelope.id) for d in fresh]
                    )
        except Exception as error:
            if await self._is_outage(error):
                raise InfrastructureError from error
            return False
        self._count(deliveries, fresh, started)
        return True

    async def _handle_with_retries(self, delivery: _Delivery) -> None:
        for attempt in range(1, self.max_attempts + 1):
            started = time.perf_counter()
            try:
                handled = await self._handle_alone(delivery)
            except Exception as error:
                if await self._is_outage(error):
                    raise InfrastructureError from error
                log.warning(
                    "event handler failed",
                    extra={"event_id": delivery.envelope.id, "attempt": attempt, "error": type(error).__name__},
                )
                if attempt == self.max_attempts:
                    await self._dead_letter(delivery.record, error, attempts=attempt, event_id=delivery.envelope.id)
                    return
                metrics.events_consumed_total.labels(
                    service=self.service, topic=delivery.record.topic, outcome="retried"
                ).inc()
                await asyncio.sleep(min(self.retry_backoff * 2 ** (attempt - 1), _MAX_BACKOFF))
                continue
            self._count([delivery], [delivery] if handled else [], started)
            return

    async def _handle_alone(self, delivery: _Delivery) -> bool:
        async with self.database.session() as session, session.begin():
            # The inbox row goes first: a conflict on it (and only on it) means "already handled";
            # an IntegrityError from the handler's own writes is a handler failure like any other.
            if not await self._claim_inbox(session, self._inbox_row(delivery.record, delivery.envelope.id)):
                return False
            await self._run_handler(session, delivery)
        return True

    async def _claim_inbox(self, session: AsyncSession, row: dict[str, Any]) -> bool:
        """Record an event id as handled; False when it already was."""
        insert = postgresql_insert if self.database.is_postgresql else sqlite_insert
        statement = insert(inbox_table).values(**row).on_conflict_do_nothing()
        result = await session.execute(statement)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def _is_outage(self, error: BaseException) -> bool:
        """Whether `error` came from the database being unreachable rather than from the handler.

        An error that looks like an outage is checked against the database itself: a handler's own
        timeout or a failing statement must count as an attempt, or its event would block the
        partition for ever.
        """
        if not is_infrastructure_error(error):
            return False
        try:
            await asyncio.wait_for(self.database.ping(), timeout=2)
        except Exception:
            return True
        return False

    async def _run_handler(self, session: AsyncSession, delivery: _Delivery) -> None:
        record = delivery.record
        with start_consumer_span(
            record.topic,
            record.headers,
            {
                "messaging.message.id": delivery.envelope.id,
                "messaging.consumer.group.name": self.group_id,
                "messaging.kafka.offset": record.offset,
                "messaging.destination.partition.id": str(record.partition),
            },
        ):
            await delivery.handler(session, delivery.event, delivery.envelope)

    def _inbox_row(self, record: ConsumerRecord[bytes, bytes], event_id: str) -> dict[str, Any]:
        return {"consumer": self.group_id, "event_id": event_id, "topic": record.topic, "handled_at": utcnow()}

    def _count(self, deliveries: Sequence[_Delivery], handled: Sequence[_Delivery], started: float) -> None:
        elapsed = time.perf_counter() - started
        handled_ids = {d.envelope.id for d in handled}
        for delivery in deliveries:
            topic = delivery.record.topic
            outcome = "handled" if delivery.envelope.id in handled_ids else "duplicate"
            metrics.events_consumed_total.labels(service=self.service, topic=topic, outcome=outcome).inc()
            metrics.event_handling_seconds.labels(service=self.service, topic=topic).observe(elapsed / len(deliveries))

    async def _dead_letter(
        self,
        record: ConsumerRecord[bytes, bytes],
        error: BaseException,
        *,
        attempts: int,
        event_id: str | None = None,
    ) -> None:
        headers = [(name, value) for name, value in (record.headers or ()) if not name.startswith("dlq_")]
        headers += [
            ("dlq_error_type", type(error).__name__.encode()),
            ("dlq_error_message", describe_error(error)),
            ("dlq_original_topic", record.topic.encode()),
            ("dlq_original_partition", str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()),
            ("dlq_consumer_group", self.group_id.encode()),
            ("dlq_attempts", str(attempts).encode()),
        ]
        producer = await self._ensure_dlq_producer()
        try:
            await producer.send_and_wait(
                dead_letter_topic(record.topic), value=record.value, key=record.key, headers=headers
            )
        except KafkaError as send_error:
            await close_producer(producer)
            self._dlq_producer = None
            raise InfrastructureError from send_error
        if event_id is not None:
            await self._remember_dead_letter(record, event_id)
        log.error(
            "event dead-lettered",
            extra={"topic": record.topic, "offset": record.offset, "error": type(error).__name__},
        )
        metrics.events_consumed_total.labels(service=self.service, topic=record.topic, outcome="dead_lettered").inc()

    async def _remember_dead_letter(self, record: ConsumerRecord[bytes, bytes], event_id: str) -> None:
        # In the inbox too, so that a redelivery after a rebalance is not retried and dead-lettered twice.
        try:
            async with self.database.session() as session, session.begin():
                await self._claim_inbox(session, self._inbox_row(record, event_id))
        except Exception as error:
            if await self._is_outage(error):
                raise InfrastructureError from error
            raise

    async def _ensure_dlq_producer(self) -> AIOKafkaProducer:
        if self._dlq_producer is None:
            producer = create_producer(self.bootstrap_servers)
            try:
                await producer.start()
            except KafkaError as error:
                await close_producer(producer)
                raise InfrastructureError from error
            self._dlq_producer = producer
        return self._dlq_producer


def describe_error(error: BaseException) -> bytes:
    """The error for the ``dlq_error_message`` header: no input values, no SQL, at most 1000 bytes.

    Dead-letter topics are read by operators, so what an event contained (personal data) stays in
    the record, not in the error text.
    """
    if isinstance(error, ValidationError):
        text = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            for item in error.errors(include_input=False)
        )
    elif isinstance(error, DBAPIError):
        text = f"database error {type(error.orig).__name__}"
    else:
        text = str(error)
    return text.encode("utf-8", "replace")[:_MAX_ERROR_HEADER].decode("utf-8", "ignore").encode()
