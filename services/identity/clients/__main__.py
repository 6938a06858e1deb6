"""``python -m services.identity.clients admin --tenant <tenant>``: register a tenant's first administrator.

The admin API needs a token with ``identity:admin``, which only a registered client can get: this
command registers such a client directly in the database (read from the ``IDENTITY_*`` settings, with
the same client secret pepper as the running service) and prints its id and secret as JSON, once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Sequence

from kit.db import Database, utcnow
from services.identity import paths
from services.identity.clients.api import ADMIN_SCOPE
from services.identity.clients.schemas import ClientSettings
from services.identity.clients.secrets import SecretHasher
from services.identity.clients.service import register_client
from services.identity.config import Settings


async def register_admin(settings: Settings, tenant: str, name: str) -> dict[str, str]:
    """Register an administrator client of `tenant`; its credentials and where to use them."""
    if settings.client_secret_pepper is None:
        raise SystemExit("set IDENTITY_CLIENT_SECRET_PEPPER: the running service must be able to check the secret")
    client = ClientSettings(
        name=name,
        type="confidential",
        grant_types=["client_credentials"],
        scopes=[ADMIN_SCOPE],
        audiences=[settings.resolved_audience()],
    )
    database = Database(settings.resolved_database_url())
    try:
        async with database.session() as session, session.begin():
            created = await register_client(
                session, tenant, client, SecretHasher.from_settings(settings.client_secret_pepper), utcnow()
            )
    finally:
        await database.dispose()
    assert created.client_secret is not None
    return {
        "client_id": created.client_id,
        "client_secret": created.client_secret,
        "tenant": tenant,
        "token_endpoint": settings.resolved_issuer() + paths.TOKEN,
        "audience": settings.resolved_audience(),
        "scope": ADMIN_SCOPE,
    }


def tenant_slug(value: str) -> str:
    """A tenant id as tokens carry it: a short lower-case slug."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", value):
        raise argparse.ArgumentTypeError("a tenant is a short slug of a-z, 0-9 and '-'")
    return value


def main(argv: Sequence[str] | None = None, settings: Settings | None = None) -> None:
    """Parse the command line, register the client and print its credentials."""
    parser = argparse.ArgumentParser(prog="python -m services.identity.clients", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    admin = commands.add_parser("admin", help="register an administrator client of a tenant")
    admin.add_argument("--tenant", required=True, type=tenant_slug, help="the tenant (Mandant) it administers, e.g. st")
    admin.add_argument("--name", default="Administration", help="a name for the client")
    args = parser.parse_args(argv)
    credentials = asyncio.run(register_admin(settings or Settings(), args.tenant, args.name))
    json.dump(credentials, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
