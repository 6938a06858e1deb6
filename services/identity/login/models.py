"""The table of browser login sessions."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import JSONType, UTCDateTime
from services.identity.models import Base


class LoginSessionRow(Base):
    """A browser's login. The cookie holds a secret whose SHA-256 is stored here; ``sid`` is the public id
    that ID and logout tokens carry, so a leaked token never reveals the cookie."""

    __tablename__ = "login_sessions"
    __table_args__ = (Index("ix_login_sessions_account_id", "account_id"),)

    cookie_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    acr: Mapped[str] = mapped_column(String(16))
    amr: Mapped[list[str]] = mapped_column(JSONType)
    auth_time: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, comment="auth_time + the level's maximum")
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), comment="the organisation the person acts for"
    )
