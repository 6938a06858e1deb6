"""Tokens from /token pass kit.auth's checks, through a key rotation while tokens are in flight, and stop
passing once their key is removed."""

import datetime as dt
import time

import httpx
import pytest
from fastapi import FastAPI

from kit.auth import JwksCache, TokenError, TokenVerifier
from services.identity.clients.schemas import ClientWithSecret
from tests.services.identity.support import ISSUER, header_of, identity_of, register, token_for, travel


class Clock:
    """A monotonic clock for a JwksCache that tests move forward."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class CountingTransport(httpx.AsyncBaseTransport):
    """Passes requests to the identity app and counts the JWKS fetches."""

    def __init__(self, app: FastAPI) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.jwks_fetches = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/jwks":
            self.jwks_fetches += 1
        return await self.inner.handle_async_request(request)


@pytest.fixture
def transport(app: FastAPI, client: httpx.AsyncClient) -> CountingTransport:
    return CountingTransport(app)


def verifier(transport: CountingTransport, *, clock: Clock | None = None, refetch_after: float = 30.0) -> TokenVerifier:
    """A payment service's verifier, as kit.auth.create_verifier builds it, reading the identity's JWKS."""
    http = httpx.AsyncClient(transport=transport)
    jwks = JwksCache(f"{ISSUER}/jwks", http, min_refresh_interval=refetch_after, clock=clock or time.monotonic)
    return TokenVerifier(jwks, issuer=ISSUER, audience="payment")


@pytest.fixture(scope="module")
async def backend(app: FastAPI, client: httpx.AsyncClient) -> ClientWithSecret:
    return await register(app, "st", audiences=["payment"])


async def test_a_service_accepts_a_token_from_the_token_endpoint(client, transport, backend) -> None:
    token = await token_for(client, backend, scope="payment:write")
    principal = await verifier(transport).verify(token)
    assert principal.subject == backend.client_id
    assert principal.client_id == backend.client_id
    assert principal.tenant == "st"
    assert principal.scopes == {"payment:write"}
    assert principal.acr is None


async def test_another_service_refuses_it(client, transport, backend) -> None:
    token = await token_for(client, backend)
    catalogue = TokenVerifier(
        JwksCache(f"{ISSUER}/jwks", httpx.AsyncClient(transport=transport)), issuer=ISSUER, audience="catalogue"
    )
    with pytest.raises(TokenError, match="audience"):
        await catalogue.verify(token)


async def test_rotation_while_tokens_are_in_flight_leaves_no_window(app, client, transport, backend) -> None:
    settings = identity_of(app).settings
    before = await token_for(client, backend)
    old_kid = header_of(before)["kid"]
    # A verifier that cached the JWKS before the rotation and may fetch again only every 10 minutes.
    clock = Clock()
    early = verifier(transport, clock=clock, refetch_after=600)
    await early.verify(before)

    # The successor is announced a publish lead before it signs ...
    await travel(app, settings.signing_key_rotation_interval - settings.signing_key_publish_lead)
    announced = {jwk["kid"] for jwk in (await client.get("/jwks")).json()["keys"]}
    assert old_kid in announced and len(announced) == 2
    assert header_of(await token_for(client, backend))["kid"] == old_kid  # not signing yet

    # ... which is longer than any verifier keeps its JWKS (kit.auth: 5 minutes), so the early verifier has
    # the new key before the first token it signs arrives.
    clock.now += settings.signing_key_publish_lead.total_seconds()
    await early.verify(before)
    fetches = transport.jwks_fetches
    await travel(app, settings.signing_key_publish_lead)
    after = await token_for(client, backend)
    assert header_of(after)["kid"] != old_kid
    await early.verify(after)
    assert transport.jwks_fetches == fetches  # verified from its cache: no fetch needed, none made

    # The old key stays published while tokens it signed may be alive: they keep verifying everywhere.
    await early.verify(before)
    await verifier(transport).verify(before)


async def test_a_token_is_refused_once_its_key_is_removed(app, client, transport, backend) -> None:
    settings = identity_of(app).settings
    old = await token_for(client, backend)
    await travel(app, settings.signing_key_rotation_interval)  # a successor is announced
    await travel(app, settings.signing_key_publish_lead)  # ... and signs
    clock = Clock()
    cached = verifier(transport, clock=clock)
    await cached.verify(old)
    await travel(app, settings.key_retention() + dt.timedelta(seconds=1))  # the old key is removed
    assert header_of(old)["kid"] not in {jwk["kid"] for jwk in (await client.get("/jwks")).json()["keys"]}
    with pytest.raises(TokenError, match="unknown key"):
        await verifier(transport).verify(old)
    clock.now += 300  # the cached JWKS goes stale and is fetched again
    with pytest.raises(TokenError, match="unknown key"):
        await cached.verify(old)
    # New tokens are unaffected.
    await verifier(transport).verify(await token_for(client, backend))
