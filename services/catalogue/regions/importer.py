"""Importing the municipality register GV100AD: regions, their periods and territorial changes.

The import runs in the caller's transaction and writes in bulk (one statement per few thousand
rows); every change is announced through the change feed and the outbox in that same transaction,
so either the register is loaded and announced or nothing happened. The caller commits.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.catalogue import Region, RegionLevel
from contracts.events.catalogue import RegionChanged
from kit.db import utcnow
from services.catalogue.changes import record_changes
from services.catalogue.regions.models import LoadedRegister, RegionPeriod, TerritorialChange
from services.catalogue.regions.register import RegisterRecord, SkippedLine, parse_register_line
from services.catalogue.regions.report import (
    MAX_LISTED_SKIPS,
    ImportProgress,
    ImportRejectedError,
    ImportReport,
    LevelCounts,
    Phase,
    SkippedRow,
)
from services.catalogue.regions.sources import Source, numbered_lines
from services.catalogue.regions.territory import Link, Period, Plan, plan_import

Progress = Callable[[ImportProgress], object]

#: Rows per bulk statement, and lines between progress reports.
BATCH = 2000
#: A register that would end more than this share of the regions is taken for a partial file.
MAX_ENDED_SHARE = 0.05

_PERIOD_COLUMNS = (
    "id",
    "ars",
    "ags",
    "level",
    "name",
    "parent_ars",
    "valid_from",
    "valid_to",
    "type_code",
    "type_text",
    "seat",
    "area_km2",
    "population",
    "postal_code",
    "several_postal_codes",
)


class SkipLog:
    """The lines an import skipped: all counted by reason, the first ones listed."""

    def __init__(self) -> None:
        self.reasons: Counter[str] = Counter()
        self.rows: list[SkippedRow] = []

    def add(self, line: int, reason: str, detail: str) -> None:
        """Note that `line` was skipped."""
        self.reasons[reason] += 1
        if len(self.rows) < MAX_LISTED_SKIPS:
            self.rows.append(SkippedRow(line=line, reason=reason, detail=detail))

    @property
    def count(self) -> int:
        """How many lines were skipped."""
        return sum(self.reasons.values())

    def listed(self) -> list[SkippedRow]:
        """The listed skips in line order."""
        return sorted(self.rows, key=lambda row: row.line)


def tell(progress: Progress | None, phase: Phase, done: int, total: int | None = None) -> None:
    """Report progress, if anyone listens."""
    if progress is not None:
        progress(ImportProgress(phase, done, total))


async def import_register(
    session: AsyncSession,
    path_or_lines: Source,
    *,
    register_date: dt.date | None = None,
    progress: Progress | None = None,
    max_ended_share: float = MAX_ENDED_SHARE,
) -> ImportReport:
    """Load a GV100AD register into the region tables, recording and announcing what changed.

    `path_or_lines` is a file path or the file's lines (str or bytes; an async iterable for a
    stream). The changes take effect at `register_date`, by default the register's Gebietsstand.
    Importing the same register again changes nothing. Raises :class:`ImportRejectedError` (writing
    nothing) for a register with no usable record, one older than the newest loaded, or one that
    would end more than `max_ended_share` of the regions (a partial file, most likely).
    """
    started = time.perf_counter()
    skips = SkipLog()
    records = await _read(path_or_lines, skips, progress)
    if not records:
        raise ImportRejectedError("empty-register", "The file holds no usable register record.")
    effective = register_date or records[0].gebietsstand
    await lock_regions(session)
    newest = await session.scalar(select(func.max(LoadedRegister.register_date)))
    if newest is not None and effective < newest:
        raise ImportRejectedError(
            "register-out-of-date", f"A newer register ({newest.isoformat()}) is loaded; this one is of {effective}."
        )
    previous = await session.scalar(
        select(func.max(LoadedRegister.register_date)).where(LoadedRegister.register_date < effective)
    )
    current, former = await _stored_periods(session)
    plan = plan_import(current, former, records, effective=effective)
    if current and plan.ended > max_ended_share * len(current):
        raise ImportRejectedError(
            "register-incomplete",
            f"The register would end {plan.ended} of {len(current)} regions; is the file complete?",
        )
    await _write(session, plan, previous, progress)
    if await session.get(LoadedRegister, effective) is None:
        session.add(LoadedRegister(register_date=effective, records=len(records), imported_at=utcnow()))
        await session.flush()
    events = await _announce(session, plan, progress)
    tell(progress, "done", len(records), len(records))
    return _report(plan, records, skips, effective, previous, events, time.perf_counter() - started)


async def lock_regions(session: AsyncSession) -> None:
    """Make imports into the region tables take turns (until the transaction ends): each compares the
    file with what is stored, which another import must not change meanwhile."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('catalogue.regions.import'))"))


async def _read(source: Source, skips: SkipLog, progress: Progress | None) -> list[RegisterRecord]:
    records: list[RegisterRecord] = []
    async for number, raw in numbered_lines(source):
        parsed = parse_register_line(raw, number)
        if isinstance(parsed, SkippedLine):
            skips.add(parsed.line, parsed.reason, parsed.detail)
        elif parsed is not None:
            records.append(parsed)
        if number % BATCH == 0:
            tell(progress, "reading", number)
    return _consistent(records, skips)


def _consistent(records: list[RegisterRecord], skips: SkipLog) -> list[RegisterRecord]:
    """The records of one territorial status, each key once: the others are skipped."""
    if not records:
        return records
    (status, _), *_ = Counter(record.gebietsstand for record in records).most_common(1)
    kept: list[RegisterRecord] = []
    seen: dict[str, int] = {}
    for record in records:
        if record.gebietsstand != status:
            skips.add(
                record.line,
                "other-gebietsstand",
                f"Gebietsstand {record.gebietsstand} differs from the register's {status}.",
            )
            continue
        keys = [f"ARS {record.ars}"] + ([f"AGS {record.ags}"] if record.ags else [])
        first = next((key for key in keys if key in seen), None)
        if first is not None:
            skips.add(record.line, "duplicate-key", f"{first} appeared already at line {seen[first]}.")
            continue
        seen.update(dict.fromkeys(keys, record.line))
        kept.append(record)
    return kept


async def _stored_periods(session: AsyncSession) -> tuple[list[Period], dict[str, Period]]:
    """The open periods, and by identity the last period of each region that has none open."""
    table = RegionPeriod.__table__
    rows = await session.execute(select(*(table.c[name] for name in _PERIOD_COLUMNS)))
    periods = [Period(**row._mapping) for row in rows]
    current = [period for period in periods if period.valid_to is None]
    open_identities = {period.identity for period in current}
    former: dict[str, Period] = {}
    for period in sorted((p for p in periods if p.valid_to is not None), key=lambda p: p.valid_to or dt.date.min):
        if period.identity not in open_identities:
            former[period.identity] = period
    return current, former


async def _write(session: AsyncSession, plan: Plan, previous: dt.date | None, progress: Progress | None) -> None:
    # Core statements with many parameter sets: asyncpg pipelines them, where the ORM's bulk
    # methods would build objects first.
    periods = cast(Table, RegionPeriod.__table__)
    recorded_at = utcnow()
    steps: list[tuple[Any, list[dict[str, Any]]]] = [
        # Closed before anything opens: one ARS has one open period at a time.
        (
            update(periods).where(periods.c.id == bindparam("period_id")).values(valid_to=bindparam("valid_to")),
            [{"period_id": p.id, "valid_to": p.valid_to} for p in plan.closed],
        ),
        (
            update(periods).where(periods.c.id == bindparam("period_id")),
            [{"period_id": p.id, **p.row()} for p in plan.updated],
        ),
        (insert(periods), [p.row() for p in plan.inserted]),
        (
            insert(cast(Table, TerritorialChange.__table__)),
            [_change_row(link, plan.effective, previous, recorded_at) for link in plan.links],
        ),
    ]
    if plan.dropped:
        await session.execute(delete(periods).where(periods.c.id.in_([p.id for p in plan.dropped])))
    total = sum(len(rows) for _, rows in steps)
    done = 0
    for statement, rows in steps:
        for batch in _batches(rows):
            await session.execute(statement, batch)
            done += len(batch)
            tell(progress, "writing", done, total)


def _change_row(link: Link, effective: dt.date, previous: dt.date | None, recorded_at: dt.datetime) -> dict[str, Any]:
    return {
        "kind": link.kind,
        "level": link.level,
        "predecessor_ars": link.predecessor_ars,
        "successor_ars": link.successor_ars,
        "effective_date": effective,
        "previous_register_date": previous,
        "method": link.method,
        "detail": link.detail,
        "recorded_at": recorded_at,
    }


def _batches(rows: Sequence[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(rows), BATCH):
        yield list(rows[start : start + BATCH])


async def _announce(session: AsyncSession, plan: Plan, progress: Progress | None) -> int:
    """Record a RegionChanged for every announcement, with the region's links as they now stand."""
    if not plan.announcements:
        return 0
    successors, predecessors = await links_by_ars(session)
    occurred_at = utcnow()
    events = [
        RegionChanged(
            ars=announcement.period.ars,
            region=region_of(announcement.period, successors, predecessors),
            change=announcement.change,
            occurred_at=occurred_at,
        )
        for announcement in plan.announcements
    ]
    tell(progress, "announcing", 0, len(events))
    await record_changes(session, events, tenant=None, public=True)
    tell(progress, "announcing", len(events), len(events))
    return len(events)


async def links_by_ars(session: AsyncSession) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Successor and predecessor ARS of every region, from the recorded territorial changes."""
    rows = await session.execute(
        select(TerritorialChange.predecessor_ars, TerritorialChange.successor_ars).where(
            TerritorialChange.predecessor_ars.is_not(None),
            TerritorialChange.successor_ars.is_not(None),
            TerritorialChange.predecessor_ars != TerritorialChange.successor_ars,
        )
    )
    successors: dict[str, set[str]] = {}
    predecessors: dict[str, set[str]] = {}
    for before, after in rows:
        if before is None or after is None:
            continue
        successors.setdefault(before, set()).add(after)
        predecessors.setdefault(after, set()).add(before)
    return successors, predecessors


def region_of(
    period: Period | RegionPeriod,
    successors: Mapping[str, Collection[str]],
    predecessors: Mapping[str, Collection[str]],
) -> Region:
    """The contract's view of a period, with the region's links."""
    return Region(
        ars=period.ars,
        ags=period.ags,
        level=period.level,
        name=period.name,
        parent_ars=period.parent_ars,
        valid_from=period.valid_from,
        valid_to=period.valid_to,
        successor_ars=sorted(successors.get(period.ars, ())),
        predecessor_ars=sorted(predecessors.get(period.ars, ())),
    )


def _report(
    plan: Plan,
    records: list[RegisterRecord],
    skips: SkipLog,
    effective: dt.date,
    previous: dt.date | None,
    events: int,
    seconds: float,
) -> ImportReport:
    totals: Counter[str] = Counter()
    for counts in plan.counts.values():
        totals.update(counts)
    return ImportReport(
        kind="register",
        register_date=effective,
        previous_register_date=previous,
        records=len(records),
        added=totals["added"],
        renamed=totals["renamed"],
        moved=totals["moved"],
        ended=totals["ended"],
        restored=totals["restored"],
        updated=totals["updated"],
        unchanged=totals["unchanged"],
        skipped=skips.count,
        skip_reasons=dict(skips.reasons),
        skipped_rows=skips.listed(),
        levels={
            cast(RegionLevel, level): LevelCounts.model_validate(dict(counts)) for level, counts in plan.counts.items()
        },
        events=events,
        seconds=round(seconds, 3),
    )
