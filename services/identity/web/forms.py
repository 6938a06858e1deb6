"""Reading the forms the pages post: bounded, CSRF-checked, and for pages behind a login, with the session."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from services.identity.login.session import LoginSession, current_session, login_redirect
from services.identity.oauth.errors import OAuthError
from services.identity.oauth.forms import Form, read_form
from services.identity.runtime import get_identity
from services.identity.web.csrf import check_csrf
from services.identity.web.pages import message_page


async def page_form(request: Request) -> Form | None:
    """The posted form after its CSRF check (403 otherwise); None if the body is not a readable form."""
    try:
        form = await read_form(request)
    except OAuthError:
        return None
    check_csrf(get_identity(request), request, form.get("csrf_token"))
    return form


def unreadable_form(request: Request) -> Response:
    """The page for a body that is not a form this service sent."""
    return message_page(request, "Ungültige Anfrage", "Das Formular konnte nicht gelesen werden.", status_code=400)


async def signed_in_form(request: Request, *, continue_to: str) -> tuple[LoginSession, Form] | Response:
    """The login session and the posted form of a page behind a login; else the response to send instead (the
    login page, returning to `continue_to`, or the page for an unreadable form)."""
    form = await page_form(request)
    identity = get_identity(request)
    login = await current_session(identity, request)
    if login is None:
        return login_redirect(identity, continue_to=continue_to)
    if form is None:
        return unreadable_form(request)
    return login, form
