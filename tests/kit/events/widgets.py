"""A throw-away domain for the event tests: widgets, registered on a topic of their own per test."""

from __future__ import annotations

import asyncio
import uuid
from typing import ClassVar

from sqlalchemy import Column, Integer, MetaData, String, Table, Uuid, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events.base import Event
from kit.db import NAMING_CONVENTION, Database
from kit.events import CloudEvent, publish

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# One row per handled event: an effect applied twice shows up as two rows.
effects = Table(
    "widget_effects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("widget_id", Uuid, nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("name", String(100), nullable=False),
)


def widget_event_type(topic: str) -> type[Event]:
    """An event model publishing to `topic` (a fresh topic keeps tests independent of old records)."""
    the_topic = topic

    class WidgetRegistered(Event):
        event_type: ClassVar[str] = f"de.basisdienste.test.{the_topic}.registered.v1"
        topic: ClassVar[str] = the_topic
        key_field: ClassVar[str] = "widget_id"

        widget_id: uuid.UUID
        name: str

    return WidgetRegistered


async def record_effect(session: AsyncSession, event: Event, envelope: CloudEvent) -> None:
    """The handler under test: one effect row per event."""
    await session.execute(
        effects.insert().values(widget_id=event.widget_id, event_id=envelope.id, name=event.name)  # type: ignore[attr-defined]
    )


async def register_widgets(database: Database, model: type[Event], count: int, *, prefix: str = "w") -> list[uuid.UUID]:
    """Publish `count` events, each in its own committed transaction."""
    ids = []
    for index in range(count):
        widget_id = uuid.uuid4()
        async with database.session() as session, session.begin():
            await publish(session, model(widget_id=widget_id, name=f"{prefix}{index}"), tenant="test")
        ids.append(widget_id)
    return ids


async def effect_counts(database: Database) -> dict[uuid.UUID, int]:
    """How often each widget's effect was applied."""
    async with database.session() as session:
        rows = await session.execute(select(effects.c.widget_id, func.count()).group_by(effects.c.widget_id))
        return {row[0]: row[1] for row in rows}


async def wait_for_effects(database: Database, expected: int, timeout: float = 60) -> dict[uuid.UUID, int]:
    """Poll until `expected` widgets have effects (or time out), then return the counts."""
    async with asyncio.timeout(timeout):
        while True:
            counts = await effect_counts(database)
            if len(counts) >= expected:
                return counts
            await asyncio.sleep(0.1)
