"""Login through an upstream identity provider (brokering): the routes around brokering.upstream."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from services.identity import paths
from services.identity.accounts.attributes import account_for_external_identity
from services.identity.audit import record_audit
from services.identity.brokering.upstream import (
    FLOW_COOKIE,
    FLOW_SECONDS,
    BrokeringError,
    UpstreamProvider,
    authorization_url,
    discovery,
    redeem,
    seal,
    unseal,
)
from services.identity.login.session import SESSION_COOKIE, current_session, safe_continuation, start_session
from services.identity.runtime import Identity, get_identity
from services.identity.web.cookies import cookie_name, delete_cookie, set_cookie
from services.identity.web.pages import message_page

router = APIRouter(include_in_schema=False)
#: RFC 8176 has no value for "proven by another provider"; ``fed`` is what several providers use.
BROKERED_AMR = ("fed",)


def _provider(identity: Identity, name: str) -> UpstreamProvider | None:
    return next((p for p in identity.settings.upstream_providers if p.name == name), None)


def _return_url(identity: Identity, name: str) -> str:
    return identity.url(paths.LOGIN_UPSTREAM_RETURN.format(name=name))


@router.get(paths.LOGIN_UPSTREAM)
async def start_upstream_login(
    request: Request, name: str, weiter: Annotated[str | None, Query(max_length=4096)] = None
) -> Response:
    """Send the browser to the upstream provider."""
    identity = get_identity(request)
    provider = _provider(identity, name)
    if provider is None:
        return message_page(request, "Anmeldung", "Diesen Anmeldedienst gibt es hier nicht.", status_code=404)
    try:
        async with httpx.AsyncClient(timeout=10, follow_redirects=False) as http:
            metadata = await discovery(http, provider)
    except (httpx.HTTPError, ValueError, BrokeringError):
        return message_page(request, "Anmeldung", "Der Anmeldedienst ist nicht erreichbar.", status_code=502)
    target, flow = authorization_url(metadata, provider, _return_url(identity, name))
    flow |= {"provider": name, "weiter": safe_continuation(weiter) or paths.ACCOUNT}
    response = RedirectResponse(target, status_code=303)
    set_cookie(response, identity, FLOW_COOKIE, seal(identity.page_secret, flow), max_age=FLOW_SECONDS)
    return response


@router.get(paths.LOGIN_UPSTREAM_RETURN)
async def upstream_return(
    request: Request,
    name: str,
    code: Annotated[str | None, Query(max_length=512)] = None,
    state: Annotated[str | None, Query(max_length=256)] = None,
) -> Response:
    """Check the answer, find or link the account, log in at the mapped level, continue."""
    identity = get_identity(request)
    provider = _provider(identity, name)
    flow = unseal(identity.page_secret, request.cookies.get(cookie_name(identity, FLOW_COOKIE)))
    if provider is None or flow is None or flow.get("provider") != name or flow.get("state") != state or not code:
        text = "Die Anmeldung ist ungültig oder abgelaufen."
        return message_page(request, "Anmeldung nicht möglich", text, status_code=400)
    try:
        async with httpx.AsyncClient(timeout=10, follow_redirects=False) as http:
            metadata = await discovery(http, provider)
            subject, level, attributes = await redeem(http, metadata, provider, flow, code, _return_url(identity, name))
    except BrokeringError as error:
        return message_page(request, "Anmeldung nicht möglich", str(error), status_code=400)
    except (httpx.HTTPError, ValueError):
        text = "Der Anmeldedienst ist nicht erreichbar."
        return message_page(request, "Anmeldung nicht möglich", text, status_code=502)
    current = await current_session(identity, request)
    response = RedirectResponse(identity.url(str(flow["weiter"])), status_code=303)
    delete_cookie(response, identity, FLOW_COOKIE)
    async with identity.database.session() as session, session.begin():
        account = await account_for_external_identity(
            session,
            provider=f"idp:{name}",
            subject=subject,
            attributes=attributes,
            current_account_id=current.account_id if current is not None else None,
        )
        await start_session(
            identity,
            session,
            response,
            account_id=account.id,
            acr=level,
            amr=BROKERED_AMR,
            previous_cookie=request.cookies.get(cookie_name(identity, SESSION_COOKIE)),
        )
        ip_address = request.client.host if request.client else None
        await record_audit(session, account.id, "login", ip_address=ip_address, method=f"idp:{name}", acr=level)
    return response
