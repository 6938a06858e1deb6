"""Announcing many region changes at once: :func:`services.catalogue.changes.record_change` in bulk.

The first register loaded announces some 16,000 regions; one ``record_change`` each (three
statements) takes close to a minute. :func:`record_changes` writes the same rows — a change-feed row
and an outbox row per event, as ``record_change`` and ``kit.events.outbox.publish`` write them — with
one multi-row insert per table and batch. The first event goes through ``record_change`` itself,
which takes the feed's advisory lock for the rest of the transaction and queues the relay's NOTIFY,
so the feed stays in commit order and the relay wakes as for any other change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events.base import Event
from kit.db import utcnow
from kit.events.outbox import MAX_PAYLOAD_BYTES, event_source, outbox_table
from kit.events.shards import shard_of
from kit.ids import uuid7
from kit.telemetry.tracing import current_traceparent
from services.catalogue.changes import changes_table, record_change

#: Rows per multi-row insert.
BATCH = 1000


async def record_changes(session: AsyncSession, events: Sequence[Event], *, tenant: str | None, public: bool) -> None:
    """Append `events` to the change feed and queue them in the outbox, in order, in the caller's
    transaction: the effect of ``record_change`` for each, in a few statements."""
    if not events:
        return
    first, *rest = events
    await record_change(session, first, tenant=tenant, public=public)
    traceparent = current_traceparent()
    for start in range(0, len(rest), BATCH):
        feed: list[dict[str, Any]] = []
        outbox: list[dict[str, Any]] = []
        for event in rest[start : start + BATCH]:
            occurred_at = utcnow()
            payload = event.model_dump_json()
            if len(payload) > MAX_PAYLOAD_BYTES:
                raise ValueError(f"event {event.event_type} is {len(payload)} bytes; at most {MAX_PAYLOAD_BYTES}")
            key = event.key()
            feed.append(
                {
                    "occurred_at": occurred_at,
                    "event_type": event.event_type,
                    "subject": key,
                    "tenant": tenant,
                    "public": public,
                    "data": event.model_dump(mode="json"),
                }
            )
            outbox.append(
                {
                    "id": uuid7(),
                    "topic": event.topic,
                    "key": key,
                    "shard": shard_of(key),
                    "type": event.event_type,
                    "source": event_source(event.topic),
                    "subject": key,
                    "tenant": tenant,
                    "traceparent": traceparent,
                    "payload": payload,
                    "occurred_at": occurred_at,
                }
            )
        await session.execute(changes_table.insert(), feed)
        await session.execute(outbox_table.insert(), outbox)
