"""What every service process is made of, so that a service folder holds only its domain.

A service describes itself in a :class:`ServiceSpec`; :func:`create_service_app` builds its FastAPI
app (problem documents, request ids, body limit, telemetry, health, token checks, database, and —
in the worker role — topics, the outbox relay and the event consumers), and :func:`main` is its
``python -m services.<name>`` entry point.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import enum
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import uvicorn
from fastapi import APIRouter, FastAPI, Request
from sqlalchemy import MetaData

from contracts.events.base import Event, dead_letter_topic
from kit.auth import caller_scope, create_verifier, install_auth
from kit.config import ServiceSettings
from kit.db import KIT_METADATA, Database, migrate
from kit.events import BrokerProbe, EventConsumer, Handler, OutboxRelay, ensure_topics
from kit.events.consumer import purge_inbox
from kit.events.relay import sleep_or_stop
from kit.http.body_limit import BodySizeLimitMiddleware
from kit.http.idempotency import install_idempotency, purge_expired
from kit.http.problems import install_problem_handlers
from kit.http.request_id import RequestIdMiddleware
from kit.telemetry import setup_telemetry

log = logging.getLogger(__name__)

_WORKER_BACKOFF_MAX = 10.0
_PURGE_INTERVAL = 300.0


class Role(enum.StrEnum):
    """Which parts of a service a process runs (one image, scaled separately in Kubernetes)."""

    API = "api"
    WORKER = "worker"
    ALL = "all"


HandlerFactory = Callable[[ServiceSettings], Mapping[type[Event], Handler]]


class Component(Protocol):
    """Something a service runs beside its API in every API process, such as an in-memory read model.

    It is started with the app and stopped with it; until :meth:`check` passes, the process is not ready.
    """

    name: str

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set."""

    async def check(self) -> None:
        """Raise unless the component can serve requests."""


ComponentFactory = Callable[[FastAPI, ServiceSettings, Database], Sequence[Component]]


@dataclass(frozen=True)
class ServiceSpec:
    """Everything the kit needs to know to run one service."""

    name: str
    title: str
    description: str
    settings_type: type[ServiceSettings]
    migrations_dir: Path
    metadata: MetaData
    routers: Sequence[APIRouter] = ()
    #: Topics this service publishes to (created at start-up).
    publishes: Sequence[str] = ()
    #: The event handlers of this service's consumer group.
    handlers: HandlerFactory | None = None
    version: str = "0.1.0"
    openapi_tags: Sequence[dict[str, Any]] = field(default_factory=list)
    #: What every API process runs beside its routes (started in the api and all roles).
    components: ComponentFactory | None = None
    #: Larger (or smaller) body limits below path prefixes, such as bulk uploads.
    body_limits: Callable[[ServiceSettings], Mapping[str, int]] | None = None

    @property
    def all_metadata(self) -> list[MetaData]:
        """The service's tables and the kit's (outbox, inbox, idempotency keys)."""
        return [self.metadata, KIT_METADATA]


def get_database(request: Request) -> Database:
    """FastAPI dependency: the service's database."""
    database: Database = request.app.state.database
    return database


def create_service_app(spec: ServiceSpec, settings: ServiceSettings, role: Role = Role.ALL) -> FastAPI:
    """The FastAPI app of a service in the given role."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        if workers is not None:
            workers.start(stop)
        running = [
            asyncio.create_task(component.run(stop), name=f"{spec.name}-{component.name}") for component in components
        ]
        try:
            yield
        finally:
            stop.set()
            if workers is not None:
                await workers.wait_stopped(timeout=15)
            await _stop_components(running, timeout=15)
            await broker.close()
            await verifier.aclose()
            await database.dispose()

    app = FastAPI(
        title=spec.title,
        description=spec.description,
        version=spec.version,
        lifespan=lifespan,
        openapi_tags=list(spec.openapi_tags) or None,
    )
    database = Database(settings.resolved_database_url(), pool_size=settings.database_pool_size)
    broker = BrokerProbe(settings.kafka_bootstrap_servers)
    verifier = create_verifier(settings)
    app.state.settings = settings
    app.state.database = database
    workers = Workers(spec, settings, database) if role in (Role.WORKER, Role.ALL) else None
    install_problem_handlers(app)
    install_auth(app, verifier)
    install_idempotency(app, database.session, scope=caller_scope)
    checks: dict[str, Callable[[], Awaitable[None]]] = {"database": database.ping, "broker": broker.check}
    if workers is not None:
        checks["workers"] = workers.check
    serves_api = role in (Role.API, Role.ALL)
    components = list(spec.components(app, settings, database)) if serves_api and spec.components else []
    for component in components:
        checks[component.name] = component.check
    setup_telemetry(app, settings, checks, engine=database.engine)
    if serves_api:
        for router in spec.routers:
            app.include_router(router)
    # Added last, so they wrap everything: the request id is set before anything logs.
    path_limits = spec.body_limits(settings) if spec.body_limits else None
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes, path_limits=path_limits)
    app.add_middleware(RequestIdMiddleware)
    return app


async def _stop_components(tasks: Sequence[asyncio.Task[None]], timeout: float) -> None:
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def consumed_topics(spec: ServiceSpec, settings: ServiceSettings) -> list[str]:
    """The topics this service's consumers read."""
    handlers = spec.handlers(settings) if spec.handlers else {}
    return sorted({model.topic for model in handlers})


class Workers:
    """The worker role of a service: its topics, outbox relay, consumers and housekeeping."""

    def __init__(self, spec: ServiceSpec, settings: ServiceSettings, database: Database) -> None:
        self.spec = spec
        self.settings = settings
        self.database = database
        self.handlers = spec.handlers(settings) if spec.handlers else {}
        self.topics_ready = False
        self._task: asyncio.Task[None] | None = None

    def start(self, stop: asyncio.Event) -> None:
        """Start everything in the background until `stop` is set."""
        self._task = asyncio.create_task(self._run(stop), name=f"{self.spec.name}-workers")
        self._task.add_done_callback(self._report_failure)

    async def check(self) -> None:
        """Readiness: the topics exist and no worker has died."""
        if self._task is not None and self._task.done():
            raise RuntimeError("workers stopped")
        if not self.topics_ready:
            raise RuntimeError("topics not created yet")

    async def wait_stopped(self, timeout: float) -> None:
        """Give the workers `timeout` seconds to finish their batch, then cancel them."""
        if self._task is None:
            return
        done, _ = await asyncio.wait([self._task], timeout=timeout)
        if not done:
            self._task.cancel()
            await asyncio.wait([self._task])

    def _report_failure(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("service workers died", exc_info=task.exception())

    async def _run(self, stop: asyncio.Event) -> None:
        consumed = sorted({model.topic for model in self.handlers})
        topics = [*self.spec.publishes, *consumed, *(dead_letter_topic(topic) for topic in consumed)]
        if not await self._ensure_topics(topics, stop):
            return
        settings = self.settings
        runners: list[Coroutine[Any, Any, None]] = [
            OutboxRelay(
                self.database,
                service=self.spec.name,
                bootstrap_servers=settings.kafka_bootstrap_servers,
                batch_size=settings.relay_batch_size,
                poll_interval=settings.relay_poll_interval,
            ).run(stop),
            self._housekeeping(stop),
        ]
        if self.handlers:
            consumer = EventConsumer(
                self.database,
                service=self.spec.name,
                bootstrap_servers=settings.kafka_bootstrap_servers,
                handlers=self.handlers,
                max_attempts=settings.consumer_max_attempts,
                retry_backoff=settings.consumer_retry_backoff,
            )
            runners.append(consumer.run(stop))
        async with asyncio.TaskGroup() as group:
            for runner in runners:
                group.create_task(runner)

    async def _ensure_topics(self, topics: Sequence[str], stop: asyncio.Event) -> bool:
        # Kafka may come up after the service: keep trying instead of failing the start.
        backoff = 0.5
        while not stop.is_set():
            try:
                await ensure_topics(
                    self.settings.kafka_bootstrap_servers,
                    topics,
                    partitions=self.settings.kafka_topic_partitions,
                    replication_factor=self.settings.kafka_replication_factor,
                )
                self.topics_ready = True
                return True
            except Exception as error:
                log.warning("cannot create topics yet", extra={"error": type(error).__name__})
                await sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, _WORKER_BACKOFF_MAX)
        return False

    async def _housekeeping(self, stop: asyncio.Event) -> None:
        # Expired idempotency keys and inbox rows no redelivery can need are dead weight.
        while not stop.is_set():
            try:
                async with self.database.session() as session, session.begin():
                    await purge_expired(session)
                    await purge_inbox(session)
            except Exception as error:
                log.warning("housekeeping failed", extra={"error": type(error).__name__})
            await sleep_or_stop(stop, _PURGE_INTERVAL)


def main(spec: ServiceSpec, argv: Sequence[str] | None = None) -> None:
    """Entry point of ``python -m services.<name>``: optionally migrate, then serve."""
    parser = argparse.ArgumentParser(prog=f"python -m services.{spec.name}", description=spec.title)
    parser.add_argument("--role", choices=[r.value for r in Role], default=Role.ALL.value)
    parser.add_argument("--migrate", action="store_true", help="apply the database migrations first")
    parser.add_argument("--migrate-only", action="store_true", help="apply the migrations and exit")
    parser.add_argument("--host", help="override <PREFIX>HOST")
    parser.add_argument("--port", type=int, help="override <PREFIX>PORT")
    args = parser.parse_args(argv)
    settings = spec.settings_type()
    if args.host:
        settings.host = args.host
    if args.port:
        settings.port = args.port
    if args.migrate or args.migrate_only:
        asyncio.run(migrate(settings.resolved_database_url(), spec.migrations_dir))
        if args.migrate_only:
            return
    app = create_service_app(spec, settings, Role(args.role))
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False)
