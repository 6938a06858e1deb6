"""Registering and changing clients, always inside one tenant: another tenant's client does not exist here."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.clients.models import Client
from services.identity.clients.schemas import ClientSettings, ClientView, ClientWithSecret
from services.identity.clients.secrets import SecretHasher, new_client_secret

CLIENT_ID_BYTES = 18


class ClientSettingsError(Exception):
    """Changed settings that do not fit together; `errors` are pydantic's, located in the request body."""

    def __init__(self, errors: list[Any]) -> None:
        super().__init__("invalid client settings")
        self.errors = errors


class SecretNotUsedError(Exception):
    """The client authenticates without a secret (public or private_key_jwt), so it has none to rotate."""


def new_client_id() -> str:
    """A fresh client id: 144 random bits, url-safe, so it needs no encoding in Basic credentials."""
    return secrets.token_urlsafe(CLIENT_ID_BYTES)


async def register_client(
    session: AsyncSession, tenant: str, settings: ClientSettings, hasher: SecretHasher, now: dt.datetime
) -> ClientWithSecret:
    """Store a new client of `tenant`; the answer holds its secret, which is not stored anywhere."""
    secret = new_client_secret() if settings.uses_secret else None
    client = Client(
        client_id=new_client_id(),
        tenant=tenant,
        secret_hash=hasher.hash(secret) if secret is not None else None,
        secret_rotated_at=now if secret is not None else None,
        created_at=now,
        updated_at=now,
    )
    _apply_settings(client, settings)
    session.add(client)
    await session.flush()
    return ClientWithSecret(**client_view(client).model_dump(), client_secret=secret)


async def find_client(session: AsyncSession, tenant: str, client_id: str, *, for_update: bool = False) -> Client | None:
    """The client with this id if it belongs to `tenant` (locked against concurrent changes if asked)."""
    query = select(Client).where(Client.client_id == client_id, Client.tenant == tenant)
    return await session.scalar(query.with_for_update() if for_update else query)


def change_client(client: Client, changes: dict[str, Any], now: dt.datetime) -> Client:
    """Apply `changes` (the fields the request named, null included) if the result fits together.

    Moving to private_key_jwt drops the secret; moving from it to a secret method leaves the client
    without one until its secret is rotated.
    """
    try:
        settings = ClientSettings.model_validate(client_settings(client) | changes)
    except ValidationError as error:
        raise ClientSettingsError(error.errors()) from error
    _apply_settings(client, settings)
    if not settings.uses_secret:
        client.secret_hash = None
        client.secret_rotated_at = None
    client.updated_at = now
    return client


def rotate_secret(client: Client, hasher: SecretHasher, now: dt.datetime) -> str:
    """Give the client a new secret and return it; the old one stops working at once."""
    if client.token_endpoint_auth_method not in ("client_secret_basic", "client_secret_post"):
        raise SecretNotUsedError
    secret = new_client_secret()
    client.secret_hash = hasher.hash(secret)
    client.secret_rotated_at = now
    client.updated_at = now
    return secret


async def delete_client(session: AsyncSession, tenant: str, client_id: str) -> bool:
    """Delete the client if `tenant` has it; False when there is no such client."""
    result = await session.execute(
        delete(Client).where(Client.client_id == client_id, Client.tenant == tenant).returning(Client.client_id)
    )
    return result.scalar_one_or_none() is not None


def client_settings(client: Client) -> dict[str, Any]:
    """The stored settings of a client, in the shape of :class:`ClientSettings`."""
    return {
        "name": client.name,
        "type": client.client_type,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "redirect_uris": client.redirect_uris,
        "post_logout_redirect_uris": client.post_logout_redirect_uris,
        "grant_types": client.grant_types,
        "scopes": client.scopes,
        "audiences": client.audiences,
        "jwks": client.jwks,
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "backchannel_logout_session_required": client.backchannel_logout_session_required,
        "subject_type": client.subject_type,
        "sector_identifier_uri": client.sector_identifier_uri,
        "access_token_lifetime": client.access_token_lifetime,
        "id_token_lifetime": client.id_token_lifetime,
    }


def client_view(client: Client) -> ClientView:
    """The admin API's view of a client."""
    return ClientView(
        client_id=client.client_id,
        tenant=client.tenant,
        **client_settings(client),
        secret_rotated_at=client.secret_rotated_at,
        created_at=client.created_at,
        updated_at=client.updated_at,
    )


def _apply_settings(client: Client, settings: ClientSettings) -> None:
    assert settings.token_endpoint_auth_method is not None  # filled in by ClientSettings' validation
    client.name = settings.name
    client.client_type = settings.type
    client.token_endpoint_auth_method = settings.token_endpoint_auth_method
    client.redirect_uris = list(settings.redirect_uris)
    client.post_logout_redirect_uris = list(settings.post_logout_redirect_uris)
    client.grant_types = list(settings.grant_types)
    client.scopes = list(settings.scopes)
    client.audiences = list(settings.audiences)
    client.jwks = settings.jwks
    client.backchannel_logout_uri = settings.backchannel_logout_uri
    client.backchannel_logout_session_required = settings.backchannel_logout_session_required
    client.subject_type = settings.subject_type
    client.sector_identifier_uri = settings.sector_identifier_uri
    client.access_token_lifetime = settings.access_token_lifetime
    client.id_token_lifetime = settings.id_token_lifetime
