"""The public shapes of the regions API (camelCase JSON, like the contracts)."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from contracts.catalogue import Ars, Model, Region


class RegionView(Region):
    """A region with the register's fields."""

    area_km2: float | None = Field(None, description="Area in km² (Gemeinden).")
    population: int | None = Field(None, description="Population (Gemeinden) at the register's reference date.")
    postal_code: str | None = Field(
        None, description="Postal code of the Gemeinde, or of its seat when it has several."
    )
    type: str | None = Field(None, description="Kind of region, e.g. Landkreis, Verbandsgemeinde, Stadt.")
    seat: str | None = Field(None, description="Seat of the administration (Verwaltungssitz).")


class RegionPeriodView(Model):
    """A period of a region under one name."""

    name: str
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None


class TerritorialChangeView(Model):
    """A territorial change between two registers."""

    kind: str = Field(description="added, renamed, moved, merged, ended or restored.")
    predecessor_ars: Ars | None = None
    successor_ars: Ars | None = None
    effective_date: dt.date = Field(description="Date of the register that showed the change.")
    previous_register_date: dt.date | None = Field(None, description="The change took effect after this date.")
    method: str = Field(description="How the link was inferred, e.g. same-ags, area-merge-kreis, member-gemeinden.")


class RegionDetail(RegionView):
    """A region with the regions above it, its periods and its territorial changes."""

    ancestors: list[Region] = Field(description="Nearest first, up to the Land.")
    history: list[RegionPeriodView] = Field(description="Every period of this ARS, oldest first.")
    changes: list[TerritorialChangeView] = Field(description="Changes this ARS took part in, oldest first.")


class RegionRef(Model):
    """A region named by its key."""

    ars: Ars
    name: str


class PostalCodeGemeinde(Model):
    """A Gemeinde a postal code reaches into."""

    ars: Ars
    ags: str
    name: str
    kreis: RegionRef | None


class PostalCodeView(Model):
    """A postal code and every Gemeinde it reaches into."""

    postleitzahl: str
    gemeinden: list[PostalCodeGemeinde]
