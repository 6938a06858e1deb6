"""Region changes reach Kafka through the outbox; bulk announcements write what record_change writes."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.catalogue import Region
from contracts.events.catalogue import RegionChanged
from kit.auth import install_auth
from kit.auth.testing import TokenFactory
from kit.db import utcnow
from kit.events import ensure_topics, outbox_table
from kit.service import Role
from kit.testing import service_client
from kit.testing.topic_watcher import TopicWatcher
from services.catalogue.app import create_app
from services.catalogue.changes import changes_table, record_changes
from services.catalogue.config import Settings
from services.catalogue.regions.api import router
from tests.services.catalogue.regions.test_register import register_line

tokens = TokenFactory(audience="catalogue")
ADMIN = tokens.auth_header(scopes=["catalogue:admin"]) | {"content-type": "text/plain"}


def small_register(stand: str, gemeinde: str) -> bytes:
    lines = [
        register_line("10", "01", "Schleswig-Holstein", stand=stand, seat="Kiel"),
        register_line("40", "01001", "Flensburg, Stadt", stand=stand, seat="Flensburg", type_code="41"),
        register_line("50", "01001", "Flensburg, Stadt", verband="0000", stand=stand, type_code="50"),
        register_line("60", "01001000", gemeinde, verband="0000", stand=stand, type_code="61", hectares=5673),
    ]
    return "\n".join(lines).encode()


async def test_a_region_event_reaches_kafka(catalogue_url, kafka_bootstrap) -> None:
    await ensure_topics(kafka_bootstrap, ["catalogue.region"])
    settings = Settings(database_url=catalogue_url, kafka_bootstrap_servers=kafka_bootstrap)
    app = create_app(settings, Role.ALL)
    if not any(getattr(route, "path", None) == "/regionen" for route in app.routes):
        app.include_router(router)
    install_auth(app, tokens.verifier())
    name = f"Flensburg {uuid.uuid4().hex[:8]}"
    async with (
        service_client(app) as client,
        TopicWatcher(kafka_bootstrap, "catalogue.region") as watcher,
    ):
        first = await client.put("/regionen/register", content=small_register("20211231", name), headers=ADMIN)
        assert first.status_code == 200, first.text
        assert first.json()["events"] == 5  # Germany, Land, Kreis, Verband, Gemeinde
        added = await watcher.next_event(lambda e: e.subject == "010010000000" and e.data["region"]["name"] == name)
        assert added.type == RegionChanged.event_type
        assert added.data["change"] == "added"
        renamed = await client.put(
            "/regionen/register", content=small_register("20251130", name + ", Stadt"), headers=ADMIN
        )
        assert renamed.json()["renamed"] == 1
        event = await watcher.next_event(
            lambda e: e.subject == "010010000000" and e.data["region"]["name"] == name + ", Stadt"
        )
        assert event.data["change"] == "renamed"
        # Read through the contract's model, which takes the fields by name or by camelCase alias.
        assert str(Region.model_validate(event.data["region"]).valid_from) == "2025-11-30"


async def test_bulk_announcements_write_the_rows_record_change_writes(catalogue_engine) -> None:
    region = Region(ars="01", level="land", name="Schleswig-Holstein", parent_ars="0")
    event = RegionChanged(ars="01", region=region, change="added", occurred_at=utcnow())
    marker = uuid.uuid4().hex
    async with catalogue_engine.connect() as connection, AsyncSession(bind=connection) as session, session.begin():
        await record_changes(session, [event, event, event], tenant=marker, public=True)
        feed = (
            await session.execute(
                select(changes_table).where(changes_table.c.tenant == marker).order_by(changes_table.c.seq)
            )
        ).all()
        outbox = (
            await session.execute(
                select(outbox_table).where(outbox_table.c.tenant == marker).order_by(outbox_table.c.id)
            )
        ).all()
    assert len(feed) == len(outbox) == 3
    # The first went through record_change itself; the others must look the same.
    varying_feed = {"seq", "occurred_at"}
    varying_outbox = {"id", "occurred_at"}
    first_feed = {k: v for k, v in feed[0]._mapping.items() if k not in varying_feed}
    first_outbox = {k: v for k, v in outbox[0]._mapping.items() if k not in varying_outbox}
    for row in feed[1:]:
        assert {k: v for k, v in row._mapping.items() if k not in varying_feed} == first_feed
    for row in outbox[1:]:
        assert {k: v for k, v in row._mapping.items() if k not in varying_outbox} == first_outbox
