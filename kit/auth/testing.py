"""A stand-in token issuer for test suites: keys, a served JWKS, and RFC 9068 access tokens.

Not for production code. Typical use in a service's tests::

    tokens = TokenFactory(audience="payment")
    install_auth(app, tokens.verifier())
    headers = tokens.auth_header(scopes=["payment:write"], tenant="st")

The JWKS is served in-process by :meth:`jwks_app` through ``httpx.ASGITransport``; the factory counts
the requests (:attr:`jwks_requests`) and can play an unavailable issuer (:attr:`jwks_available`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from kit.auth.jwks import JwksCache
from kit.auth.tokens import TokenVerifier

__all__ = ["TokenFactory"]

Algorithm = Literal["ES256", "RS256"]
JWKS_URL = "http://issuer.test/jwks"


class TokenFactory:
    """Signs access tokens the way `identity` does and publishes the matching JWKS."""

    def __init__(
        self,
        *,
        issuer: str = "http://identity.test",
        audience: str = "service",
        with_rsa: bool = False,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.jwks_requests = 0
        self.jwks_available = True
        self._signing_keys: dict[Algorithm, ECKey | RSAKey] = {"ES256": _new_key("ES256")}
        if with_rsa:
            self._signing_keys["RS256"] = _new_key("RS256")
        self._published = list(self._signing_keys.values())

    def kid(self, algorithm: Algorithm = "ES256") -> str:
        """The key id tokens of this algorithm are currently signed with."""
        kid = self._signing_keys[algorithm].kid
        assert kid is not None
        return kid

    def signing_key(self, algorithm: Algorithm = "ES256") -> ECKey | RSAKey:
        """The current (private) signing key of this algorithm."""
        return self._signing_keys[algorithm]

    def rotate(self, algorithm: Algorithm = "ES256", *, keep_old: bool = True) -> str:
        """Sign with a new key from now on and publish it; returns the new kid."""
        old = self._signing_keys[algorithm]
        new = _new_key(algorithm)
        self._signing_keys[algorithm] = new
        self._published = [key for key in self._published if keep_old or key is not old] + [new]
        return self.kid(algorithm)

    def jwks(self) -> dict[str, Any]:
        """The published JWKS document (public keys only)."""
        return {"keys": [key.as_dict(private=False) for key in self._published]}

    async def jwks_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI app serving :meth:`jwks` at any path, or 503 while ``jwks_available`` is False."""
        self.jwks_requests += 1
        response: Response = (
            JSONResponse(self.jwks()) if self.jwks_available else Response("issuer down", status_code=503)
        )
        await response(scope, receive, send)

    def http_client(self) -> httpx.AsyncClient:
        """An HTTP client whose requests are answered by :meth:`jwks_app`."""
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.jwks_app))

    def jwks_cache(self, **options: Any) -> JwksCache:
        """A :class:`JwksCache` reading this factory's JWKS; ``options`` go to its constructor."""
        return JwksCache(JWKS_URL, self.http_client(), **options)

    def verifier(self, *, audience: str | None = None, **options: Any) -> TokenVerifier:
        """A :class:`TokenVerifier` trusting this factory; ``options`` go to its constructor."""
        return TokenVerifier(self.jwks_cache(), issuer=self.issuer, audience=audience or self.audience, **options)

    def issue(
        self,
        subject: str = "user-1",
        *,
        scopes: Iterable[str] = (),
        tenant: str | None = None,
        client_id: str = "test-client",
        audience: str | list[str] | None = None,
        lifetime: int = 300,
        acr: str | None = None,
        algorithm: Algorithm = "ES256",
        header: Mapping[str, Any] | None = None,
        omit: Iterable[str] = (),
        **overrides: Any,
    ) -> str:
        """A signed RFC 9068 access token.

        ``overrides`` set or replace claims (``iss=``, ``exp=``, ``nbf=``, …), ``omit`` removes
        claims, ``header`` sets or replaces header parameters (``typ``, ``kid``, ``alg``).
        """
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            "aud": audience or self.audience,
            "exp": now + lifetime,
            "iat": now,
            "jti": str(uuid.uuid4()),
            "client_id": client_id,
        }
        optional = {"scope": " ".join(scopes), "acr": acr, "tenant": tenant}
        claims.update({name: value for name, value in optional.items() if value})
        claims.update(overrides)
        for name in omit:
            claims.pop(name, None)
        return self.sign(claims, algorithm=algorithm, header=header)

    def auth_header(self, **issue_options: Any) -> dict[str, str]:
        """``{"Authorization": "Bearer <token>"}`` for a token from :meth:`issue`."""
        return {"Authorization": f"Bearer {self.issue(**issue_options)}"}

    def sign(
        self,
        claims: Mapping[str, Any],
        *,
        algorithm: Algorithm = "ES256",
        header: Mapping[str, Any] | None = None,
    ) -> str:
        """Sign arbitrary claims with the current key of ``algorithm``."""
        key = self._signing_keys[algorithm]
        protected = {"alg": algorithm, "typ": "at+jwt", "kid": key.kid, **(header or {})}
        return jwt.encode(protected, dict(claims), key, algorithms=[protected["alg"]])


def _new_key(algorithm: Algorithm) -> ECKey | RSAKey:
    parameters = {"use": "sig", "alg": algorithm, "kid": f"{algorithm.lower()}-{uuid.uuid4().hex[:12]}"}
    if algorithm == "ES256":
        return ECKey.generate_key("P-256", parameters=parameters)  # type: ignore[arg-type]
    return RSAKey.generate_key(2048, parameters=parameters)  # type: ignore[arg-type]
