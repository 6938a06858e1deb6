"""pytest fixtures for the suite (load with ``pytest_plugins = ["kit.testing.fixtures"]``).

- ``infrastructure``: the local Kafka and PostgreSQL, started (or reused) once per run;
- ``kafka_bootstrap``: the broker's bootstrap servers;
- ``postgres_url``: a fresh, empty PostgreSQL database for the test module, dropped afterwards;
- ``sqlite_url``: a fresh SQLite file for the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kit.testing.infrastructure import LocalInfrastructure


@pytest.fixture(scope="session")
def infrastructure() -> LocalInfrastructure:
    """Kafka and PostgreSQL, provisioned by deploy/local and left running for the next run."""
    local = LocalInfrastructure()
    local.start_postgres()
    local.start_kafka()
    return local


@pytest.fixture(scope="session")
def kafka_bootstrap(infrastructure: LocalInfrastructure) -> str:
    """Bootstrap servers of the real broker."""
    return infrastructure.start_kafka()


@pytest.fixture(scope="module")
async def postgres_url(infrastructure: LocalInfrastructure, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A new database for this test module."""
    url = await infrastructure.create_database(request.module.__name__.rsplit(".", 1)[-1])
    yield url
    await infrastructure.drop_database(url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A new SQLite database file for this test."""
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
