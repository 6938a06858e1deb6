"""Importing the real registers: idempotence, and the territorial changes from 2021 to 2025."""

import time

import pytest
from sqlalchemy import func, select

from services.catalogue.changes import changes_table
from services.catalogue.regions.importer import import_register
from services.catalogue.regions.models import PostalCode, RegionPeriod, TerritorialChange
from services.catalogue.regions.postal_codes import import_postal_codes
from services.catalogue.regions.report import ImportProgress, ImportRejectedError
from tests.services.catalogue.regions.conftest import POSTAL_CODES, REGISTER_2021, REGISTER_2025


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
    progress: list[ImportProgress] = []
    async with sessions() as session, session.begin():
        started = time.perf_counter()
        report = await import_register(session, REGISTER_2025, progress=progress.append)
        print("2025", time.perf_counter() - started, report.model_dump_json(exclude={"skipped_rows"}))
    assert [step.phase for step in progress][:8] == ["reading"] * 8
    assert {step.phase for step in progress} == {"reading", "writing", "announcing", "done"}
    assert progress[-1].phase == "done"
    writing = [step for step in progress if step.phase == "writing"]
    assert writing[-1].done == writing[-1].total
    gemeinden = report.levels["gemeinde"]
    assert (gemeinden.ended, gemeinden.added, gemeinden.renamed) == (49, 5, 27)
    assert gemeinden.moved == 20


async def _changes(sessions, **where) -> list[TerritorialChange]:
    async with sessions() as session:
        query = select(TerritorialChange)
        for name, value in where.items():
            query = query.where(getattr(TerritorialChange, name) == value)
        return list((await session.scalars(query.order_by(TerritorialChange.id))).all())


async def test_mergers_are_linked_to_their_successors_with_the_method_that_found_them(sessions) -> None:
    # Uder (new AGS 16061119) is ten Gemeinden and the old Uder merged; two more went to Heiligenstadt.
    into_uder = await _changes(sessions, successor_ars="160615051119", kind="merged")
    assert len(into_uder) == 11
    assert {change.method for change in into_uder} == {"area-merge-kreis"}
    assert "160615012097" in {change.predecessor_ars for change in into_uder}
    (glasehausen,) = await _changes(sessions, predecessor_ars="160615009039")
    assert (glasehausen.kind, glasehausen.successor_ars) == ("merged", "160610045045")
    # Heinersreuther Forst was divided among Gemeinden of two Kreise.
    forst = await _changes(sessions, predecessor_ars="093749451451")
    assert {change.method for change in forst} == {"area-split-land"}
    assert len(forst) == 3
    # Anrode was divided in a way the areas do not explain: it ended, successor unknown.
    (anrode,) = await _changes(sessions, predecessor_ars="160640073073")
    assert (anrode.kind, anrode.successor_ars, anrode.method) == ("ended", None, "none")
    # An Amt that ended is succeeded by the Amt its Gemeinden are in now.
    (amt,) = await _changes(sessions, predecessor_ars="010585830")
    assert (amt.kind, amt.successor_ars, amt.method) == ("merged", "010585896", "member-gemeinden")
    for change in [*into_uder, glasehausen, amt]:
        assert change.effective_date.isoformat() == "2025-11-30"
        assert str(change.previous_register_date) == "2021-12-31"


async def test_renamed_and_moved_regions_keep_their_old_periods(sessions) -> None:
    async with sessions() as session:
        oldenburg = (
            await session.scalars(select(RegionPeriod).where(RegionPeriod.ags == "03403000").order_by(RegionPeriod.id))
        ).all()
    assert [(p.name, str(p.valid_from), str(p.valid_to)) for p in oldenburg] == [
        ("Oldenburg (Oldenburg), Stadt", "None", "2025-11-29"),
        ("Oldenburg (Oldb), Stadt", "2025-11-30", "None"),
    ]
    (moved,) = await _changes(sessions, kind="moved", predecessor_ars="010585859018")
    assert (moved.successor_ars, moved.method) == ("010585896018", "same-ags")


async def test_every_change_is_in_the_feed_as_a_region_event(sessions) -> None:
    async with sessions() as session:
        rows = (
            await session.execute(
                select(changes_table.c.subject, changes_table.c.data).where(
                    changes_table.c.subject.in_(["160615012097", "160615051119", "010585896018"])
                )
            )
        ).all()
    events = {(subject, data["change"]): data["region"] for subject, data in rows}
    assert events[("160615012097", "ended")]["successorArs"] == ["160615051119"]
    assert events[("160615012097", "ended")]["validTo"] == "2025-11-29"
    assert "160615012097" in events[("160615051119", "added")]["predecessorArs"]
    assert events[("010585896018", "moved")]["predecessorArs"] == ["010585859018"]


async def test_an_older_or_partial_register_is_refused_and_changes_nothing(sessions) -> None:
    async with sessions() as session:
        periods = await _count(session, RegionPeriod)
    with pytest.raises(ImportRejectedError) as older:
        async with sessions() as session, session.begin():
            await import_register(session, REGISTER_2021)
    assert older.value.slug == "register-out-of-date"
    head = REGISTER_2025.read_text(encoding="utf-8").splitlines()[:5000]
    with pytest.raises(ImportRejectedError) as partial:
        async with sessions() as session, session.begin():
            await import_register(session, head)
    assert partial.value.slug == "register-incomplete"
    with pytest.raises(ImportRejectedError) as empty:
        async with sessions() as session, session.begin():
            await import_register(session, ["", "99 not a register"])
    assert empty.value.slug == "empty-register"
    async with sessions() as session:
        assert await _count(session, RegionPeriod) == periods


async def test_postal_codes_of_ended_gemeinden_go_to_their_successors(sessions) -> None:
    async with sessions() as session, session.begin():
        report = await import_postal_codes(session, POSTAL_CODES)
    # Of the 41 rows naming Gemeinden that ended, only Anrode's and Rodeberg's have no known heir.
    assert report.remapped + report.skip_reasons["unknown-ags"] == 41
    assert {row.detail.split()[1] for row in report.skipped_rows} == {"16064073", "16064055"}
    async with sessions() as session:
        uder = (await session.execute(select(PostalCode.ags).where(PostalCode.plz == "37318"))).scalars().all()
    assert "16061119" in uder and "16061007" not in uder
