"""The payment service's FastAPI app."""

from pathlib import Path

from fastapi import FastAPI

from kit.service import Role, ServiceSpec, create_service_app
from services.payment.config import Settings
from services.payment.models import Base

SPEC = ServiceSpec(
    name="payment",
    title="Basisdienste Payment",
    description=("Online payment of fees bound to a submission, refunds and reconciliation (XBezahldienste)."),
    settings_type=Settings,
    migrations_dir=Path(__file__).parent / "migrations",
    metadata=Base.metadata,
    publishes=[],
)


def create_app(settings: Settings | None = None, role: Role = Role.ALL) -> FastAPI:
    """The payment service's app, configured from the environment unless `settings` are given."""
    return create_service_app(SPEC, settings or Settings(), role)
