"""Settings of the mailbox service, read from ``MAILBOX_*`` environment variables."""

from kit.config import ServiceSettings, service_settings_config


class Settings(ServiceSettings):
    """Configuration of the mailbox service."""

    model_config = service_settings_config("MAILBOX_")

    service_name: str = "mailbox"
    port: int = 8003
