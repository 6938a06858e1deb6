"""The audit trail of an account: logins, attribute releases to portals and changes the user made.

The user sees it on the account page and in the data export; it is deleted with the account. Rows are
written in the same transaction as what they record, so the trail never claims what did not happen.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import ForeignKey, Index, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import JSONType, UTCDateTime, utcnow
from services.identity.models import Base


class AuditEvent(Base):
    """One thing that happened to an account, as the account's owner may see it."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_account_id_at", "account_id", "at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(
        String(64), comment="e.g. login, login_failed, attributes_released, consent_revoked, password_changed"
    )
    client_id: Mapped[str | None] = mapped_column(String(64), comment="the portal involved, if any")
    ip_address: Mapped[str | None] = mapped_column(String(45))
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, comment="what else the user should see (no secrets)")


async def record_audit(
    session: AsyncSession,
    account_id: uuid.UUID,
    kind: str,
    *,
    client_id: str | None = None,
    ip_address: str | None = None,
    **details: Any,
) -> None:
    """Add an entry to the account's trail (committed with the caller's transaction)."""
    session.add(
        AuditEvent(
            id=uuid.uuid4(),
            account_id=account_id,
            at=utcnow(),
            kind=kind,
            client_id=client_id,
            ip_address=ip_address,
            details=details,
        )
    )


async def audit_trail(session: AsyncSession, account_id: uuid.UUID, *, limit: int = 200) -> list[AuditEvent]:
    """The account's newest entries first."""
    query = select(AuditEvent).where(AuditEvent.account_id == account_id).order_by(AuditEvent.at.desc()).limit(limit)
    return list((await session.scalars(query)).all())
