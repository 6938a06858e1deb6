"""The database layer on both backends: sessions, UTC timestamps, JSON, and the migration helpers."""

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, select

from kit.db import NAMING_CONVENTION, Database, JSONType, UTCDateTime, is_postgresql, schema_differences

metadata = MetaData(naming_convention=NAMING_CONVENTION)
things = Table(
    "things",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("doc", JSONType, nullable=False),
)


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'db.sqlite'}"
    else:
        url = await request.getfixturevalue("infrastructure").create_database("kit_db")
    db = Database(url)
    async with db.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield db
    await db.dispose()
    if db.is_postgresql:
        await request.getfixturevalue("infrastructure").drop_database(url)


async def test_timestamps_come_back_aware_in_utc(database: Database) -> None:
    berlin = dt.timezone(dt.timedelta(hours=1))
    written = dt.datetime(2026, 3, 1, 12, 0, tzinfo=berlin)
    async with database.session() as session, session.begin():
        await session.execute(things.insert().values(id=1, at=written, doc={"a": [1, "ü"]}))
    async with database.session() as session:
        row = (await session.execute(select(things))).one()
    assert row.at == written
    assert row.at.utcoffset() == dt.timedelta(0)
    assert row.doc == {"a": [1, "ü"]}


async def test_naive_timestamps_are_refused(database: Database) -> None:
    with pytest.raises(Exception, match="naive"):
        async with database.session() as session, session.begin():
            await session.execute(things.insert().values(id=2, at=dt.datetime(2026, 1, 1), doc={}))


async def test_ping_and_backend(database: Database) -> None:
    await database.ping()
    assert database.is_postgresql == is_postgresql(database.url)


async def test_schema_differences_notice_a_missing_table(database: Database) -> None:
    assert await schema_differences(database.url, [metadata]) == []
    extra = MetaData(naming_convention=NAMING_CONVENTION)
    Table("missing", extra, Column("id", Integer, primary_key=True))
    differences = await schema_differences(database.url, [metadata, extra])
    assert [d[0] for d in differences] == ["add_table"]
