"""Links sent by e-mail: verifying an address and resetting a password."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kit.db import utcnow
from services.identity.accounts.models import EmailToken
from services.identity.runtime import Identity

Purpose = Literal["verify", "reset", "change"]


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def new_link_token(
    identity: Identity, session: AsyncSession, account_id: uuid.UUID, purpose: Purpose, email: str
) -> str:
    """A fresh token for a link; earlier unused tokens of the same purpose stop working."""
    now = utcnow()
    await session.execute(
        update(EmailToken)
        .where(EmailToken.account_id == account_id, EmailToken.purpose == purpose, EmailToken.used_at.is_(None))
        .values(used_at=now)
    )
    token = secrets.token_urlsafe(32)
    session.add(
        EmailToken(
            token_hash=_hash(token),
            account_id=account_id,
            purpose=purpose,
            email=email,
            expires_at=now + identity.settings.email_token_lifetime,
        )
    )
    return token


async def use_link_token(session: AsyncSession, token: str, purpose: Purpose) -> EmailToken | None:
    """The token's row, marked used, if it is valid for `purpose`; None otherwise."""
    if not token or len(token) > 128:
        return None
    query = select(EmailToken).where(EmailToken.token_hash == _hash(token)).with_for_update()
    row = (await session.scalars(query)).one_or_none()
    now = utcnow()
    if row is None or row.purpose != purpose or row.used_at is not None or row.expires_at <= now:
        return None
    row.used_at = now
    return row
