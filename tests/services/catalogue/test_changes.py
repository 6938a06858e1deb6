"""Every change reaches the change feed and, through the outbox, a consumer on Kafka."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from kit.auth import install_auth
from kit.auth.testing import TokenFactory
from kit.service import Role
from kit.testing import TopicWatcher, service_client
from services.catalogue.app import create_app
from services.catalogue.config import Settings

tokens = TokenFactory(audience="catalogue")
LEIKA = "99050012104000"
LEISTUNG = {"leikaKey": LEIKA, "bezeichnung": {"de": "Hundesteuer Anmeldung"}, "leikaTyp": "5"}


def editor(tenant: str) -> dict[str, str]:
    return tokens.auth_header(scopes=["catalogue:edit"], tenant=tenant)


@pytest.fixture(scope="module")
async def client(catalogue_url: str, kafka_bootstrap: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(database_url=catalogue_url, kafka_bootstrap_servers=kafka_bootstrap), Role.ALL)
    install_auth(app, tokens.verifier())
    async with service_client(app) as client:
        async with asyncio.timeout(30):  # the workers create the topics first
            while (await client.get("/health/ready")).status_code != 200:
                await asyncio.sleep(0.2)
        yield client


async def test_a_publication_reaches_a_kafka_consumer_with_its_content(client, kafka_bootstrap) -> None:
    async with TopicWatcher(kafka_bootstrap, "catalogue.record") as watcher:
        assert (await client.put(f"/editorial/leistungen/{LEIKA}", json=LEISTUNG, headers=editor("nw"))).is_success
        assert (await client.post(f"/editorial/leistungen/{LEIKA}/publish", headers=editor("nw"))).is_success
        event = await watcher.next_event(lambda e: e.type.endswith("record.published.v1"))
    assert event.tenant == "nw"
    assert event.data["content"]["bezeichnung"] == {"de": "Hundesteuer Anmeldung"}
    assert event.data["record_key"] == LEIKA


async def test_the_feed_shows_public_changes_to_all_and_drafts_only_to_their_tenant(client) -> None:
    await client.put(
        "/editorial/synonyme/perso", json={"begriff": "Perso", "synonyme": ["Ausweis"]}, headers=editor("he")
    )
    public = (await client.get("/aenderungen", params={"cursor": "0"})).json()
    types = [item["type"].rsplit(".", 2)[-2] for item in public["items"]]
    assert types == ["published"]
    own = (await client.get("/aenderungen", headers=editor("he"))).json()
    assert [item["tenant"] for item in own["items"]] == ["nw", "he"]
    others = (await client.get("/aenderungen", headers=editor("nw"))).json()
    assert all(item["tenant"] == "nw" for item in others["items"])
    after = (await client.get("/aenderungen", params={"cursor": own["next"]}, headers=editor("he"))).json()
    assert after == {"items": [], "next": own["next"]}
    assert (await client.get("/aenderungen", params={"cursor": "-1"})).status_code == 422
