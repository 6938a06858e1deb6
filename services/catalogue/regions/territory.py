"""What a new register changes: the plan of an import, computed without touching the database.

A region is followed by its identity across registers: a Gemeinde by its AGS (its ARS changes when it
joins another Gemeindeverband, which is a move, not a new Gemeinde), every other region by its ARS.
Compared with the regions as they stand:

- an identity only in the register is *added* (or *restored* if it had existed before);
- one whose name changed is *renamed*: its period is closed and a new one opens at the register date;
- a Gemeinde under a new ARS is *moved*: the old ARS's period closes, the new ARS's opens;
- one missing from the register *ended*; its successors are inferred (see :mod:`succession` for
  Gemeinden; other regions are succeeded by the regions that now hold their Gemeinden);
- other differences (population, area, type, seat) update the period in place: they are not
  territorial changes.

The first register loaded is the baseline: its regions are added with an open start and no
territorial change is recorded for them (they are announced as added all the same).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from contracts.catalogue import RegionLevel
from services.catalogue.regions.names import name_key, name_plain
from services.catalogue.regions.register import RegisterRecord
from services.catalogue.regions.succession import Parcel, infer_successors

GERMANY_ARS = "0"
GERMANY_NAME = "Deutschland"

#: How long the ARS of each level is.
ARS_LENGTHS: dict[RegionLevel, int] = {
    "bund": 1,
    "land": 2,
    "regierungsbezirk": 3,
    "kreis": 5,
    "gemeindeverband": 9,
    "gemeinde": 12,
}
#: The ARS prefixes a region's parent may have, nearest first (levels may be absent in a Land).
_PARENT_LENGTHS: dict[RegionLevel, tuple[int, ...]] = {
    "bund": (),
    "land": (),
    "regierungsbezirk": (2,),
    "kreis": (3, 2),
    "gemeindeverband": (5, 3, 2),
    "gemeinde": (9, 5, 3, 2),
}


@dataclass(frozen=True, slots=True)
class Period:
    """A period of a region: as stored (with its id) or as planned (id None until written)."""

    ars: str
    ags: str | None
    level: RegionLevel
    name: str
    parent_ars: str | None
    valid_from: dt.date | None
    valid_to: dt.date | None = None
    type_code: str | None = None
    type_text: str | None = None
    seat: str | None = None
    area_km2: Decimal | None = None
    population: int | None = None
    postal_code: str | None = None
    several_postal_codes: bool | None = None
    id: int | None = None

    @property
    def identity(self) -> str:
        """What stays the same across registers: the AGS of a Gemeinde, the ARS of anything else."""
        return identity_of(self.level, self.ars, self.ags)

    def attributes(self) -> tuple[Any, ...]:
        """The register fields that may change without a territorial change."""
        return (
            self.parent_ars,
            self.type_code,
            self.type_text,
            self.seat,
            self.area_km2,
            self.population,
            self.postal_code,
            self.several_postal_codes,
        )

    def row(self) -> dict[str, Any]:
        """The columns of the period's table row."""
        return {
            "ars": self.ars,
            "ags": self.ags,
            "level": self.level,
            "name": self.name,
            "name_key": name_key(self.name),
            "name_plain": name_plain(self.name),
            "parent_ars": self.parent_ars,
            "valid_from": self.valid_from,
            "valid_to": self.valid_to,
            "type_code": self.type_code,
            "type_text": self.type_text,
            "seat": self.seat,
            "area_km2": self.area_km2,
            "population": self.population,
            "postal_code": self.postal_code,
            "several_postal_codes": self.several_postal_codes,
        }


def identity_of(level: str, ars: str, ags: str | None) -> str:
    """The identity of a region across registers."""
    return f"ags:{ags}" if level == "gemeinde" and ags else f"ars:{ars}"


@dataclass(frozen=True, slots=True)
class Link:
    """A territorial change to record: predecessor -> successor."""

    kind: str
    level: RegionLevel
    predecessor_ars: str | None
    successor_ars: str | None
    method: str
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Announcement:
    """A change to announce as a ``RegionChanged`` event, with the period as it is afterwards."""

    change: str
    period: Period


@dataclass
class Plan:
    """Everything an import will write."""

    effective: dt.date
    closed: list[Period] = field(default_factory=list)
    dropped: list[Period] = field(default_factory=list)
    inserted: list[Period] = field(default_factory=list)
    updated: list[Period] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    announcements: list[Announcement] = field(default_factory=list)
    counts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    @property
    def ended(self) -> int:
        """How many regions end."""
        return sum(counts["ended"] for counts in self.counts.values())


def plan_import(
    current: Sequence[Period],
    former: Mapping[str, Period],
    records: Sequence[RegisterRecord],
    *,
    effective: dt.date,
) -> Plan:
    """The plan of importing `records` (one register, without duplicates) over the `current` periods.

    `former` holds, by identity, the last period of regions that ended earlier (to see restorations).
    The register's changes take effect at `effective`.
    """
    incoming = _periods_of(records)
    baseline = not current
    planner = _Planner(effective, baseline)
    now = {period.identity: period for period in current}
    for identity, period in incoming.items():
        before = now.get(identity)
        if before is None:
            planner.arrive(period, former.get(identity))
        else:
            planner.compare(before, period)
    gone = [period for identity, period in now.items() if identity not in incoming]
    planner.end(gone, current, incoming.values())
    return planner.plan


def _periods_of(records: Sequence[RegisterRecord]) -> dict[str, Period]:
    present = {record.ars for record in records}
    periods: dict[str, Period] = {}
    if any(record.level == "land" for record in records):
        germany = Period(GERMANY_ARS, None, "bund", GERMANY_NAME, None, None)
        periods[germany.identity] = germany
    for record in records:
        period = Period(
            ars=record.ars,
            ags=record.ags,
            level=record.level,
            name=record.name,
            parent_ars=parent_in(record.level, record.ars, present),
            valid_from=None,
            type_code=record.type_code,
            type_text=record.type_text,
            seat=record.seat,
            area_km2=record.area_km2,
            population=record.population,
            postal_code=record.postal_code,
            several_postal_codes=record.several_postal_codes,
        )
        periods[period.identity] = period
    return periods


def parent_in(level: RegionLevel, ars: str, present: set[str]) -> str | None:
    """The nearest region above `ars` among `present` (a Land's parent is Germany)."""
    if level == "bund":
        return None
    for length in _PARENT_LENGTHS[level]:
        if ars[:length] in present:
            return ars[:length]
    return GERMANY_ARS


class _Planner:
    def __init__(self, effective: dt.date, baseline: bool) -> None:
        self.plan = Plan(effective)
        self.baseline = baseline

    def count(self, level: str, kind: str) -> None:
        self.plan.counts[level][kind] += 1

    def link(
        self, kind: str, level: RegionLevel, before: str | None, after: str | None, method: str, **detail: Any
    ) -> None:
        self.plan.links.append(Link(kind, level, before, after, method, detail))

    def open(self, period: Period) -> Period:
        opened = replace(period, valid_from=None if self.baseline else self.plan.effective)
        self.plan.inserted.append(opened)
        return opened

    def close(self, period: Period) -> Period:
        closed = replace(period, valid_to=self.plan.effective - dt.timedelta(days=1))
        # A period that began with this very register (a corrected file of the same date) never
        # held: it goes, instead of ending before it began.
        if period.valid_from is not None and period.valid_from >= self.plan.effective:
            self.plan.dropped.append(period)
        else:
            self.plan.closed.append(closed)
        return closed

    def arrive(self, period: Period, former: Period | None) -> None:
        opened = self.open(period)
        if former is None:
            self.count(period.level, "added")
            if not self.baseline:
                self.link("added", period.level, None, period.ars, "register-diff", name=period.name)
            self.plan.announcements.append(Announcement("added", opened))
            return
        self.count(period.level, "restored")
        self.link("restored", period.level, former.ars, period.ars, "same-identity", name=period.name)
        self.plan.announcements.append(Announcement("restored", opened))

    def compare(self, before: Period, after: Period) -> None:
        level = after.level
        if before.ars != after.ars:
            closed = self.close(before)
            opened = self.open(after)
            self.count(level, "moved")
            self.link("moved", level, before.ars, after.ars, "same-ags", ags=after.ags, name=after.name)
            if before.name != after.name:
                self.count(level, "renamed")
                self.link(
                    "renamed", level, after.ars, after.ars, "register-diff", oldName=before.name, newName=after.name
                )
            self.plan.announcements += [Announcement("ended", closed), Announcement("moved", opened)]
        elif before.name != after.name:
            self.count(level, "renamed")
            self.link("renamed", level, after.ars, after.ars, "register-diff", oldName=before.name, newName=after.name)
            if before.valid_from is not None and before.valid_from >= self.plan.effective:
                renamed = replace(after, id=before.id, valid_from=before.valid_from)
                self.plan.updated.append(renamed)
            else:
                self.close(before)
                renamed = self.open(after)
            self.plan.announcements.append(Announcement("renamed", renamed))
        elif before.attributes() != after.attributes():
            self.count(level, "updated")
            self.plan.updated.append(replace(after, id=before.id, valid_from=before.valid_from))
        else:
            self.count(level, "unchanged")

    def end(self, gone: list[Period], current: Sequence[Period], incoming: Iterable[Period]) -> None:
        successions = _successions(gone, current, list(incoming))
        for period in gone:
            closed = self.close(period)
            self.count(period.level, "ended")
            successors, method = successions.get(period.ars, ((), "none"))
            if successors:
                self.count(period.level, "successorsInferred")
            for successor in successors:
                self.link("merged", period.level, period.ars, successor, method, name=period.name)
            if not successors:
                self.link("ended", period.level, period.ars, None, method, name=period.name)
            self.plan.announcements.append(Announcement("ended", closed))


def _successions(
    gone: list[Period], current: Sequence[Period], incoming: list[Period]
) -> dict[str, tuple[tuple[str, ...], str]]:
    """Successor ARS and inference method of each ended region, by its ARS."""
    old_gemeinden = {period.ags: period for period in current if period.level == "gemeinde" and period.ags}
    new_gemeinden = {period.ags: period for period in incoming if period.level == "gemeinde" and period.ags}
    ended = [period for period in gone if period.level == "gemeinde"]
    by_area = infer_successors(
        [Parcel(period.ars, _hectares(period.area_km2)) for period in ended],
        _gains(old_gemeinden, new_gemeinden),
    )
    found = {ars: (succession.successors, succession.method) for ars, succession in by_area.items()}
    # Where each old Gemeinde's territory is now: itself (same AGS) or its inferred successors.
    now_in: dict[str, tuple[str, ...]] = {}
    for ags, period in old_gemeinden.items():
        if ags in new_gemeinden:
            now_in[period.ars] = (new_gemeinden[ags].ars,)
        elif period.ars in found:
            now_in[period.ars] = found[period.ars][0]
    present = {period.ars: period.level for period in incoming}
    for period in gone:
        if period.level in ("gemeinde", "bund"):
            continue
        length = ARS_LENGTHS[period.level]
        heirs = {
            successor[:length]
            for member, places in now_in.items()
            if member[:length] == period.ars
            for successor in places
            if present.get(successor[:length]) == period.level
        }
        if heirs:
            found[period.ars] = (tuple(sorted(heirs)), "member-gemeinden")
    return found


def _gains(old: Mapping[str, Period], new: Mapping[str, Period]) -> list[Parcel]:
    """New Gemeinden (whole area) first, then Gemeinden that grew, most growth first."""
    added = [Parcel(period.ars, _hectares(period.area_km2)) for ags, period in new.items() if ags not in old]
    grown = [
        Parcel(period.ars, _hectares(period.area_km2) - _hectares(old[ags].area_km2))
        for ags, period in new.items()
        if ags in old and old[ags].area_km2 is not None and period.area_km2 is not None
    ]
    return added + sorted((parcel for parcel in grown if parcel.hectares > 0), key=lambda parcel: -parcel.hectares)


def _hectares(area_km2: Decimal | None) -> int:
    return int(area_km2 * 100) if area_km2 is not None else 0
