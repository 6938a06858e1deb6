"""``python -m services.catalogue.importers``: load the national catalogue from ``CATALOGUE_DATA_DIR``.

Applies the migrations first, then runs every step of :mod:`services.catalogue.importers.national`
against ``CATALOGUE_DATABASE_URL``; prints progress, and what was skipped and why.
"""

import argparse
import asyncio
from pathlib import Path

from kit.db import Database, migrate
from services.catalogue.app import SPEC
from services.catalogue.config import Settings
from services.catalogue.importers.data_dir import data_dir
from services.catalogue.importers.national import NationalFiles, import_national


async def _run(data_dir: Path, tenant: str) -> None:
    settings = Settings()
    url = settings.resolved_database_url()
    await migrate(url, SPEC.migrations_dir)
    database = Database(url)
    try:
        reports = await import_national(database, NationalFiles(data_dir), tenant=tenant)
    finally:
        await database.dispose()
    print("\nSummary")
    for report in reports:
        print(" ", report.summary())
        for example in report.examples:
            print("     ", example)


def main() -> None:
    """Parse the command line and import."""
    parser = argparse.ArgumentParser(prog="python -m services.catalogue.importers", description=__doc__)
    parser.add_argument(
        "--data-dir", type=Path, default=data_dir(), help="default: CATALOGUE_DATA_DIR or ../shared/data"
    )
    parser.add_argument("--tenant", default="bund", help="the tenant that owns the imported records")
    args = parser.parse_args()
    asyncio.run(_run(args.data_dir, args.tenant))


if __name__ == "__main__":
    main()
