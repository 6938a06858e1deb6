"""Tables of the OAuth endpoints: revoked tokens and client assertions already used."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import UTCDateTime
from services.identity.models import Base


class RevokedToken(Base):
    """A token revoked before it expired, kept until it would have expired anyway.

    Access tokens are JWTs, revoked by their ``jti``; refresh tokens, when they come, are listed by their
    own id with ``token_type`` "refresh_token" (a family id in ``family`` revokes a whole family).
    """

    __tablename__ = "revoked_tokens"
    __table_args__ = (Index("ix_revoked_tokens_expires_at", "expires_at"),)

    token_id: Mapped[str] = mapped_column(String(255), primary_key=True, comment="jti of an access token")
    token_type: Mapped[str] = mapped_column(String(32), comment="access_token or refresh_token")
    client_id: Mapped[str] = mapped_column(String(64))
    tenant: Mapped[str | None] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(255))
    family: Mapped[str | None] = mapped_column(String(255), comment="refresh token family, if any")
    revoked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, comment="when the row may be deleted")


class UsedClientAssertion(Base):
    """The ``jti`` of a private_key_jwt client assertion, kept until it expires so it cannot be replayed."""

    __tablename__ = "used_client_assertions"
    __table_args__ = (Index("ix_used_client_assertions_expires_at", "expires_at"),)

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
