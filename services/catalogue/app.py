"""The catalogue service's FastAPI app."""

from pathlib import Path

from fastapi import FastAPI

from kit.service import Role, ServiceSpec, create_service_app
from services.catalogue.config import Settings
from services.catalogue.models import Base

SPEC = ServiceSpec(
    name="catalogue",
    title="Basisdienste Catalogue",
    description=(
        "Administrative services (Leistungen, LeiKa keys), fees, authorities "
        "(Organisationseinheiten), responsibilities (Zuständigkeiten) by region (ARS), and search."
    ),
    settings_type=Settings,
    migrations_dir=Path(__file__).parent / "migrations",
    metadata=Base.metadata,
    publishes=[],
)


def create_app(settings: Settings | None = None, role: Role = Role.ALL) -> FastAPI:
    """The catalogue service's app, configured from the environment unless `settings` are given."""
    return create_service_app(SPEC, settings or Settings(), role)
