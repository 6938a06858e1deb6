"""Settings of the catalogue service, read from ``CATALOGUE_*`` environment variables."""

from pydantic import Field

from kit.config import ServiceSettings, service_settings_config


class Settings(ServiceSettings):
    """Configuration of the catalogue service."""

    model_config = service_settings_config("CATALOGUE_")

    service_name: str = "catalogue"
    port: int = 8002
    read_model_poll_interval: float = Field(
        default=0.5, gt=0, le=60, description="Seconds between looks at the change feed for published changes."
    )
    max_bulk_bytes: int = Field(
        default=512 * 1024 * 1024, ge=1, description="Largest NDJSON bulk upload (and register import) accepted."
    )
