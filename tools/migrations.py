"""``python -m tools.migrations <service> "<message>"``: autogenerate the next migration of a service.

The models are compared with a scratch database on the local PostgreSQL cluster (the production
database, so nothing PostgreSQL-specific is missed) migrated to the current head; review the
generated file before committing it (autogenerate does not see everything, e.g. renames).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib

from alembic import command
from sqlalchemy.engine import Connection

from kit.db import Database, alembic_config, migrate
from kit.service import ServiceSpec
from kit.testing import LocalInfrastructure


def _spec(service: str) -> ServiceSpec:
    spec: ServiceSpec = importlib.import_module(f"services.{service}.app").SPEC
    return spec


async def new_revision(service: str, message: str) -> None:
    """Write the next revision of `service`'s chain from the difference between models and head."""
    spec = _spec(service)
    infrastructure = LocalInfrastructure()
    infrastructure.start_postgres()
    url = await infrastructure.create_database(f"revision_{service}")
    try:
        await migrate(url, spec.migrations_dir)
        config = alembic_config(spec.migrations_dir)
        database = Database(url)
        try:
            async with database.engine.begin() as connection:

                def revise(sync_connection: Connection) -> None:
                    config.attributes["connection"] = sync_connection
                    heads = len(list((spec.migrations_dir / "versions").glob("*.py")))
                    command.revision(config, message=message, autogenerate=True, rev_id=f"{heads + 1:04d}")

                await connection.run_sync(revise)
        finally:
            await database.dispose()
    finally:
        await infrastructure.drop_database(url)


def main() -> None:
    """Parse the command line and write the revision."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("service")
    parser.add_argument("message")
    args = parser.parse_args()
    asyncio.run(new_revision(args.service, args.message))


if __name__ == "__main__":
    main()
