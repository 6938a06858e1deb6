"""What every service has from the kit: migrations that match its models, health, metrics, OpenAPI,
problem documents and request ids — checked for each of the five services."""

import asyncio
import importlib
from pathlib import Path

import pytest

from kit.db import current_revision, migrate, schema_differences
from kit.service import Role, ServiceSpec, create_service_app
from kit.testing import service_client

SERVICES = ["identity", "catalogue", "mailbox", "payment", "routing"]
#: The newest migration of each service; a new migration updates this pin on purpose.
MIGRATION_HEADS = dict.fromkeys(SERVICES, "0001") | {"catalogue": "0002", "identity": "0004"}


def _spec(name: str) -> ServiceSpec:
    spec: ServiceSpec = importlib.import_module(f"services.{name}.app").SPEC
    return spec


@pytest.fixture(params=SERVICES)
def spec(request: pytest.FixtureRequest) -> ServiceSpec:
    return _spec(request.param)


async def test_migrations_reach_the_pinned_head_and_match_the_models_on_postgresql(infrastructure, spec) -> None:
    url = await infrastructure.create_database(f"migr_{spec.name}")
    try:
        await migrate(url, spec.migrations_dir)
        assert await current_revision(url, spec.migrations_dir) == MIGRATION_HEADS[spec.name]
        assert await schema_differences(url, spec.all_metadata) == []
        await migrate(url, spec.migrations_dir)  # applying again is harmless
    finally:
        await infrastructure.drop_database(url)


async def test_migrations_match_the_models_on_sqlite(tmp_path: Path, spec) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    await migrate(url, spec.migrations_dir)
    assert await schema_differences(url, spec.all_metadata) == []


async def test_service_is_live_ready_and_observable(infrastructure, kafka_bootstrap, spec) -> None:
    url = await infrastructure.create_database(f"app_{spec.name}")
    try:
        await migrate(url, spec.migrations_dir)
        settings = spec.settings_type(database_url=url, kafka_bootstrap_servers=kafka_bootstrap)
        async with service_client(create_service_app(spec, settings, Role.ALL)) as client:
            assert (await client.get("/health/live")).status_code == 200
            async with asyncio.timeout(30):  # the workers create their topics first
                while (ready := await client.get("/health/ready")).status_code != 200:
                    await asyncio.sleep(0.2)
            checks = ready.json()["checks"]
            assert {"database", "broker", "workers"} <= checks.keys()  # and a service's own components
            assert set(checks.values()) == {"ok"}
            metrics = await client.get("/metrics")
            assert metrics.status_code == 200
            assert "http_server_requests_total" in metrics.text
            openapi = (await client.get("/openapi.json")).json()
            assert openapi["info"]["title"] == spec.title
            missing = await client.get("/no/such/path", headers={"X-Request-ID": "req-42"})
            assert missing.status_code == 404
            assert missing.headers["content-type"] == "application/problem+json"
            assert missing.json()["type"] == "urn:basisdienste:problem:not-found"
            assert missing.headers["x-request-id"] == "req-42"
    finally:
        await infrastructure.drop_database(url)


@pytest.mark.slow
async def test_service_reports_not_ready_while_postgresql_restarts_and_recovers_by_itself(
    infrastructure, kafka_bootstrap
) -> None:
    spec = _spec("payment")
    url = await infrastructure.create_database("pg_restart")
    try:
        await migrate(url, spec.migrations_dir)
        settings = spec.settings_type(database_url=url, kafka_bootstrap_servers=kafka_bootstrap)
        async with service_client(create_service_app(spec, settings, Role.API)) as client:
            assert (await client.get("/health/ready")).status_code == 200
            infrastructure.stop_postgres()
            try:
                down = await client.get("/health/ready")
                assert down.status_code == 503
                assert down.json()["checks"]["database"] != "ok"
                assert down.json()["checks"]["broker"] == "ok"
                assert (await client.get("/health/live")).status_code == 200
            finally:
                infrastructure.start_postgres()
            assert (await client.get("/health/ready")).status_code == 200
    finally:
        await infrastructure.drop_database(url)
