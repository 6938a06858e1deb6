"""Settings of the identity service, read from ``IDENTITY_*`` environment variables."""

from __future__ import annotations

import datetime as dt
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from kit.config import ServiceSettings, service_settings_config
from services.identity.brokering.upstream import UpstreamProvider

SigningAlgorithm = Literal["ES256", "RS256"]

#: Bounds of the token lifetimes a client may be registered with (seconds). The key retention below
#: is derived from the upper bounds, so a key outlives every token it can have signed.
ACCESS_TOKEN_LIFETIME_BOUNDS = (60, 3600)
ID_TOKEN_LIFETIME_BOUNDS = (60, 3600)


class Settings(ServiceSettings):
    """Configuration of the identity service."""

    model_config = service_settings_config("IDENTITY_")

    service_name: str = "identity"
    port: int = 8001

    issuer: str = Field(
        default="",
        description="The issuer identifier: the public base URL as clients see it (e.g. through the gateway, "
        "https://portal.example/identity); empty = identity_url. Every endpoint in the discovery document "
        "is this URL plus its path.",
    )
    signing_algorithms: list[SigningAlgorithm] = Field(
        default=["ES256"],
        min_length=1,
        description='JSON list, e.g. ["ES256", "RS256"]: each algorithm keeps its own key chain; '
        "the first signs access tokens.",
    )
    rsa_key_bits: int = Field(
        default=3072, ge=2048, le=8192, description="Size of new RSA keys (BSI TR-02102-1: 3000+)."
    )
    signing_key_rotation_interval: dt.timedelta = Field(
        default=dt.timedelta(days=30),
        description="How long a key signs before its successor takes over (ISO 8601 duration or seconds).",
    )
    signing_key_publish_lead: dt.timedelta = Field(
        default=dt.timedelta(hours=1),
        description="How long a new key is published before it signs; at least the JWKS cache lifetime of every "
        "verifier (kit.auth caches 5 minutes) plus signing_key_refresh_interval.",
    )
    signing_key_refresh_interval: dt.timedelta = Field(
        default=dt.timedelta(seconds=30),
        description="How often each process checks the rotation schedule and reloads the keys from the database.",
    )
    jwks_max_age: int = Field(default=300, ge=0, le=86_400, description="Cache-Control max-age of /jwks (seconds).")
    key_encryption_key: SecretStr | None = Field(
        default=None,
        description="Base64 of 32 random bytes: AES-256-GCM key encrypting the private signing keys at rest. "
        "Unset = a random key per process (development only; keys do not survive a restart).",
    )
    old_key_encryption_keys: list[SecretStr] = Field(
        default=[],
        description="JSON list of earlier key encryption keys, still accepted for decryption while keys "
        "encrypted with them are in use.",
    )
    client_secret_pepper: SecretStr | None = Field(
        default=None,
        description="Server secret (32+ characters) keying the HMAC-SHA-256 of client secrets. "
        "Unset = a random one per process (development only; client secrets do not survive a restart).",
    )
    access_token_lifetime: int = Field(
        default=300,
        ge=ACCESS_TOKEN_LIFETIME_BOUNDS[0],
        le=ACCESS_TOKEN_LIFETIME_BOUNDS[1],
        description="Lifetime of access tokens (seconds) unless the client is registered with another.",
    )
    id_token_lifetime: int = Field(
        default=300,
        ge=ID_TOKEN_LIFETIME_BOUNDS[0],
        le=ID_TOKEN_LIFETIME_BOUNDS[1],
        description="Lifetime of ID tokens (seconds) unless the client is registered with another.",
    )
    clock_skew: int = Field(
        default=60, ge=0, le=600, description="Clock difference between servers tolerated (seconds)."
    )
    client_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="How long a process reuses a client looked up for the token endpoint; changes made "
        "through another replica take effect after at most this long (0 = no cache).",
    )
    client_cache_size: int = Field(default=10_000, ge=1, description="Clients held by that cache at most.")
    page_secret: SecretStr | None = Field(
        default=None,
        description="Server secret (32+ characters) keying the CSRF tokens of the HTML pages. Unset = a random one "
        "per process (development only; open forms fail after a restart and across replicas).",
    )

    # --- accounts (services/identity/accounts) and their e-mails ---
    smtp_host: str = Field(default="127.0.0.1", description="SMTP server that delivers the service's e-mails.")
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_starttls: bool | None = Field(
        default=None, description="STARTTLS: true = required, false = never, unset = when the server offers it."
    )
    smtp_tls: bool = Field(default=False, description="Implicit TLS (SMTPS, usually port 465).")
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    mail_from: str = Field(default="nutzerkonto@localhost", description="Sender address of the e-mails.")
    email_token_lifetime: dt.timedelta = Field(
        default=dt.timedelta(hours=24), description="How long a verification or password reset link works."
    )

    # --- login sessions, trust levels, eID, brokering (services/identity/login, eid, brokering) ---
    upstream_providers: list[UpstreamProvider] = Field(
        default=[],
        description="JSON list of upstream OpenID providers offered on the login page (brokering, e.g. BundID): "
        "name, label, issuer, client_id, client_secret, scopes, acr_levels, attribute_levels.",
    )
    eid_server_url: str = Field(
        default="http://127.0.0.1:8010/eIDService/basisdienste",
        description="The eID server's TR-03130 eID-Interface (SOAP) endpoint for this service provider. "
        "`make run` starts the simulator there.",
    )
    eid_client_url: str = Field(
        default="http://127.0.0.1:24727/eID-Client",
        description="Where the browser finds the eID client: the AusweisApp listens on 127.0.0.1:24727 on the "
        "citizen's machine; the simulator serves a stand-in.",
    )

    # --- OpenID Connect: authorize, codes, refresh tokens, consent, logout (services/identity/oidc) ---
    token_secret: SecretStr | None = Field(
        default=None,
        description="Server secret (32+ characters) keying refresh token values and pairwise subject "
        "identifiers. Unset = a random one per process (development only: refresh tokens and pairwise subjects "
        "change at a restart). Never change it in production: portals would see their users' subjects change.",
    )
    authorization_code_lifetime: int = Field(
        default=60, ge=10, le=600, description="Seconds an authorization code may be redeemed in."
    )
    refresh_token_lifetime: dt.timedelta = Field(
        default=dt.timedelta(days=30),
        description="Lifetime of an offline_access refresh token; other refresh tokens also end with the login "
        "session they came from.",
    )
    outbound_allowed_hosts: list[str] = Field(
        default=[],
        description="JSON list of hosts the service may call although they resolve to internal addresses "
        "(back-channel logout receivers in development); every other host must resolve to public addresses only.",
    )
    refresh_token_grace: float = Field(
        default=10.0,
        ge=0,
        le=120,
        description="Seconds in which a refresh token already used may be presented again (a second browser "
        "tab) and gets the same successor instead of revoking the family.",
    )

    housekeeping_interval: dt.timedelta = Field(
        default=dt.timedelta(minutes=5),
        description="How often expired revocations and client assertion ids are deleted.",
    )

    @field_validator("issuer")
    @classmethod
    def _issuer_is_a_base_url(cls, value: str) -> str:
        # OIDC Discovery §3: a URL with scheme, host and optional path, no query or fragment.
        parts = urlsplit(value)
        if value and (parts.scheme not in ("https", "http") or not parts.netloc or parts.query or "#" in value):
            raise ValueError("the issuer must be an http(s) URL without query or fragment")
        return value

    @model_validator(mode="after")
    def _keys_are_published_before_they_sign(self) -> Self:
        # A verifier that fetched the JWKS just before a new key appeared must refresh before that key
        # signs: the lead covers its cache lifetime and the time every replica needs to learn the key.
        minimum = dt.timedelta(seconds=self.jwks_max_age) + self.signing_key_refresh_interval
        if self.signing_key_publish_lead < minimum:
            raise ValueError("signing_key_publish_lead must be at least jwks_max_age + signing_key_refresh_interval")
        if self.signing_key_rotation_interval <= self.signing_key_publish_lead:
            raise ValueError("signing_key_rotation_interval must be longer than signing_key_publish_lead")
        if self.signing_key_refresh_interval <= dt.timedelta(0) or self.housekeeping_interval <= dt.timedelta(0):
            raise ValueError("signing_key_refresh_interval and housekeeping_interval must be positive")
        if len(set(self.signing_algorithms)) != len(self.signing_algorithms):
            raise ValueError("signing_algorithms lists an algorithm twice")
        return self

    def resolved_issuer(self) -> str:
        """The issuer identifier this service puts into tokens (and accepts on its own admin API)."""
        return (self.issuer or super().resolved_issuer()).rstrip("/")

    def key_retention(self) -> dt.timedelta:
        """How long a key stays published after it stopped signing: until every token it signed has expired.

        The longest access and ID token lifetimes a client can have, the clock skew verifiers tolerate, and
        one refresh interval, during which a replica that has not reloaded yet may still sign with it.
        """
        return (
            dt.timedelta(seconds=ACCESS_TOKEN_LIFETIME_BOUNDS[1] + ID_TOKEN_LIFETIME_BOUNDS[1] + self.clock_skew)
            + self.signing_key_refresh_interval
        )
