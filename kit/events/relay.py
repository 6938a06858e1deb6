"""The outbox relay: sends committed outbox rows to Kafka and marks them sent.

Delivery is at least once: a relay that dies after Kafka acknowledged a batch but before it marked
the rows sends them again, and consumers drop the duplicates by event id. On PostgreSQL several
replicas share the work: each sends only the shards it owns (:mod:`kit.events.shards`, so one
aggregate's events leave from one relay, in order), and claims its batches with
``FOR UPDATE SKIP LOCKED`` so that no row is ever in flight twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Row, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from kit.db import Database, utcnow
from kit.events.envelope import binary_mode_headers
from kit.events.outbox import NOTIFY_CHANNEL, outbox_table
from kit.events.partitioning import partition_for
from kit.events.shards import ShardOwnership
from kit.telemetry import metrics
from kit.telemetry.tracing import start_producer_span

log = logging.getLogger(__name__)

#: Sent rows are kept this long (for inspection), then deleted.
SENT_RETENTION = dt.timedelta(hours=1)
_MAX_BACKOFF = 5.0
_HOUSEKEEPING_EVERY = 60.0
_REBALANCE_EVERY = 2.0
#: What a record is made of, in the order `_send_batches` unpacks it.
_RELAYED_COLUMNS = [
    outbox_table.c[name]
    for name in ("id", "topic", "key", "type", "source", "subject", "tenant", "traceparent", "payload", "occurred_at")
]


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
        self.shards = ShardOwnership()

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until `stop` is set; survives Kafka and database outages by backing off.

        On PostgreSQL the next batch is claimed while Kafka acknowledges the current one (SKIP
        LOCKED keeps the two apart); it is sent only after the current one is marked, so one key's
        events still leave in order, and after any failure the prefetched claim is dropped. Shards
        are rebalanced only between batches, never while one of theirs is in flight.
        """
        backoff = 0.1
        next_housekeeping = next_rebalance = 0.0
        loop = asyncio.get_running_loop()
        prefetch: asyncio.Task[_Claim] | None = None
        try:
            while not stop.is_set():
                # Cleared before the batch, so a NOTIFY arriving while it runs is not lost.
                self._wakeup.clear()
                try:
                    await self._ensure_listener()
                    if prefetch is None and loop.time() >= next_rebalance:  # only between batches
                        await self._rebalance()
                        next_rebalance = loop.time() + _REBALANCE_EVERY
                    claim = await (prefetch or self._claim())
                    prefetch = None
                    sent = len(claim.rows)
                    if sent == self.batch_size and self.database.is_postgresql:
                        prefetch = asyncio.create_task(self._claim())
                    await self._deliver(claim)
                    if loop.time() >= next_housekeeping:
                        await self.housekeeping()
                        next_housekeeping = loop.time() + _HOUSEKEEPING_EVERY
                    backoff = 0.1
                except Exception as error:
                    # Whatever failed — broker, database, or a bug — the rows stay unsent and the
                    # relay keeps trying: it must never die silently inside a running service.
                    await _abandon(prefetch)
                    prefetch = None
                    metrics.outbox_relay_errors_total.labels(service=self.service).inc()
                    expected = isinstance(error, KafkaError | OSError | SQLAlchemyError | asyncpg.PostgresError)
                    log.warning(
                        "outbox relay failed, retrying",
                        exc_info=not expected,
                        extra={"error": type(error).__name__},
                    )
                    await self._reset_producer()
                    await sleep_or_stop(stop, backoff)
                    backoff = min(backoff * 2, _MAX_BACKOFF)
                    continue
                if sent < self.batch_size:
                    await self._wait_for_work(stop)
        finally:
            await _abandon(prefetch)
            await self.close()

    async def relay_batch(self) -> int:
        """Send one batch of unsent rows of this relay's shards, oldest first; return how many were sent."""
        await self._ensure_listener()
        await self._rebalance()
        claim = await self._claim()
        await self._deliver(claim)
        return len(claim.rows)

    async def _claim(self) -> _Claim:
        """Open a transaction holding the oldest unsent rows (locked on PostgreSQL)."""
        query = (
            select(*_RELAYED_COLUMNS)
            .where(outbox_table.c.sent_at.is_(None))
            .order_by(outbox_table.c.id)
            .limit(self.batch_size)
        )
        if self.database.is_postgresql:
            owned = sorted(self.shards.owned)
            query = query.where(outbox_table.c.shard.in_(owned)).with_for_update(skip_locked=True)
        session = self.database.sessionmaker()
        try:
            await session.begin()
            rows = (await session.execute(query)).all()
        except BaseException:
            await session.close()
            raise
        return _Claim(session, rows)

    async def _deliver(self, claim: _Claim) -> None:
        """Send the claimed rows, wait for Kafka's acknowledgement, mark them sent and commit."""
        async with claim.session:
            if not claim.rows:
                return
            producer = await self._ensure_producer()
            # One span for the batch; each record carries the trace of the request that wrote it,
            # so consumers continue that trace rather than the relay's.
            with start_producer_span("outbox", None, {"messaging.batch.message_count": len(claim.rows)}):
                await asyncio.gather(*await self._send_batches(producer, claim.rows))
            if self.after_send is not None:
                self.after_send(claim.rows)
            await claim.session.execute(
                update(outbox_table)
                .where(outbox_table.c.id.in_([row.id for row in claim.rows]))
                .values(sent_at=utcnow(), attempts=outbox_table.c.attempts + 1)
            )
            await claim.session.commit()
        for topic, count in Counter(row.topic for row in claim.rows).items():
            metrics.outbox_relayed_total.labels(service=self.service, topic=topic).inc(count)

    async def _send_batches(self, producer: AIOKafkaProducer, rows: Sequence[Row[Any]]) -> list[asyncio.Future[Any]]:
        """Hand `rows` to the producer as one record batch per partition, in order.

        Building the batches here rather than sending record by record saves the producer's
        per-record bookkeeping; partitions are chosen exactly as Kafka's default partitioner does
        (murmur2 of the key), so an aggregate's events land where any Kafka client would put them.
        """
        batches: dict[tuple[str, int], list[tuple[bytes, bytes, list[tuple[str, bytes]]]]] = {}
        partitions: dict[str, list[int]] = {}
        for row in rows:
            values: tuple[Any, ...] = tuple(row)
            event_id, topic, key, type_, source, subject, tenant, traceparent, payload, occurred_at = values
            if topic not in partitions:
                partitions[topic] = sorted(await producer.partitions_for(topic))
            key_bytes = key.encode()
            partition = partition_for(key_bytes, partitions[topic])
            headers = binary_mode_headers(
                id=str(event_id),
                source=source,
                type=type_,
                time=occurred_at,
                subject=subject,
                tenant=tenant,
                traceparent=traceparent,
            )
            batches.setdefault((topic, partition), []).append((key_bytes, payload.encode(), headers))
        deliveries = []
        for (topic, partition), records in batches.items():
            batch = producer.create_batch()
            for key_bytes, value, headers in records:
                if batch.append(key=key_bytes, value=value, timestamp=None, headers=headers) is None:
                    deliveries.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
                    if batch.append(key=key_bytes, value=value, timestamp=None, headers=headers) is None:
                        raise ValueError(f"an event on {topic} is larger than a Kafka batch")
            deliveries.append(await producer.send_batch(batch, topic, partition=partition))
        return deliveries

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
                await close_producer(producer)
                raise
            self._producer = producer
        return self._producer

    async def _reset_producer(self) -> None:
        # After a failed send an idempotent producer may hold an unusable sequence state: start anew.
        producer, self._producer = self._producer, None
        await close_producer(producer)

    async def _rebalance(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            await self.shards.rebalance(self._listener)

    async def _ensure_listener(self) -> None:
        # One connection of our own: it LISTENs for new rows and holds the shard locks.
        if not self.database.is_postgresql:
            return
        if self._listener is not None and not self._listener.is_closed():
            return
        self.shards.forget()
        url = make_url(self.database.url).set(drivername="postgresql")
        connection: asyncpg.Connection | None = None
        try:
            connection = await asyncpg.connect(url.render_as_string(hide_password=False), timeout=5)
            await connection.add_listener(NOTIFY_CHANNEL, self._on_notify)
        except Exception as error:
            # Polling still works without LISTEN; try again on the next round.
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.close()
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


@dataclass(frozen=True)
class _Claim:
    """Unsent rows and the open transaction that holds them."""

    session: AsyncSession
    rows: Sequence[Row[Any]]


async def _abandon(prefetch: asyncio.Task[_Claim] | None) -> None:
    # A claim that will not be delivered: release its rows (the transaction rolls back).
    if prefetch is None:
        return
    prefetch.cancel()
    await asyncio.wait([prefetch])  # unlike awaiting it, never raises the task's outcome here
    if not prefetch.cancelled() and prefetch.exception() is None:
        await prefetch.result().session.close()


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less if `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def close_producer(producer: AIOKafkaProducer | None) -> None:
    """Stop a producer, giving up after 5 s (a dead broker must not hang a shutdown)."""
    if producer is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.stop(), timeout=5)
