"""The in-memory directory over the 2021 and 2025 registers and the postal codes."""

import datetime as dt
import sys
import time
import tracemalloc

import pytest

from services.catalogue.regions.directory import RegionDirectory, load_directory
from services.catalogue.regions.importer import import_register
from services.catalogue.regions.postal_codes import import_postal_codes
from tests.services.catalogue.regions.conftest import POSTAL_CODES, REGISTER_2021, REGISTER_2025

BEFORE = dt.date(2021, 12, 31)


@pytest.fixture(scope="module")
async def directory(catalogue_url: str) -> RegionDirectory:
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    engine = create_async_engine(catalogue_url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    for source in (REGISTER_2021, REGISTER_2025):
        async with sessions() as session, session.begin():
            await import_register(session, source)
    async with sessions() as session, session.begin():
        await import_postal_codes(session, POSTAL_CODES)
    async with sessions() as session:
        started = time.perf_counter()
        loaded = await load_directory(session)
        seconds = time.perf_counter() - started
        tracemalloc.start()
        again = await load_directory(session)
        size, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert len(again) == len(loaded)
    print(f"directory: {len(loaded)} regions, loaded in {seconds:.2f}s, {size / 2**20:.1f} MiB", file=sys.stderr)
    await engine.dispose()
    return loaded


def test_a_region_is_found_by_ars_now_and_as_of_a_day(directory) -> None:
    oldenburg = directory.get("034030000000")
    assert oldenburg.name == "Oldenburg (Oldb), Stadt"
    assert oldenburg.ags == "03403000"
    assert oldenburg.valid_from == dt.date(2025, 11, 30)
    assert directory.get("034030000000", as_of=BEFORE).name == "Oldenburg (Oldenburg), Stadt"
    assert [p.name for p in directory.history("034030000000")] == [
        "Oldenburg (Oldenburg), Stadt",
        "Oldenburg (Oldb), Stadt",
    ]
    assert directory.get("0").level == "bund"
    assert directory.get("999999999999") is None


def test_an_ended_region_exists_only_before_its_end_and_names_its_successor(directory) -> None:
    assert directory.get("160615012097") is None
    uder = directory.get("160615012097", as_of=BEFORE)
    assert uder.name == "Uder"
    assert uder.valid_to == dt.date(2025, 11, 29)
    assert uder.successor_ars == ["160615051119"]
    new_uder = directory.get("160615051119")
    assert "160615012097" in new_uder.predecessor_ars
    assert directory.get("160615051119", as_of=BEFORE) is None


def test_a_gemeinde_is_found_by_its_ags_across_a_move(directory) -> None:
    assert directory.by_ags("01058018").ars == "010585896018"
    assert directory.by_ags("01058018", as_of=BEFORE).ars == "010585859018"
    assert directory.by_ags("16061097") is None
    assert directory.by_ags("16061097", as_of=BEFORE).name == "Uder"


def test_a_postal_code_gives_every_candidate_gemeinde(directory) -> None:
    aachen = directory.by_postal_code("52062")
    assert [region.name for region in aachen] == ["Aachen, Stadt"]
    several = directory.by_postal_code("37318")
    assert len(several) > 1
    assert "16061119" in {region.ags for region in several}
    assert all(region.level == "gemeinde" and region.valid_to is None for region in several)
    assert directory.by_postal_code("00000") == []


def test_ancestors_skip_the_levels_a_land_does_not_have(directory) -> None:
    # Flensburg: kreisfreie Stadt in Schleswig-Holstein, which has no Regierungsbezirke.
    assert [r.ars for r in directory.ancestors("010010000000")] == ["010010000", "01001", "01"]
    # A Gemeinde in Bavaria: Gemeindeverband, Kreis, Regierungsbezirk, Land.
    chain = directory.ancestors("091620000000")
    assert [r.level for r in chain] == ["gemeindeverband", "kreis", "regierungsbezirk", "land"]
    assert [r.level for r in directory.ancestors("09162")] == ["regierungsbezirk", "land"]
    assert directory.ancestors("09") == []
    # An ended Gemeinde's chain is the one it had.
    assert [r.ars for r in directory.ancestors("160615012097")][:2] == ["160615012", "16061"]


def test_children_are_the_regions_directly_below(directory) -> None:
    lands = directory.children("0")
    assert len(lands) == 16
    assert {region.level for region in lands} == {"land"}
    amt = directory.children("010585896")
    assert "010585896018" in {region.ars for region in amt}
    assert "010585896018" not in {region.ars for region in directory.children("010585859")}
    assert "010585859018" in {region.ars for region in directory.children("010585859", as_of=BEFORE)}


def test_land_of(directory) -> None:
    assert directory.land_of("091620000000") == "09"
    assert directory.land_of("01") == "01"
    for bad in ("0", "1", "0916", "abc", "0916200000001"):
        with pytest.raises(ValueError):
            directory.land_of(bad)


def test_lookups_take_microseconds(directory) -> None:
    keys = ["091620000000", "010010000000", "160615051119", "034030000000"] * 2500
    started = time.perf_counter()
    for ars in keys:
        directory.get(ars)
        directory.ancestors(ars)
    per_lookup = (time.perf_counter() - started) / len(keys)
    started = time.perf_counter()
    for _ in range(1000):
        directory.by_postal_code("37318")
    per_postal_code = (time.perf_counter() - started) / 1000
    print(f"get+ancestors {per_lookup * 1e6:.1f} µs, by_postal_code {per_postal_code * 1e6:.1f} µs", file=sys.stderr)
    assert per_lookup < 1e-4
    assert per_postal_code < 1e-4
