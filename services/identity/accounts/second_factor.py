"""TOTP as a second factor (RFC 6238, 30-second steps, 6 digits): set up with a confirming code, checked
once per code, throttled like passwords."""

from __future__ import annotations

import time
import uuid

import pyotp
from sqlalchemy.ext.asyncio import AsyncSession

from kit.db import utcnow
from services.identity import throttle
from services.identity.accounts.models import TotpCredential
from services.identity.audit import record_audit
from services.identity.runtime import Identity

ISSUER_NAME = "Nutzerkonto"
STEP = 30


def _kid(account_id: uuid.UUID) -> str:
    # Bound into the encryption, so a secret cannot be moved to another account's row.
    return f"totp:{account_id}"


def _secret(identity: Identity, credential: TotpCredential) -> str:
    plain = identity.encryption.decrypt(
        credential.secret_encrypted, kid=_kid(credential.account_id), kek_id=credential.kek_id
    )
    return plain.decode()


async def begin_setup(identity: Identity, session: AsyncSession, account_id: uuid.UUID, label: str) -> tuple[str, str]:
    """A new, unconfirmed secret for the account (replacing an unconfirmed one): the secret in base32 and its
    ``otpauth://`` URI for authenticator apps."""
    secret = pyotp.random_base32()
    credential = await session.get(TotpCredential, account_id, with_for_update=True)
    if credential is not None and credential.confirmed_at is not None:
        raise ValueError("a second factor is set up already")
    encrypted = identity.encryption.encrypt(secret.encode(), kid=_kid(account_id))
    if credential is None:
        credential = TotpCredential(account_id=account_id, last_step=0)
        session.add(credential)
    credential.secret_encrypted, credential.kek_id = encrypted, identity.encryption.current_id
    return secret, pyotp.TOTP(secret).provisioning_uri(name=label, issuer_name=ISSUER_NAME)


async def confirm_setup(identity: Identity, session: AsyncSession, account_id: uuid.UUID, code: str) -> bool:
    """Activate the secret if `code` is right for it."""
    credential = await session.get(TotpCredential, account_id, with_for_update=True)
    if credential is None or credential.confirmed_at is not None or not _accept(identity, credential, code):
        return False
    credential.confirmed_at = utcnow()
    await record_audit(session, account_id, "second_factor_added")
    return True


async def has_second_factor(session: AsyncSession, account_id: uuid.UUID) -> bool:
    """Whether the account has a confirmed TOTP second factor."""
    credential = await session.get(TotpCredential, account_id)
    return credential is not None and credential.confirmed_at is not None


async def verify_second_factor(
    identity: Identity, session: AsyncSession, account_id: uuid.UUID, code: str, ip_address: str | None
) -> float | bool:
    """True if `code` is valid and unused; False if not; the seconds to wait when throttled."""
    keys = [f"totp:{account_id}", *([f"ip:{ip_address}"] if ip_address else [])]
    if (wait := await throttle.retry_after(session, *keys)) is not None:
        return wait
    credential = await session.get(TotpCredential, account_id, with_for_update=True)
    if credential is None or credential.confirmed_at is None or not _accept(identity, credential, code):
        await throttle.record_failure(session, *keys)
        await record_audit(session, account_id, "login_failed", ip_address=ip_address, reason="otp")
        return False
    await throttle.record_success(session, f"totp:{account_id}")
    return True


def _accept(identity: Identity, credential: TotpCredential, code: str) -> bool:
    """Whether `code` matches the current step or a neighbour (clock drift), later than the last one used."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return False
    totp = pyotp.TOTP(_secret(identity, credential))
    now_step = int(time.time()) // STEP
    for step in (now_step - 1, now_step, now_step + 1):
        if step > credential.last_step and totp.verify(code, for_time=step * STEP):
            credential.last_step = step
            return True
    return False
