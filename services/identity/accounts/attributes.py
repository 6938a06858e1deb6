"""Attributes of a person with their trust levels, and accounts found or created from identities proven
elsewhere (the online ID card, an upstream identity provider)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events.identity import TrustLevelRaised
from kit.db import utcnow
from kit.events.outbox import publish
from services.identity.accounts.models import Account, AccountAttribute, ExternalIdentity
from services.identity.accounts.service import create_account
from services.identity.audit import record_audit
from services.identity.login.levels import rank


@dataclass(frozen=True)
class VerifiedAttribute:
    """An attribute as a source vouches for it: OIDC claim name, value, trust level and source."""

    name: str
    value: Any
    level: str
    source: str


async def account_for_external_identity(
    session: AsyncSession,
    *,
    provider: str,
    subject: str,
    attributes: Sequence[VerifiedAttribute],
    current_account_id: uuid.UUID | None,
) -> Account:
    """The account an external identity belongs to, linking or creating it, with its attributes stored.

    Linked already: that account. Not linked, but someone is logged in (step-up of an existing account):
    linked to theirs. Otherwise a new account. Attributes replace held ones of a lower or equal level;
    the account's trust level rises to the highest level proven, announced with ``TrustLevelRaised``.
    """
    link = await session.get(ExternalIdentity, (provider, subject))
    if link is not None:
        account = await session.get(Account, link.account_id, with_for_update=True)
    elif current_account_id is not None:
        account = await session.get(Account, current_account_id, with_for_update=True)
    else:
        account = await create_account(session, email=None, password=None)
    assert account is not None
    if link is None:
        session.add(ExternalIdentity(provider=provider, subject=subject, account_id=account.id, linked_at=utcnow()))
        await record_audit(session, account.id, "identity_linked", provider=provider)
    await store_attributes(session, account, attributes)
    return account


async def store_attributes(session: AsyncSession, account: Account, attributes: Sequence[VerifiedAttribute]) -> None:
    """Keep `attributes` where they are at least as trustworthy as what is held; raise the account's level."""
    now = utcnow()
    held = {
        row.name: row
        for row in await session.scalars(select(AccountAttribute).where(AccountAttribute.account_id == account.id))
    }
    for attribute in attributes:
        row = held.get(attribute.name)
        if row is None:
            session.add(
                AccountAttribute(
                    account_id=account.id,
                    name=attribute.name,
                    value=attribute.value,
                    level=attribute.level,
                    source=attribute.source,
                    verified_at=now,
                )
            )
        elif rank(attribute.level) >= rank(row.level):
            row.value, row.level, row.source, row.verified_at = attribute.value, attribute.level, attribute.source, now
    proven = max((attribute.level for attribute in attributes), key=rank, default=account.vertrauensniveau)
    if rank(proven) > rank(account.vertrauensniveau):
        account.vertrauensniveau = proven
        account.updated_at = now
        await publish(session, TrustLevelRaised(account_id=account.id, occurred_at=now, vertrauensniveau=proven))
        await record_audit(session, account.id, "trust_level_raised", vertrauensniveau=proven)


async def held_attributes(session: AsyncSession, account_id: uuid.UUID) -> list[AccountAttribute]:
    """The person's attributes, by name."""
    query = select(AccountAttribute).where(AccountAttribute.account_id == account_id).order_by(AccountAttribute.name)
    return list((await session.scalars(query)).all())
