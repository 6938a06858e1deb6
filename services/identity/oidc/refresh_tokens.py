"""Refresh tokens: rotated on every use, with reuse detection per family and a grace window.

A token's value is ``<id>.<HMAC(secret, id)>``: nothing secret is stored, and the successor of a token
can be handed out again. Presenting a token already rotated:

- within the grace window (two browser tabs refreshing at once): the same successor again;
- later: someone replayed a stolen token — the whole family is revoked.

All of it runs under a row lock on the presented token (``SELECT ... FOR UPDATE``), so two concurrent
refreshes are serialised and the second sees the first's rotation.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kit.db import utcnow
from services.identity.oidc.models import RefreshToken
from services.identity.runtime import Identity


class RefreshTokenError(Exception):
    """The token is unknown, expired, revoked or was replayed (``invalid_grant``)."""


@dataclass(frozen=True)
class Grant:
    """What a refresh token stands for: the new access token repeats its acr and auth_time."""

    token: RefreshToken
    value: str


def token_value(identity: Identity, token_id: uuid.UUID) -> str:
    """The value handed to the client for the token with this id."""
    mac = hmac.new(identity.token_secret, b"refresh|" + token_id.bytes, hashlib.sha256).digest()[:24]
    return f"{token_id.hex}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def token_id_of(identity: Identity, value: str) -> uuid.UUID | None:
    """The id inside a well-formed, authentic token value; None for anything else."""
    if len(value) > 100 or "." not in value:
        return None
    head = value.split(".", 1)[0]
    try:
        token_id = uuid.UUID(hex=head)
    except ValueError:
        return None
    return token_id if hmac.compare_digest(token_value(identity, token_id), value) else None


def new_token(
    *,
    family: uuid.UUID,
    client_id: str,
    tenant: str,
    account_id: uuid.UUID,
    sid: str | None,
    scopes: Sequence[str],
    acr: str,
    amr: Sequence[str],
    auth_time: dt.datetime,
    expires_at: dt.datetime,
    organisation_id: uuid.UUID | None = None,
) -> RefreshToken:
    """A fresh refresh token row (the caller adds it to the session)."""
    return RefreshToken(
        id=uuid.uuid4(),
        family=family,
        client_id=client_id,
        tenant=tenant,
        account_id=account_id,
        sid=sid,
        scopes=list(scopes),
        acr=acr,
        amr=list(amr),
        auth_time=auth_time,
        created_at=utcnow(),
        expires_at=expires_at,
        organisation_id=organisation_id,
    )


async def rotate(
    identity: Identity, session: AsyncSession, value: str, client_id: str, lifetime: dt.timedelta
) -> Grant:
    """Use a refresh token: its successor (new, or the same one again within the grace window)."""
    token_id = token_id_of(identity, value)
    if token_id is None:
        raise RefreshTokenError("the refresh token is invalid")
    query = select(RefreshToken).where(RefreshToken.id == token_id).with_for_update()
    token = (await session.scalars(query)).one_or_none()
    now = utcnow()
    if token is None or token.client_id != client_id:
        raise RefreshTokenError("the refresh token is invalid")
    if token.revoked_at is not None or token.expires_at <= now:
        raise RefreshTokenError("the refresh token is no longer valid")
    if token.rotated_at is not None:
        grace = dt.timedelta(seconds=identity.settings.refresh_token_grace)
        successor = await session.get(RefreshToken, token.successor_id) if token.successor_id else None
        if now - token.rotated_at <= grace and successor is not None and successor.revoked_at is None:
            return Grant(successor, token_value(identity, successor.id))
        await revoke_family(session, token.family)
        raise RefreshTokenError("the refresh token was used already; its family is revoked")
    # Offline tokens live for the configured lifetime from each use; session-bound ones never outlive the
    # family's first expiry (the session ends sooner anyway).
    expires_at = now + lifetime if token.sid is None else token.expires_at
    successor = new_token(
        family=token.family,
        client_id=token.client_id,
        tenant=token.tenant,
        account_id=token.account_id,
        sid=token.sid,
        scopes=token.scopes,
        acr=token.acr,
        amr=token.amr,
        auth_time=token.auth_time,
        expires_at=expires_at,
        organisation_id=token.organisation_id,
    )
    session.add(successor)
    token.rotated_at = now
    token.successor_id = successor.id
    await session.flush()
    return Grant(successor, token_value(identity, successor.id))


async def revoke_family(session: AsyncSession, family: uuid.UUID) -> None:
    """Revoke every token of a family."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family == family, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def revoke_by_value(identity: Identity, session: AsyncSession, value: str, client_id: str) -> bool:
    """RFC 7009 for refresh tokens: revoke the token's family if it is this client's; whether it was one."""
    token_id = token_id_of(identity, value)
    if token_id is None:
        return False
    token = await session.get(RefreshToken, token_id)
    if token is None or token.client_id != client_id:
        return False
    await revoke_family(session, token.family)
    return True
