"""Alembic environment of the mailbox service: run by kit.db.migrate on a connection it passes in."""

from alembic import context

from kit.db import run_migrations_in_env
from services.mailbox.app import SPEC

run_migrations_in_env(context, SPEC.all_metadata)
