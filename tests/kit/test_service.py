"""The service runtime: roles, topics at start-up, the outbox relayed by a running service."""

import asyncio
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
    settings = IDENTITY.settings_type(database_url=postgres_url, kafka_bootstrap_servers=kafka_bootstrap)
    app = create_service_app(IDENTITY, settings, Role.API)
    async with service_client(app) as client:
        ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert set(ready.json()["checks"]) == {"database", "broker"}  # no workers in this role


async def _topics(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return list(await admin.list_topics())
    finally:
        await admin.close()
