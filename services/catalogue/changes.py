"""The change feed: every change to the catalogue, in commit order, readable with a cursor.

Each change is written twice in the caller's transaction: as a row of the ``changes`` table (the feed
that clients page through, and that every replica follows to keep its in-memory read model fresh)
and as an event in the outbox (for other services, through Kafka).

Sequence numbers must become visible in order, or a reader that saw change 11 would skip change 10
once it commits. A transaction-scoped advisory lock, taken before the first change is numbered and
held until commit, makes writers number and commit their changes one after the other. Catalogue
writes are editorial and rare; an import is one transaction per batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, ColumnElement, Index, Integer, String, Table, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events.base import Event
from kit.db import JSONType, UTCDateTime, utcnow
from kit.events.outbox import publish_many
from services.catalogue.models import Base

#: Arbitrary, fixed: the advisory lock that orders the catalogue's writers.
_FEED_LOCK = 0x6361_7461_6C6F_67  # "catalog"
#: Rows per multi-row insert.
_BATCH_ROWS = 1000

changes_table = Table(
    "changes",
    Base.metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("event_type", String(255), nullable=False),
    Column("subject", String(255), nullable=False, comment="the aggregate: record id or ARS"),
    Column("tenant", String(64), nullable=True),
    Column("public", Boolean, nullable=False, comment="false for drafts: only their tenant's editors see them"),
    Column("data", JSONType, nullable=False),
    Index("ix_changes_tenant_seq", "tenant", "seq"),
)


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of the change feed."""

    seq: int
    occurred_at: dt.datetime
    event_type: str
    subject: str
    tenant: str | None
    public: bool
    data: dict[str, Any]


async def record_change(session: AsyncSession, event: Event, *, tenant: str | None, public: bool) -> None:
    """Append `event` to the change feed and queue it in the outbox, in the caller's transaction."""
    await record_changes(session, [event], tenant=tenant, public=public)


async def record_changes(session: AsyncSession, events: Sequence[Event], *, tenant: str | None, public: bool) -> None:
    """:func:`record_change` for many events, in order, with a few multi-row inserts (an import
    announces thousands of changes at once)."""
    if not events:
        return
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": _FEED_LOCK})
    for start in range(0, len(events), _BATCH_ROWS):
        rows = [_feed_row(event, tenant=tenant, public=public) for event in events[start : start + _BATCH_ROWS]]
        await session.execute(changes_table.insert(), rows)
    await publish_many(session, events, tenant=tenant)


def _feed_row(event: Event, *, tenant: str | None, public: bool) -> dict[str, Any]:
    return {
        "occurred_at": utcnow(),
        "event_type": event.event_type,
        "subject": event.key(),
        "tenant": tenant,
        "public": public,
        # The same field names as the event on Kafka and in its JSON Schema.
        "data": event.model_dump(mode="json", by_alias=True),
    }


async def changes_after(
    session: AsyncSession, after: int, *, limit: int, editor_tenant: str | None = None
) -> list[Change]:
    """Changes with a sequence number above `after`, oldest first: the public ones, plus the drafts of
    `editor_tenant` when the reader is one of that tenant's editors."""
    visible: ColumnElement[bool] = changes_table.c.public
    if editor_tenant is not None:
        visible = visible | (changes_table.c.tenant == editor_tenant)
    rows = await session.execute(
        select(changes_table).where(changes_table.c.seq > after, visible).order_by(changes_table.c.seq).limit(limit)
    )
    return [Change(**row._mapping) for row in rows]


async def last_seq(session: AsyncSession) -> int:
    """The newest sequence number (0 when the feed is empty)."""
    newest = await session.scalar(select(changes_table.c.seq).order_by(changes_table.c.seq.desc()).limit(1))
    return int(newest or 0)
