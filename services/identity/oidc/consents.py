"""Consents: which attribute scopes a person allowed a portal to receive. Asked before the first release
and again when a portal asks for more; listed on the account page and revocable there."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from kit.db import utcnow
from services.identity.audit import record_audit
from services.identity.clients.models import Client
from services.identity.oidc.models import Consent, RefreshToken

#: German names of what each scope releases (OIDC Core §5.4), for the consent page and the account page.
SCOPE_LABELS = {
    "profile": "Name, Geburtsdatum und weitere Angaben zur Person",
    "email": "E-Mail-Adresse",
    "address": "Anschrift",
    "phone": "Telefonnummer",
}


@dataclass(frozen=True)
class ConsentView:
    """A consent as the account page shows it."""

    client_id: str
    client_name: str
    scopes: list[str]
    granted_at: dt.datetime


async def has_consent(session: AsyncSession, account_id: uuid.UUID, client_id: str, scopes: Collection[str]) -> bool:
    """Whether the person allowed `client_id` every one of `scopes` already."""
    if not scopes:
        return True
    query = select(Consent).where(Consent.account_id == account_id, Consent.client_id == client_id)
    consent = (await session.scalars(query)).one_or_none()
    return consent is not None and set(scopes) <= set(consent.scopes)


async def grant_consent(
    session: AsyncSession, account_id: uuid.UUID, client_id: str, scopes: Collection[str], ip_address: str | None
) -> None:
    """Record that the person allowed `scopes` (added to what they allowed before)."""
    query = select(Consent).where(Consent.account_id == account_id, Consent.client_id == client_id).with_for_update()
    consent = (await session.scalars(query)).one_or_none()
    if consent is None:
        consent = Consent(id=uuid.uuid4(), account_id=account_id, client_id=client_id, scopes=[], granted_at=utcnow())
        session.add(consent)
    consent.scopes = sorted(set(consent.scopes) | set(scopes))
    consent.granted_at = utcnow()
    await record_audit(
        session, account_id, "consent_granted", client_id=client_id, ip_address=ip_address, scopes=sorted(scopes)
    )


async def list_consents(session: AsyncSession, account_id: uuid.UUID) -> list[ConsentView]:
    """The person's consents, newest first."""
    query = (
        select(Consent, Client.name)
        .join(Client, Client.client_id == Consent.client_id, isouter=True)
        .where(Consent.account_id == account_id)
        .order_by(Consent.granted_at.desc())
    )
    return [
        ConsentView(consent.client_id, name or consent.client_id, list(consent.scopes), consent.granted_at)
        for consent, name in (await session.execute(query)).all()
    ]


async def revoke_consent(session: AsyncSession, account_id: uuid.UUID, client_id: str) -> bool:
    """Withdraw a consent and end the client's refresh tokens for the person; whether there was one."""
    deleted = await session.execute(
        delete(Consent).where(Consent.account_id == account_id, Consent.client_id == client_id)
    )
    if not deleted.rowcount:  # type: ignore[attr-defined]
        return False
    await session.execute(
        delete(RefreshToken).where(RefreshToken.account_id == account_id, RefreshToken.client_id == client_id)
    )
    await record_audit(session, account_id, "consent_revoked", client_id=client_id)
    return True
