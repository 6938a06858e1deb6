"""Liveness and readiness probes: concurrent, bounded checks that never leak error messages."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import httpx
import pytest
from fastapi import FastAPI

from kit.telemetry.health import ReadinessCheck, health_router

SECRET = "postgresql://basisdienste:s3cret@db.internal:5432/payment"


async def ok() -> None:
    return None


async def refused() -> None:
    raise ConnectionRefusedError(f"cannot reach {SECRET}")


async def hangs() -> None:
    await asyncio.Event().wait()


async def get(checks: Mapping[str, ReadinessCheck], path: str, *, timeout: float = 2.0) -> httpx.Response:
    app = FastAPI()
    app.include_router(health_router(checks, timeout=timeout))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client:
        return await client.get(path)


async def test_live_answers_while_the_loop_runs() -> None:
    response = await get({"database": hangs}, "/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "live"}


async def test_ready_when_every_check_passes() -> None:
    response = await get({"database": ok, "broker": ok}, "/health/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "broker": "ok"}}


async def test_ready_without_checks() -> None:
    response = await get({}, "/health/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {}}


async def test_a_failing_check_makes_it_not_ready_without_leaking_the_message() -> None:
    response = await get({"database": ok, "broker": refused}, "/health/ready")

    assert response.status_code == 503
    assert response.json() == {
        "status": "not ready",
        "checks": {"database": "ok", "broker": "unavailable: ConnectionRefusedError"},
    }
    assert "s3cret" not in response.text
    assert "db.internal" not in response.text


async def test_a_hanging_check_is_cut_off_by_the_timeout() -> None:
    started = time.perf_counter()
    response = await get({"database": ok, "broker": hangs}, "/health/ready", timeout=0.1)

    assert time.perf_counter() - started < 1.5
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "broker": "unavailable: TimeoutError"}


async def test_checks_run_concurrently() -> None:
    # Each check waits for the other: run one after the other, both would time out.
    barrier = asyncio.Barrier(2)

    async def meets_the_other() -> None:
        await barrier.wait()

    response = await get({"database": meets_the_other, "broker": meets_the_other}, "/health/ready", timeout=1)

    assert response.status_code == 200


def test_the_probes_are_documented_in_openapi() -> None:
    app = FastAPI()
    app.include_router(health_router({"database": ok}))

    paths = app.openapi()["paths"]

    live, ready = paths["/health/live"]["get"], paths["/health/ready"]["get"]
    assert live["summary"]
    assert ready["summary"]
    assert "$ref" in live["responses"]["200"]["content"]["application/json"]["schema"]
    assert "$ref" in ready["responses"]["200"]["content"]["application/json"]["schema"]
    assert "$ref" in ready["responses"]["503"]["content"]["application/json"]["schema"]


def test_the_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        health_router({}, timeout=0)
