"""The routing service's FastAPI app."""

from pathlib import Path

from fastapi import FastAPI

from kit.service import Role, ServiceSpec, create_service_app
from services.routing.config import Settings
from services.routing.models import Base

SPEC = ServiceSpec(
    name="routing",
    title="Basisdienste Routing",
    description=(
        "Takes submissions (Anträge) from portals, finds the responsible authority and delivers "
        "them end-to-end encrypted to its back-end (FIT-Connect Submission and Routing API)."
    ),
    settings_type=Settings,
    migrations_dir=Path(__file__).parent / "migrations",
    metadata=Base.metadata,
    publishes=[],
)


def create_app(settings: Settings | None = None, role: Role = Role.ALL) -> FastAPI:
    """The routing service's app, configured from the environment unless `settings` are given."""
    return create_service_app(SPEC, settings or Settings(), role)
