"""Fixtures of the identity tests: a migrated PostgreSQL database and a running app per test module."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from kit.db import migrate
from kit.service import Role
from kit.testing import service_client
from services.identity.app import SPEC, create_app
from tests.services.identity.support import ISSUER, identity_settings


@pytest.fixture(scope="module")
async def identity_url(postgres_url: str) -> str:
    """A fresh identity database for the module, at the newest migration."""
    await migrate(postgres_url, SPEC.migrations_dir)
    return postgres_url


@pytest.fixture(scope="module")
def app(identity_url: str) -> FastAPI:
    """The identity app of the module (API role), on its own database."""
    return create_app(identity_settings(identity_url), Role.API)


@pytest.fixture(scope="module")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the running app, addressed by the issuer URL."""
    async with service_client(app, base_url=ISSUER) as client:
        yield client
