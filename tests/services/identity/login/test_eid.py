"""Login with the online ID card through the eID simulator, over real HTTP: step-up of a password session
from niedrig to hoch for a portal that asks for it, the failure cases, and the pseudonyms."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select, text

from kit.service import Role
from services.identity.accounts.models import Account
from services.identity.app import create_app
from services.identity.eid import messages
from services.identity.eid.simulator import create_simulator
from tests.services.identity.login.servers import free_port, serving
from tests.services.identity.oidc.flow import PASSWORD, REDIRECT_URI, hidden_fields, new_person, query_of
from tests.services.identity.support import identity_of, identity_settings, register


@pytest.fixture(scope="module")
async def world(identity_url: str) -> AsyncIterator[dict]:
    """identity and the eID simulator, each on its own port."""
    ports = {"identity": free_port(), "eid": free_port()}
    issuer = f"http://127.0.0.1:{ports['identity']}"
    eid = f"http://127.0.0.1:{ports['eid']}"
    settings = identity_settings(
        identity_url,
        issuer=issuer,
        eid_server_url=f"{eid}/eIDService/basisdienste",
        eid_client_url=f"{eid}/eID-Client",
    )
    app = create_app(settings, Role.API)
    async with serving(create_simulator(), ports["eid"]), serving(app, ports["identity"]):
        yield {"app": app, "issuer": issuer, "eid": eid}


async def _authorize(browser: httpx.AsyncClient, issuer: str, client_id: str, **extra: str) -> httpx.Response:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
        "nonce": "n",
        **extra,
    }
    return await browser.get(f"{issuer}/authorize?" + urlencode(query))


async def _follow(browser: httpx.AsyncClient, response: httpx.Response, stop_at: str) -> httpx.Response:
    """Follow redirects until one leads to `stop_at` (returned unfollowed) or a page is shown."""
    for _ in range(10):
        if response.status_code != 303 or response.headers["location"].startswith(stop_at):
            return response
        response = await browser.get(response.headers["location"])
    raise AssertionError("too many redirects")


async def _use_card(browser: httpx.AsyncClient, login_page: httpx.Response, choice: str) -> httpx.Response:
    """Press "Mit Online-Ausweis anmelden", pick a card or failure at the eID client, come back."""
    link = next(part.split('"')[0] for part in login_page.text.split('href="')[1:] if "/anmelden/eid?" in part)
    to_client = await browser.get(link.replace("&amp;", "&"))
    assert to_client.status_code == 303
    client_page = await browser.get(to_client.headers["location"])
    assert client_page.status_code == 200 and "eID-Simulator" in client_page.text, client_page.text
    action = to_client.headers["location"].split("?")[0]
    back = await browser.post(action, data={**hidden_fields(client_page.text), "choice": choice})
    assert back.status_code == 303 and "/anmelden/eid/zurueck" in back.headers["location"]
    return await browser.get(back.headers["location"])


async def test_step_up_from_password_to_the_id_card_keeps_the_account(world) -> None:
    app, issuer = world["app"], world["issuer"]
    portal = await register(
        app, "st", grant_types=["authorization_code"], redirect_uris=[REDIRECT_URI], audiences=[], scopes=[]
    )
    await new_person(app, "stufe@example.org")
    async with httpx.AsyncClient(timeout=10) as browser:
        # A password session first (niedrig).
        login = await _follow(browser, await _authorize(browser, issuer, portal.client_id), issuer + "/anmelden")
        page = await browser.get(login.headers["location"])
        credentials = {**hidden_fields(page.text), "email": "stufe@example.org", "password": PASSWORD}
        consent = await _follow(browser, await browser.post(f"{issuer}/anmelden", data=credentials), REDIRECT_URI)
        allowed = await browser.post(
            f"{issuer}/authorize/zustimmung", data={**hidden_fields(consent.text), "decision": "allow"}
        )
        assert allowed.headers["location"].startswith(REDIRECT_URI)
        # The portal now asks for hoch: the session is below it, so the login page offers the ID card only.
        demand = await _authorize(browser, issuer, portal.client_id, acr_values="hoch")
        login_page = await browser.get(demand.headers["location"])
        assert "Vertrauensniveau „hoch“" in login_page.text and 'name="password"' not in login_page.text
        returned = await _use_card(browser, login_page, "erika")
        callback = await _follow(browser, returned, REDIRECT_URI)
        location = callback.headers["location"]
        assert location.startswith(REDIRECT_URI), callback.text
        code = query_of(location)["code"]
        exchange = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        }
        tokens = (
            await browser.post(f"{issuer}/token", data=exchange, auth=(portal.client_id, portal.client_secret))
        ).json()
    claims = json.loads(__import__("base64").urlsafe_b64decode(tokens["id_token"].split(".")[1] + "=="))
    assert claims["acr"] == "hoch" and "hwk" in claims["amr"]
    async with httpx.AsyncClient() as http:
        userinfo = (
            await http.get(f"{issuer}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        ).json()
    assert userinfo["given_name"] == "ERIKA" and userinfo["family_name"] == "MUSTERMANN"
    assert userinfo["birthdate"] == "1964-08-12"
    identity = identity_of(app)
    async with identity.database.session() as session:
        account = (await session.scalars(select(Account).where(Account.email == "stufe@example.org"))).one()
        assert claims["sub"] == str(account.id)  # the same account, now at hoch
        assert account.vertrauensniveau == "hoch"
        raised = await session.execute(
            text("SELECT payload FROM outbox WHERE type = 'de.basisdienste.identity.account.trust_level_raised.v1'")
        )
        assert str(account.id) in [json.loads(row[0])["account_id"] for row in raised]


@pytest.mark.parametrize(
    ("choice", "message"),
    [("cancelled", "abgebrochen"), ("card_blocked", "gesperrt"), ("timeout", "zu lange gedauert")],
)
async def test_eid_failures_show_a_german_page_and_log_nobody_in(world, choice: str, message: str) -> None:
    issuer = world["issuer"]
    async with httpx.AsyncClient(timeout=10) as browser:
        login_page = await browser.get(f"{issuer}/anmelden")
        answer = await _use_card(browser, login_page, choice)
        assert answer.status_code == 400 and message in answer.text
        assert not any(cookie.name == "bd_session" for cookie in browser.cookies.jar)


async def test_a_refresh_address_does_not_work_in_another_browser(world) -> None:
    issuer = world["issuer"]
    async with httpx.AsyncClient(timeout=10) as victim, httpx.AsyncClient(timeout=10) as attacker:
        login_page = await attacker.get(f"{issuer}/anmelden")
        link = next(p.split('"')[0] for p in login_page.text.split('href="')[1:] if "/anmelden/eid?" in p)
        to_client = await attacker.get(link.replace("&amp;", "&"))
        client_page = await attacker.get(to_client.headers["location"])
        action = to_client.headers["location"].split("?")[0]
        back = await attacker.post(action, data={**hidden_fields(client_page.text), "choice": "erika"})
        stolen = await victim.get(back.headers["location"])
        assert stolen.status_code == 400 and "ungültig" in stolen.text


async def test_the_pseudonym_is_stable_per_provider_and_differs_between_providers(world) -> None:
    eid = world["eid"]

    async def pseudonym(provider: str) -> str:
        async with httpx.AsyncClient() as http:
            opened = messages.parse_use_id_response(
                (await http.post(f"{eid}/eIDService/{provider}", content=messages.use_id_request())).content
            )
            refresh = "https://sp.example/back"
            form = {"session_id": opened.session_id, "refresh": refresh, "choice": "max"}
            assert (await http.post(f"{eid}/eID-Client", data=form)).status_code == 303
            result = messages.parse_get_result_response(
                (
                    await http.post(
                        f"{eid}/eIDService/{provider}", content=messages.get_result_request(opened.session_id)
                    )
                ).content
            )
        assert result.personal_data is not None and result.level_of_assurance == messages.LOA_HOCH
        return result.personal_data.restricted_id

    first, again, other = await pseudonym("a"), await pseudonym("a"), await pseudonym("b")
    assert first == again != other


@pytest.mark.parametrize(
    "body",
    [
        b"not xml",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><x>&b;</x>',
        b'<?xml version="1.0"?><Envelope/>',
    ],
)
def test_hostile_or_broken_messages_are_refused(body: bytes) -> None:
    with pytest.raises(messages.MessageError):
        messages.parse_get_result_response(body)
