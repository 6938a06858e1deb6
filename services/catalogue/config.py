"""Settings of the catalogue service, read from ``CATALOGUE_*`` environment variables."""

from kit.config import ServiceSettings, service_settings_config


class Settings(ServiceSettings):
    """Configuration of the catalogue service."""

    model_config = service_settings_config("CATALOGUE_")

    service_name: str = "catalogue"
    port: int = 8002
