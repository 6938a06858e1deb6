"""Fixtures of the regions' tests: the real register and postal-code files, and database sessions."""

import os
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import services.catalogue.regions.models  # noqa: F401 - the tables must exist in the test database
from kit.testing.infrastructure import repository_root


def data_dir() -> Path:
    """The shared data: CATALOGUE_DATA_DIR, else ../shared/data beside the repository."""
    return Path(os.environ.get("CATALOGUE_DATA_DIR", repository_root().parent / "shared" / "data"))


REGISTER_2021 = data_dir() / "gv100ad" / "GV100AD_31122021.txt"
REGISTER_2025 = data_dir() / "gv100ad" / "GV100AD_30112025.txt"
POSTAL_CODES = data_dir() / "plz" / "zuordnung_plz_ort.csv"


@pytest.fixture
def sessions(catalogue_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions on the module's catalogue database."""
    return async_sessionmaker(catalogue_engine, expire_on_commit=False)
