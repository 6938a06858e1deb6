"""The person's data rights: export of everything held about them (GDPR Art. 15, 20) and deletion (Art. 17)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events.identity import AccountDeleted
from kit.db import utcnow
from kit.events.outbox import publish
from services.identity.accounts.models import Account
from services.identity.audit import audit_trail
from services.identity.login.models import LoginSessionRow
from services.identity.oidc.consents import list_consents
from services.identity.oidc.models import RefreshToken


async def export_account(session: AsyncSession, account_id: uuid.UUID) -> dict[str, Any]:
    """Everything held about the account, machine-readable; secrets (hashes, tokens) are named, not shown."""
    account = await session.get(Account, account_id)
    if account is None:
        return {}
    sessions = (await session.scalars(select(LoginSessionRow).where(LoginSessionRow.account_id == account_id))).all()
    tokens = (await session.scalars(select(RefreshToken).where(RefreshToken.account_id == account_id))).all()
    return {
        "account": {
            "id": str(account.id),
            "email": account.email,
            "emailVerifiedAt": _time(account.email_verified_at),
            "hasPassword": account.password_hash is not None,
            "vertrauensniveau": account.vertrauensniveau,
            "postboxReference": account.postbox_reference,
            "createdAt": _time(account.created_at),
            "updatedAt": _time(account.updated_at),
        },
        "consents": [
            {"clientId": c.client_id, "client": c.client_name, "scopes": c.scopes, "grantedAt": _time(c.granted_at)}
            for c in await list_consents(session, account_id)
        ],
        "loginSessions": [
            {
                "sid": row.sid,
                "acr": row.acr,
                "amr": row.amr,
                "authTime": _time(row.auth_time),
                "lastUsedAt": _time(row.last_used_at),
                "endedAt": _time(row.ended_at),
            }
            for row in sessions
        ],
        "refreshTokens": [
            {
                "clientId": row.client_id,
                "scopes": row.scopes,
                "createdAt": _time(row.created_at),
                "expiresAt": _time(row.expires_at),
                "revokedAt": _time(row.revoked_at),
            }
            for row in tokens
        ],
        "auditTrail": [
            {
                "at": _time(entry.at),
                "kind": entry.kind,
                "clientId": entry.client_id,
                "ipAddress": entry.ip_address,
                "details": entry.details,
            }
            for entry in await audit_trail(session, account_id, limit=10_000)
        ],
    }


async def delete_account(session: AsyncSession, account: Account) -> None:
    """Delete the account and everything about it (rows referring to it cascade), and tell the other services
    with ``AccountDeleted`` in the same transaction so they delete what they hold."""
    await publish(
        session,
        AccountDeleted(account_id=account.id, occurred_at=utcnow(), postbox_reference=account.postbox_reference),
    )
    await session.execute(delete(Account).where(Account.id == account.id))


def _time(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
