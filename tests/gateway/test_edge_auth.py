"""Token checks at the real gateway's edge, against a stand-in issuer whose JWKS is served over HTTP:
every token that must not pass is answered 401/403 as a problem with ``WWW-Authenticate`` and never
reaches the upstream; unknown key ids cannot cause a fetch storm; the last good keys survive an
outage of the issuer; a good token passes, with its Authorization header unchanged."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kit.auth.testing import TokenFactory
from tests.gateway.conftest import ISSUER, GatewayStarter, Issuer, RunningGateway, route_table
from tests.gateway.upstream import Upstream


@pytest.fixture(scope="module")
async def gateway(start_gateway: GatewayStarter, upstream: tuple[Upstream, str]) -> AsyncIterator[RunningGateway]:
    table = route_table(
        {"echo": upstream[1]},
        [
            {"prefix": "/echo", "upstream": "echo", "strip_prefix": True},
            {"prefix": "/echo/admin", "upstream": "echo", "strip_prefix": "/echo", "scopes": ["echo:admin"]},
            {"prefix": "/other", "upstream": "echo", "strip_prefix": True, "audience": "payment"},
        ],
    )
    async with start_gateway(table, jwks_refresh_interval=30) as running:
        yield running


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "user-1", "aud": "echo", "exp": now + 300, "iat": now, "client_id": "portal"}
    return claims | overrides


def _unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}.{_b64(signature)}"


def _hs256_with_public_key(tokens: TokenFactory) -> str:
    header = {"alg": "HS256", "typ": "at+jwt", "kid": tokens.kid()}
    signing_input = _unsigned(header, _claims()).rsplit(".", 1)[0]
    secret = json.dumps(tokens.jwks()["keys"][0]).encode()
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def bad_tokens(tokens: TokenFactory) -> dict[str, str]:
    """Tokens the gateway must refuse with 401, by what is wrong with them."""
    now = int(time.time())
    stranger = TokenFactory(issuer=ISSUER, audience="echo")
    return {
        "forged signature": stranger.sign(_claims(), header={"kid": tokens.kid()}),
        "expired": tokens.issue(exp=now - 120, iat=now - 420),
        "not yet valid": tokens.issue(nbf=now + 600),
        "issued in the future": tokens.issue(iat=now + 600, exp=now + 900),
        "wrong issuer": tokens.issue(iss="http://evil.example"),
        "wrong audience": tokens.issue(audience="payment"),
        "alg none": _unsigned({"alg": "none", "typ": "at+jwt", "kid": tokens.kid()}, _claims()),
        "alg none with a dummy signature": _unsigned({"alg": "none", "kid": tokens.kid()}, _claims(), b"x"),
        "HS256 with the public key as secret": _hs256_with_public_key(tokens),
        "not at+jwt": tokens.issue(header={"typ": "JWT"}),
        "no client_id": tokens.issue(omit=["client_id"]),
        "garbage": "not-a-jwt",
        "tampered claims": _tampered(tokens),
    }


def _tampered(tokens: TokenFactory) -> str:
    header, _, signature = tokens.issue(scopes=["echo:read"]).split(".")
    return f"{header}.{_b64(json.dumps(_claims(scope='echo:admin')).encode())}.{signature}"


def _assert_unauthorized(response: Any, error: str | None = "invalid_token") -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:basisdienste:problem:invalid-token"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="basisdienste"')
    if error is None:
        assert "error=" not in challenge
    else:
        assert f'error="{error}"' in challenge


async def test_a_valid_token_passes_and_its_authorization_header_is_forwarded_unchanged(gateway, issuer) -> None:
    header = issuer.tokens.auth_header(scopes=["echo:read"])
    response = await gateway.client.get("/echo/x", headers=header)
    assert response.status_code == 200, response.text
    assert dict(response.json()["headers"])["authorization"] == header["Authorization"]


async def test_every_bad_token_is_refused_at_the_edge_and_never_reaches_the_upstream(
    gateway, issuer: Issuer, upstream
) -> None:
    for reason, token in bad_tokens(issuer.tokens).items():
        before = len(upstream[0].seen)
        response = await gateway.client.get("/echo/x", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, (reason, response.text)
        _assert_unauthorized(response)
        assert len(upstream[0].seen) == before, reason


async def test_a_missing_token_gets_a_challenge_without_an_error_code(gateway, upstream) -> None:
    before = len(upstream[0].seen)
    _assert_unauthorized(await gateway.client.get("/echo/x"), error=None)
    _assert_unauthorized(await gateway.client.get("/echo/x", headers={"Authorization": "Basic dTpw"}), error=None)
    assert len(upstream[0].seen) == before


async def test_two_authorization_headers_are_refused(gateway, issuer) -> None:
    token = issuer.tokens.issue()
    headers = [("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")]
    _assert_unauthorized(await gateway.client.get("/echo/x", headers=headers))


async def test_a_missing_scope_gets_403_with_the_scope_named(gateway, issuer, upstream) -> None:
    before = len(upstream[0].seen)
    response = await gateway.client.get("/echo/admin/x", headers=issuer.tokens.auth_header(scopes=["echo:read"]))
    assert response.status_code == 403
    assert response.json()["type"] == "urn:basisdienste:problem:insufficient-scope"
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert 'scope="echo:admin"' in response.headers["www-authenticate"]
    assert len(upstream[0].seen) == before
    allowed = await gateway.client.get("/echo/admin/x", headers=issuer.tokens.auth_header(scopes=["echo:admin"]))
    assert allowed.status_code == 200
    assert allowed.json()["raw_path"] == "/admin/x"


async def test_the_audience_is_the_routes(gateway, issuer) -> None:
    for_echo = issuer.tokens.auth_header()
    for_payment = issuer.tokens.auth_header(audience="payment")
    assert (await gateway.client.get("/other/x", headers=for_echo)).status_code == 401
    assert (await gateway.client.get("/other/x", headers=for_payment)).status_code == 200


async def test_a_flood_of_unknown_key_ids_costs_at_most_one_jwks_fetch(gateway, issuer: Issuer) -> None:
    assert (await gateway.client.get("/echo/x", headers=issuer.tokens.auth_header())).status_code == 200
    before = issuer.fetches
    tokens = [issuer.tokens.issue(header={"kid": f"made-up-{uuid.uuid4().hex}"}) for _ in range(300)]
    responses = await asyncio.gather(
        *(gateway.client.get("/echo/x", headers={"Authorization": f"Bearer {token}"}) for token in tokens)
    )
    assert {response.status_code for response in responses} == {401}
    assert issuer.fetches - before <= 1
    # Good tokens keep passing during and after the flood.
    assert (await gateway.client.get("/echo/x", headers=issuer.tokens.auth_header())).status_code == 200


async def test_the_last_good_keys_are_kept_while_the_issuer_is_down(
    start_gateway: GatewayStarter, upstream, issuer: Issuer
) -> None:
    table = route_table({"echo": upstream[1]}, [{"prefix": "/echo", "upstream": "echo", "strip_prefix": True}])
    # No minimum interval and no verified-token cache: every unknown kid and every request goes to the keys.
    async with start_gateway(table, jwks_refresh_interval=0, token_cache_seconds=0) as gw:
        assert (await gw.client.get("/echo/x", headers=issuer.tokens.auth_header())).status_code == 200
        issuer.tokens.jwks_available = False
        try:
            unknown = issuer.tokens.issue(header={"kid": "rotated-away"})
            before = issuer.fetches
            refused = await gw.client.get("/echo/x", headers={"Authorization": f"Bearer {unknown}"})
            assert refused.status_code == 401
            assert issuer.fetches > before  # it did try, and failed
            still = await gw.client.get("/echo/x", headers=issuer.tokens.auth_header())
            assert still.status_code == 200
        finally:
            issuer.tokens.jwks_available = True


async def test_a_rotated_key_is_picked_up_on_first_sight(start_gateway: GatewayStarter, upstream, issuer) -> None:
    table = route_table({"echo": upstream[1]}, [{"prefix": "/echo", "upstream": "echo", "strip_prefix": True}])
    async with start_gateway(table, jwks_refresh_interval=0) as gw:
        assert (await gw.client.get("/echo/x", headers=issuer.tokens.auth_header())).status_code == 200
        issuer.tokens.rotate()
        assert (await gw.client.get("/echo/x", headers=issuer.tokens.auth_header())).status_code == 200
