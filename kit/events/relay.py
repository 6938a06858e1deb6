"""The outbox relay: sends committed outbox rows to Kafka and marks them sent.

Delivery is at least once: a relay that dies after Kafka acknowledged a batch but before it marked
the rows sends them again, and consumers drop the duplicates by event id. On PostgreSQL each batch
is claimed with ``FOR UPDATE SKIP LOCKED``, so several replicas share the work without sending a
row twice at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Row, make_url
from sqlalchemy.exc import SQLAlchemyError

from kit.db import Database, utcnow
from kit.events.envelope import CloudEvent
from kit.events.outbox import NOTIFY_CHANNEL, outbox_table
from kit.telemetry import metrics
from kit.telemetry.tracing import start_producer_span, traceparent_of

log = logging.getLogger(__name__)

#: Sent rows are kept this long (for inspection), then deleted.
SENT_RETENTION = dt.timedelta(hours=1)
_MAX_BACKOFF = 5.0
_HOUSEKEEPING_EVERY = 60.0


def create_producer(bootstrap_servers: str, **overrides: Any) -> AIOKafkaProducer:
    """The producer every relay uses: idempotent, acknowledged by all in-sync replicas."""
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers,
        "enable_idempotence": True,
        "acks": "all",
        "linger_ms": 2,
        "max_batch_size": 256 * 1024,
        "request_timeout_ms": 15_000,
        "retry_backoff_ms": 200,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


class OutboxRelay:
    """Moves one service's outbox to Kafka until stopped."""

    def __init__(
        self,
        database: Database,
        *,
        service: str,
        bootstrap_servers: str,
        batch_size: int = 500,
        poll_interval: float = 0.5,
        after_send: Callable[[Sequence[Row[Any]]], None] | None = None,
    ) -> None:
        """`after_send` runs after Kafka acknowledged a batch and before the rows are marked sent
        (a seam for crash tests)."""
        self.database = database
        self.service = service
        self.bootstrap_servers = bootstrap_servers
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.after_send = after_send
        self._producer: AIOKafkaProducer | None = None
        self._wakeup = asyncio.Event()
        self._listener: asyncpg.Connection | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until `stop` is set; survives Kafka and database outages by backing off."""
        backoff = 0.1
        next_housekeeping = 0.0
        loop = asyncio.get_running_loop()
        try:
            while not stop.is_set():
                # Cleared before the batch, so a NOTIFY arriving while it runs is not lost.
                self._wakeup.clear()
                try:
                    await self._ensure_listener()
                    sent = await self.relay_batch()
                    if loop.time() >= next_housekeeping:
                        await self.housekeeping()
                        next_housekeeping = loop.time() + _HOUSEKEEPING_EVERY
                    backoff = 0.1
                except Exception as error:
                    # Whatever failed — broker, database, or a bug — the rows stay unsent and the
                    # relay keeps trying: it must never die silently inside a running service.
                    metrics.outbox_relay_errors_total.labels(service=self.service).inc()
                    expected = isinstance(error, KafkaError | OSError | SQLAlchemyError | asyncpg.PostgresError)
                    log.warning(
                        "outbox relay failed, retrying",
                        exc_info=not expected,
                        extra={"error": type(error).__name__},
                    )
                    await self._reset_producer()
                    await _sleep_or_stop(stop, backoff)
                    backoff = min(backoff * 2, _MAX_BACKOFF)
                    continue
                if sent < self.batch_size:
                    await self._wait_for_work(stop)
        finally:
            await self.close()

    async def relay_batch(self) -> int:
        """Send one batch of unsent rows, oldest first; return how many were sent."""
        producer = await self._ensure_producer()
        async with self.database.session() as session, session.begin():
            query = (
                select(outbox_table)
                .where(outbox_table.c.sent_at.is_(None))
                .order_by(outbox_table.c.id)
                .limit(self.batch_size)
            )
            if self.database.is_postgresql:
                query = query.with_for_update(skip_locked=True)
            rows = (await session.execute(query)).all()
            if not rows:
                return 0
            deliveries = [await self._send(producer, row) for row in rows]
            await asyncio.gather(*deliveries)
            if self.after_send is not None:
                self.after_send(rows)
            await session.execute(
                update(outbox_table)
                .where(outbox_table.c.id.in_([row.id for row in rows]))
                .values(sent_at=utcnow(), attempts=outbox_table.c.attempts + 1)
            )
        for topic in {row.topic for row in rows}:
            metrics.outbox_relayed_total.labels(service=self.service, topic=topic).inc(
                sum(1 for row in rows if row.topic == topic)
            )
        return len(rows)

    async def _send(self, producer: AIOKafkaProducer, row: Row[Any]) -> asyncio.Future[Any]:
        with start_producer_span(
            row.topic,
            row.traceparent,
            {"messaging.message.id": str(row.id), "messaging.kafka.message.key": row.key},
        ) as span:
            event = CloudEvent(
                id=str(row.id),
                source=row.source,
                type=row.type,
                data=row.payload,
                time=row.occurred_at,
                subject=row.subject,
                tenant=row.tenant,
                traceparent=traceparent_of(span),
            )
            future: asyncio.Future[Any] = await producer.send(
                row.topic, value=event.kafka_value(), key=row.key.encode(), headers=event.kafka_headers()
            )
            return future

    async def housekeeping(self) -> None:
        """Delete rows sent long ago and report the backlog."""
        async with self.database.session() as session, session.begin():
            await session.execute(delete(outbox_table).where(outbox_table.c.sent_at < utcnow() - SENT_RETENTION))
            pending = await session.scalar(
                select(func.count()).select_from(outbox_table).where(outbox_table.c.sent_at.is_(None))
            )
        metrics.outbox_pending.labels(service=self.service).set(pending or 0)

    async def close(self) -> None:
        """Stop the producer and the LISTEN connection."""
        await self._reset_producer()
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = create_producer(self.bootstrap_servers)
            try:
                await producer.start()
            except BaseException:
                with contextlib.suppress(Exception):
                    await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _reset_producer(self) -> None:
        # After a failed send an idempotent producer may hold an unusable sequence state: start anew.
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), timeout=5)

    async def _ensure_listener(self) -> None:
        if not self.database.is_postgresql:
            return
        if self._listener is not None and not self._listener.is_closed():
            return
        url = make_url(self.database.url).set(drivername="postgresql")
        try:
            connection = await asyncpg.connect(url.render_as_string(hide_password=False), timeout=5)
            await connection.add_listener(NOTIFY_CHANNEL, self._on_notify)
        except (OSError, asyncpg.PostgresError, TimeoutError) as error:
            # Polling still works without LISTEN; try again on the next round.
            log.info("outbox LISTEN unavailable, polling", extra={"error": type(error).__name__})
            return
        self._listener = connection

    def _on_notify(self, *_: object) -> None:
        self._wakeup.set()

    async def _wait_for_work(self, stop: asyncio.Event) -> None:
        stop_wait = asyncio.ensure_future(stop.wait())
        wake_wait = asyncio.ensure_future(self._wakeup.wait())
        try:
            await asyncio.wait({stop_wait, wake_wait}, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop_wait.cancel()
            wake_wait.cancel()


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
