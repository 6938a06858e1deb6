"""Importing the real registers: idempotence, and the territorial changes from 2021 to 2025."""

import time

from sqlalchemy import func, select

from services.catalogue.changes import changes_table
from services.catalogue.regions.importer import import_register
from services.catalogue.regions.models import RegionPeriod, TerritorialChange
from tests.services.catalogue.regions.conftest import REGISTER_2021, REGISTER_2025


async def _count(session, table) -> int:
    return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def test_the_2021_register_is_the_baseline_and_loads_again_without_change(sessions) -> None:
    async with sessions() as session, session.begin():
        started = time.perf_counter()
        report = await import_register(session, REGISTER_2021)
        print("baseline", time.perf_counter() - started)
    assert report.records == 16060 - 12
    assert report.skip_reasons == {"not-in-ars-chain": 12}
    assert report.levels["gemeinde"].added == 10997
    assert report.added == 16048 + 1
    assert report.events == report.added
    async with sessions() as session:
        periods, changes, events = (
            await _count(session, RegionPeriod),
            await _count(session, TerritorialChange),
            await _count(session, changes_table),
        )
    async with sessions() as session, session.begin():
        started = time.perf_counter()
        again = await import_register(session, REGISTER_2021)
        print("again", time.perf_counter() - started)
    assert again.unchanged == again.records + 1
    assert again.added == again.ended == again.renamed == again.updated == again.events == 0
    async with sessions() as session:
        assert await _count(session, RegionPeriod) == periods
        assert await _count(session, TerritorialChange) == changes
        assert await _count(session, changes_table) == events


async def test_the_2025_register_over_2021_records_the_destatis_changes(sessions) -> None:
    async with sessions() as session, session.begin():
        started = time.perf_counter()
        report = await import_register(session, REGISTER_2025)
        print("2025", time.perf_counter() - started, report.model_dump_json(exclude={"skipped_rows"}))
    gemeinden = report.levels["gemeinde"]
    assert (gemeinden.ended, gemeinden.added, gemeinden.renamed) == (49, 5, 27)
    assert gemeinden.moved == 20
