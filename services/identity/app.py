"""The identity service's FastAPI app."""

from pathlib import Path

from fastapi import FastAPI

from kit.config import ServiceSettings
from kit.db import Database
from kit.service import Component, Role, ServiceSpec, create_service_app
from services.identity import audit, paths, throttle
from services.identity.accounts import models as account_models
from services.identity.accounts.api import router as accounts_router
from services.identity.accounts.organisation_pages import router as organisations_router
from services.identity.clients.api import router as clients_router
from services.identity.config import Settings
from services.identity.discovery import router as discovery_router
from services.identity.keys.api import router as keys_router
from services.identity.login.api import router as login_router
from services.identity.login.brokered import router as brokered_login_router
from services.identity.login.eid import router as eid_login_router
from services.identity.mail.queue import MailSender
from services.identity.models import Base
from services.identity.oauth.endpoints import router as oauth_router
from services.identity.oauth.forms import MAX_FORM_BYTES
from services.identity.oidc.api import router as oidc_router
from services.identity.oidc.backchannel import BackchannelLogout
from services.identity.runtime import identity_components
from services.identity.web.pages import router as pages_router

# Modules whose tables are only reached through other modules, imported so their tables are in the metadata.
_TABLES = (audit, account_models, throttle)


def _body_limits(settings: ServiceSettings) -> dict[str, int]:
    # OAuth requests are small forms: refuse a large body before reading it.
    return dict.fromkeys((paths.TOKEN, paths.INTROSPECT, paths.REVOKE), MAX_FORM_BYTES)


def _components(app: FastAPI, settings: ServiceSettings, database: Database) -> list[Component]:
    components = list(identity_components(app, settings, database))
    assert isinstance(settings, Settings)
    return [*components, MailSender(database, settings), BackchannelLogout(app.state.identity)]


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
    # The token endpoint first: routes are matched in order, and it is the one called most.
    routers=[
        oauth_router,
        keys_router,
        discovery_router,
        clients_router,
        oidc_router,
        login_router,
        eid_login_router,
        brokered_login_router,
        accounts_router,
        organisations_router,
        pages_router,
    ],
    publishes=["identity.account"],
    components=_components,
    body_limits=_body_limits,
)


def create_app(settings: Settings | None = None, role: Role = Role.ALL) -> FastAPI:
    """The identity service's app, configured from the environment unless `settings` are given."""
    return create_service_app(SPEC, settings or Settings(), role)
