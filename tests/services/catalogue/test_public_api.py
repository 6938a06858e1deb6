"""The public read API, answered from each replica's read model, which follows the change feed.

The regions are the real 2025 municipality register and postal codes; the editorial data is
published through the editors' API, as a tenant would.
"""

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from kit.auth import install_auth
from kit.auth.testing import TokenFactory
from kit.db import Database
from kit.service import Role
from kit.testing import service_client
from services.catalogue.app import create_app
from services.catalogue.config import Settings
from services.catalogue.importers.data_dir import data_dir
from services.catalogue.read_model import CatalogueView
from services.catalogue.regions.importer import import_register
from services.catalogue.regions.postal_codes import import_postal_codes

DATA = data_dir()
tokens = TokenFactory(audience="catalogue")

NORDFRIESLAND = "01054"
AMT = "010545453"
AHRENVIOEL = "010545453003"
AHRENVIOELFELD = "010545453004"
KIEL = "010020000000"
HUND = "99050012104000"
PASS = "99102013000000"

HOURS = {
    "regeln": [{"wochentage": [1, 2, 3, 4, 5], "zeiten": [{"von": "08:00", "bis": "12:00"}]}],
    "ausnahmen": [{"datum": "2026-12-24", "zeiten": []}],
}
RECORDS: list[tuple[str, str, dict]] = [
    (
        "leistungen",
        HUND,
        {
            "leikaKey": HUND,
            "bezeichnung": {"de": "Hundesteuer Anmeldung", "en": "Dog tax registration"},
            "leikaTyp": "5",
            "themenfeld": "Freizeit",
            "texte": {"volltext": {"de": "Wer einen Hund hält, meldet ihn bei der Gemeinde an."}},
        },
    ),
    (
        "leistungen",
        PASS,
        {"leikaKey": PASS, "bezeichnung": {"de": "Reisepass Ausstellung"}, "leikaTyp": "2/3", "themenfeld": "Reisen"},
    ),
    (
        "spezialisierungen",
        "hund-nf",
        {"leikaKey": HUND, "ars": NORDFRIESLAND, "texte": {"volltext": {"de": "In Nordfriesland: online anmelden."}}},
    ),
    ("organisationseinheiten", "kreis-nf", {"name": {"de": "Kreisverwaltung Nordfriesland"}, "ars": NORDFRIESLAND}),
    (
        "organisationseinheiten",
        "gv-ahrenvioel",
        {
            "name": {"de": "Gemeindeverwaltung Ahrenviöl"},
            "ars": AHRENVIOEL,
            "verwaltungVon": AHRENVIOEL,
            "oeffnungszeiten": HOURS,
        },
    ),
    (
        "onlinedienste",
        "hund-online",
        {"name": {"de": "Hund online anmelden"}, "url": "https://hund.example.de", "leikaKeys": [HUND]},
    ),
    (
        "zustaendigkeiten",
        "kommunal",
        {"leistungen": {"leikaTypen": ["5", "2/3"]}, "ars": "0", "ziel": "gemeindeverwaltung"},
    ),
    (
        "zustaendigkeiten",
        "hund-nf",
        {
            "leistungen": {"leikaKey": HUND},
            "ars": NORDFRIESLAND,
            "organisationseinheit": "kreis-nf",
            "onlinedienst": "hund-online",
        },
    ),
    (
        "zustaendigkeiten",
        "hund-ahrenvioel",
        {"leistungen": {"leikaTypen": ["5"]}, "ars": AHRENVIOEL, "ziel": "gemeindeverwaltung"},
    ),
    ("gebuehren", "hund-bund", {"leikaKey": HUND, "art": "fest", "betragCent": 12000}),
    (
        "gebuehren",
        "hund-nf",
        {"leikaKey": HUND, "ars": NORDFRIESLAND, "art": "spanne", "minCent": 6000, "maxCent": 9000},
    ),
    ("synonyme", "wauwau", {"begriff": "Hund", "synonyme": ["Wauwau"]}),
]


def editor(tenant: str = "sh") -> dict[str, str]:
    return tokens.auth_header(scopes=["catalogue:edit"], tenant=tenant)


@pytest.fixture(scope="module")
async def client(catalogue_url: str) -> AsyncIterator[httpx.AsyncClient]:
    engine = create_async_engine(catalogue_url)
    async with async_sessionmaker(engine)() as session, session.begin():
        await import_register(session, str(DATA / "gv100ad" / "GV100AD_30112025.txt"))
        await import_postal_codes(session, str(DATA / "plz" / "zuordnung_plz_ort.csv"))
    await engine.dispose()
    settings = Settings(
        database_url=catalogue_url, kafka_bootstrap_servers="127.0.0.1:1", read_model_poll_interval=0.05
    )
    app = create_app(settings, Role.API)
    install_auth(app, tokens.verifier())
    async with service_client(app) as client:
        view: CatalogueView = app.state.catalogue
        for collection, key, content in RECORDS:
            saved = await client.put(f"/editorial/{collection}/{key}", json=content, headers=editor())
            assert saved.is_success, saved.text
            published = await client.post(f"/editorial/{collection}/{key}/publish", headers=editor())
            assert published.is_success, published.text
        await view.refresh()
        client.view = view  # type: ignore[attr-defined]
        yield client


async def test_a_rule_set_lower_down_overrides_the_national_one_and_says_where_it_came_from(client) -> None:
    answer = (await client.get("/zustaendigkeiten", params={"leikaKey": HUND, "ars": AHRENVIOELFELD})).json()
    (region,) = answer["regions"]
    assert region["region"]["name"] == "Ahrenviölfeld"
    stelle = region["zustaendigeStelle"]
    assert stelle["organisationseinheit"]["record"]["key"] == "kreis-nf"
    assert stelle["organisationseinheit"]["rule"]["inheritedFrom"] == NORDFRIESLAND
    assert stelle["organisationseinheit"]["rule"]["matchedBy"] == "leika_key"
    assert stelle["onlinedienst"]["record"]["key"] == "hund-online"


async def test_a_gemeinde_rule_finds_the_gemeinde_administration(client) -> None:
    answer = (await client.get("/zustaendigkeiten", params={"leikaKey": HUND, "ags": "01054003"})).json()
    stelle = answer["regions"][0]["zustaendigeStelle"]["organisationseinheit"]
    assert stelle["record"]["key"] == "gv-ahrenvioel"
    assert stelle["rule"]["key"] == "hund-ahrenvioel"
    assert stelle["rule"]["inheritedFrom"] is None


async def test_the_national_rule_holds_where_nothing_overrides_it(client) -> None:
    answer = (await client.get("/zustaendigkeiten", params={"leikaKey": PASS, "ars": AHRENVIOEL})).json()
    stelle = answer["regions"][0]["zustaendigeStelle"]["organisationseinheit"]
    assert stelle["record"]["key"] == "gv-ahrenvioel"
    assert stelle["rule"]["key"] == "kommunal"
    assert stelle["rule"]["matchedBy"] == "leika_typ"
    kiel = (await client.get("/zustaendigkeiten", params={"leikaKey": PASS, "ars": KIEL})).json()
    nobody = kiel["regions"][0]["zustaendigeStelle"]["organisationseinheit"]
    assert nobody["record"] is None and nobody["reason"]


async def test_a_postal_code_gives_every_candidate_gemeinde(client) -> None:
    answer = (await client.get("/zustaendigkeiten", params={"leikaKey": HUND, "plz": "25885"})).json()
    names = {region["region"]["name"] for region in answer["regions"]}
    assert {"Ahrenviöl", "Ahrenviölfeld", "Immenstedt"} <= names


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"leikaKey": HUND}, 400),
        ({"leikaKey": HUND, "ars": AHRENVIOEL, "plz": "25885"}, 400),
        ({"leikaKey": HUND, "ars": "999999999999"}, 404),
        ({"leikaKey": HUND, "plz": "00000"}, 404),
        ({"leikaKey": HUND, "ars": "12345678"}, 422),
        ({"leikaKey": "abc", "ars": AHRENVIOEL}, 422),
        ({"leikaKey": HUND, "ars": AHRENVIOEL, "asOf": "gestern"}, 422),
    ],
)
async def test_bad_lookups_are_problems(client, params, status) -> None:
    response = await client.get("/zustaendigkeiten", params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_leistung_in_a_place_has_regional_texts_fees_and_online_services(client) -> None:
    here = (await client.get(f"/leistungen/{HUND}", params={"ars": AHRENVIOELFELD})).json()
    assert here["texte"]["volltext"] == {
        "text": "In Nordfriesland: online anmelden.",
        "language": "de",
        "specialisedFor": NORDFRIESLAND,
    }
    assert [fee["record"]["key"] for fee in here["gebuehren"]] == ["hund-nf"]
    assert [service["record"]["key"] for service in here["onlinedienste"]] == ["hund-online"]
    elsewhere = (await client.get(f"/leistungen/{HUND}", params={"ars": KIEL, "sprache": "en"})).json()
    assert elsewhere["bezeichnung"]["text"] == "Dog tax registration"
    assert elsewhere["texte"]["volltext"]["specialisedFor"] is None
    assert [fee["record"]["key"] for fee in elsewhere["gebuehren"]] == ["hund-bund"]
    assert (await client.get("/leistungen/99999999999999")).status_code == 404


async def test_search_finds_compounds_synonyms_and_typos_with_facets(client) -> None:
    for query in ("hundesteuer", "Hund anmelden", "wauwau", "hundesteur"):
        result = (await client.get("/suche", params={"q": query})).json()
        assert result["hits"] and result["hits"][0]["payload"]["leikaKey"] == HUND, query
    online = (await client.get("/suche", params={"q": "", "online": "true", "art": "leistung"})).json()
    assert [hit["payload"]["leikaKey"] for hit in online["hits"]] == [HUND]
    faceted = (await client.get("/suche", params={"q": "ausstellung anmeldung"})).json()
    assert faceted["facets"]["themenfeld"] == {"Freizeit": 1, "Reisen": 1}
    suggestions = (await client.get("/suche/vorschlaege", params={"q": "hunde"})).json()
    assert any(suggestion.lower().startswith("hundesteuer") for suggestion in suggestions)


async def test_an_authority_says_whether_it_is_open(client) -> None:
    hits = (
        await client.get("/suche", params={"q": "Gemeindeverwaltung Ahrenviöl", "art": "organisationseinheit"})
    ).json()
    authority = hits["hits"][0]["id"]
    monday = await client.get(f"/organisationseinheiten/{authority}", params={"at": "2026-11-23T09:30:00+01:00"})
    assert monday.json()["openStatus"]["open"] is True
    christmas_eve = await client.get(f"/organisationseinheiten/{authority}", params={"at": "2026-12-24T09:30:00+01:00"})
    status = christmas_eve.json()["openStatus"]
    assert status["open"] is False
    assert status["nextOpening"].startswith("2026-12-28T08:00")  # 25 and 26 are holidays, then a weekend
    assert (await client.get("/organisationseinheiten/00000000-0000-0000-0000-000000000000")).status_code == 404


async def test_a_withdrawn_synonym_no_longer_finds_anything(client) -> None:
    assert (await client.get("/suche", params={"q": "wauwau"})).json()["hits"]
    await client.post("/editorial/synonyme/wauwau/withdraw", headers=editor())
    await client.view.refresh()
    assert (await client.get("/suche", params={"q": "wauwau"})).json()["hits"] == []
    await client.post("/editorial/synonyme/wauwau/publish", headers=editor())
    await client.view.refresh()


async def test_the_ozg_overview_follows_withdrawals(client) -> None:
    before = (await client.get("/ozg-uebersicht", params={"ars": "01"})).json()
    assert [item["leikaKey"] for item in before["leistungen"]] == [HUND]
    await client.post("/editorial/zustaendigkeiten/hund-nf/withdraw", headers=editor())
    await client.post("/editorial/onlinedienste/hund-online/withdraw", headers=editor())
    await client.view.refresh()
    after = (await client.get("/ozg-uebersicht", params={"ars": "01"})).json()
    assert after["leistungen"] == []
    offline = (await client.get("/suche", params={"q": "", "online": "true"})).json()
    assert offline["hits"] == []


async def test_a_new_replica_loads_the_same_state_the_running_one_reached(client, catalogue_url) -> None:
    fresh = CatalogueView(Database(catalogue_url))
    await fresh.load()
    try:
        assert fresh.seq == client.view.seq
        assert fresh.records.counts() == client.view.records.counts()
        for query in ("hund", "reisepass", "ahrenviöl"):
            ids = [hit.id for hit in client.view.search.search(query).hits]
            assert [hit.id for hit in fresh.search.search(query).hits] == ids
    finally:
        await fresh.database.dispose()
