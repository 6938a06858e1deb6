"""The table of signing keys."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import JSONType, UTCDateTime
from services.identity.models import Base


class SigningKey(Base):
    """One signing key and its schedule; its state at a moment follows from the timestamps.

    next: ``published_at <= t < activates_at``; current: ``activates_at <= t`` until ``retires_at``;
    retired: ``retires_at <= t < removes_at``; removed: ``removed_at`` is set (private part erased).
    """

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True, comment="RFC 7638 thumbprint of the public key")
    algorithm: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSONType)
    private_key: Mapped[bytes | None] = mapped_column(
        LargeBinary, comment="AES-256-GCM nonce || ciphertext of the PKCS #8 key; NULL once removed"
    )
    kek_id: Mapped[str] = mapped_column(String(32), comment="fingerprint of the key encryption key used")
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    activates_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    retires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    removes_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    removed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
