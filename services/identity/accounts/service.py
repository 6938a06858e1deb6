"""What can be done with accounts: create one, check a password, read what may be released about it."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events.identity import AccountCreated
from kit.db import utcnow
from kit.events.outbox import publish
from services.identity import throttle
from services.identity.accounts.models import Account, AccountAttribute
from services.identity.accounts.passwords import hash_password, needs_rehash, verify_password
from services.identity.audit import record_audit


class EmailTakenError(Exception):
    """Another account has this e-mail address."""


@dataclass(frozen=True)
class PasswordCheck:
    """The outcome of a password login: the account, or why not (``retry_after`` when throttled)."""

    account: Account | None
    retry_after: float | None = None


def normalise_email(email: str) -> str:
    """The stored form of an e-mail address: trimmed and lower-cased (addresses are compared that way)."""
    return email.strip().lower()


async def account_by_email(session: AsyncSession, email: str) -> Account | None:
    """The account with this e-mail address, if any."""
    query = select(Account).where(Account.email == normalise_email(email))
    return (await session.scalars(query)).one_or_none()


async def create_account(
    session: AsyncSession,
    *,
    email: str | None,
    password: str | None,
    verified: bool = False,
    ip_address: str | None = None,
) -> Account:
    """A new citizen account at level niedrig, announced with ``AccountCreated`` in the same transaction."""
    if email is not None:
        email = normalise_email(email)
        taken = await session.scalar(select(func.count()).select_from(Account).where(Account.email == email))
        if taken:
            raise EmailTakenError(email)
    now = utcnow()
    account = Account(
        id=uuid.uuid4(),
        email=email,
        email_verified_at=now if verified else None,
        password_hash=await hash_password(password) if password is not None else None,
        vertrauensniveau="niedrig",
        # Random, not derived from the account id: the mailbox learns nothing about the account from it.
        postbox_reference=secrets.token_urlsafe(24),
        created_at=now,
        updated_at=now,
    )
    session.add(account)
    await session.flush()
    await publish(
        session,
        AccountCreated(
            account_id=account.id, occurred_at=now, kind="citizen", postbox_reference=account.postbox_reference
        ),
    )
    await record_audit(session, account.id, "account_created", ip_address=ip_address)
    return account


async def authenticate_password(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    ip_address: str | None,
    known_device: Callable[[uuid.UUID], bool] = lambda _account_id: False,
) -> PasswordCheck:
    """Check an e-mail and password, throttled per account and per IP address.

    An unknown address costs as much time as a wrong password and answers the same, so the login form
    does not reveal who has an account. A browser for which `known_device` says it logged in to the
    account before is exempt from the account's delay (not from its address's).
    """
    account = await account_by_email(session, email)
    keys = [f"ip:{ip_address}"] if ip_address else []
    if account is not None:
        keys.append(f"account:{account.id}")
    exempt = account is not None and known_device(account.id)
    checked = [key for key in keys if not (exempt and key.startswith("account:"))]
    wait = await throttle.retry_after(session, *checked) if checked else None
    if wait is not None:
        return PasswordCheck(None, retry_after=wait)
    stored = account.password_hash if account is not None else None
    if account is None or not await verify_password(stored, password):
        if keys:
            await throttle.record_failure(session, *keys)
        if account is not None:
            await record_audit(session, account.id, "login_failed", ip_address=ip_address, reason="password")
        return PasswordCheck(None)
    await throttle.record_success(session, f"account:{account.id}")
    if stored is not None and needs_rehash(stored):
        account.password_hash = await hash_password(password)
    return PasswordCheck(account)


async def account_claims(session: AsyncSession, account_id: uuid.UUID) -> dict[str, Any]:
    """The OIDC claims held about an account (Core §5.1 names): the e-mail from the account, the rest from
    its attributes. Attributes are read here rather than in accounts.attributes to keep imports one-way."""
    account = await session.get(Account, account_id)
    if account is None:
        return {}
    claims: dict[str, Any] = {}
    if account.email is not None:
        claims["email"] = account.email
        claims["email_verified"] = account.email_verified_at is not None
    query = select(AccountAttribute).where(AccountAttribute.account_id == account_id)
    for attribute in await session.scalars(query):
        claims.setdefault(attribute.name, attribute.value)
    if "given_name" in claims and "family_name" in claims:
        claims.setdefault("name", f"{claims['given_name']} {claims['family_name']}")
    return claims
