"""Start (or reuse) the local Kafka broker and PostgreSQL cluster through ``deploy/local``, and hand
out fresh databases on that cluster."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
from pathlib import Path

import asyncpg
from sqlalchemy.engine import URL, make_url

from kit.ids import uuid7


def repository_root() -> Path:
    """The checkout this code runs from."""
    return Path(__file__).resolve().parents[2]


class LocalInfrastructure:
    """The broker and the database server the tests talk to, provisioned by ``deploy/local``."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or repository_root()
        self.deploy = self.root / "deploy" / "local"

    def script(self, name: str, *args: str, timeout: float = 600) -> str:
        """Run ``deploy/local/<name>.sh args…`` and return its output, raising when it fails."""
        result = subprocess.run(  # noqa: S603 - our own script, fixed arguments
            ["bash", str(self.deploy / f"{name}.sh"), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"deploy/local/{name}.sh {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout.strip()

    def start_kafka(self) -> str:
        """Start or reuse the broker; return its bootstrap servers."""
        self.script("kafka", "start")
        return os.environ.get("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{os.environ.get('KAFKA_PORT', '9092')}")

    def stop_kafka(self) -> None:
        """Stop the broker (for outage tests)."""
        self.script("kafka", "stop")

    def start_postgres(self) -> None:
        """Start or reuse the PostgreSQL cluster."""
        self.script("postgres", "start")

    def stop_postgres(self) -> None:
        """Stop the PostgreSQL cluster (for outage tests)."""
        self.script("postgres", "stop")

    def postgres_url(self, database: str) -> str:
        """The SQLAlchemy URL of `database` on the local cluster."""
        return self.script("postgres", "url", database)

    async def create_database(self, prefix: str) -> str:
        """Create a new, empty database named after `prefix`; return its URL."""
        name = _database_name(prefix)
        url = make_url(self.postgres_url(name))
        connection = await asyncpg.connect(_asyncpg_dsn(url.set(database="postgres")))
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        return url.render_as_string(hide_password=False)

    async def drop_database(self, url: str, *, patience: float = 60.0) -> None:
        """Drop a database made by :meth:`create_database`, closing any connection still open.

        ``WITH (FORCE)`` cannot end an autovacuum worker (it belongs to the superuser, and PostgreSQL before
        18 has no role to signal it), which is busy right after a large import: then wait and try again.
        """
        parsed = make_url(url)
        connection = await asyncpg.connect(_asyncpg_dsn(parsed.set(database="postgres")))
        deadline = time.monotonic() + patience
        try:
            while True:
                try:
                    await connection.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
                    return
                except (asyncpg.InsufficientPrivilegeError, asyncpg.ObjectInUseError):
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.5)
        finally:
            await connection.close()


def _database_name(prefix: str) -> str:
    cleaned = re.sub(r"[^a-z0-9_]", "_", prefix.lower())[:40]
    return f"t_{cleaned}_{uuid7().hex[-8:]}"


def _asyncpg_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)
