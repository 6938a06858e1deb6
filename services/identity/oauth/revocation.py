"""The revocation list: tokens revoked before their expiry, until that expiry (RFC 7009)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.oauth.models import RevokedToken, UsedClientAssertion


async def revoke_access_token(session: AsyncSession, claims: dict[str, Any], now: dt.datetime) -> None:
    """Put a verified access token on the list until it expires; revoking it again changes nothing."""
    values = {
        "token_id": claims["jti"],
        "token_type": "access_token",
        "client_id": claims["client_id"],
        "tenant": claims.get("tenant"),
        "subject": claims["sub"],
        "revoked_at": now,
        "expires_at": dt.datetime.fromtimestamp(claims["exp"], dt.UTC),
    }
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(insert(RevokedToken).values(values).on_conflict_do_nothing())


async def is_revoked(session: AsyncSession, token_id: str) -> bool:
    """Whether the token with this id (an access token's jti) was revoked."""
    found = await session.scalar(select(RevokedToken.token_id).where(RevokedToken.token_id == token_id))
    return found is not None


async def purge_expired(session: AsyncSession, now: dt.datetime) -> int:
    """Forget revocations and client assertion ids whose tokens have expired anyway; how many rows went."""
    revoked = await session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
    used = await session.execute(delete(UsedClientAssertion).where(UsedClientAssertion.expires_at < now))
    return int(getattr(revoked, "rowcount", 0) or 0) + int(getattr(used, "rowcount", 0) or 0)
