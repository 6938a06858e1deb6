"""Postal codes to Gemeinden, from the CSV ``osm_id,ags,ort,plz,landkreis,bundesland``.

A postal code may reach into several Gemeinden and a Gemeinde may have several postal codes: every
(postal code, AGS) pair of the file is kept, so a lookup returns every candidate. The file is the
whole assignment: importing it makes the table equal to it (pairs no longer in it are removed), and
importing the same file again changes nothing.

A row whose AGS belongs to a Gemeinde that has ended is assigned to that Gemeinde's successors when
they are known (the file may be older than the register); an AGS the register never had is skipped.
"""

from __future__ import annotations

import csv
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.regions.importer import BATCH, Progress, SkipLog, lock_regions, tell
from services.catalogue.regions.models import PostalCode, RegionPeriod, TerritorialChange
from services.catalogue.regions.register import SkippedLine
from services.catalogue.regions.report import ImportRejectedError, ImportReport
from services.catalogue.regions.sources import Source, decoded, numbered_lines

#: A file that would remove more than this share of the assignments is taken for a partial one.
MAX_REMOVED_SHARE = 0.2
#: Successor chains longer than this are not followed (they would be a cycle).
_MAX_CHAIN = 10

_REQUIRED_COLUMNS = ("plz", "ags")


@dataclass(frozen=True, slots=True)
class PostalRow:
    """One row of the file: a postal code in a Gemeinde."""

    line: int
    plz: str
    ags: str


def parse_postal_codes(lines: Iterable[str | bytes]) -> Iterator[PostalRow | SkippedLine]:
    """The rows of the postal-code CSV `lines` (numbered from 1), with a SkippedLine for each bad one.

    The first non-blank line is the header; it must name the columns ``plz`` and ``ags`` (until such
    a header is read, every line is skipped as ``missing-columns``).
    """
    parser = PostalCodeParser()
    for number, raw in enumerate(lines, start=1):
        parsed = parser.parse(raw, number)
        if parsed is not None:
            yield parsed


class PostalCodeParser:
    """Parses the CSV line by line (its fields never span lines), remembering the header."""

    def __init__(self) -> None:
        self.columns: dict[str, int] | None = None

    def parse(self, raw: str | bytes, number: int) -> PostalRow | SkippedLine | None:
        """Line `number`: a row, why it is skipped, or None (the header, a blank line)."""
        text = decoded(raw)
        if text is None:
            return SkippedLine(number, "undecodable", "The line is neither UTF-8 nor Windows-1252 text.")
        text = text.removeprefix("\ufeff").rstrip("\r\n")
        if not text.strip():
            return None
        try:
            fields = next(csv.reader([text]))
        except csv.Error as error:
            return SkippedLine(number, "malformed-row", f"Not a CSV row: {error}.")
        if self.columns is None:
            return self._header(fields, number)
        return self._row(fields, number, self.columns)

    def _header(self, fields: list[str], number: int) -> SkippedLine | None:
        names = {name.strip().lower(): index for index, name in enumerate(fields)}
        missing = [name for name in _REQUIRED_COLUMNS if name not in names]
        if missing:
            return SkippedLine(number, "missing-columns", f"The header names no column {', '.join(missing)}.")
        self.columns = names
        return None

    @staticmethod
    def _row(fields: list[str], number: int, columns: dict[str, int]) -> PostalRow | SkippedLine:
        if len(fields) <= max(columns[name] for name in _REQUIRED_COLUMNS):
            return SkippedLine(number, "malformed-row", f"The row has {len(fields)} fields, too few.")
        plz, ags = fields[columns["plz"]].strip(), fields[columns["ags"]].strip()
        if not (len(plz) == 5 and plz.isascii() and plz.isdigit()):
            return SkippedLine(number, "invalid-plz", f"{plz!r} is not a postal code of 5 digits.")
        if not (len(ags) == 8 and ags.isascii() and ags.isdigit()):
            return SkippedLine(number, "invalid-ags", f"{ags!r} is not an AGS of 8 digits.")
        return PostalRow(number, plz, ags)


async def import_postal_codes(
    session: AsyncSession,
    path_or_lines: Source,
    *,
    progress: Progress | None = None,
    max_removed_share: float = MAX_REMOVED_SHARE,
) -> ImportReport:
    """Make the postal-code table equal to the file, in the caller's transaction (the caller commits).

    Rows whose AGS is not a Gemeinde of the loaded register (nor an ended one with known successors)
    are skipped and reported. Raises :class:`ImportRejectedError` (writing nothing) for a file with no
    usable row, or one that would remove more than `max_removed_share` of the assignments.
    """
    started = time.perf_counter()
    skips = SkipLog()
    rows = await _read(path_or_lines, skips, progress)
    if not rows:
        raise ImportRejectedError("empty-postal-codes", "The file holds no usable postal-code row.")
    await lock_regions(session)
    current, successors = await _gemeinden(session)
    wanted: dict[tuple[str, str], str] = {}
    remapped = 0
    for row in rows:
        if row.ags in current:
            wanted[(row.plz, row.ags)] = current[row.ags]
        elif row.ags in successors:
            remapped += 1
            for ags, ars in successors[row.ags]:
                wanted[(row.plz, ags)] = ars
        else:
            skips.add(row.line, "unknown-ags", f"AGS {row.ags} is no Gemeinde of the loaded register.")
    stored = {(plz, ags): ars for plz, ags, ars in await session.execute(select(PostalCode.__table__))}
    removed = [key for key in stored if key not in wanted]
    if stored and len(removed) > max_removed_share * len(stored):
        raise ImportRejectedError(
            "postal-codes-incomplete",
            f"The file would remove {len(removed)} of {len(stored)} postal-code assignments; is it complete?",
        )
    added = [key for key in wanted if key not in stored]
    changed = [key for key in wanted if key in stored and stored[key] != wanted[key]]
    await _write(session, wanted, added, changed, removed, progress)
    tell(progress, "done", len(rows), len(rows))
    return ImportReport(
        kind="postal-codes",
        records=len(rows),
        added=len(added),
        updated=len(changed),
        removed=len(removed),
        unchanged=len(wanted) - len(added) - len(changed),
        remapped=remapped,
        skipped=skips.count,
        skip_reasons=dict(skips.reasons),
        skipped_rows=skips.listed(),
        seconds=round(time.perf_counter() - started, 3),
    )


async def _read(source: Source, skips: SkipLog, progress: Progress | None) -> list[PostalRow]:
    parser = PostalCodeParser()
    rows: list[PostalRow] = []
    async for number, raw in numbered_lines(source):
        parsed = parser.parse(raw, number)
        if isinstance(parsed, SkippedLine):
            skips.add(parsed.line, parsed.reason, parsed.detail)
        elif parsed is not None:
            rows.append(parsed)
        if number % BATCH == 0:
            tell(progress, "reading", number)
    return rows


async def _gemeinden(session: AsyncSession) -> tuple[dict[str, str], dict[str, list[tuple[str, str]]]]:
    """The current Gemeinden (AGS -> ARS), and for ended ones their current successors' (AGS, ARS)."""
    periods = await session.execute(
        select(RegionPeriod.ags, RegionPeriod.ars, RegionPeriod.valid_to).where(RegionPeriod.level == "gemeinde")
    )
    current: dict[str, str] = {}
    ended_ars: dict[str, set[str]] = defaultdict(set)
    for ags, ars, valid_to in periods:
        if ags is None:
            continue
        if valid_to is None:
            current[ags] = ars
        else:
            ended_ars[ags].add(ars)
    links: dict[str, set[str]] = defaultdict(set)
    changes = await session.execute(
        select(TerritorialChange.predecessor_ars, TerritorialChange.successor_ars).where(
            TerritorialChange.level == "gemeinde", TerritorialChange.kind.in_(("merged", "moved"))
        )
    )
    for before, after in changes:
        if before is not None and after is not None:
            links[before].add(after)
    ags_of = {ars: ags for ags, ars in current.items()}
    successors: dict[str, list[tuple[str, str]]] = {}
    for ags, old in ended_ars.items():
        if ags in current:
            continue
        heirs = sorted(ars for ars in _follow(old, links) if ars in ags_of)
        if heirs:
            successors[ags] = [(ags_of[ars], ars) for ars in heirs]
    return current, successors


def _follow(start: set[str], links: dict[str, set[str]]) -> set[str]:
    """Every ARS reachable from `start` along the links that has no successor itself."""
    frontier, ends = set(start), set()
    for _ in range(_MAX_CHAIN):
        following = set()
        for ars in frontier:
            if links.get(ars):
                following |= links[ars]
            else:
                ends.add(ars)
        if not following:
            break
        frontier = following
    return ends - start


async def _write(
    session: AsyncSession,
    wanted: dict[tuple[str, str], str],
    added: list[tuple[str, str]],
    changed: list[tuple[str, str]],
    removed: list[tuple[str, str]],
    progress: Progress | None,
) -> None:
    table = cast(Table, PostalCode.__table__)
    by_key = and_(table.c.plz == bindparam("key_plz"), table.c.ags == bindparam("key_ags"))
    steps: list[tuple[Any, list[dict[str, Any]]]] = [
        (delete(table).where(by_key), [{"key_plz": plz, "key_ags": ags} for plz, ags in removed]),
        (
            update(table).where(by_key).values(ars=bindparam("new_ars")),
            [{"key_plz": plz, "key_ags": ags, "new_ars": wanted[(plz, ags)]} for plz, ags in changed],
        ),
        (insert(table), [{"plz": plz, "ags": ags, "ars": wanted[(plz, ags)]} for plz, ags in added]),
    ]
    total = len(added) + len(changed) + len(removed)
    done = 0
    for statement, parameters in steps:
        for start in range(0, len(parameters), BATCH):
            batch = parameters[start : start + BATCH]
            await session.execute(statement, batch)
            done += len(batch)
            tell(progress, "writing", done, total)
