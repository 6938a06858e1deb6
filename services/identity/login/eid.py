"""Login with the online ID card (level hoch), also as step-up of a session at a lower level.

The browser goes from here to the eID client (the AusweisApp, or the simulator's stand-in) with the URL
of a TC Token; the eID client talks to the eID server and sends the browser back to the refresh address;
then this service fetches the result from the eID server (TR-03130 getResult) — the browser never carries
the personal data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from kit.db import utcnow
from services.identity import paths
from services.identity.accounts.attributes import account_for_external_identity
from services.identity.audit import record_audit
from services.identity.eid import messages
from services.identity.eid.connector import FAILURE_TEXTS, EidError
from services.identity.login.eid_models import EidTransaction
from services.identity.login.session import SESSION_COOKIE, current_session, safe_continuation, start_session
from services.identity.runtime import get_identity
from services.identity.web.cookies import cookie_name, delete_cookie, set_cookie
from services.identity.web.pages import message_page

router = APIRouter(include_in_schema=False)

EID_COOKIE = "bd_eid"
EID_LEVEL = "hoch"
#: RFC 8176: a hardware-secured key (the card's chip), unlocked with a PIN — two factors.
EID_AMR = ("hwk", "pin", "mfa")
TRANSACTION_LIFETIME = dt.timedelta(minutes=10)


def _hash(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


@router.get(paths.LOGIN_EID)
async def start_eid_login(request: Request, weiter: Annotated[str | None, Query(max_length=4096)] = None) -> Response:
    """Open an eID session and send the browser to the eID client."""
    identity = get_identity(request)
    try:
        session = await identity.eid.open_session()
    except EidError as error:
        return message_page(request, "Online-Ausweis", FAILURE_TEXTS[error.kind], status_code=502)
    transaction_id, browser_secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    now = utcnow()
    async with identity.database.session() as db, db.begin():
        db.add(
            EidTransaction(
                id=transaction_id,
                browser_hash=_hash(browser_secret),
                eid_session=session.session_id,
                server_address=session.server_address,
                psk=session.psk,
                continuation=safe_continuation(weiter) or paths.ACCOUNT,
                created_at=now,
                expires_at=now + TRANSACTION_LIFETIME,
            )
        )
    token_url = identity.url(paths.LOGIN_EID_TC_TOKEN) + "?" + urlencode({"tx": transaction_id})
    target = identity.settings.eid_client_url + "?" + urlencode({"tcTokenURL": token_url})
    response = RedirectResponse(target, status_code=303)
    set_cookie(response, identity, EID_COOKIE, browser_secret, max_age=int(TRANSACTION_LIFETIME.total_seconds()))
    return response


@router.get(paths.LOGIN_EID_TC_TOKEN)
async def tc_token(request: Request, tx: Annotated[str, Query(max_length=64)]) -> Response:
    """The TC Token the eID client fetches (TR-03124-1)."""
    identity = get_identity(request)
    async with identity.database.session() as db:
        transaction = await db.get(EidTransaction, tx)
    if transaction is None or transaction.used_at is not None or transaction.expires_at <= utcnow():
        return Response(status_code=404)
    refresh = identity.url(paths.LOGIN_EID_RETURN) + "?" + urlencode({"tx": tx})
    body = messages.tc_token(transaction.server_address, transaction.eid_session, refresh, transaction.psk)
    return Response(body, media_type="text/xml; charset=utf-8", headers={"Cache-Control": "no-store"})


@router.get(paths.LOGIN_EID_RETURN)
async def eid_return(request: Request, tx: Annotated[str, Query(max_length=64)]) -> Response:
    """The refresh address: fetch the result from the eID server, log in (or step up), continue."""
    identity = get_identity(request)
    browser_secret = request.cookies.get(cookie_name(identity, EID_COOKIE))
    current = await current_session(identity, request)
    async with identity.database.session() as db, db.begin():
        transaction = await db.get(EidTransaction, tx, with_for_update=True)
        valid = (
            transaction is not None
            and transaction.used_at is None
            and transaction.expires_at > utcnow()
            and browser_secret is not None
            and transaction.browser_hash == _hash(browser_secret)
        )
        if not valid or transaction is None:
            return message_page(request, "Online-Ausweis", "Der Vorgang ist ungültig oder abgelaufen.", status_code=400)
        transaction.used_at = utcnow()
        continuation = transaction.continuation
        eid_session = transaction.eid_session
    try:
        proven = await identity.eid.identity(eid_session)
    except EidError as error:
        page = message_page(request, "Anmeldung nicht möglich", FAILURE_TEXTS[error.kind], status_code=400)
        delete_cookie(page, identity, EID_COOKIE)
        return page
    response = RedirectResponse(identity.url(continuation), status_code=303)
    delete_cookie(response, identity, EID_COOKIE)
    ip_address = request.client.host if request.client else None
    async with identity.database.session() as db, db.begin():
        account = await account_for_external_identity(
            db,
            provider="eid",
            subject=proven.pseudonym,
            attributes=proven.attributes,
            current_account_id=current.account_id if current is not None else None,
        )
        await start_session(
            identity,
            db,
            response,
            account_id=account.id,
            acr=EID_LEVEL,
            amr=EID_AMR,
            previous_cookie=request.cookies.get(cookie_name(identity, SESSION_COOKIE)),
        )
        kind = "step_up" if current is not None else "login"
        await record_audit(db, account.id, kind, ip_address=ip_address, method="eid", acr=EID_LEVEL)
    return response
