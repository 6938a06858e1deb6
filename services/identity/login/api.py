"""The login page: e-mail and password (Vertrauensniveau niedrig), then back to where the browser came from."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from services.identity import paths
from services.identity.accounts.models import Account
from services.identity.accounts.second_factor import has_second_factor, verify_second_factor
from services.identity.accounts.service import authenticate_password
from services.identity.audit import record_audit
from services.identity.login.devices import DEVICE_COOKIE, DEVICE_COOKIE_MAX_AGE, device_token, is_known_device
from services.identity.login.levels import LEVELS, lowest, satisfies
from services.identity.login.pending import PENDING_COOKIE, pending_account, pending_token
from services.identity.login.session import SESSION_COOKIE, safe_continuation, start_session
from services.identity.runtime import get_identity
from services.identity.web.cookies import cookie_name, delete_cookie, set_cookie
from services.identity.web.forms import page_form, unreadable_form
from services.identity.web.pages import render

router = APIRouter(include_in_schema=False)

#: What a password login proves (RFC 8176 ``amr``) and at which level.
PASSWORD_LEVEL = "niedrig"  # noqa: S105 - a trust level
PASSWORD_AMR = ("pwd",)
#: Password and TOTP: at most substanziell, and never more than the account's proven identity.
SECOND_FACTOR_LEVEL = "substanziell"
SECOND_FACTOR_AMR = ("pwd", "otp", "mfa")


@router.get(paths.LOGIN)
async def login_page(
    request: Request,
    weiter: Annotated[str | None, Query(max_length=4096)] = None,
    acr: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    """The login form."""
    return _form(request, weiter, acr)


@router.post(paths.LOGIN)
async def login(request: Request) -> Response:
    """Check the credentials; on success start a session and continue, else show the form again."""
    identity = get_identity(request)
    form = await page_form(request)
    if form is None:
        return unreadable_form(request)
    continuation, minimum = form.get("weiter"), form.get("acr")
    email, password = form.get("email") or "", form.get("password") or ""
    if not email or not password:
        return _form(
            request, continuation, minimum, email=email, error="Bitte geben Sie E-Mail-Adresse und Passwort ein."
        )
    ip_address = request.client.host if request.client else None
    # Without a place to continue to, the person lands on their account page.
    target = safe_continuation(continuation) or paths.ACCOUNT
    response: Response = RedirectResponse(identity.url(target), status_code=303)
    async with identity.database.session() as session, session.begin():
        device = request.cookies.get(cookie_name(identity, DEVICE_COOKIE))
        check = await authenticate_password(
            session,
            email=email,
            password=password,
            ip_address=ip_address,
            known_device=lambda account_id: is_known_device(identity, device, account_id),
        )
        if check.account is not None and await has_second_factor(session, check.account.id):
            # No session yet: the second factor comes first.
            second = identity.url(paths.LOGIN_SECOND_FACTOR) + "?" + urlencode({"weiter": target})
            response = RedirectResponse(second, status_code=303)
            set_cookie(response, identity, PENDING_COOKIE, pending_token(identity, check.account.id), max_age=300)
        elif check.account is not None:
            await start_session(
                identity,
                session,
                response,
                account_id=check.account.id,
                acr=PASSWORD_LEVEL,
                amr=PASSWORD_AMR,
                previous_cookie=request.cookies.get(cookie_name(identity, SESSION_COOKIE)),
            )
            await record_audit(session, check.account.id, "login", ip_address=ip_address, method="pwd")
        if check.account is not None:
            token = device_token(identity, check.account.id)
            set_cookie(response, identity, DEVICE_COOKIE, token, max_age=DEVICE_COOKIE_MAX_AGE)
    if check.retry_after is not None:
        seconds = max(1, round(check.retry_after))
        error = f"Zu viele Fehlversuche. Bitte warten Sie {seconds} Sekunden und versuchen Sie es dann erneut."
        return _form(request, continuation, minimum, email=email, error=error, status_code=429)
    if check.account is None:
        error = "E-Mail-Adresse oder Passwort sind nicht richtig."
        return _form(request, continuation, minimum, email=email, error=error, status_code=401)
    return response


@router.get(paths.LOGIN_SECOND_FACTOR)
async def second_factor_page(
    request: Request, weiter: Annotated[str | None, Query(max_length=4096)] = None
) -> Response:
    """The form for the code of the authenticator app."""
    return _second_factor_form(request, weiter)


@router.post(paths.LOGIN_SECOND_FACTOR)
async def second_factor(request: Request) -> Response:
    """Check the code; on success start the session (password and TOTP: two factors)."""
    identity = get_identity(request)
    form = await page_form(request)
    if form is None:
        return unreadable_form(request)
    continuation = form.get("weiter")
    account_id = pending_account(identity, request.cookies.get(cookie_name(identity, PENDING_COOKIE)))
    if account_id is None:
        return RedirectResponse(identity.url(paths.LOGIN), status_code=303)
    ip_address = request.client.host if request.client else None
    response = RedirectResponse(identity.url(safe_continuation(continuation) or paths.ACCOUNT), status_code=303)
    async with identity.database.session() as session, session.begin():
        outcome = await verify_second_factor(identity, session, account_id, form.get("code") or "", ip_address)
        account = await session.get(Account, account_id)
        if outcome is True and account is not None:
            # Two factors, but the level also depends on how well the person's identity is proven.
            level = lowest(SECOND_FACTOR_LEVEL, account.vertrauensniveau)
            await start_session(
                identity,
                session,
                response,
                account_id=account_id,
                acr=level,
                amr=SECOND_FACTOR_AMR,
                previous_cookie=request.cookies.get(cookie_name(identity, SESSION_COOKIE)),
            )
            await record_audit(session, account_id, "login", ip_address=ip_address, method="pwd+otp", acr=level)
    if outcome is True:
        delete_cookie(response, identity, PENDING_COOKIE)
        return response
    if outcome is False:
        return _second_factor_form(request, continuation, "Der Code ist nicht richtig.", status_code=401)
    seconds = max(1, round(float(outcome)))
    return _second_factor_form(request, continuation, f"Bitte warten Sie {seconds} Sekunden.", status_code=429)


def _second_factor_form(
    request: Request, continuation: str | None, error: str | None = None, *, status_code: int = 200
) -> Response:
    context = {"title": "Zweiter Faktor", "weiter": safe_continuation(continuation) or "", "error": error}
    return render(request, "login_second_factor.html", context, status_code=status_code)


def _form(
    request: Request,
    continuation: str | None,
    minimum: str | None,
    *,
    email: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    # A demand above what a password proves cannot be met on this form: say so instead of pretending.
    insufficient = minimum is not None and not satisfies(PASSWORD_LEVEL, minimum)
    context = {
        "title": "Anmelden",
        "weiter": safe_continuation(continuation) or "",
        "acr": minimum if minimum in LEVELS else "",
        "insufficient": insufficient,
        "email": email,
        "error": error,
        "register_url": get_identity(request).url(paths.REGISTER),
        "eid_url": get_identity(request).url(paths.LOGIN_EID)
        + "?"
        + urlencode({"weiter": safe_continuation(continuation) or paths.ACCOUNT}),
        "forgot_url": get_identity(request).url(paths.FORGOT_PASSWORD),
        "upstreams": [
            {
                "label": provider.label,
                "url": get_identity(request).url(paths.LOGIN_UPSTREAM.format(name=provider.name))
                + "?"
                + urlencode({"weiter": safe_continuation(continuation) or paths.ACCOUNT}),
            }
            for provider in get_identity(request).settings.upstream_providers
        ],
    }
    return render(request, "login_password.html", context, status_code=status_code)
