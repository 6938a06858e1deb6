"""Organisation accounts: create, invite by e-mail, roles, the last owner, acting for an organisation, and
the ``organisation`` claim in tokens."""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest

from tests.services.identity.accounts.support import LINK, post_form, register_and_verify
from tests.services.identity.oidc.flow import REDIRECT_URI, Browser, hidden_fields, query_of
from tests.services.identity.support import ISSUER, register


@pytest.fixture
async def owner(app, client, inbox) -> AsyncIterator[Browser]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as http:
        browser = Browser(http)
        email = f"inhaber-{secrets.token_hex(3)}@example.org"
        await register_and_verify(app, browser, inbox, email)
        await browser.login("/anmelden", email)
        yield browser


async def _organisation_id(browser: Browser, name: str) -> str:
    page = await browser.http.get("/konto/organisationen")
    match = re.search(r'name="organisation_id" value="([0-9a-f-]{36})">' + re.escape(name), page.text)
    assert match, page.text
    return match.group(1)


async def test_an_owner_invites_a_member_who_then_acts_for_the_organisation(app, owner, inbox) -> None:
    created = await post_form(
        owner, "/konto/organisationen", "/konto/organisationen", name="Bäckerei Korn", kind="unternehmen"
    )
    assert created.status_code == 303
    organisation_id = await _organisation_id(owner, "Bäckerei Korn")
    invited = await post_form(
        owner, "/konto/organisationen", "/konto/organisationen/einladen",
        organisation_id=organisation_id, email="gesellin@example.org", role="member",
    )  # fmt: skip
    assert invited.status_code == 303
    invitation = LINK.search((await inbox.next_to("gesellin@example.org")).get_payload(decode=True).decode())

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as http:
        member = Browser(http)
        await register_and_verify(app, member, inbox, "gesellin@example.org")
        await member.login("/anmelden", "gesellin@example.org")
        joined = await http.get(invitation.group(1))
        assert joined.status_code == 200 and "Bäckerei Korn" in joined.text
        assert (await http.get(invitation.group(1))).status_code == 400  # an invitation works once
        # Acting for the organisation: tokens say which, and with which role.
        page = await http.get("/konto/organisationen")
        acted = await http.post(
            "/konto/organisationen/handeln", data={**hidden_fields(page.text), "organisation_id": organisation_id}
        )
        assert acted.status_code == 303
        portal = await register(
            app, "st", grant_types=["authorization_code"], redirect_uris=[REDIRECT_URI], audiences=[], scopes=[]
        )
        query = {
            "response_type": "code", "client_id": portal.client_id, "redirect_uri": REDIRECT_URI, "scope": "openid",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256",
        }  # fmt: skip
        callback = await member.authorize("/authorize?" + urlencode(query), "gesellin@example.org")
        exchange = {
            "grant_type": "authorization_code", "code": query_of(callback)["code"], "redirect_uri": REDIRECT_URI,
            "code_verifier": "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        }  # fmt: skip
        tokens = (await http.post("/token", data=exchange, auth=(portal.client_id, portal.client_secret))).json()
    claims = json.loads(base64.urlsafe_b64decode(tokens["access_token"].split(".")[1] + "=="))
    assert claims["organisation"] == {"id": organisation_id, "name": "Bäckerei Korn", "role": "member"}


async def test_the_last_owner_cannot_leave_and_strangers_cannot_manage(app, owner, inbox) -> None:
    await post_form(owner, "/konto/organisationen", "/konto/organisationen", name="Verein Ufer", kind="verein")
    organisation_id = await _organisation_id(owner, "Verein Ufer")
    page = await owner.http.get("/konto/organisationen")
    own_id = re.search(r'name="account_id" value="([0-9a-f-]{36})"', page.text).group(1)
    leave = await owner.http.post(
        "/konto/organisationen/mitglied",
        data={**hidden_fields(page.text), "organisation_id": organisation_id, "account_id": own_id, "role": ""},
    )
    assert leave.status_code == 403 and "mindestens einen Inhaber" in leave.text
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as http:
        stranger = Browser(http)
        await register_and_verify(app, stranger, inbox, "fremd@example.org")
        await stranger.login("/anmelden", "fremd@example.org")
        attempt = await post_form(
            stranger, "/konto/organisationen", "/konto/organisationen/einladen",
            organisation_id=organisation_id, email="x@example.org", role="owner",
        )  # fmt: skip
        assert attempt.status_code == 403
        page = await http.get("/konto/organisationen")
        act = await http.post(
            "/konto/organisationen/handeln", data={**hidden_fields(page.text), "organisation_id": organisation_id}
        )
        assert act.status_code == 404
