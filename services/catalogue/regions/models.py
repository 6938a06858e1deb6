"""Tables of the regions: every period of every ARS, the territorial changes between registers,
postal codes to Gemeinden, and the registers that were loaded.

A region row is one *period* of an ARS: a renamed region gets a new row from the register date on
and its old row is closed (``valid_to``, inclusive), so lookups "as of" a date see the name in force
then. ``valid_from`` is NULL for regions known since the first register loaded (they existed before
it; the register does not say since when).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, Index, Integer, Numeric, String, text
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import JSONType, UTCDateTime
from services.catalogue.models import Base

_ID = BigInteger().with_variant(Integer, "sqlite")


class RegionPeriod(Base):
    """One period of a region: its name and register fields while they held."""

    __tablename__ = "region_periods"
    __table_args__ = (
        # One open period per ARS: the region as it is now.
        Index(
            "uq_region_periods_current_ars",
            "ars",
            unique=True,
            postgresql_where=text("valid_to IS NULL"),
            sqlite_where=text("valid_to IS NULL"),
        ),
        Index("ix_region_periods_ars_valid_from", "ars", "valid_from"),
        Index("ix_region_periods_ags", "ags"),
        Index("ix_region_periods_parent_ars", "parent_ars"),
        # Prefix searches (LIKE 'key%') need the pattern operator class under a non-C collation.
        Index("ix_region_periods_name_key", "name_key", postgresql_ops={"name_key": "text_pattern_ops"}),
        Index("ix_region_periods_name_plain", "name_plain", postgresql_ops={"name_plain": "text_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    ars: Mapped[str] = mapped_column(String(12))
    ags: Mapped[str | None] = mapped_column(String(8))
    level: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    #: The name folded for prefix search: lower case, umlauts as ae/oe/ue, ß as ss, no diacritics.
    name_key: Mapped[str] = mapped_column(String(400))
    #: The name folded with umlauts as plain vowels (München -> munchen), for queries typed so.
    name_plain: Mapped[str] = mapped_column(String(400))
    parent_ars: Mapped[str | None] = mapped_column(String(12))
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    #: Textkennzeichen of the register (e.g. 44 Landkreis, 53 Verbandsgemeinde, 63 Stadt) and its text.
    type_code: Mapped[str | None] = mapped_column(String(2))
    type_text: Mapped[str | None] = mapped_column(String(60))
    #: Seat of the administration (Verwaltungssitz); the register gives none for Gemeinden.
    seat: Mapped[str | None] = mapped_column(String(100))
    area_km2: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    population: Mapped[int | None] = mapped_column(Integer)
    #: Postal code of the Gemeinde, or of its administration's seat when it has several.
    postal_code: Mapped[str | None] = mapped_column(String(5))
    several_postal_codes: Mapped[bool | None] = mapped_column(Boolean)


class TerritorialChange(Base):
    """A change between two registers: predecessor -> successor, of one kind, from a date.

    Kinds: ``added`` (no predecessor), ``ended`` (no successor known), ``merged`` (the predecessor
    ended and its territory went to the successor; several rows when it was divided), ``renamed``
    (the same region under a new name), ``moved`` (a Gemeinde under a new ARS, same AGS: it changed
    its Gemeindeverband) and ``restored`` (an ended region is back). ``method`` says how the link was
    inferred, since the register itself records no successors.
    """

    __tablename__ = "territorial_changes"
    __table_args__ = (
        Index("ix_territorial_changes_predecessor_ars", "predecessor_ars"),
        Index("ix_territorial_changes_successor_ars", "successor_ars"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(16))
    predecessor_ars: Mapped[str | None] = mapped_column(String(12))
    successor_ars: Mapped[str | None] = mapped_column(String(12))
    #: The register date of the register that showed the change (it took effect by then).
    effective_date: Mapped[dt.date] = mapped_column(Date)
    #: The register loaded before: the change took effect after this date.
    previous_register_date: Mapped[dt.date | None] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class PostalCode(Base):
    """A postal code and one Gemeinde it reaches into (a postal code may span several)."""

    __tablename__ = "postal_codes"

    plz: Mapped[str] = mapped_column(String(5), primary_key=True)
    ags: Mapped[str] = mapped_column(String(8), primary_key=True)
    ars: Mapped[str] = mapped_column(String(12), index=True)


class LoadedRegister(Base):
    """A municipality register that was imported, by its territorial status date."""

    __tablename__ = "loaded_registers"

    register_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    records: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
