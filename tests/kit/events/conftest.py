"""Fixtures of the event tests: a PostgreSQL database with the kit's and the widgets' tables."""

from collections.abc import AsyncIterator

import pytest

from kit.db import KIT_METADATA, Database
from kit.ids import uuid7
from tests.kit.events.widgets import metadata


@pytest.fixture(scope="module")
async def database(postgres_url: str) -> AsyncIterator[Database]:
    db = Database(postgres_url)
    async with db.engine.begin() as connection:
        await connection.run_sync(KIT_METADATA.create_all)
        await connection.run_sync(metadata.create_all)
    yield db
    await db.dispose()


@pytest.fixture
async def clean_database(database: Database) -> Database:
    """The module's database with no outbox, inbox or effect rows left by earlier tests."""
    async with database.engine.begin() as connection:
        for table in (*reversed(KIT_METADATA.sorted_tables), *metadata.sorted_tables):
            await connection.execute(table.delete())
    return database


@pytest.fixture
def topic() -> str:
    """A topic no earlier run has written to."""
    return f"test.widget{uuid7().hex[-12:]}"
