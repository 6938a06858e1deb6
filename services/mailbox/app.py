"""The mailbox service's FastAPI app."""

from pathlib import Path

from fastapi import FastAPI

from kit.service import Role, ServiceSpec, create_service_app
from services.mailbox.config import Settings
from services.mailbox.models import Base

SPEC = ServiceSpec(
    name="mailbox",
    title="Basisdienste Mailbox",
    description=(
        "The postbox of citizens and organisations: authorities deliver documents and decisions, "
        "with attachments, read receipts and replies."
    ),
    settings_type=Settings,
    migrations_dir=Path(__file__).parent / "migrations",
    metadata=Base.metadata,
    publishes=[],
)


def create_app(settings: Settings | None = None, role: Role = Role.ALL) -> FastAPI:
    """The mailbox service's app, configured from the environment unless `settings` are given."""
    return create_service_app(SPEC, settings or Settings(), role)
