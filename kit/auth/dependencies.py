"""FastAPI integration: bearer tokens in, :class:`Principal` out, RFC 6750 errors as problems.

A service installs one verifier at start-up and protects routes with dependencies::

    install_auth(app, create_verifier(settings))

    @router.post("/payments", responses=AUTH_RESPONSES)
    async def create_payment(principal: Principal = Depends(require_scopes("payment:write"))): ...

The token is read from the ``Authorization`` header of the request itself and verified here, even
behind the gateway: no header the gateway sets is trusted.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from fastapi import FastAPI, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kit.auth.jwks import JwksCache
from kit.auth.tokens import Principal, TokenError, TokenVerifier
from kit.config import ServiceSettings
from kit.http.problems import PROBLEM_MEDIA_TYPE, ProblemError

__all__ = [
    "AUTH_RESPONSES",
    "bearer_scheme",
    "create_verifier",
    "install_auth",
    "optional_principal",
    "require_scopes",
]

REALM = "basisdienste"
_STATE_ATTRIBUTE = "token_verifier"
#: RFC 6750 b64token: the only characters a bearer token may have.
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
#: RFC 6749 scope-token: printable ASCII without space, '"' and '\'.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]+")

#: Documents the bearer scheme in OpenAPI; the header is parsed and checked by this module.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    bearerFormat="JWT",
    description="OAuth 2.0 access token (RFC 9068 JWT) issued by the identity service.",
)

#: Error responses of a protected route, for the route's ``responses=`` in OpenAPI.
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid access token.", "content": {PROBLEM_MEDIA_TYPE: {}}},
    403: {"description": "The access token lacks a required scope.", "content": {PROBLEM_MEDIA_TYPE: {}}},
}


def create_verifier(settings: ServiceSettings, http_client: httpx.AsyncClient | None = None) -> TokenVerifier:
    """The verifier of a service: the issuer, JWKS and audience its settings name."""
    jwks = JwksCache(settings.resolved_jwks_url(), http_client)
    return TokenVerifier(jwks, issuer=settings.resolved_issuer(), audience=settings.resolved_audience())


def install_auth(app: FastAPI, verifier: TokenVerifier) -> None:
    """Make ``verifier`` the one that :func:`require_scopes` and :func:`optional_principal` use."""
    setattr(app.state, _STATE_ATTRIBUTE, verifier)


def require_scopes(*scopes: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency returning the caller's principal if its token is valid and grants ``scopes``."""
    for scope in scopes:
        if not _SCOPE_TOKEN.fullmatch(scope):
            raise ValueError(f"not a valid OAuth scope: {scope!r}")
    required = tuple(dict.fromkeys(scopes))

    async def principal_with_scopes(
        request: Request,
        _credentials: HTTPAuthorizationCredentials | None = Security(bearer_scheme),
    ) -> Principal:
        principal = await _authenticate(request)
        if principal is None:
            raise unauthorized(None, "This operation requires an access token.")
        if not principal.has_scopes(*required):
            raise insufficient_scope(required)
        return principal

    return principal_with_scopes


async def optional_principal(
    request: Request,
    _credentials: HTTPAuthorizationCredentials | None = Security(bearer_scheme),
) -> Principal | None:
    """The caller's principal, or None when the request has no ``Authorization`` header.

    A header that is present but does not carry a valid bearer token is an error, not anonymity.
    """
    return await _authenticate(request)


async def caller_scope(request: Request) -> str | None:
    """Whose request this is — tenant, client and subject — for keys that must not cross callers
    (such as ``Idempotency-Key``); None for an anonymous request."""
    principal = await _authenticate(request)
    if principal is None:
        return None
    return f"{principal.tenant or '-'}:{principal.client_id or '-'}:{principal.subject}"


async def _authenticate(request: Request) -> Principal | None:
    # Verified once per request, however many dependencies ask.
    if hasattr(request.state, "principal"):
        cached: Principal | None = request.state.principal
        return cached
    token = _bearer_token(request)
    principal = None
    if token is not None:
        try:
            principal = await _verifier(request).verify(token)
        except TokenError as error:
            raise unauthorized("invalid_token", error.description) from error
    request.state.principal = principal
    return principal


def _bearer_token(request: Request) -> str | None:
    return bearer_token(request.headers.getlist("authorization"))


def bearer_token(values: list[str]) -> str | None:
    """The bearer token of a request's ``Authorization`` header values; None when there is none.

    Raises the RFC 6750 problem for anything else: several headers, another scheme, a malformed token.
    """
    if not values:
        return None
    if len(values) > 1:
        raise unauthorized("invalid_token", "send exactly one Authorization header")
    scheme, _, credentials = values[0].strip().partition(" ")
    if scheme.lower() != "bearer":
        # RFC 6750 3.1: an unsupported authentication method gets no error code.
        raise unauthorized(None, "Only Bearer access tokens are accepted.")
    token = credentials.strip()
    if not _B64TOKEN.fullmatch(token):
        raise unauthorized("invalid_token", "the Authorization header must hold exactly one bearer token")
    return token


def _verifier(request: Request) -> TokenVerifier:
    verifier = getattr(request.app.state, _STATE_ATTRIBUTE, None)
    if not isinstance(verifier, TokenVerifier):
        raise RuntimeError("kit.auth.install_auth(app, verifier) was not called")
    return verifier


def unauthorized(error: str | None, description: str) -> ProblemError:
    """401 with the RFC 6750 challenge (no error code when no token was sent at all)."""
    challenge = f'Bearer realm="{REALM}"'
    if error is not None:
        challenge += f', error="{error}", error_description="{description}"'
    return ProblemError(
        401,
        "invalid-token",
        "Authentication required" if error is None else "Invalid access token",
        description,
        headers={"WWW-Authenticate": challenge},
    )


def insufficient_scope(scopes: tuple[str, ...]) -> ProblemError:
    """403 with the RFC 6750 ``insufficient_scope`` challenge naming the scopes required."""
    scope = " ".join(scopes)
    return ProblemError(
        403,
        "insufficient-scope",
        "Insufficient scope",
        f"This operation requires the scopes: {scope}.",
        headers={"WWW-Authenticate": f'Bearer realm="{REALM}", error="insufficient_scope", scope="{scope}"'},
    )
