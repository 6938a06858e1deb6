"""Fixtures for the HTTP kit tests: ASGI clients for small apps, and empty databases on SQLite and on
a fresh database of the real PostgreSQL cluster (kit.testing)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from kit.db import KIT_METADATA, Database
from kit.testing import LocalInfrastructure

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture
def client_for() -> Callable[[FastAPI], httpx.AsyncClient]:
    """Makes an HTTP client talking to an app in this process over ASGI."""

    def make(app: FastAPI) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")

    return make


@pytest.fixture(params=BACKENDS)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """An empty database with the kit's tables, on each backend."""
    async with _database_url(request, tmp_path) as url:
        database = Database(url)
        async with database.engine.begin() as connection:
            await connection.run_sync(KIT_METADATA.create_all)
        try:
            yield database
        finally:
            await database.dispose()


@asynccontextmanager
async def _database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 't.db'}"
        return
    infrastructure: LocalInfrastructure = request.getfixturevalue("infrastructure")
    url = await infrastructure.create_database("kit_http")
    try:
        yield url
    finally:
        await infrastructure.drop_database(url)
