"""TokenVerifier: what it accepts, and every way a token must be turned away."""

import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from joserfc import jws

from kit.auth.testing import TokenFactory
from kit.auth.tokens import Principal, TokenError, TokenVerifier
from tests.kit.auth.fakes import AUDIENCE, ISSUER, FakeClock, b64url, compact


async def rejected(verifier: TokenVerifier, token: str) -> str:
    """The description of the rejection; fails the test if the token is accepted."""
    with pytest.raises(TokenError) as caught:
        await verifier.verify(token)
    return caught.value.description


def valid_claims(tokens: TokenFactory, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "user-1",
        "aud": AUDIENCE,
        "exp": now + 300,
        "iat": now,
        "jti": "jti-1",
        "client_id": "portal",
    }
    return claims | changes


# --- accepted tokens -------------------------------------------------------------------------


async def test_valid_token_gives_principal(tokens: TokenFactory, verifier: TokenVerifier) -> None:
    token = tokens.issue(
        "citizen-42",
        scopes=["payment:read", "payment:write"],
        tenant="st",
        client_id="portal-st",
        acr="substanziell",
    )

    principal = await verifier.verify(token)

    assert principal.subject == "citizen-42"
    assert principal.client_id == "portal-st"
    assert principal.tenant == "st"
    assert principal.acr == "substanziell"
    assert principal.scopes == {"payment:read", "payment:write"}
    assert principal.claims["iss"] == ISSUER
    assert principal.has_scopes("payment:read")
    assert principal.has_scopes("payment:read", "payment:write")
    assert principal.has_scopes()
    assert not principal.has_scopes("payment:read", "payment:refund")


async def test_principal_without_optional_claims(tokens: TokenFactory, verifier: TokenVerifier) -> None:
    principal = await verifier.verify(tokens.issue())

    assert principal.tenant is None
    assert principal.acr is None
    assert principal.scopes == frozenset()


async def test_principal_is_immutable(tokens: TokenFactory, verifier: TokenVerifier) -> None:
    principal = await verifier.verify(tokens.issue(scopes=["a"]))

    with pytest.raises(AttributeError):
        principal.subject = "someone-else"  # type: ignore[misc]
    with pytest.raises(TypeError):
        principal.claims["sub"] = "someone-else"  # type: ignore[index]
    assert isinstance(hash(principal), int)


async def test_rs256_token_is_accepted(clock: FakeClock) -> None:
    tokens = TokenFactory(issuer=ISSUER, audience=AUDIENCE, with_rsa=True)
    verifier = TokenVerifier(tokens.jwks_cache(clock=clock), issuer=ISSUER, audience=AUDIENCE)

    principal = await verifier.verify(tokens.issue("user-rsa", algorithm="RS256"))

    assert principal.subject == "user-rsa"


async def test_audience_list_containing_ours_is_accepted(tokens: TokenFactory, verifier: TokenVerifier) -> None:
    principal = await verifier.verify(tokens.issue(audience=["mailbox", AUDIENCE]))

    assert isinstance(principal, Principal)


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"])
async def test_access_token_types_are_accepted(tokens: TokenFactory, verifier: TokenVerifier, typ: str) -> None:
    await verifier.verify(tokens.issue(header={"typ": typ}))


async def test_clock_skew_within_leeway_is_tolerated(tokens: TokenFactory, verifier: TokenVerifier) -> None:
    now = int(time.time())

    await verifier.verify(tokens.issue(exp=now - 10, iat=now - 300))
    await verifier.verify(tokens.issue(nbf=now + 10, iat=now + 10))


# --- signature and key -----------------------------------------------------------------------


async def test_tampered_claims_are_rejected(tokens: TokenFactory, verifier: TokenVerifier) -> None:
    header, _, signature = tokens.issue("user-1", scopes=["payment:read"]).split(".")
    forged_claims = b64url(valid_claims(tokens, sub="admin", scope="payment:read payment:refund"))

    description = await rejected(verifier, f"{header}.{forged_claims}.{signature}")

    assert description == "token signature is invalid"


async def test_token_signed_by_another_key_under_our_kid_is_rejected(
    tokens: TokenFactory, verifier: TokenVerifier
) -> None:
    impostor = TokenFactory(issuer=ISSUER, audience=AUDIENCE)
    token = impostor.issue(header={"kid": tokens.kid()})

    assert await rejected(verifier, token) == "token signature is invalid"


async def test_unknown_kid_is_rejected(tokens: TokenFactory, verifier: TokenVerifier) -> None:
    impostor = TokenFactory(issuer=ISSUER, audience=AUDIENCE)

    assert await rejected(verifier, impostor.issue()) == "token signed with an unknown key"


async def test_missing_kid_is_rejected(tokens: TokenFactory, verifier: TokenVerifier) -> None:
    token = compact({"alg": "ES256", "typ": "at+jwt"}, valid_claims(tokens))

    assert await rejected(verifier, token) == "token has no key id"


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_alg_none_is_rejected(tokens: TokenFactory, verifier: TokenVerifier, alg: str) -> None:
    header = {"alg": alg, "typ": "at+jwt", "kid": tokens.kid()}
    unsigned = compact(header, valid_claims(tokens)).rsplit(".", 1)[0] + "."

    assert await rejected(verifier, unsigned) == "token is not a signed JWT"
    assert await rejected(verifier, compact(header, valid_claims(tokens))) == "token algorithm not accepted"
    assert tokens.jwks_requests == 0


def hs256_token(secret: bytes, header: dict[str, Any], claims: dict[str, Any]) -> str:
    signing_input = f"{b64url(header)}.{b64url(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


async def test_hs256_with_the_public_key_as_secret_is_rejected(tokens: TokenFactory, verifier: TokenVerifier) -> None:
    public_key = tokens.signing_key()
    secrets = [
        public_key.as_pem(private=False),
        json.dumps(public_key.as_dict(private=False)).encode(),
        json.dumps(tokens.jwks()).encode(),
    ]
    for secret in secrets:
        for alg in ("HS256", "HS384", "HS512"):
            header = {"alg": alg, "typ": "at+jwt", "kid": tokens.kid()}

            token = hs256_token(secret, header, valid_claims(tokens))

            assert await rejected(verifier, token) == "token algorithm not accepted"
    assert tokens.jwks_requests == 0


def test_hmac_algorithms_cannot_be_allowed(tokens: TokenFactory) -> None:
    for algorithms in [("HS256",), ("ES256", "HS256"), ("none",), ()]:
        with pytest.raises(ValueError):
            TokenVerifier(tokens.jwks_cache(), issuer=ISSUER, audience=AUDIENCE, allowed_algorithms=algorithms)


async def test_algorithm_not_allowed_here_is_rejected_before_any_fetch(clock: FakeClock) -> None:
    tokens = TokenFactory(issuer=ISSUER, audience=AUDIENCE, with_rsa=True)
    verifier = TokenVerifier(
        tokens.jwks_cache(clock=clock), issuer=ISSUER, audience=AUDIENCE, allowed_algorithms=["ES256"]
    )

    assert await rejected(verifier, tokens.issue(algorithm="RS256")) == "token algorithm not accepted"
    assert tokens.jwks_requests == 0


async def test_algorithm_must_match_the_key_type(clock: FakeClock) -> None:
    tokens = TokenFactory(issuer=ISSUER, audience=AUDIENCE, with_rsa=True)
    verifier = TokenVerifier(tokens.jwks_cache(clock=clock), issuer=ISSUER, audience=AUDIENCE)
    rsa_signed_under_ec_kid = tokens.issue(algorithm="RS256", header={"kid": tokens.kid("ES256")})
    ec_signed_under_rsa_kid = tokens.issue(algorithm="ES256", header={"kid": tokens.kid("RS256")})

    assert await rejected(verifier, rsa_signed_under_ec_kid) == "token signature is invalid"
    assert await rejected(verifier, ec_signed_under_rsa_kid) == "token signature is invalid"


# --- header ----------------------------------------------------------------------------------


@pytest.mark.parametrize("typ", ["JWT", "jwt", "at+jwt+x", "application/jwt", ""])
async def test_wrong_token_type_is_rejected(tokens: TokenFactory, verifier: TokenVerifier, typ: str) -> None:
    token = tokens.issue(header={"typ": typ})

    assert await rejected(verifier, token) == "token type is not at+jwt"


@pytest.mark.parametrize("typ", [None, 1, ["at+jwt"]])
async def test_token_type_that_is_no_string_or_missing_is_rejected(
    tokens: TokenFactory, verifier: TokenVerifier, typ: Any
) -> None:
    header = {"alg": "ES256", "kid": tokens.kid()} | ({} if typ is None else {"typ": typ})

    assert await rejected(verifier, compact(header, valid_claims(tokens))) == "token type is not at+jwt"


@pytest.mark.parametrize("extra", [{"crit": ["exp"], "exp": 1}, {"b64": False, "crit": ["b64"]}, {"b64": True}])
async def test_critical_and_unencoded_headers_are_rejected(
    tokens: TokenFactory, verifier: TokenVerifier, extra: dict[str, Any]
) -> None:
    header = {"alg": "ES256", "typ": "at+jwt", "kid": tokens.kid()} | extra

    assert await rejected(verifier, compact(header, valid_claims(tokens))) == (
        "token uses unsupported header parameters"
    )


# --- claims ----------------------------------------------------------------------------------


async def test_expired_token_is_rejected(tokens: TokenFactory, verifier: TokenVerifier) -> None:
    assert await rejected(verifier, tokens.issue(lifetime=-60)) == "token has expired"


async def test_not_yet_valid_token_is_rejected(tokens: TokenFactory, verifier: TokenVerifier) -> None:
    token = tokens.issue(nbf=int(time.time()) + 120)

    assert await rejected(verifier, token) == "token is not valid yet"


async def test_token_issued_in_the_future_is_rejected(tokens: TokenFactory, verifier: TokenVerifier) -> None:
    now = int(time.time())
    token = tokens.issue(iat=now + 120, exp=now + 600)

    assert await rejected(verifier, token) == "token is issued in the future"


async def test_wrong_issuer_is_rejected(tokens: TokenFactory, verifier: TokenVerifier) -> None:
    for issuer in ["http://evil.test", ISSUER + "/", ISSUER.upper()]:
        assert await rejected(verifier, tokens.issue(iss=issuer)) == "token issuer not accepted"


@pytest.mark.parametrize("audience", ["mailbox", ["mailbox", "routing"], "payment-admin", [], ""])
async def test_wrong_audience_is_rejected(tokens: TokenFactory, verifier: TokenVerifier, audience: Any) -> None:
    token = tokens.issue(aud=audience)

    assert await rejected(verifier, token) in {
        "token audience does not include this service",
        "token lacks required claims: aud",
    }


@pytest.mark.parametrize("claim", ["iss", "sub", "aud", "exp", "iat", "client_id"])
async def test_missing_required_claim_is_rejected(tokens: TokenFactory, verifier: TokenVerifier, claim: str) -> None:
    description = await rejected(verifier, tokens.issue(omit=[claim]))

    assert description == f"token lacks required claims: {claim}"


@pytest.mark.parametrize(
    "changes",
    [
        {"exp": "tomorrow"},
        {"exp": True},
        {"iat": None},
        {"sub": 42},
        {"sub": ""},
        {"client_id": ["a"]},
        {"scope": ["payment:read"]},
        {"tenant": 7},
        {"acr": {"level": "hoch"}},
    ],
)
async def test_claims_of_the_wrong_type_are_rejected(
    tokens: TokenFactory, verifier: TokenVerifier, changes: dict[str, Any]
) -> None:
    await rejected(verifier, tokens.issue(**changes))


# --- structure -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "a..c",
        "not base64!.b.c",
        "ä.b.c",
        "x" * 20_000 + ".a.b",
    ],
)
async def test_malformed_tokens_are_rejected(verifier: TokenVerifier, token: str) -> None:
    assert await rejected(verifier, token) == "token is not a signed JWT"


async def test_headers_that_are_not_json_objects_are_rejected(tokens: TokenFactory, verifier: TokenVerifier) -> None:
    claims = b64url(valid_claims(tokens))
    headers = [b64url(b"not json"), b64url(["alg", "ES256"]), b64url("alg"), b64url(b"\xff\xfe"), b64url(b"[" * 5000)]
    for header in headers:
        assert await rejected(verifier, f"{header}.{claims}.c2ln") == "token is not a signed JWT"


async def test_signed_payload_that_is_not_a_json_object_is_rejected(
    tokens: TokenFactory, verifier: TokenVerifier
) -> None:
    key = tokens.signing_key()
    header = {"alg": "ES256", "typ": "at+jwt", "kid": tokens.kid()}
    for payload in [b"not json", b'["sub"]', b'"user-1"', b"[" * 5000]:
        token = jws.serialize_compact(header, payload, key)

        assert (await rejected(verifier, token)).startswith("token claims are not")
