"""Settings of the routing service, read from ``ROUTING_*`` environment variables."""

from kit.config import ServiceSettings, service_settings_config


class Settings(ServiceSettings):
    """Configuration of the routing service."""

    model_config = service_settings_config("ROUTING_")

    service_name: str = "routing"
    port: int = 8005
