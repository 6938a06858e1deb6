"""Database access: async engines for PostgreSQL (asyncpg) and SQLite (aiosqlite), shared column
types, the kit's own tables, and Alembic migrations run programmatically, one chain per service.

Every service declares its tables on its own ``MetaData(naming_convention=NAMING_CONVENTION)``; the
tables the kit needs in every service database (outbox, inbox, idempotency keys) live on
:data:`KIT_METADATA`, and each service's migrations create both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from sqlalchemy import JSON, DateTime, MetaData, event, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Tables the kit keeps in every service database (outbox, inbox, idempotency keys).
KIT_METADATA = MetaData(naming_convention=NAMING_CONVENTION)

#: JSON that is JSONB on PostgreSQL.
JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """`timestamptz` on PostgreSQL; on SQLite, which drops the zone, values come back as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: pass an aware UTC datetime")
        return value.astimezone(dt.UTC) if value is not None else None

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


def utcnow() -> dt.datetime:
    """The current time, aware, in UTC."""
    return dt.datetime.now(dt.UTC)


def is_postgresql(url: str) -> bool:
    """Whether a SQLAlchemy URL points at PostgreSQL."""
    return make_url(url).get_backend_name() == "postgresql"


class Database:
    """One service's database: an async engine and the sessions made from it."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = url
        kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": True}
        if is_postgresql(url):
            kwargs |= {"pool_size": pool_size, "max_overflow": pool_size}
        else:
            _ensure_sqlite_directory(url)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if not is_postgresql(url):
            event.listen(self.engine.sync_engine, "connect", _configure_sqlite)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_postgresql(self) -> bool:
        """Whether this database supports PostgreSQL-only features (SKIP LOCKED, LISTEN/NOTIFY)."""
        return is_postgresql(self.url)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session; the caller opens its transaction (``async with session.begin():``)."""
        async with self.sessionmaker() as session:
            yield session

    async def ping(self) -> None:
        """Raise unless the database answers a trivial query."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def _ensure_sqlite_directory(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API and the relay read while the other writes; the busy timeout makes a writer
    # wait for the lock instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


# --- migrations -----------------------------------------------------------------------------------


def alembic_config(migrations_dir: Path) -> Config:
    """An Alembic configuration for one service's migration chain (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(migrations_dir / "versions"))
    return config


def run_migrations_in_env(context: Any, target_metadata: Sequence[MetaData]) -> None:
    """Body of every service's ``migrations/env.py``: migrate on the connection the kit passed in."""
    connection: Connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=list(target_metadata),
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=_render_kit_types,
    )
    with context.begin_transaction():
        context.run_migrations()


def _render_kit_types(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    # Migrations stay plain SQLAlchemy: they must not break when kit's Python types change.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and obj is JSONType:
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return "sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')"
    return False


async def migrate(url: str, migrations_dir: Path, revision: str = "head") -> None:
    """Upgrade the database at `url` to `revision` of the chain in `migrations_dir`."""
    config = alembic_config(migrations_dir)
    database = Database(url)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(_upgrade, config, revision)
    finally:
        await database.dispose()


def _upgrade(connection: Connection, config: Config, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        # Replicas started together with --migrate take turns; the later ones find nothing to do.
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('kit.db.migrate'))"))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def current_revision(url: str, migrations_dir: Path) -> str | None:
    """The revision the database is at, or None before the first migration."""
    config = alembic_config(migrations_dir)
    database = Database(url)
    try:
        async with database.engine.connect() as connection:
            return await connection.run_sync(_current, config)
    finally:
        await database.dispose()


def _current(connection: Connection, config: Config) -> str | None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(config)
    with EnvironmentContext(config, script) as env:
        env.configure(connection=connection)
        return env.get_context().get_current_revision()


async def schema_differences(url: str, target_metadata: Sequence[MetaData]) -> list[Any]:
    """What differs between the (migrated) database at `url` and the models: empty when they agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, list(target_metadata)))  # type: ignore[arg-type]

    database = Database(url)
    try:
        async with database.engine.connect() as connection:
            return await connection.run_sync(compare)
    finally:
        await database.dispose()
