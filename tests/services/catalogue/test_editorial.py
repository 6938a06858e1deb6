"""The editors' API against PostgreSQL: drafts, publication, versions, references, tenants, bulk NDJSON."""

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from kit.auth import install_auth
from kit.auth.testing import TokenFactory
from kit.service import Role
from kit.testing import service_client
from services.catalogue.app import create_app
from services.catalogue.changes import changes_table
from services.catalogue.config import Settings

LEIKA = "99012001000000"
LEISTUNG = {"leikaKey": LEIKA, "bezeichnung": {"de": "Abbruchgenehmigung"}, "leikaTyp": "4"}
OE = {"name": {"de": "Bauaufsicht Musterkreis"}, "ars": "01001", "anschrift": {"ort": "Flensburg"}}
RULE = {"leistungen": {"leikaKey": LEIKA}, "ars": "01001", "organisationseinheit": "bauaufsicht"}

tokens = TokenFactory(audience="catalogue")


def editor(tenant: str = "sh", scopes: tuple[str, ...] = ("catalogue:edit",)) -> dict[str, str]:
    return tokens.auth_header(scopes=scopes, tenant=tenant)


@pytest.fixture(scope="module")
async def client(catalogue_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(database_url=catalogue_url, kafka_bootstrap_servers="127.0.0.1:1"), Role.API)
    install_auth(app, tokens.verifier())
    async with service_client(app) as client:
        yield client


async def _count_changes(url: str) -> int:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        count = await connection.scalar(select(func.count()).select_from(changes_table))
    await engine.dispose()
    return int(count or 0)


async def test_a_draft_is_created_versioned_and_unchanged_content_is_no_change(client, catalogue_url) -> None:
    created = await client.put(f"/editorial/leistungen/{LEIKA}", json=LEISTUNG, headers=editor())
    assert created.status_code == 201, created.text
    assert created.headers["etag"] == '"1"'
    assert created.json()["status"] == "draft"
    before = await _count_changes(catalogue_url)
    again = await client.put(f"/editorial/leistungen/{LEIKA}", json=LEISTUNG, headers=editor())
    assert again.status_code == 200
    assert again.json()["version"] == 1
    assert await _count_changes(catalogue_url) == before
    changed = {**LEISTUNG, "kurzbezeichnungen": ["Abriss"]}
    updated = await client.put(f"/editorial/leistungen/{LEIKA}", json=changed, headers=editor() | {"If-Match": '"1"'})
    assert updated.json()["version"] == 2
    stale = await client.put(f"/editorial/leistungen/{LEIKA}", json=LEISTUNG, headers=editor() | {"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["currentVersion"] == 2


async def test_publish_makes_the_draft_public_and_keeps_it_while_editors_change_the_draft(client) -> None:
    published = await client.post(f"/editorial/leistungen/{LEIKA}/publish", headers=editor())
    assert published.status_code == 200, published.text
    body = published.json()
    assert body["status"] == "published"
    assert body["published"]["kurzbezeichnungen"] == ["Abriss"]
    draft = {**LEISTUNG, "kurzbezeichnungen": ["Abriss", "Rückbau"]}
    changed = await client.put(f"/editorial/leistungen/{LEIKA}", json=draft, headers=editor())
    assert changed.json()["status"] == "changed"
    assert changed.json()["published"]["kurzbezeichnungen"] == ["Abriss"]


async def test_another_tenant_sees_nothing_and_cannot_take_over_the_leika_key(client) -> None:
    other = editor("by")
    assert (await client.get(f"/editorial/leistungen/{LEIKA}", headers=other)).status_code == 404
    assert (await client.post(f"/editorial/leistungen/{LEIKA}/publish", headers=other)).status_code == 404
    assert (await client.post(f"/editorial/leistungen/{LEIKA}/withdraw", headers=other)).status_code == 404
    assert (await client.delete(f"/editorial/leistungen/{LEIKA}", headers=other)).status_code == 404
    taken = await client.put(f"/editorial/leistungen/{LEIKA}", json=LEISTUNG, headers=other)
    assert taken.status_code == 409
    assert taken.json()["type"] == "urn:basisdienste:problem:leistung-owned-elsewhere"
    listed = await client.get("/editorial/leistungen", headers=other)
    assert listed.json()["items"] == []


async def test_published_records_refer_only_to_published_records(client) -> None:
    assert (await client.put("/editorial/zustaendigkeiten/bau-sh", json=RULE, headers=editor())).status_code == 201
    refused = await client.post("/editorial/zustaendigkeiten/bau-sh/publish", headers=editor())
    assert refused.status_code == 409
    assert refused.json()["missing"] == ["organisationseinheit bauaufsicht"]
    assert (await client.put("/editorial/organisationseinheiten/bauaufsicht", json=OE, headers=editor())).is_success
    assert (await client.post("/editorial/organisationseinheiten/bauaufsicht/publish", headers=editor())).is_success
    assert (await client.post("/editorial/zustaendigkeiten/bau-sh/publish", headers=editor())).is_success
    in_use = await client.post("/editorial/organisationseinheiten/bauaufsicht/withdraw", headers=editor())
    assert in_use.status_code == 409
    assert in_use.json()["referencedBy"] == ["bau-sh"]
    assert (await client.delete("/editorial/zustaendigkeiten/bau-sh", headers=editor())).status_code == 409
    withdrawn = await client.post("/editorial/zustaendigkeiten/bau-sh/withdraw", headers=editor())
    assert withdrawn.json()["status"] == "withdrawn"
    assert (await client.delete("/editorial/zustaendigkeiten/bau-sh", headers=editor())).status_code == 204


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/editorial/leistungen/99012001000001", {**LEISTUNG}, 422),  # key and leikaKey differ
        ("/editorial/leistungen/99012001000001", {"leikaKey": "99012001000001"}, 422),
        ("/editorial/gebuehren/g1", {"leikaKey": LEIKA, "art": "fest"}, 422),
        ("/editorial/gebuehren/g1", {"leikaKey": LEIKA, "art": "spanne", "minCent": 5, "maxCent": 1}, 422),
        ("/editorial/zustaendigkeiten/z1", {**RULE, "ars": "1234"}, 422),
        ("/editorial/zustaendigkeiten/z1", {**RULE, "ziel": "gemeindeverwaltung"}, 422),
        ("/editorial/organisationseinheiten/o1", {**OE, "extra": 1}, 422),
        ("/editorial/organisationseinheiten/a%20b", OE, 422),
        ("/editorial/organisationseinheiten/..%2Fx", OE, 404),
        ("/editorial/synonyme/s1", {"begriff": "Perso", "synonyme": ["!!"]}, 422),
    ],
)
async def test_bad_input_is_a_problem_and_changes_nothing(client, catalogue_url, path, body, status) -> None:
    before = await _count_changes(catalogue_url)
    response = await client.put(path, json=body, headers=editor())
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert await _count_changes(catalogue_url) == before


async def test_editing_needs_a_token_with_the_scope_and_a_tenant(client) -> None:
    assert (await client.get("/editorial/leistungen")).status_code == 401
    assert (await client.get("/editorial/leistungen", headers=editor(scopes=("catalogue:read",)))).status_code == 403
    no_tenant = tokens.auth_header(scopes=["catalogue:edit"])
    assert (await client.get("/editorial/leistungen", headers=no_tenant)).status_code == 403
    bad_etag = await client.put(f"/editorial/leistungen/{LEIKA}", json=LEISTUNG, headers=editor() | {"If-Match": "x"})
    assert bad_etag.status_code == 400


def _ndjson(rows: list[Any]) -> bytes:
    return b"".join((row if isinstance(row, bytes) else json.dumps(row).encode()) + b"\n" for row in rows)


async def _bulk(client: httpx.AsyncClient, body: bytes, tenant: str = "bulk") -> list[dict[str, Any]]:
    response = await client.post(
        "/editorial/bulk", content=body, headers=editor(tenant) | {"Content-Type": "application/x-ndjson"}
    )
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines()]


async def test_bulk_upsert_reports_every_row_never_stops_and_is_idempotent(client) -> None:
    key = "99001001000000"
    rows: list[Any] = [
        {"kind": "leistung", "key": key, "content": {**LEISTUNG, "leikaKey": key}, "publish": True},
        b"{not json",
        {"kind": "leistung", "key": "99001002000000", "content": {"leikaKey": "99001002000000"}},
        {
            "kind": "gebuehr",
            "key": "fee",
            "content": {"leikaKey": key, "art": "fest", "betragCent": 2500},
            "publish": True,
        },
        {"kind": "nonsense", "key": "x", "content": {}},
        {
            "kind": "gebuehr",
            "key": "orphan",
            "content": {"leikaKey": "99999999999999", "art": "fest", "betragCent": 1},
            "publish": True,
        },
    ]
    results = await _bulk(client, _ndjson(rows))
    by_line = {result["line"]: result for result in results if "line" in result}
    assert [by_line[n]["outcome"] for n in range(1, 7)] == ["created", "error", "error", "created", "error", "error"]
    assert by_line[3]["problem"]["type"] == "urn:basisdienste:problem:invalid-content"
    assert by_line[6]["problem"]["type"] == "urn:basisdienste:problem:reference-not-published"
    assert results[-1] == {"summary": {"created": 2, "error": 4, "lines": 6}}
    again = await _bulk(client, _ndjson(rows))
    assert again[-1] == {"summary": {"unchanged": 2, "error": 4, "lines": 6}}
    listed = await client.get("/editorial/gebuehren", headers=editor("bulk"))
    assert [item["key"] for item in listed.json()["items"]] == ["fee"]


async def test_bulk_reports_progress_per_batch_and_refuses_other_media_types(client) -> None:
    rows = [
        {"kind": "synonym", "key": f"s{n}", "content": {"begriff": f"wort{n}", "synonyme": [f"w{n}"]}}
        for n in range(1201)
    ]
    results = await _bulk(client, _ndjson(rows), tenant="many")
    assert [line for line in results if "progress" in line] == [
        {"progress": {"created": 500, "lines": 500}},
        {"progress": {"created": 1000, "lines": 1000}},
    ]
    assert results[-1] == {"summary": {"created": 1201, "lines": 1201}}
    refused = await client.post("/editorial/bulk", content=b"{}", headers=editor() | {"Content-Type": "text/csv"})
    assert refused.status_code == 415


VALID = {
    "leistungen": ("99000000000001", {"leikaKey": "99000000000001", "bezeichnung": {"de": "Probe"}}),
    "spezialisierungen": ("sp", {"leikaKey": LEIKA, "ars": "01", "texte": {"kurztext": {"de": "x"}}}),
    "gebuehren": ("gb", {"leikaKey": LEIKA, "art": "fest", "betragCent": 100}),
    "organisationseinheiten": ("oe", OE),
    "onlinedienste": ("od", {"name": {"de": "Dienst"}, "url": "https://d.example", "leikaKeys": [LEIKA]}),
    "zustaendigkeiten": ("zs", {**RULE, "organisationseinheit": "oe"}),
    "synonyme": ("sy", {"begriff": "Perso", "synonyme": ["Personalausweis"]}),
}


@pytest.mark.parametrize("collection", sorted(VALID))
async def test_another_tenants_keys_behave_as_if_they_did_not_exist_on_every_endpoint(client, collection) -> None:
    key, content = VALID[collection]
    owner, stranger = editor("owner"), editor("stranger")
    assert (await client.put(f"/editorial/{collection}/{key}", json=content, headers=owner)).status_code == 201
    for method, path in [
        ("GET", f"/editorial/{collection}/{key}"),
        ("POST", f"/editorial/{collection}/{key}/publish"),
        ("POST", f"/editorial/{collection}/{key}/withdraw"),
        ("DELETE", f"/editorial/{collection}/{key}"),
    ]:
        response = await client.request(method, path, headers=stranger)
        assert response.status_code == 404, (method, path, response.text)
    assert all(
        item["tenant"] == "stranger"
        for item in (await client.get(f"/editorial/{collection}", headers=stranger)).json()["items"]
    )
    if collection != "leistungen":  # a LeiKa key's Stammtext has one owner; other keys are per tenant
        own = await client.put(f"/editorial/{collection}/{key}", json=content, headers=stranger)
        assert own.status_code == 201 and own.json()["tenant"] == "stranger"
    still = await client.get(f"/editorial/{collection}/{key}", headers=owner)
    assert still.json()["version"] == 1 and still.json()["tenant"] == "owner"
