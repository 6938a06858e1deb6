"""The organisation pages: create an organisation, invite and manage members, join by invitation, and
choose whom the login session acts for."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import select
from starlette.responses import RedirectResponse, Response

from services.identity import paths
from services.identity.accounts.models import Account
from services.identity.accounts.organisations import (
    MANAGING,
    ROLES,
    Membership,
    OrganisationError,
    accept,
    change_role,
    create_organisation,
    invite,
    memberships,
)
from services.identity.accounts.registration import email_problem
from services.identity.login.session import act_for, current_session, login_redirect
from services.identity.runtime import get_identity
from services.identity.web.forms import signed_in_form
from services.identity.web.pages import message_page, render

router = APIRouter(include_in_schema=False)
ROLE_LABELS = {"owner": "Inhaber", "admin": "Verwalter", "member": "Mitglied"}


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value or "")
    except ValueError:
        return None


@router.get(paths.ORGANISATIONS)
async def organisations_page(request: Request) -> Response:
    """The person's organisations, their members where the person manages them, and the forms."""
    identity = get_identity(request)
    login = await current_session(identity, request)
    if login is None:
        return login_redirect(identity, continue_to=paths.ORGANISATIONS)
    async with identity.database.session() as session:
        mine = await memberships(session, login.account_id)
        members: dict[uuid.UUID, list[dict[str, str]]] = {}
        for membership in mine:
            if membership.role in MANAGING:
                rows = await session.execute(
                    select(Account.id, Account.email, Membership.role)
                    .join(Membership, Membership.account_id == Account.id)
                    .where(Membership.organisation_id == membership.organisation_id)
                )
                members[membership.organisation_id] = [
                    {"id": str(row.id), "email": row.email or "(ohne E-Mail)", "role": ROLE_LABELS[row.role]}
                    for row in rows
                ]
    context = {
        "title": "Organisationen",
        "memberships": [
            {
                "id": str(m.organisation_id),
                "name": m.organisation_name,
                "role": ROLE_LABELS.get(m.role, m.role),
                "manages": m.role in MANAGING,
                "acting": m.organisation_id == login.organisation_id,
                "members": members.get(m.organisation_id, []),
            }
            for m in mine
        ],
        "acting_for_self": login.organisation_id is None,
        "roles": [(role, ROLE_LABELS[role]) for role in ROLES],
    }
    return render(request, "accounts_organisations.html", context)


@router.post(paths.ORGANISATIONS)
async def organisation_creation(request: Request) -> Response:
    """Create an organisation with the person as owner."""
    return await _change(request, "create")


@router.post(paths.ORGANISATION_INVITE)
async def invitation(request: Request) -> Response:
    """Invite someone by e-mail."""
    return await _change(request, "invite")


@router.post(paths.ORGANISATION_MEMBER)
async def member_change(request: Request) -> Response:
    """Change a member's role, or remove them (``role`` empty)."""
    return await _change(request, "member")


@router.post(paths.ORGANISATION_ACT)
async def acting(request: Request) -> Response:
    """Act for an organisation the person is a member of (or, with none chosen, for themself)."""
    identity = get_identity(request)
    signed_in = await signed_in_form(request, continue_to=paths.ORGANISATIONS)
    if isinstance(signed_in, Response):
        return signed_in
    login, form = signed_in
    organisation_id = _uuid(form.get("organisation_id"))
    if organisation_id is not None:
        async with identity.database.session() as session:
            ids = {m.organisation_id for m in await memberships(session, login.account_id)}
        if organisation_id not in ids:
            return message_page(request, "Organisationen", "Unbekannte Organisation.", status_code=404)
    await act_for(identity, request, organisation_id)
    return RedirectResponse(identity.url(paths.ORGANISATIONS), status_code=303)


@router.get(paths.ORGANISATION_JOIN)
async def joining(request: Request, token: Annotated[str, Query(max_length=128)] = "") -> Response:
    """Accept an invitation (after logging in with the invited address)."""
    identity = get_identity(request)
    login = await current_session(identity, request)
    if login is None:
        return login_redirect(identity, continue_to=f"{paths.ORGANISATION_JOIN}?token={token}")
    try:
        async with identity.database.session() as session, session.begin():
            account = await session.get(Account, login.account_id)
            assert account is not None
            organisation = await accept(session, token, account)
    except OrganisationError as error:
        return message_page(request, "Einladung", str(error), status_code=400)
    return message_page(request, "Willkommen", f"Sie sind jetzt Mitglied von „{organisation.name}“.")


async def _change(request: Request, action: str) -> Response:
    identity = get_identity(request)
    signed_in = await signed_in_form(request, continue_to=paths.ORGANISATIONS)
    if isinstance(signed_in, Response):
        return signed_in
    login, form = signed_in
    organisation_id = _uuid(form.get("organisation_id"))
    try:
        async with identity.database.session() as session, session.begin():
            if action == "create":
                await create_organisation(session, login.account_id, form.get("name") or "", form.get("kind") or "")
            elif organisation_id is None:
                raise OrganisationError("Unbekannte Organisation.")
            elif action == "invite":
                email = (form.get("email") or "").strip()
                if problem := email_problem(email):
                    raise OrganisationError(problem)
                await invite(identity, session, organisation_id, login.account_id, email, form.get("role") or "")
            else:
                member = _uuid(form.get("account_id"))
                if member is None:
                    raise OrganisationError("Unbekannte Mitgliedschaft.")
                await change_role(session, organisation_id, login.account_id, member, form.get("role") or None)
    except OrganisationError as error:
        return message_page(request, "Organisationen", str(error), status_code=403)
    return RedirectResponse(identity.url(paths.ORGANISATIONS), status_code=303)
