"""Brute-force protection: growing delays per account and per IP address, held in the database so that
every replica sees the same counts.

The first few failures are free; after that each failure doubles the wait, up to a cap. The cap and the
decay are what keep an attacker from locking a victim out for good: the per-account wait never exceeds
``MAX_DELAY`` and the count is forgotten ``FORGET_AFTER`` after the last failure, while the per-IP key
slows the attacker's own address down much sooner.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import UTCDateTime, utcnow
from services.identity.models import Base

FREE_FAILURES = 5
FIRST_DELAY = 1.0
MAX_DELAY = 900.0
FORGET_AFTER = dt.timedelta(hours=24)


class ThrottleCounter(Base):
    """Failed attempts under one key ("account:<id>", "ip:<address>")."""

    __tablename__ = "throttle_counters"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


def delay_after(failures: int) -> float:
    """Seconds to wait after `failures` failed attempts."""
    if failures < FREE_FAILURES:
        return 0.0
    return min(MAX_DELAY, FIRST_DELAY * 2.0 ** (failures - FREE_FAILURES))


async def retry_after(session: AsyncSession, *keys: str) -> float | None:
    """Seconds until another attempt under any of `keys` is allowed, or None if it is allowed now."""
    now = utcnow()
    rows = (await session.scalars(select(ThrottleCounter).where(ThrottleCounter.key.in_(keys)))).all()
    waits = [
        (row.last_failure_at + dt.timedelta(seconds=delay_after(row.failures)) - now).total_seconds()
        for row in rows
        if now - row.last_failure_at < FORGET_AFTER
    ]
    longest = max(waits, default=0.0)
    return longest if longest > 0 else None


async def record_failure(session: AsyncSession, *keys: str) -> None:
    """Count a failed attempt under each key (a count older than FORGET_AFTER starts again)."""
    now = utcnow()
    # One atomic upsert per key: concurrent failures from several replicas all count.
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table = ThrottleCounter.__table__
    for key in keys:
        statement = dialect.insert(table).values(key=key, failures=1, last_failure_at=now)
        forgotten = table.c.last_failure_at < now - FORGET_AFTER
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={"failures": case((forgotten, 1), else_=table.c.failures + 1), "last_failure_at": now},
        )
        await session.execute(statement)


async def record_success(session: AsyncSession, *keys: str) -> None:
    """Forget the failures under `keys` (after a successful login)."""
    await session.execute(delete(ThrottleCounter).where(ThrottleCounter.key.in_(keys)))
