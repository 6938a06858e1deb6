"""The in-memory directory of regions: lookups by ARS, AGS and postal code in microseconds.

Other modules (responsibilities, search, the Leistung-in-a-place view) resolve regions on every
request; the directory answers from dictionaries built once from the tables. It is immutable: after
an import, load a new one and swap the reference. Every period of every region is kept (about 16,000
for one register), so lookups "as of" a date work; strings are interned, since ARS prefixes, level
names and parent keys repeat thousands of times.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.catalogue import Region, RegionLevel
from services.catalogue.regions.models import PostalCode, RegionPeriod, TerritorialChange
from services.catalogue.regions.territory import GERMANY_ARS

#: The fields set in every Region the directory builds (shared, never changed).
_EVERY_FIELD = set(Region.model_fields)
_LEVELS_BELOW_BUND = ("land", "regierungsbezirk", "kreis", "gemeindeverband", "gemeinde")
_REGIONAL_KEY = re.compile(r"\d{2}(\d|\d{3}|\d{7}|\d{10})?")


def _holds(region: Region, day: dt.date) -> bool:
    return (region.valid_from is None or region.valid_from <= day) and (
        region.valid_to is None or day <= region.valid_to
    )


class RegionDirectory:
    """Regions by ARS, AGS and postal code, with their history. Build it with :func:`load_directory`."""

    __slots__ = ("_by_ags", "_children", "_periods", "_postal_codes")

    def __init__(self, periods: Iterable[Region], postal_codes: Iterable[tuple[str, str]] = ()) -> None:
        """A directory of `periods` (any order) and (postal code, AGS) pairs."""
        by_ars: dict[str, list[Region]] = defaultdict(list)
        by_ags: dict[str, dict[str, None]] = defaultdict(dict)
        children: dict[str, dict[str, None]] = defaultdict(dict)
        for region in periods:
            by_ars[region.ars].append(region)
            if region.ags is not None:
                by_ags[region.ags][region.ars] = None
            if region.parent_ars is not None:
                children[region.parent_ars][region.ars] = None
        self._periods: Mapping[str, tuple[Region, ...]] = {
            ars: tuple(sorted(regions, key=lambda r: r.valid_from or dt.date.min)) for ars, regions in by_ars.items()
        }
        self._by_ags: Mapping[str, tuple[str, ...]] = {ags: tuple(arss) for ags, arss in by_ags.items()}
        self._children: Mapping[str, tuple[str, ...]] = {ars: tuple(sorted(kids)) for ars, kids in children.items()}
        grouped: dict[str, dict[str, None]] = defaultdict(dict)
        for plz, ags in postal_codes:
            grouped[sys.intern(plz)][sys.intern(ags)] = None
        self._postal_codes: Mapping[str, tuple[str, ...]] = {plz: tuple(sorted(a)) for plz, a in grouped.items()}

    def __len__(self) -> int:
        """How many regions (ARS) the directory knows, current or ended."""
        return len(self._periods)

    def get(self, ars: str, as_of: dt.date | None = None) -> Region | None:
        """The region `ars` as of a day, or as it is now (None when it does not exist then)."""
        periods = self._periods.get(ars)
        if not periods:
            return None
        if as_of is None:
            latest = periods[-1]
            return latest if latest.valid_to is None else None
        for region in reversed(periods):
            if _holds(region, as_of):
                return region
        return None

    def latest(self, ars: str) -> Region | None:
        """The newest period of `ars`: the region as it is, or as it was when it ended."""
        periods = self._periods.get(ars)
        return periods[-1] if periods else None

    def history(self, ars: str) -> list[Region]:
        """Every period of `ars`, oldest first (empty when unknown)."""
        return list(self._periods.get(ars, ()))

    def by_ags(self, ags: str, as_of: dt.date | None = None) -> Region | None:
        """The Gemeinde with this AGS as of a day, or now (its ARS changes when it changes its
        Gemeindeverband; the AGS does not)."""
        for ars in reversed(self._by_ags.get(ags, ())):
            region = self.get(ars, as_of)
            if region is not None:
                return region
        return None

    def by_postal_code(self, plz: str) -> list[Region]:
        """Every current Gemeinde the postal code reaches into, by ARS."""
        found = (self.by_ags(ags) for ags in self._postal_codes.get(plz, ()))
        return sorted((region for region in found if region is not None), key=lambda region: region.ars)

    def ancestors(self, ars: str, as_of: dt.date | None = None) -> list[Region]:
        """The regions above `ars`, nearest first, up to and including its Land; levels a Land does
        not have (Regierungsbezirk, Gemeindeverband) are not in the chain. An ended region's chain is
        the one of its last period."""
        chain: list[Region] = []
        region = self._at(ars, as_of)
        for _ in _LEVELS_BELOW_BUND:  # bounds the walk, even over a (corrupt) cycle of parents
            if region is None or region.level in ("bund", "land") or region.parent_ars in (None, GERMANY_ARS):
                break
            region = self._at(region.parent_ars, as_of) if region.parent_ars else None
            if region is not None:
                chain.append(region)
        return chain

    def children(self, ars: str, as_of: dt.date | None = None) -> list[Region]:
        """The regions directly below `ars` as of a day, or now, by ARS."""
        found = (self.get(child, as_of) for child in self._children.get(ars, ()))
        return [region for region in found if region is not None and region.parent_ars == ars]

    def land_of(self, ars: str) -> str:
        """The 2-digit key of the Land `ars` lies in; ValueError for Germany or a malformed key."""
        if not _REGIONAL_KEY.fullmatch(ars):
            raise ValueError(f"{ars!r} is not the ARS of a region within a Land")
        return ars[:2]

    def _at(self, ars: str, as_of: dt.date | None) -> Region | None:
        return self.get(ars, as_of) if as_of is not None else self.latest(ars)


async def load_directory(session: AsyncSession) -> RegionDirectory:
    """A directory of every region period, territorial link and postal code in the tables."""
    successors: dict[str, list[str]] = defaultdict(list)
    predecessors: dict[str, list[str]] = defaultdict(list)
    links = await session.execute(select(TerritorialChange.predecessor_ars, TerritorialChange.successor_ars).distinct())
    for before, after in links:
        if before is not None and after is not None and before != after:
            bisect.insort(successors[before], after)
            bisect.insort(predecessors[after], before)
    rows = await session.execute(
        select(
            RegionPeriod.ars,
            RegionPeriod.ags,
            RegionPeriod.level,
            RegionPeriod.name,
            RegionPeriod.parent_ars,
            RegionPeriod.valid_from,
            RegionPeriod.valid_to,
        )
    )
    periods = [
        # Built without validation (the rows were validated when imported), which keeps a reload fast,
        # and with one shared set of fields, which saves some 700 bytes per region.
        Region.model_construct(
            _EVERY_FIELD,
            ars=sys.intern(ars),
            ags=sys.intern(ags) if ags else None,
            level=cast(RegionLevel, sys.intern(level)),
            name=sys.intern(name),
            parent_ars=sys.intern(parent) if parent else None,
            valid_from=valid_from,
            valid_to=valid_to,
            successor_ars=list(successors.get(ars, ())),
            predecessor_ars=list(predecessors.get(ars, ())),
        )
        for ars, ags, level, name, parent, valid_from, valid_to in rows
    ]
    postal_codes = await session.execute(select(PostalCode.plz, PostalCode.ags))
    return RegionDirectory(periods, ((plz, ags) for plz, ags in postal_codes))
