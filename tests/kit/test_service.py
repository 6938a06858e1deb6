"""The service runtime: roles, topics at start-up, the outbox relayed by a running service."""

import asyncio
import dataclasses
import uuid

from aiokafka.admin import AIOKafkaAdminClient

from contracts.events import AccountCreated
from kit.db import migrate, utcnow
from kit.events import publish
from kit.service import Role, create_service_app
from kit.testing import TopicWatcher, service_client
from services.identity.app import SPEC as IDENTITY


async def test_worker_role_creates_topics_and_relays_the_outbox(infrastructure, kafka_bootstrap, postgres_url):
    await migrate(postgres_url, IDENTITY.migrations_dir)
    settings = IDENTITY.settings_type(database_url=postgres_url, kafka_bootstrap_servers=kafka_bootstrap)
    app = create_service_app(IDENTITY, settings, Role.WORKER)
    account_id = uuid.uuid4()
    async with service_client(app) as client:
        async with asyncio.timeout(30):  # ready once the workers have created the topics
            while (await client.get("/health/ready")).status_code != 200:
                await asyncio.sleep(0.2)
        assert "identity.account" in await _topics(kafka_bootstrap)
        async with TopicWatcher(kafka_bootstrap, "identity.account") as watcher:
            database = app.state.database
            async with database.session() as session, session.begin():
                await publish(
                    session,
                    AccountCreated(
                        account_id=account_id, occurred_at=utcnow(), kind="citizen", postbox_reference="pb-1"
                    ),
                )
            event = await watcher.next_event(lambda e: e.subject == str(account_id))
    assert event.type == "de.basisdienste.identity.account.created.v1"
    assert event.source == "/basisdienste/identity"


async def test_api_role_serves_without_workers(postgres_url, kafka_bootstrap):
    spec = dataclasses.replace(IDENTITY, components=None)  # the kit's part only
    settings = spec.settings_type(database_url=postgres_url, kafka_bootstrap_servers=kafka_bootstrap)
    app = create_service_app(spec, settings, Role.API)
    async with service_client(app) as client:
        ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert set(ready.json()["checks"]) == {"database", "broker"}  # no workers in this role


class _Component:
    """Ready once it has run; records that it was started and stopped."""

    name = "cache"

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.stopped = False

    async def run(self, stop: asyncio.Event) -> None:
        self.started.set()
        await stop.wait()
        self.stopped = True

    async def check(self) -> None:
        if not self.started.is_set():
            raise RuntimeError("not started")


async def test_components_run_beside_the_api_and_count_for_readiness(postgres_url, kafka_bootstrap):
    component = _Component()
    made_for: list[object] = []

    def components(app, settings, database):
        made_for.append(app)
        return [component]

    spec = dataclasses.replace(IDENTITY, components=components)
    settings = spec.settings_type(database_url=postgres_url, kafka_bootstrap_servers=kafka_bootstrap)
    async with service_client(create_service_app(spec, settings, Role.API)) as client:
        await asyncio.wait_for(component.started.wait(), 5)
        ready = await client.get("/health/ready")
        assert ready.json()["checks"]["cache"] == "ok"
    assert component.stopped
    create_service_app(spec, settings, Role.WORKER)
    assert len(made_for) == 1  # a worker process runs no API components


async def _topics(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return list(await admin.list_topics())
    finally:
        await admin.close()
