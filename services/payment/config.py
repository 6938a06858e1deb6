"""Settings of the payment service, read from ``PAYMENT_*`` environment variables."""

from kit.config import ServiceSettings, service_settings_config


class Settings(ServiceSettings):
    """Configuration of the payment service."""

    model_config = service_settings_config("PAYMENT_")

    service_name: str = "payment"
    port: int = 8004
