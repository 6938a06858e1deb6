"""Service settings: a prefix per service, suite-wide names without it, derived defaults."""

import pytest

from kit.config import ServiceSettings, service_settings_config


class DemoSettings(ServiceSettings):
    model_config = service_settings_config("DEMO_")
    service_name: str = "demo"
    port: int = 8099


def test_prefixed_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_PORT", "9123")
    monkeypatch.setenv("DEMO_DATABASE_URL", "postgresql+asyncpg://u:p@127.0.0.1/demo")
    monkeypatch.setenv("OTHER_PORT", "1")
    settings = DemoSettings()
    assert settings.port == 9123
    assert settings.resolved_database_url() == "postgresql+asyncpg://u:p@127.0.0.1/demo"


def test_suite_wide_variables_have_no_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    settings = DemoSettings()
    assert settings.kafka_bootstrap_servers == "127.0.0.1:19092"
    assert settings.otlp_endpoint == "http://127.0.0.1:4318"


def test_defaults_derive_from_the_service_and_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_IDENTITY_URL", "https://id.example.test/")
    settings = DemoSettings()
    assert settings.resolved_database_url() == "sqlite+aiosqlite:///.data/demo.db"
    assert settings.resolved_issuer() == "https://id.example.test"
    assert settings.resolved_jwks_url() == "https://id.example.test/jwks"
    assert settings.resolved_audience() == "demo"


def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_RELAY_BATCH_SIZE", "0")
    with pytest.raises(ValueError, match="relay_batch_size"):
        DemoSettings()
