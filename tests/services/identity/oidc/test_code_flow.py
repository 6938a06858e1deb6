"""The authorization code flow with PKCE, driven as a browser would, with authlib as the relying party
validating the ID token; refresh rotation, reuse detection and concurrent refreshes; userinfo; logout."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.jose import JsonWebKey, JsonWebToken
from authlib.oidc.core import CodeIDToken
from sqlalchemy import Interval, literal, update

from services.identity.login.models import LoginSessionRow
from services.identity.oidc.models import RefreshToken
from tests.services.identity.oidc.flow import REDIRECT_URI, Browser, new_person, query_of
from tests.services.identity.support import ISSUER, identity_of, register

SCOPE = "openid email offline_access"


@pytest.fixture
async def browser(app, client) -> AsyncIterator[Browser]:
    """A fresh browser (own cookies) of the running app."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as http:
        yield Browser(http)


@pytest.fixture(scope="module")
async def portal(app, client):
    """A confidential portal client with refresh tokens and a post-logout URI."""
    return await register(
        app,
        "st",
        name="Landesportal",
        grant_types=["authorization_code", "refresh_token"],
        redirect_uris=[REDIRECT_URI],
        post_logout_redirect_uris=["https://portal.example/bye"],
        scopes=[],
        audiences=["https://portal.example/api"],
    )


def relying_party(app, portal) -> AsyncOAuth2Client:
    """The portal's OIDC client library, talking to the app in-process."""
    return AsyncOAuth2Client(
        client_id=portal.client_id,
        client_secret=portal.client_secret,
        scope=SCOPE,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        transport=httpx.ASGITransport(app=app),
        base_url=ISSUER,
    )


async def log_in_through_portal(app, portal, browser: Browser, email: str, **extra: str) -> tuple[dict, str]:
    """The whole flow: authorization URL, login, consent, code exchange; the token response and the nonce."""
    verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
    async with relying_party(app, portal) as rp:
        url, state = rp.create_authorization_url(ISSUER + "/authorize", code_verifier=verifier, nonce=nonce, **extra)
        callback = await browser.authorize(url, email)
        assert query_of(callback)["state"] == state
        assert query_of(callback)["iss"] == ISSUER
        tokens = await rp.fetch_token(ISSUER + "/token", authorization_response=callback, code_verifier=verifier)
    return dict(tokens), nonce


async def validated_id_token(client, portal, tokens: dict, nonce: str):
    """The ID token as a relying party validates it: signature from the JWKS, iss, aud, nonce, at_hash."""
    keys = JsonWebKey.import_key_set((await client.get("/jwks")).json())
    claims = JsonWebToken(["ES256", "RS256"]).decode(
        tokens["id_token"],
        keys,
        claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": ISSUER}},
        claims_params={"nonce": nonce, "client_id": portal.client_id, "access_token": tokens["access_token"]},
    )
    claims.validate()
    return claims


async def test_a_person_logs_in_to_a_portal_and_the_rp_library_accepts_the_id_token(app, client, portal, browser):
    await new_person(app, "erika@example.org")
    tokens, nonce = await log_in_through_portal(app, portal, browser, "erika@example.org")
    claims = await validated_id_token(client, portal, tokens, nonce)
    assert claims["acr"] == "niedrig"
    assert claims["amr"] == ["pwd"]
    assert claims["sid"] and claims["auth_time"] <= claims["iat"]
    assert tokens["token_type"] == "Bearer"
    assert set(tokens["scope"].split()) == set(SCOPE.split())
    userinfo = await client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert userinfo.status_code == 200
    assert userinfo.json() == {"sub": claims["sub"], "email": "erika@example.org", "email_verified": True}


async def test_consent_is_asked_once_and_declining_returns_access_denied(app, client, portal, browser):
    await new_person(app, "max@example.org")
    verifier = secrets.token_urlsafe(48)
    async with relying_party(app, portal) as rp:
        url, state = rp.create_authorization_url(ISSUER + "/authorize", code_verifier=verifier, nonce="n")
    declined = await browser.authorize(url, "max@example.org", consent="deny")
    assert query_of(declined)["error"] == "access_denied"
    assert query_of(declined)["state"] == state
    await browser.authorize(url, "max@example.org", consent="allow")
    # Asked once: the next authorization goes straight back with a code.
    again = await browser.authorize(url, "max@example.org", consent=None)
    assert "code" in query_of(again)


async def test_refresh_tokens_rotate_and_a_replayed_one_revokes_the_family(app, client, portal, browser):
    await new_person(app, "rotate@example.org")
    tokens, _ = await log_in_through_portal(app, portal, browser, "rotate@example.org")
    first = tokens["refresh_token"]
    refresh = {"grant_type": "refresh_token", "refresh_token": first}
    auth = (portal.client_id, portal.client_secret)
    second = (await client.post("/token", data=refresh, auth=auth)).json()
    assert second["refresh_token"] != first and second["access_token"] != tokens["access_token"]
    # Two tabs: the same old token again within the grace window gets the same successor.
    again = (await client.post("/token", data=refresh, auth=auth)).json()
    assert again["refresh_token"] == second["refresh_token"]
    # Past the grace window, the old token is a replay: the whole family ends, the newest token too.
    async with identity_of(app).database.session() as session, session.begin():
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.rotated_at.is_not(None))
            .values(rotated_at=RefreshToken.rotated_at - literal(dt.timedelta(minutes=5), Interval))
        )
    replay = await client.post("/token", data=refresh, auth=auth)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    newest = {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}
    assert (await client.post("/token", data=newest, auth=auth)).json()["error"] == "invalid_grant"


async def test_two_concurrent_refreshes_get_the_same_successor(app, client, portal, browser):
    await new_person(app, "tabs@example.org")
    tokens, _ = await log_in_through_portal(app, portal, browser, "tabs@example.org")
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    auth = (portal.client_id, portal.client_secret)
    answers = await asyncio.gather(*(client.post("/token", data=refresh, auth=auth) for _ in range(4)))
    assert {answer.status_code for answer in answers} == {200}
    assert len({answer.json()["refresh_token"] for answer in answers}) == 1


async def test_a_code_works_once_and_its_reuse_revokes_what_it_gave(app, client, portal, browser):
    await new_person(app, "twice@example.org")
    verifier = secrets.token_urlsafe(48)
    async with relying_party(app, portal) as rp:
        url, _ = rp.create_authorization_url(ISSUER + "/authorize", code_verifier=verifier, nonce="n")
    callback = await browser.authorize(url, "twice@example.org")
    exchange = {
        "grant_type": "authorization_code",
        "code": query_of(callback)["code"],
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    auth = (portal.client_id, portal.client_secret)
    first = await client.post("/token", data=exchange, auth=auth)
    assert first.status_code == 200
    second = await client.post("/token", data=exchange, auth=auth)
    assert second.json()["error"] == "invalid_grant"
    refresh = {"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"]}
    assert (await client.post("/token", data=refresh, auth=auth)).json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"code_verifier": "x" * 43}, "invalid_grant"),
        ({"redirect_uri": "https://portal.example/other"}, "invalid_grant"),
        ({"code": "not-a-code"}, "invalid_grant"),
        ({"code": None}, "invalid_request"),
    ],
)
async def test_a_code_exchange_that_does_not_match_is_refused(app, client, portal, browser, change, expected):
    email = f"{secrets.token_hex(4)}@example.org"
    await new_person(app, email)
    verifier = secrets.token_urlsafe(48)
    async with relying_party(app, portal) as rp:
        url, _ = rp.create_authorization_url(ISSUER + "/authorize", code_verifier=verifier, nonce="n")
    callback = await browser.authorize(url, email)
    exchange = {
        "grant_type": "authorization_code",
        "code": query_of(callback)["code"],
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    } | change
    response = await client.post(
        "/token",
        data={k: v for k, v in exchange.items() if v is not None},
        auth=(portal.client_id, portal.client_secret),
    )
    assert response.status_code == 400 and response.json()["error"] == expected


async def test_logout_ends_the_session_and_returns_to_the_registered_uri(app, client, portal, browser):
    await new_person(app, "bye@example.org")
    tokens, _ = await log_in_through_portal(app, portal, browser, "bye@example.org")
    logout = await browser.http.get(
        "/logout",
        params={
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": "https://portal.example/bye",
            "state": "s1",
        },
    )
    assert logout.status_code == 303
    assert logout.headers["location"] == "https://portal.example/bye?state=s1"
    # The session is over: a refresh token bound to it (no offline_access) would end with it, and a new
    # authorization asks for a login again.
    verifier = secrets.token_urlsafe(48)
    async with relying_party(app, portal) as rp:
        url, _ = rp.create_authorization_url(ISSUER + "/authorize", code_verifier=verifier, nonce="n", prompt="none")
    answer = await browser.http.get(url.removeprefix(ISSUER))
    assert query_of(answer.headers["location"])["error"] == "login_required"


async def test_an_unregistered_post_logout_uri_is_refused(app, client, portal, browser):
    response = await browser.http.get(
        "/logout", params={"client_id": portal.client_id, "post_logout_redirect_uri": "https://evil.example/"}
    )
    assert response.status_code == 400
    assert "nicht registriert" in response.text


async def test_an_idle_session_asks_for_a_login_again(app, client, portal, browser):
    await new_person(app, "idle@example.org")
    await log_in_through_portal(app, portal, browser, "idle@example.org")
    async with identity_of(app).database.session() as session, session.begin():
        await session.execute(
            update(LoginSessionRow).values(
                last_used_at=LoginSessionRow.last_used_at - literal(dt.timedelta(minutes=61), Interval)
            )
        )
    async with relying_party(app, portal) as rp:
        url, _ = rp.create_authorization_url(
            ISSUER + "/authorize", code_verifier=secrets.token_urlsafe(48), nonce="n", prompt="none"
        )
    answer = await browser.http.get(url.removeprefix(ISSUER))
    assert query_of(answer.headers["location"])["error"] == "login_required"


async def test_a_logout_link_from_elsewhere_asks_before_ending_the_session(app, client, portal, browser):
    await new_person(app, "link@example.org")
    await log_in_through_portal(app, portal, browser, "link@example.org")
    page = await browser.http.get("/logout")
    assert page.status_code == 200 and "Möchten Sie sich abmelden?" in page.text
    assert (await browser.http.get("/konto")).status_code == 200  # still logged in
    forged = await browser.http.post("/logout", data={"confirm": "1"})
    assert forged.status_code == 403  # no CSRF token: not the person's own answer
    assert (await browser.http.get("/konto")).status_code == 200
