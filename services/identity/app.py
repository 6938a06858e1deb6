"""The identity service's FastAPI app."""

from pathlib import Path

from fastapi import FastAPI

from kit.service import Role, ServiceSpec, create_service_app
from services.identity.config import Settings
from services.identity.models import Base

SPEC = ServiceSpec(
    name="identity",
    title="Basisdienste Identity",
    description=(
        "User accounts (Nutzerkonto/Servicekonto) for citizens and organisations, the OpenID "
        "Connect provider of the suite, trust levels (Vertrauensniveau) and online ID card login."
    ),
    settings_type=Settings,
    migrations_dir=Path(__file__).parent / "migrations",
    metadata=Base.metadata,
    publishes=["identity.account"],
)


def create_app(settings: Settings | None = None, role: Role = Role.ALL) -> FastAPI:
    """The identity service's app, configured from the environment unless `settings` are given."""
    return create_service_app(SPEC, settings or Settings(), role)
