"""The catalogue service's FastAPI app."""

from pathlib import Path

from fastapi import FastAPI

import services.catalogue.editorial.bulk  # noqa: F401 - registers POST /editorial/bulk on the editorial router
from contracts.events.catalogue import RecordEvent, RegionChanged
from kit.config import ServiceSettings
from kit.db import Database
from kit.service import Component, Role, ServiceSpec, create_service_app
from services.catalogue.changes_api import router as changes_router
from services.catalogue.config import Settings
from services.catalogue.editorial.api import router as editorial_router
from services.catalogue.models import Base
from services.catalogue.public_api import router as public_router
from services.catalogue.read_model import CatalogueView
from services.catalogue.regions.api import MAX_POSTAL_CODES_BYTES, MAX_REGISTER_BYTES
from services.catalogue.regions.api import router as regions_router


def _components(app: FastAPI, settings: ServiceSettings, database: Database) -> list[Component]:
    # Each API replica answers public reads from its own copy of the published catalogue.
    assert isinstance(settings, Settings)
    view = CatalogueView(database, poll_interval=settings.read_model_poll_interval)
    app.state.catalogue = view
    return [view]


def _body_limits(settings: ServiceSettings) -> dict[str, int]:
    assert isinstance(settings, Settings)
    return {
        "/editorial/bulk": settings.max_bulk_bytes,
        "/regionen/register": MAX_REGISTER_BYTES,
        "/postleitzahlen": MAX_POSTAL_CODES_BYTES,
    }


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
    routers=[public_router, regions_router, changes_router, editorial_router],
    components=_components,
    publishes=[RecordEvent.topic, RegionChanged.topic],
    body_limits=_body_limits,
)


def create_app(settings: Settings | None = None, role: Role = Role.ALL) -> FastAPI:
    """The catalogue service's app, configured from the environment unless `settings` are given."""
    return create_service_app(SPEC, settings or Settings(), role)
