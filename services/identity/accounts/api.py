"""The account pages: registration, e-mail verification, password reset, and the account page with
consents, the audit trail, the data export and deletion."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from services.identity import paths
from services.identity.accounts.attributes import held_attributes
from services.identity.accounts.data_rights import delete_account, export_account
from services.identity.accounts.models import Account
from services.identity.accounts.passwords import password_problem, verify_password
from services.identity.accounts.registration import (
    confirm_email_change,
    email_problem,
    register,
    request_email_change,
    request_password_reset,
    reset_password,
    verify_email,
)
from services.identity.accounts.second_factor import begin_setup, confirm_setup, has_second_factor
from services.identity.audit import audit_trail
from services.identity.login.session import current_session, end_session, login_redirect
from services.identity.oidc.consents import SCOPE_LABELS, list_consents, revoke_consent
from services.identity.runtime import get_identity
from services.identity.web.forms import page_form, signed_in_form, unreadable_form
from services.identity.web.pages import message_page, render

router = APIRouter(include_in_schema=False)

#: German names of the attributes on the account page.
ATTRIBUTE_LABELS = {
    "given_name": "Vornamen",
    "family_name": "Familienname",
    "birthdate": "Geburtsdatum",
    "place_of_birth": "Geburtsort",
    "address": "Anschrift",
    "nationality": "Staatsangehörigkeit",
    "document_type": "Ausweisdokument",
}
_SOURCES = {"eid": "Online-Ausweis"}


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(str(part) for part in value.values())
    return str(value)


def _ip(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.get(paths.REGISTER)
async def registration_page(request: Request) -> Response:
    """The registration form."""
    return render(request, "accounts_register.html", {"title": "Nutzerkonto anlegen", "email": "", "errors": []})


@router.post(paths.REGISTER)
async def registration(request: Request) -> Response:
    """Create the account and send the verification link."""
    identity = get_identity(request)
    form = await page_form(request)
    if form is None:
        return unreadable_form(request)
    email, password, repeated = form.get("email") or "", form.get("password") or "", form.get("password2") or ""
    errors = [problem for problem in (email_problem(email.strip()), password_problem(password, email)) if problem]
    if password != repeated:
        errors.append("Die beiden Passwörter stimmen nicht überein.")
    if errors:
        context = {"title": "Nutzerkonto anlegen", "email": email, "errors": errors}
        return render(request, "accounts_register.html", context, status_code=422)
    async with identity.database.session() as session, session.begin():
        await register(identity, session, email.strip(), password, _ip(request))
    text = (
        "Wir haben Ihnen eine E-Mail geschickt. Bitte bestätigen Sie Ihre Adresse über den Link darin; "
        "danach können Sie sich anmelden."
    )
    return message_page(request, "Fast geschafft", text)


@router.get(paths.VERIFY_EMAIL)
async def verification(request: Request, token: Annotated[str, Query(max_length=128)] = "") -> Response:
    """Confirm the address with the link from the e-mail."""
    identity = get_identity(request)
    async with identity.database.session() as session, session.begin():
        valid = await verify_email(session, token)
    if not valid:
        text = "Der Link ist ungültig oder abgelaufen."
        return message_page(request, "Bestätigung nicht möglich", text, status_code=400)
    return message_page(request, "E-Mail-Adresse bestätigt", "Vielen Dank. Ihre E-Mail-Adresse ist bestätigt.")


@router.get(paths.FORGOT_PASSWORD)
async def forgot_password_page(request: Request) -> Response:
    """The form asking for the address a reset link goes to."""
    return render(request, "accounts_forgot.html", {"title": "Passwort vergessen"})


@router.post(paths.FORGOT_PASSWORD)
async def forgot_password(request: Request) -> Response:
    """Send a reset link if the address has an account; the answer is the same either way."""
    identity = get_identity(request)
    form = await page_form(request)
    if form is None:
        return unreadable_form(request)
    email = (form.get("email") or "").strip()
    if email_problem(email) is None:
        async with identity.database.session() as session, session.begin():
            await request_password_reset(identity, session, email)
    text = "Wenn zu dieser Adresse ein Nutzerkonto besteht, haben wir einen Link zum Zurücksetzen geschickt."
    return message_page(request, "E-Mail verschickt", text)


@router.get(paths.RESET_PASSWORD)
async def reset_page(request: Request, token: Annotated[str, Query(max_length=128)] = "") -> Response:
    """The form for the new password."""
    return render(request, "accounts_reset.html", {"title": "Neues Passwort", "token": token, "errors": []})


@router.post(paths.RESET_PASSWORD)
async def reset(request: Request) -> Response:
    """Set the new password; every login session of the account ends."""
    identity = get_identity(request)
    form = await page_form(request)
    if form is None:
        return unreadable_form(request)
    token, password = form.get("token") or "", form.get("password") or ""
    if problem := password_problem(password, None):
        context = {"title": "Neues Passwort", "token": token, "errors": [problem]}
        return render(request, "accounts_reset.html", context, status_code=422)
    async with identity.database.session() as session, session.begin():
        account_id = await reset_password(session, token, password)
    if account_id is None:
        text = "Der Link ist ungültig oder abgelaufen."
        return message_page(request, "Zurücksetzen nicht möglich", text, status_code=400)
    return message_page(request, "Passwort geändert", "Ihr neues Passwort gilt. Bitte melden Sie sich neu an.")


@router.get(paths.ACCOUNT)
async def account_page(request: Request) -> Response:
    """The account page: data, consents, the audit trail, export and deletion."""
    identity = get_identity(request)
    login = await current_session(identity, request)
    if login is None:
        return login_redirect(identity, continue_to=paths.ACCOUNT)
    async with identity.database.session() as session:
        account = await session.get(Account, login.account_id)
        if account is None:
            return login_redirect(identity, continue_to=paths.ACCOUNT)
        consents = await list_consents(session, account.id)
        attributes = await held_attributes(session, account.id)
        second_factor = await has_second_factor(session, account.id)
        trail = await audit_trail(session, account.id, limit=50)
    context: dict[str, Any] = {
        "title": "Mein Nutzerkonto",
        "account": account,
        "acr": login.acr,
        "consents": [
            {"client_id": c.client_id, "name": c.client_name, "items": [SCOPE_LABELS.get(s, s) for s in c.scopes]}
            for c in consents
        ],
        "trail": trail,
        "second_factor": second_factor,
        "attributes": [
            {
                "label": ATTRIBUTE_LABELS.get(a.name, a.name),
                "value": _shown(a.value),
                "level": a.level,
                "source": _SOURCES.get(a.source, a.source),
            }
            for a in attributes
        ],
    }
    return render(request, "accounts_page.html", context)


@router.get(paths.ACCOUNT_SECOND_FACTOR)
async def second_factor_setup_page(request: Request) -> Response:
    """Start setting up TOTP: a new secret to enter into an authenticator app (no QR service: it would see it)."""
    identity = get_identity(request)
    login = await current_session(identity, request)
    if login is None:
        return login_redirect(identity, continue_to=paths.ACCOUNT_SECOND_FACTOR)
    async with identity.database.session() as session, session.begin():
        account = await session.get(Account, login.account_id)
        if account is None:
            return login_redirect(identity, continue_to=paths.ACCOUNT_SECOND_FACTOR)
        if await has_second_factor(session, account.id):
            return message_page(request, "Zweiter Faktor", "Ein zweiter Faktor ist bereits eingerichtet.")
        secret, uri = await begin_setup(identity, session, account.id, account.email or str(account.id))
    context = {"title": "Zweiten Faktor einrichten", "secret": secret, "uri": uri, "error": None}
    return render(request, "accounts_second_factor.html", context)


@router.post(paths.ACCOUNT_SECOND_FACTOR)
async def second_factor_setup(request: Request) -> Response:
    """Confirm the setup with a first code from the app."""
    identity = get_identity(request)
    signed_in = await signed_in_form(request, continue_to=paths.ACCOUNT_SECOND_FACTOR)
    if isinstance(signed_in, Response):
        return signed_in
    login, form = signed_in
    async with identity.database.session() as session, session.begin():
        confirmed = await confirm_setup(identity, session, login.account_id, form.get("code") or "")
    if not confirmed:
        text = "Der Code passt nicht. Bitte rufen Sie die Einrichtung erneut auf."
        return message_page(request, "Zweiter Faktor", text, status_code=422)
    return message_page(request, "Zweiter Faktor", "Der zweite Faktor ist eingerichtet.")


@router.post(paths.ACCOUNT_EMAIL)
async def email_change(request: Request) -> Response:
    """Ask for a new e-mail address (password required); it applies once the link sent to it is followed."""
    identity = get_identity(request)
    signed_in = await signed_in_form(request, continue_to=paths.ACCOUNT)
    if isinstance(signed_in, Response):
        return signed_in
    login, form = signed_in
    new_email = (form.get("email") or "").strip()
    if problem := email_problem(new_email):
        return message_page(request, "E-Mail-Adresse ändern", problem, status_code=422)
    async with identity.database.session() as session, session.begin():
        account = await session.get(Account, login.account_id, with_for_update=True)
        if account is None or not await verify_password(account.password_hash, form.get("current_password") or ""):
            return message_page(request, "E-Mail-Adresse ändern", "Das Passwort ist nicht richtig.", status_code=403)
        await request_email_change(identity, session, account, new_email)
    text = "Wir haben einen Bestätigungslink an die neue Adresse geschickt. Bis dahin gilt die bisherige."
    return message_page(request, "E-Mail-Adresse ändern", text)


@router.get(paths.CONFIRM_EMAIL_CHANGE)
async def email_change_confirmation(request: Request, token: Annotated[str, Query(max_length=128)] = "") -> Response:
    """Follow the link sent to the new address."""
    identity = get_identity(request)
    async with identity.database.session() as session, session.begin():
        changed = await confirm_email_change(session, token)
    if not changed:
        text = "Der Link ist ungültig, abgelaufen, oder die Adresse gehört inzwischen zu einem anderen Konto."
        return message_page(request, "E-Mail-Adresse ändern", text, status_code=400)
    return message_page(request, "E-Mail-Adresse geändert", "Ihre neue E-Mail-Adresse gilt ab sofort.")


@router.post(paths.ACCOUNT_CONSENT_REVOKE)
async def consent_revocation(request: Request) -> Response:
    """Withdraw a portal's consent."""
    identity = get_identity(request)
    signed_in = await signed_in_form(request, continue_to=paths.ACCOUNT)
    if isinstance(signed_in, Response):
        return signed_in
    login, form = signed_in
    async with identity.database.session() as session, session.begin():
        await revoke_consent(session, login.account_id, form.get("client_id") or "")
    return RedirectResponse(identity.url(paths.ACCOUNT), status_code=303)


@router.get(paths.ACCOUNT_EXPORT)
async def export(request: Request) -> Response:
    """Everything held about the person, as JSON (GDPR Art. 15 and 20)."""
    identity = get_identity(request)
    login = await current_session(identity, request)
    if login is None:
        return login_redirect(identity, continue_to=paths.ACCOUNT_EXPORT)
    async with identity.database.session() as session:
        document = await export_account(session, login.account_id)
    headers = {"Content-Disposition": 'attachment; filename="nutzerkonto.json"', "Cache-Control": "no-store"}
    return Response(json.dumps(document, ensure_ascii=False, indent=2), media_type="application/json", headers=headers)


@router.post(paths.ACCOUNT_DELETE)
async def deletion(request: Request) -> Response:
    """Delete the account after the password is confirmed (or, without one, right after a fresh login)."""
    identity = get_identity(request)
    signed_in = await signed_in_form(request, continue_to=paths.ACCOUNT)
    if isinstance(signed_in, Response):
        return signed_in
    login, form = signed_in
    async with identity.database.session() as session, session.begin():
        account = await session.get(Account, login.account_id, with_for_update=True)
        if account is None or not await verify_password(account.password_hash, form.get("password") or ""):
            text = "Das Passwort ist nicht richtig; das Nutzerkonto wurde nicht gelöscht."
            return message_page(request, "Nicht gelöscht", text, status_code=403)
        response = message_page(request, "Nutzerkonto gelöscht", "Ihr Nutzerkonto und alle Angaben sind gelöscht.")
        await end_session(identity, request, response, session)
        await delete_account(session, account)
    return response
