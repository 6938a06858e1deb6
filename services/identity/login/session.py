"""Browser login sessions with the TR-03160-1 limits of their trust level.

A session is read from its cookie on each request; it is over when ended (logout, account deletion),
past the maximum lifetime of its level, or unused for longer than the level's idle timeout. Use is
written back at most every ``TOUCH_INTERVAL``, so the idle limit is exact to that interval and reading a
session is not a database write per request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from fastapi import Request
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from kit.db import utcnow
from services.identity import paths
from services.identity.login.levels import SESSION_LIMITS
from services.identity.login.models import LoginSessionRow
from services.identity.runtime import Identity
from services.identity.web.cookies import cookie_name, delete_cookie, set_cookie

SESSION_COOKIE = "bd_session"
TOUCH_INTERVAL = dt.timedelta(seconds=30)


@dataclass(frozen=True)
class LoginSession:
    """Who is logged in in this browser, at which level, since when."""

    sid: str
    account_id: uuid.UUID
    acr: str
    amr: tuple[str, ...]
    auth_time: dt.datetime
    organisation_id: uuid.UUID | None = None


def _hash(cookie: str) -> bytes:
    return hashlib.sha256(cookie.encode()).digest()


def _alive(row: LoginSessionRow, now: dt.datetime) -> bool:
    _maximum, idle = SESSION_LIMITS[row.acr]
    return row.ended_at is None and now < row.expires_at and now - row.last_used_at < idle


async def current_session(identity: Identity, request: Request) -> LoginSession | None:
    """The browser's live login session, counting this request as use; None if there is none."""
    cookie = request.cookies.get(cookie_name(identity, SESSION_COOKIE))
    if cookie is None or len(cookie) > 128:
        return None
    now = utcnow()
    async with identity.database.session() as session, session.begin():
        row = await session.get(LoginSessionRow, _hash(cookie))
        if row is None or not _alive(row, now):
            return None
        if now - row.last_used_at >= TOUCH_INTERVAL:
            row.last_used_at = now
        return LoginSession(row.sid, row.account_id, row.acr, tuple(row.amr), row.auth_time, row.organisation_id)


async def act_for(identity: Identity, request: Request, organisation_id: uuid.UUID | None) -> bool:
    """Let the browser's session act for an organisation (None: for the person themself); the caller has
    checked the membership. Whether there was a live session."""
    cookie = request.cookies.get(cookie_name(identity, SESSION_COOKIE))
    if cookie is None or len(cookie) > 128:
        return False
    async with identity.database.session() as session, session.begin():
        row = await session.get(LoginSessionRow, _hash(cookie), with_for_update=True)
        if row is None or not _alive(row, utcnow()):
            return False
        row.organisation_id = organisation_id
        return True


async def start_session(
    identity: Identity,
    session: AsyncSession,
    response: Response,
    *,
    account_id: uuid.UUID,
    acr: str,
    amr: Sequence[str],
    previous_cookie: str | None = None,
) -> LoginSession:
    """Log the browser in: a new session with a new cookie (never the old one: no session fixation); an
    earlier session of this browser ends."""
    now = utcnow()
    if previous_cookie is not None:
        await session.execute(
            update(LoginSessionRow)
            .where(LoginSessionRow.cookie_hash == _hash(previous_cookie), LoginSessionRow.ended_at.is_(None))
            .values(ended_at=now)
        )
    cookie = secrets.token_urlsafe(32)
    maximum, _idle = SESSION_LIMITS[acr]
    row = LoginSessionRow(
        cookie_hash=_hash(cookie),
        sid=secrets.token_urlsafe(18),
        account_id=account_id,
        acr=acr,
        amr=list(amr),
        auth_time=now,
        last_used_at=now,
        expires_at=now + maximum,
    )
    session.add(row)
    set_cookie(response, identity, SESSION_COOKIE, cookie)
    return LoginSession(row.sid, account_id, acr, tuple(amr), now)


async def end_session(
    identity: Identity, request: Request, response: Response, session: AsyncSession
) -> LoginSession | None:
    """Log the browser out in the caller's transaction: end its session and remove the cookie; the session
    it was, if any (so the caller can notify the clients in the same transaction)."""
    delete_cookie(response, identity, SESSION_COOKIE)
    cookie = request.cookies.get(cookie_name(identity, SESSION_COOKIE))
    if cookie is None or len(cookie) > 128:
        return None
    row = await session.get(LoginSessionRow, _hash(cookie), with_for_update=True)
    if row is None or row.ended_at is not None:
        return None
    row.ended_at = utcnow()
    return LoginSession(row.sid, row.account_id, row.acr, tuple(row.amr), row.auth_time)


async def end_sessions_of_account(session: AsyncSession, account_id: uuid.UUID) -> list[str]:
    """End every live session of an account (password change, deletion); their sids."""
    statement = (
        update(LoginSessionRow)
        .where(LoginSessionRow.account_id == account_id, LoginSessionRow.ended_at.is_(None))
        .values(ended_at=utcnow())
        .returning(LoginSessionRow.sid)
    )
    return list((await session.scalars(statement)).all())


async def session_is_active(session: AsyncSession, sid: str) -> bool:
    """Whether the session with this public id is still alive."""
    row = (await session.scalars(select(LoginSessionRow).where(LoginSessionRow.sid == sid))).one_or_none()
    return row is not None and _alive(row, utcnow())


def login_redirect(identity: Identity, *, continue_to: str, minimum_acr: str | None = None) -> Response:
    """Send the browser to the login page, which returns it to `continue_to` (a path on this issuer)."""
    query = {"weiter": continue_to} | ({"acr": minimum_acr} if minimum_acr else {})
    return RedirectResponse(identity.url(paths.LOGIN) + "?" + urlencode(query), status_code=303)


def safe_continuation(value: str | None) -> str | None:
    """`value` if it is a path on this issuer (no scheme, host, ``//`` or backslash), else None: the login page
    must never become an open redirect."""
    if not value or len(value) > 4096 or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or any(ord(char) < 0x20 for char in value):
        return None
    return value
