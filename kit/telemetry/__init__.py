"""Observability every service shares: JSON logs, OpenTelemetry traces, Prometheus metrics, health probes.

A service wires all of it in ``create_app`` with one call::

    checks = {"database": database.ping, "broker": broker.ping}
    setup_telemetry(app, settings, checks, engine=database.engine)
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from kit.config import ServiceSettings
from kit.telemetry.health import ReadinessCheck, health_router
from kit.telemetry.logging import configure_logging
from kit.telemetry.metrics import mount_metrics
from kit.telemetry.tracing import configure_tracing, instrument_app, instrument_httpx, instrument_sqlalchemy

__all__ = ["ReadinessCheck", "setup_telemetry"]


def setup_telemetry(
    app: FastAPI,
    settings: ServiceSettings,
    readiness_checks: Mapping[str, ReadinessCheck],
    *,
    engine: AsyncEngine | None = None,
) -> None:
    """Configure logs and traces for the process, instrument `app` (and `engine`), mount metrics and health.

    Call it while building the app, before it serves: middleware cannot be added to a running app.
    """
    configure_logging(settings.service_name, settings.log_level)
    configure_tracing(settings.service_name, settings.otlp_endpoint)
    instrument_app(app)
    instrument_httpx()
    if engine is not None:
        instrument_sqlalchemy(engine)
    mount_metrics(app, settings.service_name)
    app.include_router(health_router(readiness_checks))
