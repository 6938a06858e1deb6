"""The tables of accounts."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import JSONType, UTCDateTime
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
    purpose: Mapped[str] = mapped_column(String(16), comment="verify, reset or change")
    email: Mapped[str] = mapped_column(String(320), comment="the address the link was sent to")
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AccountAttribute(Base):
    """One attribute of a person with the trust level it was proven at and where it came from (TR-03107-1)."""

    __tablename__ = "account_attributes"

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True, comment="an OIDC claim name, e.g. given_name")
    value: Mapped[Any] = mapped_column(JSONType)
    level: Mapped[str] = mapped_column(String(16), comment="niedrig, substanziell or hoch")
    source: Mapped[str] = mapped_column(String(64), comment="eid, idp:<name>, registration, ...")
    verified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ExternalIdentity(Base):
    """A link from an identity proven elsewhere (the eID's pseudonym, an upstream provider's sub) to an account."""

    __tablename__ = "external_identities"
    __table_args__ = (Index("ix_external_identities_account_id", "account_id"),)

    provider: Mapped[str] = mapped_column(String(64), primary_key=True, comment="eid or idp:<name>")
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    linked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class TotpCredential(Base):
    """A TOTP second factor (RFC 6238): the shared secret encrypted like the signing keys, the last time step
    used (a code works once), and whether the person confirmed the setup with a first code."""

    __tablename__ = "totp_credentials"

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary(128))
    kek_id: Mapped[str] = mapped_column(String(64), comment="which key encryption key encrypted the secret")
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_step: Mapped[int] = mapped_column(Integer, comment="the last 30-second step a code was accepted for")
