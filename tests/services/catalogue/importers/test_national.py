"""The national import over the real public files: everything loads, a re-import changes nothing, and
every Gemeinde's administration answers for the municipal Leistungen without a row per pair."""

import datetime as dt
import random

import pytest
from sqlalchemy import func, select

from contracts.catalogue import Region
from kit.db import Database
from services.catalogue.changes import changes_table
from services.catalogue.importers.data_dir import data_dir
from services.catalogue.importers.national import NationalFiles, import_national
from services.catalogue.read_model import CatalogueView

DATA = data_dir()

pytestmark = pytest.mark.slow


async def _changes(database: Database) -> int:
    async with database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(changes_table)) or 0)


async def test_the_national_catalogue_loads_once_and_answers_for_every_gemeinde(catalogue_url) -> None:
    database = Database(catalogue_url)
    try:
        first = {step.name: step for step in await import_national(database, NationalFiles(DATA), tenant="bund")}
        assert first["Leistungen"].outcomes["created"] > 5_000
        assert first["Gemeindeverwaltungen"].outcomes["created"] > 10_000
        assert first["Gemeindeverwaltungen"].skipped["unknown-ags"] > 0  # the 2011 file names merged Gemeinden
        assert first["Zuständigkeiten"].outcomes["created"] >= 1
        written = await _changes(database)

        again = await import_national(database, NationalFiles(DATA), tenant="bund")
        assert all(set(step.outcomes) <= {"unchanged"} for step in again), [s.summary() for s in again]
        assert await _changes(database) == written

        view = CatalogueView(database)
        await view.load()
        today = dt.date(2026, 6, 1)
        gemeinden = _gemeinden(view)
        assert len(gemeinden) > 10_000
        municipal = [
            record.content.leika_key for record in view.records.leistungen() if record.content.leika_typ == "2/3"
        ]
        answered = 0
        for region in random.Random(7).sample(gemeinden, 200):
            resolution = view.records.resolve(random.Random(region.ars).choice(municipal), region.ars, as_of=today)
            assert resolution is not None and resolution.zustaendige_stelle is not None
            stelle = resolution.zustaendige_stelle.organisationseinheit
            if stelle is not None and stelle.record is not None:
                assert stelle.record.content.verwaltung_von == region.ars
                answered += 1
        assert answered >= 190  # a few Gemeinden are uninhabited areas without an administration
    finally:
        await database.dispose()


def _gemeinden(view: CatalogueView) -> list[Region]:
    """Every Gemeinde, found by walking down from Germany."""
    found, pending = [], ["0"]
    while pending:
        for child in view.regions.children(pending.pop()):
            if child.level == "gemeinde":
                found.append(child)
            else:
                pending.append(child.ars)
    return sorted(found, key=lambda region: region.ars)
