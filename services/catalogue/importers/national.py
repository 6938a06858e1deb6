"""Load the national catalogue from the public files: regions, postal codes, Leistungen, the municipal
administrations and the Zuständigkeiten that make each Gemeinde's administration responsible for the
municipal Leistungen.

Every step is idempotent: importing the same files again changes nothing and announces nothing. Each
step commits in batches, so an interrupted import resumes where it stopped when started again. What
is skipped is reported with the reason and the line.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from contracts.catalogue import Model, RecordKind
from kit.db import Database
from services.catalogue.editorial.batch import Item, publish_many
from services.catalogue.importers.administrations import (
    ParsedAdministration,
    administrations_for_missing,
    national_rules,
    parse_administrations,
)
from services.catalogue.importers.leika import LeikaRow, ParsedLeistung, parse_leika
from services.catalogue.regions.importer import import_register
from services.catalogue.regions.postal_codes import import_postal_codes
from services.catalogue.regions.register import RegisterRecord, parse_register
from services.catalogue.regions.report import ImportRejectedError

#: Records per transaction: a crash loses at most one batch, which the next run redoes.
BATCH = 500
Report = Callable[[str], None]


@dataclass
class StepReport:
    """What one step did: outcome counts, skip reasons, and the first skipped lines."""

    name: str
    outcomes: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def skip(self, line: int | None, reason: str, detail: str) -> None:
        """Count a skipped row and keep the first few as examples."""
        self.skipped[reason] += 1
        if len(self.examples) < 10:
            self.examples.append(f"line {line or '-'}: {reason}: {detail}")

    def summary(self) -> str:
        """One line for people."""
        done = ", ".join(f"{count} {outcome}" for outcome, count in sorted(self.outcomes.items())) or "nothing"
        skipped = ", ".join(f"{count} {reason}" for reason, count in sorted(self.skipped.items()))
        return f"{self.name}: {done}" + (f"; skipped {skipped}" if skipped else "") + f" ({self.seconds:.1f} s)"


@dataclass(frozen=True)
class NationalFiles:
    """The public files of ``CATALOGUE_DATA_DIR`` (see ../shared/data/README.md)."""

    data_dir: Path

    @property
    def registers(self) -> list[Path]:
        """The GV100AD registers, oldest first, so that the territorial changes are recorded."""
        return sorted(self.data_dir.glob("gv100ad/GV100AD_*.txt"), key=_register_date)

    @property
    def postal_codes(self) -> Path:
        """The postal-code assignment."""
        return self.data_dir / "plz" / "zuordnung_plz_ort.csv"

    @property
    def leika(self) -> Path:
        """The LeiKa catalogue."""
        return self.data_dir / "leika" / "leika_leistungen.csv"

    @property
    def administrations(self) -> Path:
        """The municipal administrations' addresses."""
        return self.data_dir / "gemeindeverwaltungen" / "gemeindeverwaltungen_2011.csv"


def _register_date(path: Path) -> dt.date:
    return dt.datetime.strptime(path.stem.rsplit("_", 1)[1], "%d%m%Y").date()


async def import_national(
    database: Database, files: NationalFiles, *, tenant: str, report: Report = print
) -> list[StepReport]:
    """Run every step; returns their reports."""
    reports = []
    for register in files.registers:
        reports.append(await _regions(database, register, report))
    reports.append(await _postal_codes(database, files.postal_codes, report))
    leistungen = list(parse_leika(files.leika))
    reports.append(await _leistungen(database, leistungen, tenant, report))
    current_register = [
        record for record in parse_register(_lines(files.registers[-1])) if isinstance(record, RegisterRecord)
    ]
    reports.append(await _administrations(database, files.administrations, current_register, tenant, report))
    typen = [row.leistung.leika_typ for row in leistungen if isinstance(row, ParsedLeistung)]
    rules = [(RecordKind.ZUSTAENDIGKEIT, key, rule) for key, rule in national_rules(typen)]
    reports.append(await _upsert_all(database, "Zuständigkeiten", rules, tenant, report))
    return reports


def _lines(path: Path) -> Iterable[str]:
    with path.open(encoding="utf-8", errors="replace") as file:
        yield from file


async def _regions(database: Database, path: Path, report: Report) -> StepReport:
    step = StepReport(f"Regionen {path.name}")
    started = time.perf_counter()
    try:
        async with database.session() as session, session.begin():
            result = await import_register(session, str(path))
    except ImportRejectedError as refusal:
        if refusal.slug != "register-out-of-date":
            raise
        # History already loaded: a newer register is in place, and an older one cannot follow it.
        step.skip(None, refusal.slug, refusal.detail)
        report(step.summary())
        return step
    step.outcomes.update(
        {
            name: count
            for name, count in (
                ("added", result.added),
                ("renamed", result.renamed),
                ("moved", result.moved),
                ("ended", result.ended),
                ("unchanged", result.unchanged),
            )
            if count
        }
    )
    for skipped in result.skipped_rows:
        step.skip(skipped.line, skipped.reason, skipped.detail)
    step.seconds = time.perf_counter() - started
    report(step.summary())
    return step


async def _postal_codes(database: Database, path: Path, report: Report) -> StepReport:
    step = StepReport("Postleitzahlen")
    started = time.perf_counter()
    async with database.session() as session, session.begin():
        result = await import_postal_codes(session, str(path))
    counts = {"added": result.added, "removed": result.removed, "unchanged": result.unchanged}
    step.outcomes.update({outcome: count for outcome, count in counts.items() if count})
    for skipped in result.skipped_rows:
        step.skip(skipped.line, skipped.reason, skipped.detail)
    step.seconds = time.perf_counter() - started
    report(step.summary())
    return step


async def _leistungen(database: Database, rows: Sequence[LeikaRow], tenant: str, report: Report) -> StepReport:
    items: list[tuple[RecordKind, str, Model]] = []
    skipped: list[tuple[int | None, str, str]] = []
    for row in rows:
        if isinstance(row, ParsedLeistung):
            items.append((RecordKind.LEISTUNG, row.leistung.leika_key, row.leistung))
        else:
            skipped.append((row.line, row.reason, row.detail))
    return await _upsert_all(database, "Leistungen", items, tenant, report, skipped=skipped)


async def _administrations(
    database: Database, path: Path, register: Sequence[RegisterRecord], tenant: str, report: Report
) -> StepReport:
    gemeinden = {record.ags: record for record in register if record.level == "gemeinde" and record.ags}
    ars_by_ags = {ags: record.ars for ags, record in gemeinden.items()}
    items: list[tuple[RecordKind, str, Model]] = []
    skipped: list[tuple[int | None, str, str]] = []
    covered: set[str] = set()
    for row in parse_administrations(path, ars_by_ags, register=gemeinden):
        if isinstance(row, ParsedAdministration):
            covered.add(row.ags)
            items.append((RecordKind.ORGANISATIONSEINHEIT, row.key, row.organisationseinheit))
        else:
            skipped.append((row.line, row.reason, row.detail))
    for row in administrations_for_missing(gemeinden.values(), covered):
        if isinstance(row, ParsedAdministration):
            items.append((RecordKind.ORGANISATIONSEINHEIT, row.key, row.organisationseinheit))
        else:
            skipped.append((row.line, row.reason, row.detail))
    return await _upsert_all(database, "Gemeindeverwaltungen", items, tenant, report, skipped=skipped)


async def _upsert_all(
    database: Database,
    name: str,
    items: Sequence[tuple[RecordKind, str, Model]],
    tenant: str,
    report: Report,
    *,
    skipped: Sequence[tuple[int | None, str, str]] = (),
) -> StepReport:
    """Save and publish `items` through the editorial workflow, in batches; report progress."""
    step = StepReport(name)
    for line, reason, detail in skipped:
        step.skip(line, reason, detail)
    started = time.perf_counter()
    for start in range(0, len(items), BATCH):
        batch = [Item(kind, key, content) for kind, key, content in items[start : start + BATCH]]
        async with database.session() as session, session.begin():
            results = await publish_many(session, tenant, batch)
        for result in results:
            if result.outcome is None:
                reason, _, detail = (result.problem or "refused").partition(": ")
                step.skip(None, reason, f"{result.item.kind} {result.item.key}: {detail}")
            else:
                step.outcomes[result.outcome] += 1
        report(f"  {name}: {min(start + BATCH, len(items))}/{len(items)}")
    step.seconds = time.perf_counter() - started
    report(step.summary())
    return step
