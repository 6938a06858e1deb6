"""Registration with e-mail verification, and password reset: the flows that run over e-mail links."""

from __future__ import annotations

import re
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events.identity import AccountVerified
from kit.db import utcnow
from kit.events.outbox import publish
from services.identity import paths
from services.identity.accounts.email_links import new_link_token, use_link_token
from services.identity.accounts.models import Account
from services.identity.accounts.passwords import hash_password
from services.identity.accounts.service import EmailTakenError, account_by_email, create_account, normalise_email
from services.identity.audit import record_audit
from services.identity.login.session import end_sessions_of_account
from services.identity.mail.queue import queue_mail
from services.identity.runtime import Identity

#: Deliberately simple (RFC 5322 is far wider): one @, a dot in the domain, no spaces or control characters.
_EMAIL = re.compile(r"[^@\s\x00-\x1f]{1,64}@[^@\s\x00-\x1f]+\.[^@\s\x00-\x1f]{2,}")


def email_problem(email: str) -> str | None:
    """Why `email` cannot be used (German), or None."""
    if len(email) > 254 or not _EMAIL.fullmatch(email):
        return "Bitte geben Sie eine gültige E-Mail-Adresse ein."
    return None


async def register(
    identity: Identity, session: AsyncSession, email: str, password: str, ip_address: str | None
) -> None:
    """Create an unverified account and mail the verification link. An address already registered gets a
    notice instead, so the form never tells a stranger who has an account."""
    email = normalise_email(email)
    try:
        account = await create_account(session, email=email, password=password, ip_address=ip_address)
    except EmailTakenError:
        await queue_mail(
            session,
            email,
            "Registrierung beim Nutzerkonto",
            "Jemand wollte mit dieser E-Mail-Adresse ein Nutzerkonto anlegen. Sie haben bereits eines.\n\n"
            f"Passwort vergessen? {identity.url(paths.FORGOT_PASSWORD)}\n",
        )
        return
    await send_verification(identity, session, account)


async def send_verification(identity: Identity, session: AsyncSession, account: Account) -> None:
    """Mail a link that confirms the account's address."""
    assert account.email is not None
    token = await new_link_token(identity, session, account.id, "verify", account.email)
    link = f"{identity.url(paths.VERIFY_EMAIL)}?token={token}"
    await queue_mail(
        session,
        account.email,
        "Bitte bestätigen Sie Ihre E-Mail-Adresse",
        f"Bitte bestätigen Sie Ihre E-Mail-Adresse für Ihr Nutzerkonto:\n\n{link}\n\n"
        "Wenn Sie kein Nutzerkonto angelegt haben, ignorieren Sie diese Nachricht.\n",
    )


async def verify_email(session: AsyncSession, token: str) -> bool:
    """Confirm an address by its link; AccountVerified the first time. Whether the link was valid."""
    link = await use_link_token(session, token, "verify")
    if link is None:
        return False
    account = await session.get(Account, link.account_id, with_for_update=True)
    if account is None or account.email != link.email:
        return False
    if account.email_verified_at is None:
        now = utcnow()
        account.email_verified_at = now
        account.updated_at = now
        await publish(session, AccountVerified(account_id=account.id, occurred_at=now))
        await record_audit(session, account.id, "email_verified")
    return True


async def request_password_reset(identity: Identity, session: AsyncSession, email: str) -> None:
    """Mail a reset link if the address has an account (the page answers the same either way)."""
    account = await account_by_email(session, email)
    if account is None or account.email is None:
        return
    token = await new_link_token(identity, session, account.id, "reset", account.email)
    await queue_mail(
        session,
        account.email,
        "Passwort zurücksetzen",
        f"Mit diesem Link setzen Sie das Passwort Ihres Nutzerkontos neu:\n\n"
        f"{identity.url(paths.RESET_PASSWORD)}?token={token}\n\n"
        "Der Link gilt einmal. Wenn Sie das nicht angefordert haben, ignorieren Sie diese Nachricht.\n",
    )


async def reset_password(session: AsyncSession, token: str, password: str) -> uuid.UUID | None:
    """Set a new password by a reset link and end every login session of the account; its id, or None."""
    link = await use_link_token(session, token, "reset")
    if link is None:
        return None
    account = await session.get(Account, link.account_id, with_for_update=True)
    if account is None:
        return None
    account.password_hash = await hash_password(password)
    account.updated_at = utcnow()
    # Following the link proves the address too.
    account.email_verified_at = account.email_verified_at or utcnow()
    await end_sessions_of_account(session, account.id)
    await record_audit(session, account.id, "password_reset")
    return account.id


async def request_email_change(identity: Identity, session: AsyncSession, account: Account, new_email: str) -> None:
    """Mail a confirmation link to the new address and a notice to the old one; nothing changes until the
    link is followed (so a typo or a stolen session cannot take the account's address away unnoticed)."""
    new_email = normalise_email(new_email)
    token = await new_link_token(identity, session, account.id, "change", new_email)
    await queue_mail(
        session,
        new_email,
        "Neue E-Mail-Adresse bestätigen",
        f"Bitte bestätigen Sie diese Adresse als neue E-Mail-Adresse Ihres Nutzerkontos:\n\n"
        f"{identity.url(paths.CONFIRM_EMAIL_CHANGE)}?token={token}\n",
    )
    if account.email is not None:
        await queue_mail(
            session,
            account.email,
            "Änderung Ihrer E-Mail-Adresse",
            "Für Ihr Nutzerkonto wurde eine neue E-Mail-Adresse angegeben. Sie gilt, sobald sie bestätigt ist.\n"
            f"Waren Sie das nicht? Ändern Sie Ihr Passwort: {identity.url(paths.FORGOT_PASSWORD)}\n",
        )
    await record_audit(session, account.id, "email_change_requested")


async def confirm_email_change(session: AsyncSession, token: str) -> bool:
    """Switch to the new address by its link, unless another account took it meanwhile."""
    link = await use_link_token(session, token, "change")
    if link is None or await account_by_email(session, link.email) is not None:
        return False
    account = await session.get(Account, link.account_id, with_for_update=True)
    if account is None:
        return False
    now = utcnow()
    account.email, account.email_verified_at, account.updated_at = link.email, now, now
    await record_audit(session, account.id, "email_changed")
    return True
