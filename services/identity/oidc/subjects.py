"""Subject identifiers (OIDC Core §8): the account id for public clients, a pairwise pseudonym per sector for
clients registered with ``subject_type: pairwise``, so that portals of different sectors cannot link users."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from urllib.parse import urlsplit

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.clients.directory import RegisteredClient
from services.identity.oidc.models import PairwiseSubject
from services.identity.runtime import Identity


def sector_of(client: RegisteredClient) -> str:
    """The sector identifier (Core §8.1): the host of the sector_identifier_uri, else of the redirect URIs."""
    source = client.sector_identifier_uri or (client.redirect_uris[0] if client.redirect_uris else client.client_id)
    return urlsplit(source).hostname or source


def subject_for(identity: Identity, client: RegisteredClient, account_id: uuid.UUID) -> str:
    """The ``sub`` this client sees for the account (the same in ID tokens, access tokens and userinfo)."""
    if client.subject_type != "pairwise":
        return str(account_id)
    message = f"pairwise|{sector_of(client)}|{account_id}".encode()
    digest = hmac.new(identity.token_secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def remember_subject(
    identity: Identity, session: AsyncSession, client: RegisteredClient, account_id: uuid.UUID
) -> str:
    """`subject_for`, and for a pairwise subject the row that maps it back to the account."""
    subject = subject_for(identity, client, account_id)
    if client.subject_type == "pairwise":
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        statement = dialect.insert(PairwiseSubject).values(
            sector=sector_of(client), subject=subject, account_id=account_id
        )
        await session.execute(statement.on_conflict_do_nothing())
    return subject


async def account_of_subject(session: AsyncSession, client: RegisteredClient, subject: str) -> uuid.UUID | None:
    """The account a client's ``sub`` stands for, if any."""
    if client.subject_type != "pairwise":
        try:
            return uuid.UUID(subject)
        except ValueError:
            return None
    row = await session.get(PairwiseSubject, (sector_of(client), subject))
    return row.account_id if row is not None else None
