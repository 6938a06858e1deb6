"""Settings shared by every service, read from the environment with a per-service prefix.

A service subclasses :class:`ServiceSettings`, names itself and sets its env prefix::

    class Settings(ServiceSettings):
        model_config = service_settings_config("PAYMENT_")
        service_name: str = "payment"
        port: int = 8004

Settings that the whole suite shares (the Kafka bootstrap servers, the OpenTelemetry endpoint) are
read without the prefix, under the names their ecosystems use.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Where `make run` keeps each service's SQLite file unless <SERVICE>_DATABASE_URL says otherwise.
DATA_DIR = Path(".data")


def service_settings_config(env_prefix: str) -> SettingsConfigDict:
    """The pydantic-settings configuration every service uses, with its own env prefix."""
    return SettingsConfigDict(env_prefix=env_prefix, extra="ignore", populate_by_name=True)


class ServiceSettings(BaseSettings):
    """Configuration every service has. Field `x` is read from `<PREFIX>X` unless noted."""

    model_config = service_settings_config("")

    service_name: str = Field(default="service", description="Name used in logs, traces, topics and groups.")
    host: str = Field(default="127.0.0.1", description="Interface the HTTP server binds to.")
    port: int = Field(default=8000, description="Port the HTTP server listens on.")
    database_url: str = Field(
        default="",
        description="SQLAlchemy async URL (postgresql+asyncpg://… or sqlite+aiosqlite:///…); "
        "empty means a SQLite file under .data/.",
    )
    database_pool_size: int = Field(default=10, ge=1, le=200)
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS"),
        description="Kafka bootstrap servers, shared by all services (env KAFKA_BOOTSTRAP_SERVERS).",
    )
    kafka_topic_partitions: int = Field(default=3, ge=1, description="Partitions of topics created at start.")
    kafka_replication_factor: int = Field(default=1, ge=1, description="Replication of topics created at start.")
    relay_batch_size: int = Field(default=500, ge=1, le=10_000, description="Outbox rows relayed per batch.")
    relay_poll_interval: float = Field(
        default=0.5, gt=0, description="Seconds between outbox polls when no NOTIFY wakes the relay."
    )
    consumer_max_attempts: int = Field(
        default=5, ge=1, description="Handler attempts before an event goes to <topic>.dlq."
    )
    consumer_retry_backoff: float = Field(
        default=0.2, ge=0, description="Seconds before the first retry; doubles with each attempt."
    )
    identity_url: str = Field(
        default="http://127.0.0.1:8001", description="Base URL of the identity service (issuer of tokens)."
    )
    auth_issuer: str = Field(default="", description="Expected `iss` of access tokens; empty = identity_url.")
    auth_jwks_url: str = Field(default="", description="JWKS of the issuer; empty = <identity_url>/jwks.")
    auth_audience: str = Field(default="", description="Expected `aud` of access tokens; empty = service name.")
    max_body_bytes: int = Field(default=1_048_576, ge=1, description="Largest request body accepted.")
    log_level: str = Field(default="INFO", description="Python logging level.")
    otlp_endpoint: str = Field(
        default="",
        validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT"),
        description="OTLP/HTTP endpoint for traces (env OTEL_EXPORTER_OTLP_ENDPOINT); empty = no export.",
    )

    def resolved_database_url(self) -> str:
        """The database URL to use: the configured one, else a SQLite file under `.data/`."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{DATA_DIR / (self.service_name + '.db')}"

    def resolved_issuer(self) -> str:
        """The token issuer this service trusts."""
        return self.auth_issuer or self.identity_url.rstrip("/")

    def resolved_jwks_url(self) -> str:
        """Where the issuer publishes its signing keys."""
        return self.auth_jwks_url or self.identity_url.rstrip("/") + "/jwks"

    def resolved_audience(self) -> str:
        """The `aud` an access token must carry to be accepted here."""
        return self.auth_audience or self.service_name
