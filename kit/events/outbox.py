"""The transactional outbox: an event is written in the same transaction as the change it announces.

:func:`publish` inserts a row; the relay (:mod:`kit.events.relay`) later sends committed rows to
Kafka. On PostgreSQL the insert also queues a ``NOTIFY``, delivered only when the transaction
commits, so the relay wakes at once instead of waiting for its next poll.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Index, Integer, SmallInteger, String, Table, Text, text
from sqlalchemy import Uuid as UuidType
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events.base import Event
from kit.db import KIT_METADATA, UTCDateTime, utcnow
from kit.events.shards import shard_of
from kit.ids import uuid7
from kit.telemetry.tracing import current_traceparent

#: Below Kafka's default message.max.bytes (1 MiB) with room for the headers. Large content (an
#: attachment) travels by reference, never inside an event.
MAX_PAYLOAD_BYTES = 900_000

#: The channel the relay LISTENs on.
NOTIFY_CHANNEL = "kit_outbox"

outbox_table = Table(
    "outbox",
    KIT_METADATA,
    Column("id", UuidType, primary_key=True, comment="= the CloudEvents id; UUIDv7, so it orders rows"),
    Column("topic", String(249), nullable=False),
    Column("key", String(255), nullable=False),
    Column("shard", SmallInteger, nullable=False, comment="kit.events.shards: which relay may send it"),
    Column("type", String(255), nullable=False),
    Column("source", String(255), nullable=False),
    Column("subject", String(255), nullable=True),
    Column("tenant", String(64), nullable=True),
    Column("traceparent", String(64), nullable=True),
    # The record value exactly as it will be sent: the relay passes it on without parsing it.
    Column("payload", Text, nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("sent_at", UTCDateTime, nullable=True),
    # Only unsent rows are ever looked for; the partial index stays as small as the backlog.
    Index("ix_outbox_unsent", "id", postgresql_where=text("sent_at IS NULL"), sqlite_where=text("sent_at IS NULL")),
    Index("ix_outbox_sent_at", "sent_at"),
)


def event_source(topic: str) -> str:
    """The CloudEvents `source` of events on a topic: the publishing service, from the topic name."""
    return "/basisdienste/" + topic.split(".", 1)[0]


# Built once: a statement with bound parameters is compiled once and cached, which matters on
# the request path of every service that publishes.
_INSERT = outbox_table.insert()
_NOTIFY = text(f"SELECT pg_notify('{NOTIFY_CHANNEL}', '')")
_NOTIFIED_IN = "kit.events.notified_in"
#: Rows per multi-row insert of publish_many.
_BATCH_ROWS = 1000


async def publish(session: AsyncSession, event: Event, *, tenant: str | None = None) -> uuid.UUID:
    """Queue `event` in the caller's open transaction; it reaches Kafka only if that transaction commits.

    Returns the event id (the CloudEvents ``id``), which consumers use to drop duplicates.
    """
    row = outbox_row(event, tenant=tenant, traceparent=current_traceparent())
    await session.execute(_INSERT, row)
    await _notify_once(session)
    return uuid.UUID(str(row["id"]))


async def publish_many(session: AsyncSession, events: Sequence[Event], *, tenant: str | None = None) -> None:
    """Queue many events in order in the caller's transaction, with one multi-row insert per batch."""
    traceparent = current_traceparent()
    for start in range(0, len(events), _BATCH_ROWS):
        rows = [
            outbox_row(event, tenant=tenant, traceparent=traceparent) for event in events[start : start + _BATCH_ROWS]
        ]
        await session.execute(_INSERT, rows)
    if events:
        await _notify_once(session)


def event_payload(event: Event) -> str:
    """The record value of an event: its JSON with the field names of its schema (aliases)."""
    payload = event.model_dump_json(by_alias=True)
    if len(payload) > MAX_PAYLOAD_BYTES:  # one row Kafka refuses would stop the relay for everyone
        raise ValueError(f"event {event.event_type} is {len(payload)} bytes; at most {MAX_PAYLOAD_BYTES}")
    return payload


def outbox_row(event: Event, *, tenant: str | None, traceparent: str | None) -> dict[str, Any]:
    """The outbox row of an event (its id is a new UUIDv7)."""
    key = event.key()
    return {
        "id": uuid7(),
        "topic": event.topic,
        "key": key,
        "shard": shard_of(key),
        "type": event.event_type,
        "source": event_source(event.topic),
        "subject": key,
        "tenant": tenant,
        "traceparent": traceparent,
        "payload": event_payload(event),
        "occurred_at": utcnow(),
    }


async def _notify_once(session: AsyncSession) -> None:
    transaction = session.get_transaction()
    if session.get_bind().dialect.name == "postgresql" and session.info.get(_NOTIFIED_IN) is not transaction:
        # One NOTIFY per transaction, delivered by PostgreSQL only when it commits.
        await session.execute(_NOTIFY)
        session.info[_NOTIFIED_IN] = transaction
