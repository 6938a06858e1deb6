"""The browser-facing OpenID Connect endpoints: authorization (Core §3.1.2) with the consent page, userinfo
(Core §5.3) and RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from joserfc import jws
from joserfc.errors import JoseError
from starlette.responses import JSONResponse, RedirectResponse, Response

from services.identity import paths
from services.identity.accounts.service import account_claims
from services.identity.audit import record_audit
from services.identity.login.levels import satisfies
from services.identity.login.session import LoginSession, current_session, end_session, login_redirect
from services.identity.oauth.access_tokens import read_access_token
from services.identity.oauth.errors import OAuthError
from services.identity.oauth.forms import read_form
from services.identity.oauth.revocation import is_revoked
from services.identity.oidc.authorization import (
    AuthorizationRequest,
    PageError,
    RedirectError,
    check_request,
    redirect_with,
)
from services.identity.oidc.backchannel import queue_logout_notices
from services.identity.oidc.consents import SCOPE_LABELS, grant_consent, has_consent
from services.identity.oidc.grants import issue_code
from services.identity.oidc.subjects import account_of_subject
from services.identity.runtime import Identity, get_identity
from services.identity.web.csrf import check_csrf
from services.identity.web.forms import page_form, unreadable_form
from services.identity.web.pages import message_page, render

router = APIRouter(tags=["openid-connect"])

#: Claims each scope releases (Core §5.4).
SCOPE_CLAIMS = {
    "profile": ("name", "given_name", "family_name", "birthdate", "place_of_birth"),
    "email": ("email", "email_verified"),
    "address": ("address",),
    "phone": ("phone_number", "phone_number_verified"),
}
_MAX_PARAMETERS = 40


@router.get(paths.AUTHORIZE, summary="Authorization endpoint (code flow with PKCE)", operation_id="authorize")
@router.post(paths.AUTHORIZE, summary="Authorization endpoint, form post", operation_id="authorize_post")
async def authorize(request: Request) -> Response:
    """Check the request, have the person log in (or step up) and consent, then return a code to the client."""
    identity = get_identity(request)
    try:
        parameters = await _parameters(request)
        auth = check_request(await _client(identity, parameters.get("client_id")), parameters)
    except PageError as error:
        return message_page(request, "Anmeldung nicht möglich", error.text, status_code=400)
    except RedirectError as error:
        return _error_redirect(identity, error)
    login = await current_session(identity, request)
    forced = "login" in auth.prompt or auth.max_age == 0
    too_old = (
        login is not None and auth.max_age is not None and time.time() - login.auth_time.timestamp() > auth.max_age
    )
    if login is None or forced or too_old or not satisfies(login.acr, auth.minimum_acr):
        if "none" in auth.prompt:
            code = "login_required" if login is None or forced or too_old else "interaction_required"
            return _error_redirect(identity, RedirectError(auth.redirect_uri, auth.state, code, "a login is needed"))
        # Back here after the login, without what forced it, or the login would be asked for again and again.
        again = {name: value for name, value in auth.parameters.items() if name != "prompt"}
        if forced:
            again.pop("max_age", None)
        return login_redirect(
            identity, continue_to=paths.AUTHORIZE + "?" + urlencode(again), minimum_acr=auth.minimum_acr
        )
    async with identity.database.session() as session:
        consented = await has_consent(session, login.account_id, auth.client.client_id, auth.attribute_scopes)
    if not consented or ("consent" in auth.prompt and auth.attribute_scopes):
        if "none" in auth.prompt:
            refusal = RedirectError(auth.redirect_uri, auth.state, "consent_required", "the person has to consent")
            return _error_redirect(identity, refusal)
        return _consent_page(request, identity, auth)
    return await _code_redirect(identity, auth, login)


@router.post(paths.CONSENT, include_in_schema=False)
async def consent(request: Request) -> Response:
    """The consent form's answer: allow (and continue with a code) or decline (access_denied)."""
    identity = get_identity(request)
    form = await page_form(request)
    if form is None:
        return unreadable_form(request)
    try:
        parameters = json.loads(form.get("request") or "{}")
        if not isinstance(parameters, dict) or not all(isinstance(v, str) for v in parameters.values()):
            raise ValueError("not a request")
        auth = check_request(await _client(identity, parameters.get("client_id")), parameters)
    except (ValueError, PageError):
        return message_page(request, "Anmeldung nicht möglich", "Die Anfrage ist ungültig.", status_code=400)
    except RedirectError as error:
        return _error_redirect(identity, error)
    login = await current_session(identity, request)
    if login is None:
        return login_redirect(identity, continue_to=paths.AUTHORIZE + "?" + urlencode(auth.parameters))
    if form.get("decision") != "allow":
        denied = RedirectError(auth.redirect_uri, auth.state, "access_denied", "the person declined")
        return _error_redirect(identity, denied)
    ip_address = request.client.host if request.client else None
    async with identity.database.session() as session, session.begin():
        await grant_consent(session, login.account_id, auth.client.client_id, auth.attribute_scopes, ip_address)
    return await _code_redirect(identity, auth, login)


@router.get(paths.USERINFO, summary="UserInfo endpoint (OIDC Core §5.3)", operation_id="userinfo")
@router.post(paths.USERINFO, summary="UserInfo endpoint, POST", operation_id="userinfo_post")
async def userinfo(request: Request) -> Response:
    """The claims the access token's scopes release about the person it was issued for."""
    identity = get_identity(request)
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return _bearer_error(None)
    await identity.ring.wait_loaded()
    claims = read_access_token(identity.ring, identity.issuer, token.strip())
    if claims is None:
        return _bearer_error("invalid_token")
    if "openid" not in str(claims.get("scope", "")).split():
        return _bearer_error("insufficient_scope")
    client = await identity.clients.find(str(claims.get("client_id")))
    async with identity.database.session() as session, session.begin():
        account_id = await account_of_subject(session, client, claims["sub"]) if client else None
        if account_id is None or await is_revoked(session, claims["jti"]):
            return _bearer_error("invalid_token")
        held = await account_claims(session, account_id)
        scopes = str(claims["scope"]).split()
        released = {name: held[name] for scope in scopes for name in SCOPE_CLAIMS.get(scope, ()) if name in held}
        if released:
            await record_audit(
                session, account_id, "attributes_released", client_id=claims["client_id"], claims=sorted(released)
            )
    return JSONResponse({"sub": claims["sub"], **released}, headers={"Cache-Control": "no-store"})


@router.get(paths.LOGOUT, summary="RP-initiated logout (OpenID Connect)", operation_id="logout")
@router.post(paths.LOGOUT, summary="RP-initiated logout, form post", operation_id="logout_post")
async def logout(request: Request) -> Response:
    """End the browser's login session; return to the portal if it named a registered post-logout URI."""
    identity = get_identity(request)
    try:
        parameters = await _parameters(request)
    except PageError as error:
        return message_page(request, "Abmelden", error.text, status_code=400)
    hint = _id_token_hint(identity, parameters.get("id_token_hint"))
    client_id = parameters.get("client_id") or (hint or {}).get("aud")
    client = await _client(identity, client_id if isinstance(client_id, str) else None)
    target = parameters.get("post_logout_redirect_uri")
    if target is not None and (client is None or target not in client.post_logout_redirect_uris):
        return message_page(request, "Abmelden", "Die Rücksprungadresse ist nicht registriert.", status_code=400)
    if parameters.get("id_token_hint") is not None and hint is None:
        return message_page(request, "Abmelden", "Der mitgegebene Anmeldenachweis ist ungültig.", status_code=400)
    if hint is None and not _confirmed(identity, request, parameters):
        # Without an ID token the request may come from any site: the person confirms (RP-Initiated Logout §2).
        kept = {name: value for name, value in parameters.items() if name not in ("csrf_token", "confirm")}
        return render(request, "oidc_logout.html", {"title": "Abmelden", "parameters": kept})
    response: Response
    if target is not None:
        response = RedirectResponse(redirect_with(target, {"state": parameters.get("state")}), status_code=303)
    else:
        response = message_page(request, "Abgemeldet", "Sie sind abgemeldet.")
    async with identity.database.session() as session, session.begin():
        ended = await end_session(identity, request, response, session)
        if ended is not None:
            await record_audit(session, ended.account_id, "logout", client_id=client.client_id if client else None)
            await queue_logout_notices(identity, session, ended.sid, ended.account_id)
    return response


def _confirmed(identity: Identity, request: Request, parameters: dict[str, str]) -> bool:
    """Whether this is the person's answer on the confirmation page (a POST with this browser's CSRF token)."""
    if request.method != "POST" or parameters.get("confirm") != "1":
        return False
    check_csrf(identity, request, parameters.get("csrf_token"))
    return True


async def _parameters(request: Request) -> dict[str, str]:
    """The request's parameters (query for GET, form for POST); a parameter given twice is refused (RFC 6749 §3.1)."""
    if request.method == "POST":
        try:
            return (await read_form(request)).single_values()
        except OAuthError as error:
            raise PageError("Die Anfrage ist ungültig: " + error.description) from error
    items = request.query_params.multi_items()
    parameters = dict(items)
    if len(parameters) != len(items) or len(items) > _MAX_PARAMETERS:
        raise PageError("Die Anfrage enthält einen Parameter mehrfach oder zu viele Parameter.")
    return parameters


async def _client(identity: Identity, client_id: str | None) -> Any:
    if not client_id or len(client_id) > 64:
        return None
    return await identity.clients.find(client_id)


async def _code_redirect(identity: Identity, auth: AuthorizationRequest, login: LoginSession) -> Response:
    async with identity.database.session() as session, session.begin():
        code = await issue_code(identity, session, auth, login)
    target = redirect_with(auth.redirect_uri, {"code": code, "state": auth.state, "iss": identity.issuer})
    return RedirectResponse(target, status_code=303)


def _error_redirect(identity: Identity, error: RedirectError) -> Response:
    parameters = {
        "error": error.error,
        "error_description": error.description,
        "state": error.state,
        "iss": identity.issuer,
    }
    return RedirectResponse(redirect_with(error.redirect_uri, parameters), status_code=303)


def _consent_page(request: Request, identity: Identity, auth: AuthorizationRequest) -> Response:
    context = {
        "title": "Zustimmung",
        "client_name": auth.client.name or auth.client.client_id,
        "items": [SCOPE_LABELS[scope] for scope in sorted(auth.attribute_scopes)],
        "request": json.dumps(dict(auth.parameters)),
        "action": identity.url(paths.CONSENT),
    }
    return render(request, "oidc_consent.html", context)


def _bearer_error(error: str | None) -> Response:
    # RFC 6750 §3: no error code when no token was sent at all.
    challenge = "Bearer" if error is None else f'Bearer error="{error}"'
    status = 403 if error == "insufficient_scope" else 401
    return Response(status_code=status, headers={"WWW-Authenticate": challenge, "Cache-Control": "no-store"})


def _id_token_hint(identity: Identity, token: str | None) -> Mapping[str, Any] | None:
    """The claims of an ID token this issuer signed (expired ones too: the hint only names who logs out)."""
    if token is None or len(token) > 16 * 1024:
        return None
    try:
        header = jws.extract_compact(token.encode()).protected
        key = identity.ring.verification_key(str(header.get("kid")))
        if key is None:
            return None
        claims = json.loads(jws.deserialize_compact(token, key).payload)
    except (JoseError, ValueError, RecursionError):
        return None
    if not isinstance(claims, dict) or claims.get("iss") != identity.issuer:
        return None
    return claims
