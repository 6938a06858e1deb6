"""The editorial records table: every kind of catalogue record, with its draft and published content.

A record keeps two contents. Editors change the *draft*; *publishing* copies the draft to the
*published* content, which is what everyone reads. So a published Leistung stays stable while its
editors prepare the next version, and withdrawing takes it off the air without losing the text.
Content is stored as the camelCase JSON of its model in ``contracts.catalogue``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import JSONType, UTCDateTime
from services.catalogue.models import Base


class EditorialRecord(Base):
    """One record of a tenant: a Leistung, Gebühr, Organisationseinheit, Onlinedienst, …"""

    __tablename__ = "editorial_records"
    __table_args__ = (
        UniqueConstraint("kind", "tenant", "key", name="uq_editorial_records_kind_tenant_key"),
        # A LeiKa key has one Stammtext nationwide: the first tenant to describe it owns it, and
        # the others add regional specialisations.
        Index(
            "uq_editorial_records_leistung_key",
            "key",
            unique=True,
            postgresql_where=text("kind = 'leistung'"),
            sqlite_where=text("kind = 'leistung'"),
        ),
        Index("ix_editorial_records_tenant_kind_key", "tenant", "kind", "key"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    tenant: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(128))
    #: Counts every change of the draft; the ETag editors send back in If-Match.
    version: Mapped[int] = mapped_column(Integer)
    draft: Mapped[dict[str, Any]] = mapped_column(JSONType)
    #: SHA-256 of the draft's canonical JSON: an unchanged upsert is recognised without comparing JSON.
    draft_hash: Mapped[str] = mapped_column(String(64))
    published: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    published_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    @property
    def status(self) -> str:
        """draft (never published), withdrawn, published, or changed (published, with a newer draft)."""
        if self.published_version is None:
            return "withdrawn" if self.withdrawn_at is not None else "draft"
        return "published" if self.published_version == self.version else "changed"
