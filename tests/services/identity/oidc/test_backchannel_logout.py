"""Back-channel logout: a client that received tokens in a session gets a signed logout token when the
session ends; internal addresses are refused unless explicitly allowed."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import httpx
import pytest
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import update

from kit.service import Role
from kit.testing import service_client
from services.identity.app import create_app
from services.identity.clients.models import Client
from services.identity.oidc.backchannel import LOGOUT_EVENT
from services.identity.oidc.outbound import ForbiddenTargetError, check_target, is_public
from tests.services.identity.oidc.flow import REDIRECT_URI, Browser, hidden_fields, new_person, query_of
from tests.services.identity.support import ISSUER, identity_of, identity_settings, register


class Receiver:
    """A client's back-channel logout endpoint: a real HTTP server on a free local port."""

    def __init__(self) -> None:
        self.tokens: asyncio.Queue[str] = asyncio.Queue()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
        body = await reader.readexactly(length)
        await self.tokens.put(parse_qs(body.decode())["logout_token"][0])
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        await writer.drain()
        writer.close()


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    await receiver.start()
    yield receiver
    assert receiver.server is not None
    receiver.server.close()


@pytest.fixture(scope="module")
def app(identity_url: str) -> FastAPI:
    """The app with the local receiver allowed as an outbound target."""
    settings = identity_settings(identity_url, outbound_allowed_hosts=["127.0.0.1"])
    return create_app(settings, Role.API)


@pytest.fixture(scope="module")
async def client(app: FastAPI):
    async with service_client(app, base_url=ISSUER) as client:
        yield client


async def test_logout_sends_a_signed_logout_token_to_the_client(app, client, receiver) -> None:
    portal = await register(
        app,
        "st",
        grant_types=["authorization_code"],
        redirect_uris=[REDIRECT_URI],
        audiences=[],
        backchannel_logout_uri="https://portal.example/logout",
        backchannel_logout_session_required=True,
    )
    # Registration takes https only; the test receiver speaks plain HTTP, so its address is set directly.
    identity = identity_of(app)
    async with identity.database.session() as session, session.begin():
        await session.execute(
            update(Client)
            .where(Client.client_id == portal.client_id)
            .values(backchannel_logout_uri=f"http://127.0.0.1:{receiver.port}/logout")
        )
    identity.clients.forget(portal.client_id)
    await new_person(app, "bc@example.org")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as http:
        browser = Browser(http)
        challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        query = {
            "response_type": "code",
            "client_id": portal.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": secrets.token_hex(4),
        }
        callback = await browser.authorize(
            "/authorize?" + "&".join(f"{k}={v}" for k, v in query.items()), "bc@example.org"
        )
        assert "code" in query_of(callback)
        # Without an ID token hint the person confirms on a page first.
        confirmation = await http.get("/logout")
        assert confirmation.status_code == 200 and "Möchten Sie sich abmelden?" in confirmation.text
        assert receiver.tokens.empty()
        fields = {**hidden_fields(confirmation.text), "confirm": "1"}
        assert (await http.post("/logout", data=fields)).status_code == 200
    token = await asyncio.wait_for(receiver.tokens.get(), timeout=15)
    keys = KeySet.import_key_set((await client.get("/jwks")).json())
    decoded = jwt.decode(token, keys)
    assert decoded.header["typ"] == "logout+jwt"
    claims = decoded.claims
    assert claims["iss"] == ISSUER and claims["aud"] == portal.client_id
    assert claims["events"] == {LOGOUT_EVENT: {}}
    assert claims["sid"] and claims["sub"] and "nonce" not in claims
    assert json.dumps(claims)  # plain JSON claims


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/logout",
        "http://169.254.169.254/latest/meta-data",
        "http://10.1.2.3/",
        "http://[::1]/",
        "http://localhost/",
        "ftp://example.org/",
    ],
)
async def test_internal_targets_are_refused(url: str) -> None:
    with pytest.raises(ForbiddenTargetError):
        await check_target(url, allowed_hosts=[])


def test_public_addresses_are_allowed() -> None:
    assert is_public("93.184.216.34")
    assert not is_public("::ffff:127.0.0.1")
    assert not is_public("224.0.0.1")


async def test_an_allowed_host_is_exempt() -> None:
    await check_target("http://127.0.0.1:9/", allowed_hosts=["127.0.0.1"])
