"""Alembic environment of the routing service: run by kit.db.migrate on a connection it passes in."""

from alembic import context

from kit.db import run_migrations_in_env
from services.routing.app import SPEC

run_migrations_in_env(context, SPEC.all_metadata)
