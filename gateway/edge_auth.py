"""Token checks at the edge: a route marked ``required`` is only forwarded with a valid access token.

The checks are kit.auth's, the same every service runs again behind the gateway: signature against
identity's JWKS, issuer, audience (per route, by default the upstream's name), expiry and not-before,
and the route's scopes. One :class:`~kit.auth.JwksCache` serves every route, so a flood of unknown
key ids costs at most one JWKS fetch per refresh interval however many audiences there are; there is
one :class:`~kit.auth.TokenVerifier` per audience.

A signature check costs far more than proxying a small request, so a token that passed is
remembered (by a digest of its exact text, and its audience) for a short while, never beyond its own expiry. Tokens
that failed are not remembered: a wrong one costs the sender a check every time, as it should.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from kit.auth import JwksCache, Principal, TokenError, TokenVerifier
from kit.auth.dependencies import bearer_token, insufficient_scope, unauthorized

__all__ = ["EdgeAuth"]


@dataclass(frozen=True, slots=True)
class _Verified:
    principal: Principal
    valid_until: float


class EdgeAuth:
    """Verifies bearer tokens for routes, with one JWKS cache and one verifier per audience."""

    def __init__(
        self,
        jwks: JwksCache,
        *,
        issuer: str,
        cache_size: int = 10_000,
        cache_seconds: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.jwks = jwks
        self.issuer = issuer
        self._verifiers: dict[str, TokenVerifier] = {}
        self._cache: dict[tuple[str, bytes], _Verified] = {}
        self._cache_size = cache_size
        self._cache_seconds = cache_seconds
        self._clock = clock

    async def authenticate(self, authorization: list[str], audience: str, scopes: tuple[str, ...]) -> Principal:
        """The principal of the request's bearer token, or a 401/403 :class:`ProblemError`."""
        token = _bearer_token(authorization)
        principal = await self._principal(token, audience)
        if scopes and not principal.has_scopes(*scopes):
            raise insufficient_scope(scopes)
        return principal

    async def aclose(self) -> None:
        """Close the JWKS cache's HTTP client."""
        await self.jwks.aclose()

    def verifier(self, audience: str) -> TokenVerifier:
        """The verifier for tokens meant for `audience` (created on first use)."""
        verifier = self._verifiers.get(audience)
        if verifier is None:
            verifier = TokenVerifier(self.jwks, issuer=self.issuer, audience=audience)
            self._verifiers[audience] = verifier
        return verifier

    async def _principal(self, token: str, audience: str) -> Principal:
        # By digest: a cache of full tokens (up to 16 KiB each) would be a memory bound of its own.
        key = (audience, hashlib.sha256(token.encode()).digest())
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None:
            if now < cached.valid_until:
                return cached.principal
            del self._cache[key]
        try:
            principal = await self.verifier(audience).verify(token)
        except TokenError as error:
            raise unauthorized("invalid_token", error.description) from error
        if self._cache_seconds > 0 and self._cache_size > 0:
            self._remember(key, principal, now)
        return principal

    def _remember(self, key: tuple[str, bytes], principal: Principal, now: float) -> None:
        expires = principal.claims.get("exp")
        valid_until = now + self._cache_seconds
        if isinstance(expires, int | float):
            valid_until = min(valid_until, float(expires))
        if len(self._cache) >= self._cache_size:
            # Oldest first: dicts keep insertion order, and a full cache is rare and short-lived.
            del self._cache[next(iter(self._cache))]
        self._cache[key] = _Verified(principal, valid_until)


def _bearer_token(values: list[str]) -> str:
    token = bearer_token(values)
    if token is None:
        raise unauthorized(None, "This operation requires an access token.")
    return token
