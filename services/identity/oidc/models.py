"""Tables of the OpenID Connect flows: authorization codes, refresh tokens and consents."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import JSONType, UTCDateTime
from services.identity.models import Base


class AuthorizationCode(Base):
    """An issued code (only its SHA-256), bound to everything the token request must match."""

    __tablename__ = "authorization_codes"
    __table_args__ = (Index("ix_authorization_codes_expires_at", "expires_at"),)

    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(String(2048))
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    nonce: Mapped[str | None] = mapped_column(String(512))
    sid: Mapped[str] = mapped_column(String(64))
    acr: Mapped[str] = mapped_column(String(16))
    amr: Mapped[list[str]] = mapped_column(JSONType)
    auth_time: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    scopes: Mapped[list[str]] = mapped_column(JSONType)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    redeemed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    refresh_family: Mapped[uuid.UUID | None] = mapped_column(comment="tokens issued for it, revoked on reuse")
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(comment="the organisation the person acts for")


class RefreshToken(Base):
    """One refresh token of a family. The token value is ``<id>.<HMAC(id)>``, so it is never stored and a
    successor can be handed out again within the grace window."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (
        Index("ix_refresh_tokens_family", "family"),
        Index("ix_refresh_tokens_account_id_client_id", "account_id", "client_id"),
        Index("ix_refresh_tokens_expires_at", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    family: Mapped[uuid.UUID] = mapped_column()
    client_id: Mapped[str] = mapped_column(String(64))
    tenant: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    sid: Mapped[str | None] = mapped_column(String(64), comment="the login session; NULL for offline_access")
    scopes: Mapped[list[str]] = mapped_column(JSONType)
    acr: Mapped[str] = mapped_column(String(16))
    amr: Mapped[list[str]] = mapped_column(JSONType)
    auth_time: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    rotated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    successor_id: Mapped[uuid.UUID | None] = mapped_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(comment="the organisation the person acts for")


class Consent(Base):
    """What an account allowed a client to receive."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("account_id", "client_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSONType)
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class PairwiseSubject(Base):
    """Which account a pairwise ``sub`` of a sector stands for (so userinfo can answer for it)."""

    __tablename__ = "pairwise_subjects"

    sector: Mapped[str] = mapped_column(String(255), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
