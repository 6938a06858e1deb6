"""The tables of accounts."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import UTCDateTime
from services.identity.models import Base


class Account(Base):
    """A person's account. Every other table about a person refers to ``accounts.id`` with ON DELETE CASCADE,
    so deleting this row deletes everything held about them."""

    __tablename__ = "accounts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(
        String(320), unique=True, comment="lower-cased; NULL for an account that only logs in with the eID"
    )
    email_verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    password_hash: Mapped[str | None] = mapped_column(String(255), comment="argon2id (PHC string)")
    vertrauensniveau: Mapped[str] = mapped_column(
        String(16), comment="niedrig, substanziell or hoch (TR-03107-1): the highest level the account has proven"
    )
    postbox_reference: Mapped[str] = mapped_column(String(64), unique=True, comment="pseudonymous postbox id")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class EmailToken(Base):
    """A link sent by e-mail (address verification, password reset): only its SHA-256 is kept, it works
    once and expires."""

    __tablename__ = "email_tokens"
    __table_args__ = (Index("ix_email_tokens_account_id", "account_id"),)

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(16), comment="verify or reset")
    email: Mapped[str] = mapped_column(String(320), comment="the address the link was sent to")
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
