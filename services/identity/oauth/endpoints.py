"""The token (RFC 6749 §3.2), introspection (RFC 7662) and revocation (RFC 7009) endpoints.

They answer errors in OAuth's own format (:mod:`services.identity.oauth.errors`) and never cache. The
token endpoint is on every service call's critical path, so it stays lean: the client comes from the
directory's cache, the signer from memory, and a cache hit needs no database at all.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from kit.db import utcnow
from kit.http.problems import ProblemError, problem_responses
from services.identity import paths
from services.identity.clients.directory import RegisteredClient
from services.identity.keys.ring import NoSigningKeyError
from services.identity.oauth.access_tokens import issue_access_token, read_access_token
from services.identity.oauth.client_authentication import authenticate_client
from services.identity.oauth.client_credentials import client_credentials_token
from services.identity.oauth.errors import NO_STORE, OAUTH_ERROR_RESPONSES, OAuthError
from services.identity.oauth.forms import Form, form_request_body, read_form
from services.identity.oauth.revocation import is_revoked, revoke_access_token
from services.identity.oauth.schemas import (
    TOKEN_FORM,
    TOKEN_OPERATION_FORM,
    IntrospectionResponse,
    TokenResponse,
)
from services.identity.oidc.grants import TokenSet, redeem_code, refresh
from services.identity.oidc.refresh_tokens import revoke_by_value as revoke_refresh_token
from services.identity.runtime import Identity, get_identity

router = APIRouter(tags=["oauth"])

_INACTIVE = b'{"active":false}'
#: Grants the token endpoint will serve; the others are unknown to it (unsupported_grant_type).
_GRANTS = frozenset({"client_credentials", "authorization_code", "refresh_token"})
_USER_GRANTS = {"authorization_code": redeem_code, "refresh_token": refresh}


@router.post(
    paths.TOKEN,
    summary="Token endpoint: authorization code (with PKCE), refresh token and client credentials grants",
    response_model=TokenResponse,
    responses={**OAUTH_ERROR_RESPONSES, **problem_responses(503)},
    openapi_extra=form_request_body(TOKEN_FORM),
)
async def token(request: Request) -> Response:
    """Authenticate the client and answer its grant (RFC 6749 §4.1.3, §6, §4.4) with RFC 9068 access tokens."""
    identity = get_identity(request)
    try:
        form = await read_form(request, repeatable=("resource", "audience"))
        grant_type = form.get("grant_type")
        if grant_type is None:
            raise OAuthError("invalid_request", "grant_type is required")
        if grant_type not in _GRANTS:
            raise OAuthError("unsupported_grant_type", "the grant type is not supported")
        caller = await authenticate_client(identity, request, form, endpoint=paths.TOKEN)
        if grant_type != "client_credentials":
            await identity.ring.wait_loaded()
            tokens = await _user_grant(identity, grant_type, caller.client, form)
            return Response(json.dumps(tokens.body()), headers=NO_STORE, media_type="application/json")
        token_request = client_credentials_token(caller.client, form, identity.settings.access_token_lifetime)
        await identity.ring.wait_loaded()
        access_token = issue_access_token(identity.ring, identity.issuer, token_request)
    except OAuthError as error:
        return error.response()
    except NoSigningKeyError as error:
        raise _no_signing_key() from error
    body: dict[str, Any] = {"access_token": access_token, "token_type": "Bearer", "expires_in": token_request.lifetime}
    if token_request.scopes:
        body["scope"] = " ".join(token_request.scopes)
    return Response(json.dumps(body), headers=NO_STORE, media_type="application/json")


@router.post(
    paths.INTROSPECT,
    summary="Token introspection (RFC 7662): is a token active, and what does it say",
    response_model=IntrospectionResponse,
    response_model_exclude_none=True,
    responses=OAUTH_ERROR_RESPONSES,
    openapi_extra=form_request_body(TOKEN_OPERATION_FORM),
)
async def introspect(request: Request) -> Response:
    """Active only for an unexpired, unrevoked token of this issuer whose tenant is the caller's."""
    identity = get_identity(request)
    try:
        form = await read_form(request)
        caller = await authenticate_client(identity, request, form, endpoint=paths.INTROSPECT)
        if not caller.is_authenticated:
            raise OAuthError("invalid_client", "introspection requires client authentication")
        token_value = _required_token(form.get("token"))
    except OAuthError as error:
        return error.response()
    await identity.ring.wait_loaded()
    claims = read_access_token(identity.ring, identity.issuer, token_value)
    # Another tenant's token is indistinguishable from no token at all.
    if claims is None or claims.get("tenant") != caller.client.tenant:
        return Response(_INACTIVE, headers=NO_STORE, media_type="application/json")
    async with identity.database.session() as session:
        if await is_revoked(session, claims["jti"]):
            return Response(_INACTIVE, headers=NO_STORE, media_type="application/json")
    answer = {"active": True, "token_type": "Bearer", **_introspected(claims)}
    return Response(json.dumps(answer), headers=NO_STORE, media_type="application/json")


@router.post(
    paths.REVOKE,
    summary="Token revocation (RFC 7009): the token stops being active",
    status_code=200,
    response_class=Response,
    responses={
        200: {"description": "Revoked, or not a token there was anything to revoke of."},
        **OAUTH_ERROR_RESPONSES,
    },
    openapi_extra=form_request_body(TOKEN_OPERATION_FORM),
)
async def revoke(request: Request) -> Response:
    """Revoke one of the caller's own tokens; unknown, invalid and expired tokens are answered 200 too."""
    identity = get_identity(request)
    try:
        form = await read_form(request)
        caller = await authenticate_client(identity, request, form, endpoint=paths.REVOKE)
        token_value = _required_token(form.get("token"))
        await identity.ring.wait_loaded()
        claims = read_access_token(identity.ring, identity.issuer, token_value)
        if claims is not None and claims.get("client_id") != caller.client.client_id:
            raise OAuthError("unauthorized_client", "the token was not issued to this client")
    except OAuthError as error:
        return error.response()
    async with identity.database.session() as session, session.begin():
        if claims is not None:
            await revoke_access_token(session, claims, utcnow())
        else:
            # Not an access token of ours: perhaps a refresh token (RFC 7009 §2.1; the hint is optional).
            await revoke_refresh_token(identity, session, token_value, caller.client.client_id)
    return Response(status_code=200, headers=NO_STORE)


async def _user_grant(identity: Identity, grant_type: str, client: RegisteredClient, form: Form) -> TokenSet:
    async with identity.database.session() as session:
        try:
            tokens = await _USER_GRANTS[grant_type](identity, session, client, form)
        except OAuthError:
            # A refused grant may have revoked something on purpose (a replayed code or refresh token).
            await session.commit()
            raise
        await session.commit()
        return tokens


def _required_token(value: str | None) -> str:
    if value is None:
        raise OAuthError("invalid_request", "token is required")
    return value


def _introspected(claims: dict[str, Any]) -> dict[str, Any]:
    names = ("scope", "client_id", "exp", "iat", "nbf", "sub", "aud", "iss", "jti", "tenant", "acr")
    return {name: claims[name] for name in names if name in claims}


def _no_signing_key() -> ProblemError:
    return ProblemError(
        503,
        "no-signing-key",
        "No signing key",
        "The service cannot sign tokens right now; try again shortly.",
        headers={"Retry-After": "1"},
    )
