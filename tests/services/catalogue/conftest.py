"""Fixtures of the catalogue's tests: a migrated PostgreSQL database per test module."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from kit.db import migrate
from services.catalogue.app import SPEC


@pytest.fixture(scope="module")
async def catalogue_url(postgres_url: str) -> str:
    """A fresh catalogue database for the module, at the newest migration."""
    await migrate(postgres_url, SPEC.migrations_dir)
    return postgres_url


@pytest.fixture
async def catalogue_engine(catalogue_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the module's catalogue database."""
    engine = create_async_engine(catalogue_url)
    yield engine
    await engine.dispose()
