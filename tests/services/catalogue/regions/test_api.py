"""The regions API over ASGI against PostgreSQL: public reads, admin imports, bad input."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from kit.auth import install_auth
from kit.auth.testing import TokenFactory
from kit.http.problems import PROBLEM_MEDIA_TYPE
from kit.service import Role
from kit.testing import service_client
from services.catalogue.app import create_app
from services.catalogue.config import Settings
from services.catalogue.regions.api import MAX_POSTAL_CODES_BYTES, MAX_REGISTER_BYTES, router
from services.catalogue.regions.models import RegionPeriod
from tests.services.catalogue.regions.conftest import POSTAL_CODES, REGISTER_2021, REGISTER_2025

tokens = TokenFactory(audience="catalogue")
ADMIN = tokens.auth_header(scopes=["catalogue:admin"])
TEXT = {"content-type": "text/plain; charset=utf-8"}


@pytest.fixture(scope="module")
async def client(catalogue_url: str) -> AsyncIterator[httpx.AsyncClient]:
    # The app-wide body limit (1 MiB by default) must let the register through to the route's own bound.
    settings = Settings(
        database_url=catalogue_url, kafka_bootstrap_servers="127.0.0.1:1", max_body_bytes=4 * MAX_REGISTER_BYTES
    )
    app = create_app(settings, Role.API)
    if not any(getattr(route, "path", None) == "/regionen" for route in app.routes):
        app.include_router(router)
    install_auth(app, tokens.verifier())
    async with service_client(app) as client:
        yield client


async def _periods(url: str) -> int:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        count = await connection.scalar(select(func.count()).select_from(RegionPeriod))
    await engine.dispose()
    return int(count or 0)


def _is_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    return problem


async def test_imports_need_an_admin_token_and_the_right_media_type(client, catalogue_url) -> None:
    body = REGISTER_2021.read_bytes()
    _is_problem(await client.put("/regionen/register", content=body, headers=TEXT), 401)
    reader = tokens.auth_header(scopes=["catalogue:edit"])
    _is_problem(await client.put("/regionen/register", content=body, headers=TEXT | reader), 403)
    _is_problem(await client.put("/postleitzahlen", content=b"plz,ags\n", headers=TEXT | reader), 403)
    json_body = {"content-type": "application/json"}
    _is_problem(await client.put("/regionen/register", content=body, headers=json_body | ADMIN), 415)
    assert await _periods(catalogue_url) == 0


async def test_the_register_is_imported_over_http_and_again_changes_nothing(client) -> None:
    first = await client.put("/regionen/register", content=REGISTER_2021.read_bytes(), headers=TEXT | ADMIN)
    assert first.status_code == 200, first.text
    assert first.json()["levels"]["gemeinde"]["added"] == 10997
    again = await client.put("/regionen/register", content=REGISTER_2021.read_bytes(), headers=TEXT | ADMIN)
    assert again.json()["events"] == 0
    assert again.json()["added"] == 0

    async def chunks() -> AsyncIterator[bytes]:  # streamed, without Content-Length
        data = REGISTER_2025.read_bytes()
        for start in range(0, len(data), 65_536):
            yield data[start : start + 65_536]

    newer = await client.put("/regionen/register", content=chunks(), headers=TEXT | ADMIN)
    assert newer.status_code == 200, newer.text
    report = newer.json()
    assert report["registerDate"] == "2025-11-30"
    assert report["previousRegisterDate"] == "2021-12-31"
    assert (report["levels"]["gemeinde"]["ended"], report["levels"]["gemeinde"]["added"]) == (49, 5)
    assert report["skipReasons"] == {"not-in-ars-chain": 12}
    older = await client.put("/regionen/register", content=REGISTER_2021.read_bytes(), headers=TEXT | ADMIN)
    assert _is_problem(older, 409)["type"].endswith("register-out-of-date")


async def test_oversized_or_malformed_bodies_are_refused_and_change_nothing(client, catalogue_url) -> None:
    before = await _periods(catalogue_url)
    declared = {"content-length": str(MAX_REGISTER_BYTES + 1)}

    async def nothing() -> AsyncIterator[bytes]:
        yield b""

    _is_problem(await client.put("/regionen/register", content=nothing(), headers=TEXT | ADMIN | declared), 413)

    async def endless() -> AsyncIterator[bytes]:
        line = b"plz,ags\n" + b"12345,01001000\n" * 4096
        for _ in range(MAX_POSTAL_CODES_BYTES // len(line) + 2):
            yield line

    _is_problem(await client.put("/postleitzahlen", content=endless(), headers=TEXT | ADMIN), 413)
    long_line = b"60" + b"x" * 100_000
    _is_problem(await client.put("/regionen/register", content=long_line, headers=TEXT | ADMIN), 422)
    junk = await client.put("/regionen/register", content=b"hello\nworld\n", headers=TEXT | ADMIN)
    assert _is_problem(junk, 422)["type"].endswith("empty-register")
    assert await _periods(catalogue_url) == before


async def test_postal_codes_are_imported_and_looked_up(client) -> None:
    imported = await client.put("/postleitzahlen", content=POSTAL_CODES.read_bytes(), headers=ADMIN | TEXT)
    assert imported.status_code == 200, imported.text
    assert imported.json()["kind"] == "postal-codes"
    found = await client.get("/postleitzahlen/37318")
    assert found.status_code == 200
    body = found.json()
    assert body["postleitzahl"] == "37318"
    assert len(body["gemeinden"]) > 1
    uder = next(g for g in body["gemeinden"] if g["ags"] == "16061119")
    assert uder == {
        "ars": "160615051119",
        "ags": "16061119",
        "name": "Uder",
        "kreis": {"ars": "16061", "name": "Eichsfeld"},
    }
    _is_problem(await client.get("/postleitzahlen/00000"), 404)
    _is_problem(await client.get("/postleitzahlen/123"), 422)


async def test_regions_are_listed_by_level_and_parent_and_paged(client) -> None:
    lands = (await client.get("/regionen", params={"level": "land"})).json()
    assert [land["ars"] for land in lands["items"]] == [f"{n:02d}" for n in range(1, 17)]
    assert lands["next"] is None
    assert lands["items"][0]["parentArs"] == "0"
    seen: list[str] = []
    cursor = None
    while True:
        params = {"level": "kreis", "limit": 100} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/regionen", params=params)).json()
        seen += [item["ars"] for item in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 400
    assert seen == sorted(seen)
    amt = (await client.get("/regionen", params={"parent": "010585896"})).json()["items"]
    assert "010585896018" in {item["ars"] for item in amt}
    _is_problem(await client.get("/regionen", params={"cursor": "forged.cursor"}), 400)
    _is_problem(await client.get("/regionen", params={"limit": 1000}), 422)
    _is_problem(await client.get("/regionen", params={"parent": "12a"}), 422)


async def test_the_name_filter_ignores_case_umlauts_and_accents(client) -> None:
    def names(query: str) -> set[str]:
        return {item["name"] for item in responses[query]["items"]}

    responses = {}
    for query in ("Münch", "muench", "MUNCH", "budysin", "bautzen / bud"):
        responses[query] = (await client.get("/regionen", params={"q": query, "limit": 100})).json()
    assert "München, Landeshauptstadt" in names("Münch")
    assert names("Münch") == names("muench") == names("MUNCH")
    assert names("bautzen / bud") >= {"Bautzen / Budyšin, Stadt, Hochschulstadt / Wysokoš"}
    assert names("budysin") == set()  # a prefix of the whole name, not of a word in it
    assert (await client.get("/regionen", params={"q": "50%"})).json()["items"] == []
    old = (await client.get("/regionen", params={"q": "Uder", "asOf": "2021-12-31", "level": "gemeinde"})).json()
    found = {item["ars"] for item in old["items"]}
    assert "160615012097" in found
    assert "160615051119" not in found  # the new Uder came later


async def test_a_region_comes_with_ancestors_history_and_changes(client) -> None:
    detail = await client.get("/regionen/034030000000")
    assert detail.status_code == 200, detail.text
    oldenburg = detail.json()
    assert oldenburg["name"] == "Oldenburg (Oldb), Stadt"
    assert oldenburg["areaKm2"] == pytest.approx(103, abs=1)
    assert oldenburg["type"] == "Kreisfreie Stadt"
    assert [a["ars"] for a in oldenburg["ancestors"]] == ["034030000", "03403", "034", "03"]
    assert [p["name"] for p in oldenburg["history"]] == ["Oldenburg (Oldenburg), Stadt", "Oldenburg (Oldb), Stadt"]
    assert [c["kind"] for c in oldenburg["changes"]] == ["renamed"]
    then = (await client.get("/regionen/034030000000", params={"asOf": "2021-12-31"})).json()
    assert then["name"] == "Oldenburg (Oldenburg), Stadt"
    ended = (await client.get("/regionen/160615012097")).json()
    assert ended["validTo"] == "2025-11-29"
    assert ended["successorArs"] == ["160615051119"]
    assert ended["changes"][0]["method"] == "area-merge-kreis"
    germany = (await client.get("/regionen/0")).json()
    assert (germany["level"], germany["ancestors"]) == ("bund", [])
    _is_problem(await client.get("/regionen/999999999999"), 404)
    _is_problem(await client.get("/regionen/160615051119", params={"asOf": "2020-01-01"}), 404)
    for malformed in ("1234", "0101x", "0123456789012"):
        _is_problem(await client.get(f"/regionen/{malformed}"), 422)


async def test_the_openapi_documents_every_route(client) -> None:
    document = (await client.get("/openapi.json")).json()
    routes = {
        ("/regionen", "get"),
        ("/regionen/{ars}", "get"),
        ("/postleitzahlen/{plz}", "get"),
        ("/regionen/register", "put"),
        ("/postleitzahlen", "put"),
    }
    for path, method in routes:
        operation = document["paths"][path][method]
        assert operation["summary"]
        assert "200" in operation["responses"]
        assert any(code.startswith("4") for code in operation["responses"])
    assert "text/plain" in document["paths"]["/regionen/register"]["put"]["requestBody"]["content"]
