"""Importing the postal-code assignment over the 2025 register: every candidate Gemeinde, idempotent,
unknown AGS reported, bad rows skipped without stopping."""

import pytest
from sqlalchemy import func, select

from services.catalogue.regions.importer import import_register
from services.catalogue.regions.models import PostalCode
from services.catalogue.regions.postal_codes import PostalRow, import_postal_codes, parse_postal_codes
from services.catalogue.regions.register import SkippedLine
from services.catalogue.regions.report import ImportRejectedError
from tests.services.catalogue.regions.conftest import POSTAL_CODES, REGISTER_2025

HEADER = "osm_id,ags,ort,plz,landkreis,bundesland"


async def _assignments(sessions) -> dict[tuple[str, str], str]:
    async with sessions() as session:
        return {(plz, ags): ars for plz, ags, ars in await session.execute(select(PostalCode.__table__))}


async def test_the_real_file_maps_every_postal_code_to_every_candidate(sessions) -> None:
    async with sessions() as session, session.begin():
        await import_register(session, REGISTER_2025)
    async with sessions() as session, session.begin():
        report = await import_postal_codes(session, POSTAL_CODES)
    print("postal codes", report.seconds)
    # 41 rows name Gemeinden that ended before 2025; with no older register loaded, none is known.
    assert report.skip_reasons == {"unknown-ags": 41}
    assert report.records == 12871
    assert report.added == 12871 - 41
    assert {row.reason for row in report.skipped_rows} == {"unknown-ags"}
    async with sessions() as session:
        several = await session.scalar(
            select(func.count()).select_from(
                select(PostalCode.plz).group_by(PostalCode.plz).having(func.count() > 1).subquery()
            )
        )
    assert several == 1386  # 1,390 in the file; four lose a candidate that no longer exists
    stored = await _assignments(sessions)
    assert {ags for (plz, ags) in stored if plz == "52062"} == {"05334002"}
    assert stored[("52062", "05334002")] == "053340002002"


async def test_importing_the_same_file_again_changes_nothing(sessions) -> None:
    before = await _assignments(sessions)
    async with sessions() as session, session.begin():
        report = await import_postal_codes(session, POSTAL_CODES)
    assert (report.added, report.removed, report.updated) == (0, 0, 0)
    assert report.unchanged == len(before)
    assert await _assignments(sessions) == before


async def test_a_partial_or_empty_file_is_refused_and_changes_nothing(sessions) -> None:
    before = await _assignments(sessions)
    lines = POSTAL_CODES.read_text(encoding="utf-8").splitlines()
    with pytest.raises(ImportRejectedError) as refused:
        async with sessions() as session, session.begin():
            await import_postal_codes(session, lines[:1000])
    assert refused.value.slug == "postal-codes-incomplete"
    with pytest.raises(ImportRejectedError) as empty:
        async with sessions() as session, session.begin():
            await import_postal_codes(session, [HEADER])
    assert empty.value.slug == "empty-postal-codes"
    assert await _assignments(sessions) == before


async def test_bad_rows_are_reported_with_their_line_and_the_rest_is_imported(sessions) -> None:
    lines: list[str | bytes] = [
        *POSTAL_CODES.read_text(encoding="utf-8").splitlines(),
        "1,0533400,Aachen,52062,x,y",
        "2,05334002,Aachen,5206,x,y",
        "3,05334002",
        b"4,05334002,K\xf6ln,52062,x,y",  # Windows-1252, still read
        "5,99999999,Nirgendwo,12345,x,y",
    ]
    async with sessions() as session, session.begin():
        report = await import_postal_codes(session, lines)
    skipped = {row.line: row.reason for row in report.skipped_rows if row.reason != "unknown-ags" or row.line > 12872}
    assert skipped == {12873: "invalid-ags", 12874: "invalid-plz", 12875: "malformed-row", 12877: "unknown-ags"}
    assert (report.added, report.removed) == (0, 0)


def test_the_parser_needs_the_plz_and_ags_columns() -> None:
    skipped = list(parse_postal_codes(["osm_id,ort,plz", "1,Aachen,52062"]))
    assert all(isinstance(line, SkippedLine) and line.reason == "missing-columns" for line in skipped)
    assert [line.line for line in skipped] == [1, 2]
    rows = list(parse_postal_codes(["\ufeffplz;ags".replace(";", ","), "", '"52062","05334002"']))
    assert [(row.line, row.plz, row.ags) for row in rows if isinstance(row, PostalRow)] == [(3, "52062", "05334002")]
    assert len(rows) == 1
