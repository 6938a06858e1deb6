"""JwksCache: which keys it takes from a JWKS, and how often it asks the issuer."""

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key as rsa_private_key
from joserfc.jwk import ECKey, OctKey, RSAKey
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from kit.auth.jwks import JwksCache, parse_jwks
from kit.auth.testing import TokenFactory
from kit.auth.tokens import TokenError, TokenVerifier
from tests.kit.auth.fakes import AUDIENCE, ISSUER, MAX_AGE, MIN_REFRESH_INTERVAL, FakeClock, b64url

# --- which keys ------------------------------------------------------------------------------


def public_jwk(key: ECKey | RSAKey | OctKey, **params: Any) -> dict[str, Any]:
    return key.as_dict(private=False, **params)


def weak_rsa_jwk(**params: Any) -> dict[str, Any]:
    numbers = rsa_private_key(public_exponent=65537, key_size=1024).public_key().public_numbers()

    def b64int(value: int) -> str:
        return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))

    return {"kty": "RSA", "n": b64int(numbers.n), "e": b64int(numbers.e), **params}


def test_only_public_signature_keys_of_accepted_types_are_kept() -> None:
    ec = ECKey.generate_key("P-256")
    rsa = RSAKey.generate_key(2048)
    document = {
        "keys": [
            public_jwk(ec, kid="ec", use="sig", alg="ES256"),
            public_jwk(rsa, kid="rsa"),
            public_jwk(OctKey.generate_key(256), kid="oct", alg="HS256"),
            public_jwk(OctKey.generate_key(256), kid="oct-sig", use="sig"),
            public_jwk(ECKey.generate_key("P-256"), kid="ec-enc", use="enc"),
            public_jwk(ECKey.generate_key("P-256"), kid="ec-ops", key_ops=["encrypt"]),
            public_jwk(ECKey.generate_key("P-384"), kid="ec-p384"),
            public_jwk(ECKey.generate_key("secp256k1"), kid="ec-k1"),
            weak_rsa_jwk(kid="rsa-1024"),
            public_jwk(ECKey.generate_key("P-256")),
            {"kty": "EC", "kid": "broken", "crv": "P-256", "x": "AAAA", "y": "AAAA"},
            {"kty": "OKP", "kid": "okp", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kid": "no-type"},
            "not a key",
            None,
        ]
    }

    keys = parse_jwks(document)

    assert set(keys) == {"ec", "rsa"}
    assert isinstance(keys["ec"], ECKey)
    assert isinstance(keys["rsa"], RSAKey)


def test_private_parts_of_a_published_key_are_dropped() -> None:
    leaked = ECKey.generate_key("P-256").as_dict(private=True, kid="leaked")

    keys = parse_jwks({"keys": [leaked]})

    assert not keys["leaked"].is_private


def test_first_of_two_keys_with_one_kid_wins() -> None:
    first, second = ECKey.generate_key("P-256"), ECKey.generate_key("P-256")

    keys = parse_jwks({"keys": [public_jwk(first, kid="k"), public_jwk(second, kid="k")]})

    assert keys["k"].as_dict() == public_jwk(first, kid="k")


# --- how often -------------------------------------------------------------------------------


async def test_keys_are_cached(tokens: TokenFactory, verifier: TokenVerifier) -> None:
    for _ in range(5):
        await verifier.verify(tokens.issue())

    assert tokens.jwks_requests == 1


async def test_concurrent_callers_share_one_fetch(tokens: TokenFactory, verifier: TokenVerifier) -> None:
    principals = await asyncio.gather(*(verifier.verify(tokens.issue(f"user-{i}")) for i in range(50)))

    assert len(principals) == 50
    assert tokens.jwks_requests == 1


async def test_unknown_kid_flood_causes_at_most_one_fetch_per_interval(
    tokens: TokenFactory, verifier: TokenVerifier, clock: FakeClock
) -> None:
    await verifier.verify(tokens.issue())
    impostor = TokenFactory(issuer=ISSUER, audience=AUDIENCE)

    async def made_up_kid_token() -> None:
        token = impostor.issue(header={"kid": uuid.uuid4().hex})
        try:
            await verifier.verify(token)
        except TokenError:
            return
        raise AssertionError("a token with a made-up kid was accepted")

    await asyncio.gather(*(made_up_kid_token() for _ in range(200)))
    assert tokens.jwks_requests == 1  # the last fetch was less than min_refresh_interval ago

    clock.advance(MIN_REFRESH_INTERVAL)
    await asyncio.gather(*(made_up_kid_token() for _ in range(200)))
    assert tokens.jwks_requests == 2

    clock.advance(MIN_REFRESH_INTERVAL / 2)
    await asyncio.gather(*(made_up_kid_token() for _ in range(200)))
    assert tokens.jwks_requests == 2


async def test_rotated_key_is_picked_up(tokens: TokenFactory, verifier: TokenVerifier, clock: FakeClock) -> None:
    await verifier.verify(tokens.issue())
    clock.advance(MIN_REFRESH_INTERVAL)

    new_kid = tokens.rotate()
    principal = await verifier.verify(tokens.issue("after-rotation"))

    assert principal.subject == "after-rotation"
    assert tokens.jwks_requests == 2
    assert tokens.kid() == new_kid


async def test_rotated_key_waits_for_the_refresh_interval(
    tokens: TokenFactory, verifier: TokenVerifier, clock: FakeClock
) -> None:
    await verifier.verify(tokens.issue())
    tokens.rotate()
    token = tokens.issue()

    with pytest.raises(TokenError, match="unknown key"):
        await verifier.verify(token)

    clock.advance(MIN_REFRESH_INTERVAL)
    await verifier.verify(token)
    assert tokens.jwks_requests == 2


async def test_withdrawn_key_is_no_longer_accepted(
    tokens: TokenFactory, verifier: TokenVerifier, clock: FakeClock
) -> None:
    old_token = tokens.issue()
    await verifier.verify(old_token)

    tokens.rotate(keep_old=False)
    clock.advance(MAX_AGE)

    with pytest.raises(TokenError, match="unknown key"):
        await verifier.verify(old_token)
    await verifier.verify(tokens.issue())


async def test_stale_keys_are_refreshed(tokens: TokenFactory, verifier: TokenVerifier, clock: FakeClock) -> None:
    await verifier.verify(tokens.issue())

    clock.advance(MAX_AGE - 1)
    await verifier.verify(tokens.issue())
    assert tokens.jwks_requests == 1

    clock.advance(1)
    await verifier.verify(tokens.issue())
    assert tokens.jwks_requests == 2


async def test_issuer_down_keeps_last_good_keys(
    tokens: TokenFactory, verifier: TokenVerifier, clock: FakeClock
) -> None:
    await verifier.verify(tokens.issue())
    tokens.jwks_available = False

    clock.advance(MAX_AGE * 10)
    principal = await verifier.verify(tokens.issue("during-outage"))

    assert principal.subject == "during-outage"
    assert tokens.jwks_requests == 2
    await verifier.verify(tokens.issue())
    assert tokens.jwks_requests == 2  # a failing issuer is not asked more than once per interval

    tokens.jwks_available = True
    tokens.rotate()
    clock.advance(MIN_REFRESH_INTERVAL)
    await verifier.verify(tokens.issue("after-outage"))
    assert tokens.jwks_requests == 3


async def test_issuer_down_at_start_is_retried_after_the_interval(
    tokens: TokenFactory, verifier: TokenVerifier, clock: FakeClock
) -> None:
    tokens.jwks_available = False
    token = tokens.issue()

    for _ in range(3):
        with pytest.raises(TokenError, match="unknown key"):
            await verifier.verify(token)
    assert tokens.jwks_requests == 1

    tokens.jwks_available = True
    clock.advance(MIN_REFRESH_INTERVAL)
    await verifier.verify(token)
    assert tokens.jwks_requests == 2


class BrokenIssuer:
    """Serves the good JWKS once, then whatever body the test sets."""

    def __init__(self, tokens: TokenFactory) -> None:
        self.tokens = tokens
        self.body: bytes | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.body is None:
            await self.tokens.jwks_app(scope, receive, send)
            return
        await Response(self.body, media_type="application/json")(scope, receive, send)


async def test_broken_jwks_keeps_last_good_keys(tokens: TokenFactory, clock: FakeClock) -> None:
    issuer = BrokenIssuer(tokens)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=issuer))
    jwks = JwksCache("http://issuer.test/jwks", client, clock=clock)
    verifier = TokenVerifier(jwks, issuer=ISSUER, audience=AUDIENCE)
    await verifier.verify(tokens.issue())

    for body in [b"<html>maintenance</html>", b'{"keys": "none"}', b"[]", b'{"keys": [' + b" " * 300_000 + b"]}"]:
        issuer.body = body
        clock.advance(MAX_AGE)

        principal = await verifier.verify(tokens.issue("still-trusted"))

        assert principal.subject == "still-trusted"
    await client.aclose()


async def test_cache_leaves_a_shared_client_open() -> None:
    shared = httpx.AsyncClient()
    async with JwksCache("http://issuer.test/jwks", shared):
        pass

    assert not shared.is_closed
    await shared.aclose()
