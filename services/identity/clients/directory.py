"""Clients as the token endpoint sees them: immutable snapshots, cached for a few seconds per process.

The token endpoint authenticates a client on every request; reading it from the database each time
would be its only round trip. A change through the admin API drops the entry in the process that made
it; other replicas see the change after at most ``ttl`` seconds. Unknown client ids are cached too, so a
flood of made-up ids cannot turn into a flood of queries; the cache is bounded (least recently used).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from kit.auth.jwks import VerificationKey, parse_jwks
from kit.db import Database
from services.identity.clients.models import Client


@dataclass(frozen=True)
class RegisteredClient:
    """What authentication and the grants need to know about a client."""

    client_id: str
    tenant: str
    client_type: str
    auth_method: str
    secret_hash: bytes | None
    keys: dict[str, VerificationKey]
    grant_types: frozenset[str]
    scopes: tuple[str, ...]
    audiences: tuple[str, ...]
    access_token_lifetime: int | None
    name: str = ""
    redirect_uris: tuple[str, ...] = ()
    post_logout_redirect_uris: tuple[str, ...] = ()
    subject_type: str = "public"
    sector_identifier_uri: str | None = None
    id_token_lifetime: int | None = None
    backchannel_logout_uri: str | None = None


def snapshot(client: Client) -> RegisteredClient:
    """The token endpoint's view of a stored client."""
    return RegisteredClient(
        client_id=client.client_id,
        tenant=client.tenant,
        client_type=client.client_type,
        auth_method=client.token_endpoint_auth_method,
        secret_hash=client.secret_hash,
        keys=parse_jwks(client.jwks) if client.jwks else {},
        grant_types=frozenset(client.grant_types),
        scopes=tuple(client.scopes),
        audiences=tuple(client.audiences),
        access_token_lifetime=client.access_token_lifetime,
        name=client.name,
        redirect_uris=tuple(client.redirect_uris),
        post_logout_redirect_uris=tuple(client.post_logout_redirect_uris),
        subject_type=client.subject_type,
        sector_identifier_uri=client.sector_identifier_uri,
        id_token_lifetime=client.id_token_lifetime,
        backchannel_logout_uri=client.backchannel_logout_uri,
    )


class ClientDirectory:
    """Looks clients up by id, through a small time-bounded cache."""

    def __init__(
        self,
        database: Database,
        *,
        ttl: float,
        max_entries: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database = database
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, RegisteredClient | None]] = OrderedDict()

    async def find(self, client_id: str) -> RegisteredClient | None:
        """The client with this id, or None if there is none."""
        entry = self._entries.get(client_id)
        now = self._clock()
        if entry is not None and entry[0] > now:
            self._entries.move_to_end(client_id)
            return entry[1]
        async with self.database.session() as session:
            stored = await session.scalar(select(Client).where(Client.client_id == client_id))
            client = snapshot(stored) if stored is not None else None
        if self.ttl > 0:
            self._entries[client_id] = (now + self.ttl, client)
            self._entries.move_to_end(client_id)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return client

    def forget(self, client_id: str) -> None:
        """Drop the cached entry of a client that has just changed."""
        self._entries.pop(client_id, None)
