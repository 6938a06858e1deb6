"""Resilience through the real gateway: per-route timeouts (504), unreachable upstreams (502), retries
for idempotent methods only, and the circuit breaker opening (503 with Retry-After) and recovering."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from prometheus_client import REGISTRY

from gateway.circuit_breaker import BreakerState, CircuitBreaker
from tests.gateway.conftest import GatewayStarter, RunningGateway, route_table
from tests.gateway.servers import unused_port
from tests.gateway.upstream import Upstream

COOL_DOWN = 0.5


@pytest.fixture(scope="module")
async def gateway(start_gateway: GatewayStarter, upstream: tuple[Upstream, str]) -> AsyncIterator[RunningGateway]:
    url = upstream[1]
    table = route_table(
        {"echo": url, "retrying": url, "down": f"http://127.0.0.1:{unused_port()}"},
        [
            {"prefix": "/slow", "upstream": "echo", "strip_prefix": True, "timeout": 0.3},
            {"prefix": "/upload", "upstream": "echo", "strip_prefix": True, "timeout": 0.3, "body_timeout": 10},
            {"prefix": "/retrying", "upstream": "retrying", "strip_prefix": True, "retry": {"attempts": 3}},
            {"prefix": "/down", "upstream": "down", "strip_prefix": True, "retry": {"attempts": 3, "backoff": 0.01}},
        ],
        defaults={"auth": "public", "retry": {"attempts": 2, "backoff": 0.01}},
    )
    async with start_gateway(table) as running:
        yield running


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_an_upstream_slower_than_the_route_timeout_gets_504(gateway) -> None:
    started = time.monotonic()
    response = await gateway.client.get("/slow/slow", params={"seconds": "3"})
    assert response.status_code == 504
    assert response.json()["type"] == "urn:basisdienste:problem:upstream-timeout"
    assert time.monotonic() - started < 2
    assert (await gateway.client.get("/slow/slow", params={"seconds": "0.05"})).status_code == 200


async def test_the_route_timeout_starts_once_the_body_is_sent_not_while_the_client_sends_it(gateway) -> None:
    # The client takes ~1 s for its body, more than the route's 0.3 s: that is the body timeout's
    # business (10 s here), not the upstream's silence.
    async def slowly() -> AsyncIterator[bytes]:
        for _ in range(5):
            await asyncio.sleep(0.2)
            yield b"z" * 10

    response = await gateway.client.post("/upload/sink", content=slowly(), headers={"Content-Length": "50"})
    assert response.status_code == 200, response.text
    assert response.json() == {"received": 50}


async def test_an_unreachable_upstream_gets_502_after_the_configured_tries(gateway) -> None:
    before = _sample("gateway_upstream_attempts_total", upstream="down", outcome="connect_error")
    response = await gateway.client.get("/down/x")
    assert response.status_code == 502
    assert response.json()["type"] == "urn:basisdienste:problem:upstream-unavailable"
    assert "127.0.0.1" not in response.text  # no internal address in the answer
    assert _sample("gateway_upstream_attempts_total", upstream="down", outcome="connect_error") - before == 3
    posted = await gateway.client.post("/down/x", content=b"{}")
    assert posted.status_code == 502
    assert _sample("gateway_upstream_attempts_total", upstream="down", outcome="connect_error") - before == 4


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"])
async def test_idempotent_methods_are_retried_on_502_503_504(gateway, upstream, method: str) -> None:
    for code in (502, 503, 504):
        key = f"/flaky/{uuid.uuid4().hex}"
        response = await gateway.client.request(
            method, f"/retrying{key}", params={"fail": "2", "code": str(code)}, content=b"same body" * 10
        )
        assert response.status_code == 200, (method, code)
        assert upstream[0].hits[key] == 3
        bodies = {seen.body_bytes for seen in upstream[0].seen if seen.raw_path == key}
        assert bodies == {90}  # the body went along with every try


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_other_methods_are_never_retried(gateway, upstream, method: str) -> None:
    key = f"/flaky/{uuid.uuid4().hex}"
    response = await gateway.client.request(method, f"/retrying{key}", params={"fail": "1"}, content=b"{}")
    assert response.status_code == 503
    assert upstream[0].hits[key] == 1


async def test_other_failures_are_not_retried(gateway, upstream) -> None:
    key = f"/flaky/{uuid.uuid4().hex}"
    response = await gateway.client.get(f"/retrying{key}", params={"fail": "1", "code": "500"})
    assert response.status_code == 500
    assert upstream[0].hits[key] == 1


async def test_a_streamed_body_of_unknown_length_is_not_retried_once_sent(gateway, upstream) -> None:
    key = f"/flaky/{uuid.uuid4().hex}"

    async def chunks() -> AsyncIterator[bytes]:
        yield b"part one"
        yield b"part two"

    response = await gateway.client.put(f"/retrying{key}", params={"fail": "1"}, content=chunks())
    assert response.status_code == 503
    assert upstream[0].hits[key] == 1


async def test_the_circuit_breaker_opens_after_consecutive_failures_and_recovers(
    start_gateway: GatewayStarter, upstream
) -> None:
    url = upstream[1]
    table = route_table(
        {"fragile": {"url": url, "circuit_breaker": {"failures": 3, "cool_down": COOL_DOWN}}},
        [{"prefix": "/fragile", "upstream": "fragile", "strip_prefix": True, "auth": "public"}],
        defaults={"retry": {"attempts": 1}},
    )
    key = f"/flaky/{uuid.uuid4().hex}"
    async with start_gateway(table) as gw:
        for _ in range(3):
            assert (await gw.client.get(f"/fragile{key}", params={"fail": "3"})).status_code == 503
        assert upstream[0].hits[key] == 3
        assert _sample("gateway_circuit_state", upstream="fragile") == BreakerState.OPEN

        paused = await gw.client.get(f"/fragile{key}", params={"fail": "3"})
        assert paused.status_code == 503
        assert paused.json()["type"] == "urn:basisdienste:problem:upstream-circuit-open"
        assert paused.headers["retry-after"] == "1"
        assert upstream[0].hits[key] == 3  # the upstream was spared

        await asyncio.sleep(COOL_DOWN + 0.1)
        # Half-open: one (slow) probe goes through; while it runs, everyone else is still refused.
        probe = asyncio.create_task(gw.client.get("/fragile/slow", params={"seconds": "0.5"}))
        await asyncio.sleep(0.2)
        during = [await gw.client.get(f"/fragile{key}", params={"fail": "3"}) for _ in range(3)]
        assert [response.status_code for response in during] == [503, 503, 503]
        assert upstream[0].hits[key] == 3
        assert (await probe).status_code == 200
        assert _sample("gateway_circuit_state", upstream="fragile") == BreakerState.CLOSED
        assert (await gw.client.get(f"/fragile{key}", params={"fail": "3"})).status_code == 200
        assert upstream[0].hits[key] == 4


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_states_with_a_fake_clock() -> None:
    clock = FakeClock()
    changes: list[BreakerState] = []
    breaker = CircuitBreaker(failures=2, cool_down=10, clock=clock, on_change=changes.append)
    breaker.record_failure()
    breaker.record_success()  # a success resets the count: failures must be consecutive
    breaker.record_failure()
    assert breaker.admit()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.admit()
    assert breaker.retry_after() == 10
    clock.now += 10
    assert breaker.admit()  # the probe
    assert breaker.state is BreakerState.HALF_OPEN
    assert not breaker.admit()  # one probe at a time
    breaker.record_failure()  # the probe failed: open for another cool-down
    assert breaker.state is BreakerState.OPEN
    assert not breaker.admit()
    clock.now += 10
    assert breaker.admit()
    breaker.record_unknown()  # the probe's client left: another may probe
    assert breaker.admit()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert changes == [
        BreakerState.OPEN,
        BreakerState.HALF_OPEN,
        BreakerState.OPEN,
        BreakerState.HALF_OPEN,
        BreakerState.CLOSED,
    ]


def test_a_probe_whose_outcome_never_came_expires_after_a_cool_down() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failures=1, cool_down=5, clock=clock)
    breaker.record_failure()
    clock.now += 5
    assert breaker.admit()
    assert not breaker.admit()
    clock.now += 5
    assert breaker.admit()
