"""Settings of the gateway, read from ``GATEWAY_*`` environment variables (see ``gateway/README.md``).

What is routed where, and under which rules, is not here but in the route table file
(``GATEWAY_ROUTES_FILE``), which can change while the gateway runs.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings

from kit.config import service_settings_config

#: The services whose URLs have settings of their own; any other upstream of the table can be
#: overridden the same way (GATEWAY_<NAME>_URL), read straight from the environment.
SERVICES = ("identity", "catalogue", "mailbox", "payment", "routing")
DEFAULT_ROUTES_FILE = Path(__file__).with_name("routes.yaml")


class Settings(BaseSettings):
    """Configuration of the gateway."""

    model_config = service_settings_config("GATEWAY_")

    service_name: str = "gateway"
    host: str = Field(default="127.0.0.1", description="Interface the gateway binds to.")
    port: int = Field(default=8000, description="Port the gateway listens on.")
    routes_file: Path = Field(default=DEFAULT_ROUTES_FILE, description="The route table (YAML).")
    identity_url: str | None = Field(default=None, description="Base URL of identity; overrides the route table.")
    catalogue_url: str | None = Field(default=None, description="Base URL of catalogue; overrides the route table.")
    mailbox_url: str | None = Field(default=None, description="Base URL of mailbox; overrides the route table.")
    payment_url: str | None = Field(default=None, description="Base URL of payment; overrides the route table.")
    routing_url: str | None = Field(default=None, description="Base URL of routing; overrides the route table.")
    upstream_timeout: float = Field(
        default=30.0, gt=0, description="Seconds an upstream may stay silent, for routes that set no timeout."
    )
    upstream_keepalive: float = Field(
        default=4.0, gt=0, description="Seconds an idle upstream connection is kept; below the upstreams' own."
    )
    upstream_max_connections: int = Field(default=1000, ge=1, description="Connections to all upstreams at most.")
    issuer: str = Field(default="", description="Expected `iss` of access tokens; empty = the identity upstream's URL.")
    jwks_url: str = Field(default="", description="The issuer's JWKS; empty = <identity upstream URL>/jwks.")
    jwks_refresh_interval: float = Field(
        default=30.0, ge=0, description="Seconds between two JWKS fetches at least, however many unknown kids arrive."
    )
    token_cache_seconds: float = Field(
        default=30.0, ge=0, description="Seconds a verified token is remembered (never past its expiry); 0 = off."
    )
    token_cache_size: int = Field(default=10_000, ge=0, description="Verified tokens remembered at most.")
    trusted_proxies: str = Field(
        default="", description="Comma-separated addresses/networks whose X-Forwarded-* headers are believed."
    )
    cors_origins: str = Field(default="", description="Comma-separated origins allowed by CORS; empty = no CORS.")
    cors_allow_credentials: bool = Field(default=False, description="Whether CORS responses allow credentials.")
    redis_url: str = Field(default="", description="Redis shared by the replicas' rate limits; empty = in-process.")
    rate_limit_fail_open: bool = Field(
        default=True, description="Whether requests pass (true) or are refused (false) while Redis is unreachable."
    )
    openapi_cache_seconds: float = Field(
        default=30.0, ge=0, description="Seconds the merged OpenAPI document is kept before it is fetched again."
    )
    access_log: bool = Field(default=True, description="One JSON line per request at INFO.")
    log_level: str = Field(default="INFO", description="Python logging level.")
    otlp_endpoint: str = Field(
        default="",
        validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT"),
        description="OTLP/HTTP endpoint for traces (env OTEL_EXPORTER_OTLP_ENDPOINT); empty = no export.",
    )

    def url_overrides(self) -> dict[str, str]:
        """The services' URLs set through these settings, by upstream name."""
        return {name: url for name in SERVICES if (url := getattr(self, f"{name}_url"))}

    def trusted_proxy_networks(self) -> list[str]:
        """The networks of ``trusted_proxies``."""
        return _items(self.trusted_proxies)

    def cors_origin_list(self) -> list[str]:
        """The origins of ``cors_origins``."""
        return _items(self.cors_origins)


def _items(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]
