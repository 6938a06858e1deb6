"""What one identity process holds in memory — keys, the client cache, the secret hasher — and its
background components, set up by the ``components`` hook of :class:`kit.service.ServiceSpec`."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import httpx
from fastapi import FastAPI, Request
from pydantic import SecretStr

from kit.auth import JwksCache, TokenVerifier, install_auth
from kit.config import ServiceSettings
from kit.db import Database
from kit.service import Component
from services.identity.clients.directory import ClientDirectory
from services.identity.clients.secrets import SecretHasher
from services.identity.config import Settings
from services.identity.eid.connector import EidConnector, Tr03130Connector
from services.identity.keys.encryption import KeyEncryption
from services.identity.keys.manager import SigningKeyManager
from services.identity.keys.ring import KeyRing
from services.identity.oauth.housekeeping import TokenHousekeeping

logger = logging.getLogger(__name__)

#: The URL the identity's own verifier fetches its JWKS from: answered in memory, never on the network.
_OWN_JWKS_URL = "http://identity.internal/jwks"


@dataclass(frozen=True)
class Identity:
    """The per-process state the routes of the identity service share."""

    settings: Settings
    issuer: str
    database: Database
    ring: KeyRing
    secrets: SecretHasher
    clients: ClientDirectory
    #: Keys the CSRF tokens of the HTML pages (services.identity.web.csrf).
    page_secret: bytes
    #: Keys refresh token values and pairwise subjects (services.identity.oidc).
    token_secret: bytes
    #: The eID server (services.identity.eid).
    eid: EidConnector
    #: Encrypts secrets at rest (signing keys, TOTP secrets) under the key encryption key.
    encryption: KeyEncryption

    @classmethod
    def create(cls, settings: Settings, database: Database) -> Identity:
        """The state of a process with these settings (keys are loaded by the key manager)."""
        encryption = KeyEncryption.from_settings(settings.key_encryption_key, settings.old_key_encryption_keys)
        return cls(
            settings=settings,
            issuer=settings.resolved_issuer(),
            database=database,
            ring=KeyRing(encryption, settings.signing_algorithms),
            secrets=SecretHasher.from_settings(settings.client_secret_pepper),
            clients=ClientDirectory(
                database, ttl=settings.client_cache_seconds, max_entries=settings.client_cache_size
            ),
            page_secret=_server_secret(settings.page_secret, "IDENTITY_PAGE_SECRET"),
            token_secret=_server_secret(settings.token_secret, "IDENTITY_TOKEN_SECRET"),
            eid=Tr03130Connector(settings.eid_server_url),
            encryption=encryption,
        )

    def url(self, path: str) -> str:
        """The public URL of one of the service's endpoints."""
        return self.issuer + path


def _server_secret(secret: SecretStr | None, variable: str) -> bytes:
    if secret is None:
        logger.warning(
            "%s is not set: a random secret of this process is used, so what it keys does not survive a restart "
            "and differs between replicas. Set it everywhere but a developer's machine.",
            variable,
        )
        return secrets.token_bytes(32)
    value = secret.get_secret_value().encode()
    if len(value) < 32:
        raise ValueError(f"{variable} needs at least 32 characters")
    return value


def get_identity(request: Request) -> Identity:
    """FastAPI dependency: the identity state of this process."""
    identity: Identity = request.app.state.identity
    return identity


def identity_components(app: FastAPI, settings: ServiceSettings, database: Database) -> Sequence[Component]:
    """Set up the process state, let the admin API trust the tokens this service issues, and return the
    key manager and the housekeeping that run beside the API."""
    assert isinstance(settings, Settings)
    identity = Identity.create(settings, database)
    app.state.identity = identity
    install_auth(app, own_token_verifier(identity))
    return [SigningKeyManager(database, identity.ring, settings), TokenHousekeeping(database, settings)]


def own_token_verifier(identity: Identity) -> TokenVerifier:
    """A :class:`TokenVerifier` for this service's own API that reads the JWKS from memory.

    The same checks as every other service, without a network round trip to itself.
    """
    refresh = identity.settings.signing_key_refresh_interval.total_seconds()
    # The client's transport holds no connections, so the client needs no closing.
    client = httpx.AsyncClient(transport=_RingTransport(identity.ring))
    jwks = JwksCache(_OWN_JWKS_URL, client, min_refresh_interval=1.0, max_age=refresh)
    return TokenVerifier(jwks, issuer=identity.issuer, audience=identity.settings.resolved_audience())


class _RingTransport(httpx.AsyncBaseTransport):
    """Answers every request with the ring's current JWKS."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=self.ring.jwks_body, headers={"Content-Type": "application/json"})
