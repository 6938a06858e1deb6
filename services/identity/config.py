"""Settings of the identity service, read from ``IDENTITY_*`` environment variables."""

from kit.config import ServiceSettings, service_settings_config


class Settings(ServiceSettings):
    """Configuration of the identity service."""

    model_config = service_settings_config("IDENTITY_")

    service_name: str = "identity"
    port: int = 8001
