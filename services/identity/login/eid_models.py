"""The table of eID logins in progress."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import UTCDateTime
from services.identity.models import Base


class EidTransaction(Base):
    """One login with the online ID card, from opening the eID session to the browser's return.

    ``id`` travels in the TC Token URL and the refresh address; ``browser_hash`` binds the transaction to
    the browser that started it (the SHA-256 of a cookie), so a refresh address sent to someone else does
    not log them in as the card holder.
    """

    __tablename__ = "eid_transactions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    browser_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    eid_session: Mapped[str] = mapped_column(String(128))
    server_address: Mapped[str] = mapped_column(String(2048))
    psk: Mapped[str] = mapped_column(String(256))
    continuation: Mapped[str] = mapped_column(String(4096))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
