"""Settings of the gateway, read from ``GATEWAY_*`` environment variables."""

from pydantic import Field
from pydantic_settings import BaseSettings

from kit.config import service_settings_config

SERVICES = ("identity", "catalogue", "mailbox", "payment", "routing")


class Settings(BaseSettings):
    """Configuration of the gateway."""

    model_config = service_settings_config("GATEWAY_")

    service_name: str = "gateway"
    host: str = Field(default="127.0.0.1", description="Interface the gateway binds to.")
    port: int = Field(default=8000, description="Port the gateway listens on.")
    identity_url: str = Field(default="http://127.0.0.1:8001", description="Base URL of identity.")
    catalogue_url: str = Field(default="http://127.0.0.1:8002", description="Base URL of catalogue.")
    mailbox_url: str = Field(default="http://127.0.0.1:8003", description="Base URL of mailbox.")
    payment_url: str = Field(default="http://127.0.0.1:8004", description="Base URL of payment.")
    routing_url: str = Field(default="http://127.0.0.1:8005", description="Base URL of routing.")
    upstream_timeout: float = Field(default=30.0, gt=0, description="Seconds an upstream may take to answer.")
    log_level: str = Field(default="INFO", description="Python logging level.")
    otlp_endpoint: str = Field(default="", description="OTLP/HTTP endpoint for traces; empty = no export.")

    def upstreams(self) -> dict[str, str]:
        """Each service's base URL by its path prefix."""
        return {name: getattr(self, f"{name}_url").rstrip("/") for name in SERVICES}
