"""The table of registered clients."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import JSONType, UTCDateTime
from services.identity.models import Base


class Client(Base):
    """A registered OAuth client of one tenant; its secret only as a keyed hash."""

    __tablename__ = "clients"
    __table_args__ = (Index("ix_clients_tenant_client_id", "tenant", "client_id"),)

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    client_type: Mapped[str] = mapped_column(String(16), comment="confidential or public")
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(32))
    secret_hash: Mapped[bytes | None] = mapped_column(
        LargeBinary(32), comment="HMAC-SHA-256 of the secret under the server pepper"
    )
    secret_rotated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSONType, comment="public keys for private_key_jwt")
    redirect_uris: Mapped[list[str]] = mapped_column(JSONType)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSONType, server_default="[]")
    grant_types: Mapped[list[str]] = mapped_column(JSONType)
    scopes: Mapped[list[str]] = mapped_column(JSONType)
    audiences: Mapped[list[str]] = mapped_column(JSONType)
    backchannel_logout_uri: Mapped[str | None] = mapped_column(String(2048))
    backchannel_logout_session_required: Mapped[bool] = mapped_column(Boolean)
    subject_type: Mapped[str] = mapped_column(String(16), comment="public or pairwise")
    sector_identifier_uri: Mapped[str | None] = mapped_column(String(2048))
    access_token_lifetime: Mapped[int | None] = mapped_column(Integer, comment="seconds; NULL = the default")
    id_token_lifetime: Mapped[int | None] = mapped_column(Integer, comment="seconds; NULL = the default")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
