"""Liveness and readiness endpoints for the orchestrator's probes.

``/health/live`` answers as long as the event loop does; ``/health/ready`` runs every readiness
check (database, broker) at once, each bounded by a timeout. A failed check is reported by the
class name of its exception only: its message may hold host names or connection details.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Literal

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

logger = logging.getLogger(__name__)

#: Raises unless the dependency it checks is reachable.
ReadinessCheck = Callable[[], Awaitable[None]]

CHECK_OK = "ok"


class Liveness(BaseModel):
    status: Literal["live"] = "live"


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, str] = Field(
        description='Per dependency "ok" or "unavailable: <exception class>".',
        examples=[{"database": "ok", "broker": "unavailable: TimeoutError"}],
    )


def health_router(checks: Mapping[str, ReadinessCheck], *, timeout: float = 2.0) -> APIRouter:
    """``GET /health/live``, and ``GET /health/ready`` running `checks` within `timeout` seconds."""
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    checks = dict(checks)
    router = APIRouter(prefix="/health", tags=["health"])

    @router.get("/live", response_model=Liveness, summary="Liveness: the process answers")
    async def live() -> Liveness:
        return Liveness()

    @router.get(
        "/ready",
        response_model=Readiness,
        summary="Readiness: the database and the broker are reachable",
        responses={status.HTTP_503_SERVICE_UNAVAILABLE: {"model": Readiness, "description": "Not ready"}},
    )
    async def ready() -> JSONResponse:
        results = await asyncio.gather(*(_run_check(name, check, timeout) for name, check in checks.items()))
        outcome = dict(zip(checks, results, strict=True))
        is_ready = all(result == CHECK_OK for result in results)
        body = Readiness(status="ready" if is_ready else "not ready", checks=outcome)
        return JSONResponse(
            body.model_dump(),
            status_code=status.HTTP_200_OK if is_ready else status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Cache-Control": "no-store"},
        )

    return router


async def _run_check(name: str, check: ReadinessCheck, limit: float) -> str:
    try:
        async with asyncio.timeout(limit):
            await check()
    except Exception as exc:
        logger.warning("readiness check %s failed", name, exc_info=exc, extra={"check": name})
        return f"unavailable: {type(exc).__name__}"
    return CHECK_OK
