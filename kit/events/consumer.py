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
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import KafkaError
from pydantic import ValidationError
from sqlalchemy import Column, String, Table, select
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events.base import Event, dead_letter_topic
from kit.db import KIT_METADATA, Database, UTCDateTime, utcnow
from kit.events.envelope import CloudEvent, InvalidEnvelopeError
from kit.events.relay import create_producer
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
    Column("handled_at", UTCDateTime, nullable=False),
)

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
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)
            finally:
                self.assigned.clear()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(consumer.stop(), timeout=10)
        await self._close_dlq_producer()

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
            await consumer.commit({partition: records[-1].offset + 1 for partition, records in batches.items()})

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
        except ValidationError as error:
            await self._dead_letter(record, error, attempts=1)
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
                fresh = [d for d in deliveries if d.envelope.id not in seen]
                for delivery in fresh:
                    await self._run_handler(session, delivery)
                if fresh:
                    await session.execute(inbox_table.insert(), [self._inbox_row(d) for d in fresh])
        except Exception as error:
            if is_infrastructure_error(error):
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
                if is_infrastructure_error(error):
                    raise InfrastructureError from error
                log.warning(
                    "event handler failed",
                    extra={"event_id": delivery.envelope.id, "attempt": attempt, "error": type(error).__name__},
                )
                if attempt == self.max_attempts:
                    await self._dead_letter(delivery.record, error, attempts=attempt)
                    return
                metrics.events_consumed_total.labels(
                    service=self.service, topic=delivery.record.topic, outcome="retried"
                ).inc()
                await asyncio.sleep(min(self.retry_backoff * 2 ** (attempt - 1), _MAX_BACKOFF))
                continue
            self._count([delivery], [delivery] if handled else [], started)
            return

    async def _handle_alone(self, delivery: _Delivery) -> bool:
        try:
            async with self.database.session() as session, session.begin():
                already = await session.scalar(
                    select(inbox_table.c.event_id).where(
                        inbox_table.c.consumer == self.group_id, inbox_table.c.event_id == delivery.envelope.id
                    )
                )
                if already is not None:
                    return False
                await self._run_handler(session, delivery)
                await session.execute(inbox_table.insert().values(**self._inbox_row(delivery)))
        except IntegrityError:
            # Another member of the group handled the same event concurrently (after a rebalance).
            return False
        return True

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

    def _inbox_row(self, delivery: _Delivery) -> dict[str, Any]:
        return {
            "consumer": self.group_id,
            "event_id": delivery.envelope.id,
            "topic": delivery.record.topic,
            "handled_at": utcnow(),
        }

    def _count(self, deliveries: Sequence[_Delivery], handled: Sequence[_Delivery], started: float) -> None:
        elapsed = time.perf_counter() - started
        handled_ids = {d.envelope.id for d in handled}
        for delivery in deliveries:
            topic = delivery.record.topic
            outcome = "handled" if delivery.envelope.id in handled_ids else "duplicate"
            metrics.events_consumed_total.labels(service=self.service, topic=topic, outcome=outcome).inc()
            metrics.event_handling_seconds.labels(service=self.service, topic=topic).observe(elapsed / len(deliveries))

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], error: BaseException, *, attempts: int) -> None:
        headers = [(name, value) for name, value in (record.headers or ()) if not name.startswith("dlq_")]
        headers += [
            ("dlq_error_type", type(error).__name__.encode()),
            ("dlq_error_message", str(error)[:_MAX_ERROR_HEADER].encode("utf-8", "replace")),
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
            await self._close_dlq_producer()
            raise InfrastructureError from send_error
        log.error(
            "event dead-lettered",
            extra={"topic": record.topic, "offset": record.offset, "error": type(error).__name__},
        )
        metrics.events_consumed_total.labels(service=self.service, topic=record.topic, outcome="dead_lettered").inc()

    async def _ensure_dlq_producer(self) -> AIOKafkaProducer:
        if self._dlq_producer is None:
            producer = create_producer(self.bootstrap_servers)
            try:
                await producer.start()
            except KafkaError as error:
                with contextlib.suppress(Exception):
                    await producer.stop()
                raise InfrastructureError from error
            self._dlq_producer = producer
        return self._dlq_producer

    async def _close_dlq_producer(self) -> None:
        producer, self._dlq_producer = self._dlq_producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), timeout=5)
