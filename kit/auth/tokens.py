"""Verification of RFC 9068 JWT access tokens issued by `identity`.

Every service checks every token itself, behind the gateway too. The order of the checks matters:
structure, algorithm and ``typ`` are checked before any key is looked up, so a token that can never
be valid (``alg: none``, HS256, a made-up header) costs no JWKS fetch.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from joserfc import jws
from joserfc.errors import ClaimError, ExpiredTokenError, JoseError, MissingClaimError
from joserfc.jwt import JWTClaimsRegistry

from kit.auth.jwks import JwksCache, VerificationKey

__all__ = ["SUPPORTED_ALGORITHMS", "Principal", "TokenError", "TokenVerifier"]

#: Asymmetric algorithms whose keys :class:`JwksCache` accepts. HMAC is absent on purpose.
SUPPORTED_ALGORITHMS = frozenset({"ES256", "RS256"})
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
#: Access tokens are around a kilobyte; anything far larger is not one of ours.
MAX_TOKEN_LENGTH = 16 * 1024

_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_OPTIONAL_STRING_CLAIMS = ("scope", "tenant", "acr")


class TokenError(Exception):
    """The token is not acceptable. ``description`` is safe to show the client (RFC 6750)."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


@dataclass(frozen=True)
class Principal:
    """Who is calling, as established by a verified access token."""

    subject: str
    client_id: str
    tenant: str | None
    scopes: frozenset[str]
    acr: str | None
    claims: Mapping[str, Any] = field(repr=False, hash=False)

    def has_scopes(self, *scopes: str) -> bool:
        """Whether the token grants every one of these scopes."""
        return self.scopes.issuperset(scopes)


class TokenVerifier:
    """Checks RFC 9068 access tokens against the issuer's JWKS, issuer, audience and clock."""

    def __init__(
        self,
        jwks: JwksCache,
        *,
        issuer: str,
        audience: str,
        allowed_algorithms: Collection[str] = ("ES256", "RS256"),
        leeway: int = 30,
    ) -> None:
        algorithms = frozenset(allowed_algorithms)
        if not algorithms or not algorithms <= SUPPORTED_ALGORITHMS:
            raise ValueError(f"allowed_algorithms must be a non-empty subset of {sorted(SUPPORTED_ALGORITHMS)}")
        if not issuer or not audience:
            raise ValueError("issuer and audience must not be empty")
        if leeway < 0:
            raise ValueError("leeway must not be negative")
        self.jwks = jwks
        self.issuer = issuer
        self.audience = audience
        self.allowed_algorithms = algorithms
        self.leeway = leeway
        self._registry = jws.JWSRegistry(algorithms=sorted(algorithms), strict_check_header=False)
        self._claims_registry = JWTClaimsRegistry(
            leeway=leeway,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            client_id={"essential": True},
        )

    async def verify(self, token: str) -> Principal:
        """The principal of a valid token; :class:`TokenError` for any token we must not accept."""
        header = self._checked_header(token)
        key = await self.jwks.get_key(header["kid"])
        if key is None:
            raise TokenError("token signed with an unknown key")
        claims = self._verified_claims(token, key)
        self._check_claims(claims)
        return _principal(claims)

    async def aclose(self) -> None:
        """Release the JWKS cache's HTTP client."""
        await self.jwks.aclose()

    def _checked_header(self, token: str) -> dict[str, Any]:
        if len(token) > MAX_TOKEN_LENGTH or not _COMPACT_JWS.fullmatch(token):
            raise TokenError("token is not a signed JWT")
        header = _decode_segment(token.split(".", 1)[0])
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.allowed_algorithms:
            raise TokenError("token algorithm not accepted")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
            raise TokenError("token type is not at+jwt")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenError("token has no key id")
        # We implement no critical extensions, and RFC 7797 unencoded payloads are not JWTs.
        if "crit" in header or "b64" in header:
            raise TokenError("token uses unsupported header parameters")
        return header

    def _verified_claims(self, token: str, key: VerificationKey) -> dict[str, Any]:
        try:
            signed = jws.deserialize_compact(token, key, registry=self._registry)
        except JoseError as error:
            # Covers a key of the wrong type or curve for the token's alg as well as a bad signature.
            raise TokenError("token signature is invalid") from error
        except ValueError as error:
            raise TokenError("token is not a signed JWT") from error
        try:
            claims = json.loads(signed.payload)
        except (ValueError, RecursionError) as error:
            raise TokenError("token claims are not JSON") from error
        if not isinstance(claims, dict):
            raise TokenError("token claims are not a JSON object")
        return claims

    def _check_claims(self, claims: dict[str, Any]) -> None:
        try:
            self._claims_registry.validate(claims)
        except ExpiredTokenError as error:
            raise TokenError("token has expired") from error
        except MissingClaimError as error:
            raise TokenError(f"token lacks required claims: {error.claim}") from error
        except ClaimError as error:
            raise TokenError(_invalid_claim_description(error.claim)) from error
        for name in ("client_id", *_OPTIONAL_STRING_CLAIMS):
            if name in claims and not isinstance(claims[name], str):
                raise TokenError(f"token claim '{name}' must be a string")


def _decode_segment(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError, RecursionError) as error:
        raise TokenError("token is not a signed JWT") from error
    if not isinstance(value, dict):
        raise TokenError("token is not a signed JWT")
    return value


def _invalid_claim_description(claim: str) -> str:
    match claim:
        case "iss":
            return "token issuer not accepted"
        case "aud":
            return "token audience does not include this service"
        case "nbf":
            return "token is not valid yet"
        case "iat":
            return "token is issued in the future"
        case _:
            return f"token claim '{claim}' is invalid"


def _principal(claims: dict[str, Any]) -> Principal:
    return Principal(
        subject=claims["sub"],
        client_id=claims["client_id"],
        tenant=claims.get("tenant"),
        scopes=frozenset(claims.get("scope", "").split()),
        acr=claims.get("acr"),
        claims=MappingProxyType(claims),
    )
