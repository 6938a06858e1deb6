"""The gateway's token-bucket rate limiter: the bucket arithmetic with an injected clock, its bound as a
property, the memory bound of the in-process limiter, the shared limiter against a real Redis started
by deploy/local/redis.sh, and the response header fields."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from gateway.rate_limit import (
    _BUCKET_SCRIPT_SHA,
    InProcessRateLimiter,
    RateDecision,
    RatePolicy,
    RedisRateLimiter,
    create_rate_limiter,
    rate_limit_headers,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
REDIS_SCRIPT = REPO_ROOT / "deploy" / "local" / "redis.sh"


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --- token bucket arithmetic (in-process, injected clock) ------------------------------------


async def test_a_burst_is_admitted_at_once_then_the_steady_rate() -> None:
    clock = FakeClock()
    limiter = InProcessRateLimiter(clock=clock)
    policy = RatePolicy("default", rate=2.0, burst=4)

    burst = [await limiter.acquire("client-a", policy) for _ in range(4)]
    assert [d.allowed for d in burst] == [True] * 4
    assert [d.remaining for d in burst] == [3, 2, 1, 0]
    assert [d.reset_seconds for d in burst] == [0.5, 1.0, 1.5, 2.0]
    assert all(d.limit == 4 and d.retry_after == 0 for d in burst)

    denied = await limiter.acquire("client-a", policy)
    assert denied == RateDecision(allowed=False, limit=4, remaining=0, reset_seconds=2.0, retry_after=0.5)

    # from now on one request per 1/rate = 0.5 s
    for _ in range(10):
        clock.advance(0.25)
        early = await limiter.acquire("client-a", policy)
        assert not early.allowed
        assert early.retry_after == pytest.approx(0.25)
        clock.advance(0.25)
        on_time = await limiter.acquire("client-a", policy)
        assert on_time.allowed
        assert on_time.remaining == 0
        assert on_time.reset_seconds == pytest.approx(2.0)


async def test_a_bucket_refills_up_to_its_burst_and_no_further() -> None:
    clock = FakeClock()
    limiter = InProcessRateLimiter(clock=clock)
    policy = RatePolicy("default", rate=1.0, burst=3)
    for _ in range(3):
        await limiter.acquire("k", policy)

    clock.advance(1.5)  # 1.5 tokens back
    decision = await limiter.acquire("k", policy)
    assert decision.allowed
    assert decision.remaining == 0  # 0.5 left
    assert decision.reset_seconds == pytest.approx(2.5)
    refused = await limiter.acquire("k", policy)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(0.5)

    clock.advance(3600)
    decisions = [await limiter.acquire("k", policy) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert decisions[0].remaining == 2
    assert decisions[0].reset_seconds == pytest.approx(1.0)


async def test_keys_and_policies_have_separate_buckets() -> None:
    clock = FakeClock()
    limiter = InProcessRateLimiter(clock=clock)
    per_client = RatePolicy("per-client", rate=1.0, burst=1)
    anonymous = RatePolicy("anonymous", rate=1.0, burst=1)

    assert (await limiter.acquire("a", per_client)).allowed
    assert not (await limiter.acquire("a", per_client)).allowed
    assert (await limiter.acquire("b", per_client)).allowed
    assert (await limiter.acquire("a", anonymous)).allowed


async def test_a_clock_that_steps_back_refills_nothing() -> None:
    clock = FakeClock()
    limiter = InProcessRateLimiter(clock=clock)
    policy = RatePolicy("default", rate=1.0, burst=1)
    assert (await limiter.acquire("k", policy)).allowed
    clock.advance(-100)
    decision = await limiter.acquire("k", policy)
    assert not decision.allowed
    assert decision.retry_after == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("name", "rate", "burst"),
    [
        ("", 1.0, 1),
        ("nön-ascii", 1.0, 1),
        ("line\nbreak", 1.0, 1),
        ("p", 0.0, 1),
        ("p", -1.0, 1),
        ("p", float("inf"), 1),
        ("p", float("nan"), 1),
        ("p", 1.0, 0),
    ],
)
def test_a_policy_must_be_usable(name: str, rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        RatePolicy(name, rate=rate, burst=burst)


policies = st.builds(
    RatePolicy,
    name=st.just("p"),
    rate=st.floats(min_value=0.01, max_value=1000, allow_nan=False, allow_infinity=False),
    burst=st.integers(min_value=1, max_value=50),
)


@settings(max_examples=300, deadline=None)
@given(
    policy=policies,
    gaps=st.lists(st.floats(min_value=0, max_value=5, allow_nan=False, allow_infinity=False), min_size=1, max_size=300),
)
async def test_admissions_never_exceed_burst_plus_rate_times_elapsed(policy: RatePolicy, gaps: list[float]) -> None:
    clock = FakeClock(0.0)
    limiter = InProcessRateLimiter(clock=clock)
    admitted = 0
    for gap in gaps:
        clock.advance(gap)
        decision = await limiter.acquire("k", policy)
        admitted += decision.allowed
        elapsed = clock.now - gaps[0]
        assert admitted <= policy.burst + policy.rate * elapsed + 1e-9
        assert 0 <= decision.remaining < policy.burst
        assert 0 < decision.reset_seconds <= policy.burst / policy.rate + 1e-9
        assert (decision.retry_after == 0) == decision.allowed
        assert decision.retry_after <= 1 / policy.rate + 1e-9


@settings(max_examples=200, deadline=None)
@given(
    policy=policies,
    slack=st.lists(st.floats(min_value=0, max_value=3, allow_nan=False, allow_infinity=False), max_size=100),
)
async def test_requests_at_most_the_rate_are_all_admitted(policy: RatePolicy, slack: list[float]) -> None:
    clock = FakeClock(0.0)
    limiter = InProcessRateLimiter(clock=clock)
    assert (await limiter.acquire("k", policy)).allowed
    for extra in slack:
        # a whisker more than 1/rate, so float rounding cannot leave the bucket just short of a token
        clock.advance(1 / policy.rate * (1 + 1e-9) + extra)
        assert (await limiter.acquire("k", policy)).allowed


# --- memory bound of the in-process limiter ----------------------------------------------------


async def test_the_bucket_table_never_grows_past_its_bound() -> None:
    clock = FakeClock()
    limiter = InProcessRateLimiter(max_buckets=100, clock=clock)
    policy = RatePolicy("anonymous", rate=0.001, burst=5)  # nothing refills during the flood
    for index in range(10_000):
        await limiter.acquire(f"203.0.113.{index}", policy)
        assert len(limiter) <= 100
    assert limiter.evicted_early == 10_000 - 100


async def test_full_buckets_are_dropped_without_losing_any_limit() -> None:
    clock = FakeClock()
    limiter = InProcessRateLimiter(max_buckets=1_000, clock=clock)
    policy = RatePolicy("default", rate=1.0, burst=2)
    for index in range(50):
        await limiter.acquire(f"idle-{index}", policy)
    assert len(limiter) == 50

    clock.advance(2)  # every idle bucket is full again: dropping it changes nothing
    for _ in range(30):
        await limiter.acquire("busy", policy)
        clock.advance(1)
    assert len(limiter) == 1
    assert limiter.evicted_early == 0

    # a bucket that is not yet full stays, however cold
    await limiter.acquire("drained", policy)
    await limiter.acquire("drained", policy)
    for _ in range(5):
        await limiter.acquire("busy", policy)
    assert len(limiter) == 2
    assert not (await limiter.acquire("drained", policy)).allowed


async def test_create_rate_limiter_without_redis_is_in_process() -> None:
    limiter = create_rate_limiter(None)
    assert isinstance(limiter, InProcessRateLimiter)
    await limiter.aclose()


# --- response header fields ------------------------------------------------------------------

# RFC 9651 List members of the two draft fields: an sf-string with integer parameters
_SF_ITEM = re.compile(r'^"(?:[\x20-\x21\x23-\x5b\x5d-\x7e]|\\["\\])*"(?:;[a-z*][a-z0-9_.*-]*=\d{1,15})*$')


def test_headers_of_an_admitted_request() -> None:
    policy = RatePolicy("per-client", rate=2.0, burst=10)
    decision = RateDecision(allowed=True, limit=10, remaining=6, reset_seconds=1.8, retry_after=0.0)
    assert rate_limit_headers(decision, policy) == {
        "RateLimit-Policy": '"per-client";q=10;w=5',
        # 6.4 tokens left: the 7th whole token is 0.3 s away
        "RateLimit": '"per-client";r=6;t=1',
        "RateLimit-Limit": "10",
        "RateLimit-Remaining": "6",
        "RateLimit-Reset": "2",
    }


def test_headers_of_a_denied_request() -> None:
    policy = RatePolicy("anonymous", rate=0.25, burst=2)
    decision = RateDecision(allowed=False, limit=2, remaining=0, reset_seconds=6.5, retry_after=2.5)
    headers = rate_limit_headers(decision, policy)
    assert headers == {
        "RateLimit-Policy": '"anonymous";q=2;w=8',
        "RateLimit": '"anonymous";r=0;t=3',
        "RateLimit-Limit": "2",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "7",
        "Retry-After": "3",
    }


@pytest.mark.parametrize(
    ("retry_after", "header"), [(0.001, "1"), (0.999, "1"), (1.0, "1"), (1.0000000001, "1"), (1.2, "2"), (59.5, "60")]
)
def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one(retry_after: float, header: str) -> None:
    policy = RatePolicy("p", rate=1.0, burst=1)
    decision = RateDecision(allowed=False, limit=1, remaining=0, reset_seconds=retry_after, retry_after=retry_after)
    headers = rate_limit_headers(decision, policy)
    assert headers["Retry-After"] == header
    # Retry-After must not point earlier than the draft's reset parameter
    assert headers["RateLimit"].endswith(f";t={header}")


async def test_headers_follow_the_draft_syntax_through_a_whole_burst() -> None:
    clock = FakeClock()
    limiter = InProcessRateLimiter(clock=clock)
    policy = RatePolicy('odd "name" \\ with escapes', rate=0.3, burst=3)
    for _ in range(5):
        decision = await limiter.acquire("k", policy)
        headers = rate_limit_headers(decision, policy)
        assert headers["RateLimit-Policy"] == '"odd \\"name\\" \\\\ with escapes";q=3;w=10'
        assert _SF_ITEM.match(headers["RateLimit-Policy"])
        assert _SF_ITEM.match(headers["RateLimit"])
        assert int(headers["RateLimit-Remaining"]) == decision.remaining
        assert int(headers["RateLimit-Reset"]) >= decision.reset_seconds - 1e-6
        assert ("Retry-After" in headers) is not decision.allowed
        clock.advance(0.5)


def test_a_full_bucket_has_no_reset_parameter() -> None:
    policy = RatePolicy("p", rate=1.0, burst=5)
    decision = RateDecision(allowed=True, limit=5, remaining=4, reset_seconds=0.0, retry_after=0.0)
    assert rate_limit_headers(decision, policy)["RateLimit"] == '"p";r=4'


# --- the shared limiter against a real Redis ---------------------------------------------------


def _redis_script(*args: str, port: int | None = None) -> None:
    env = dict(os.environ)
    if port is not None:
        env["REDIS_PORT"] = str(port)
    result = subprocess.run(
        ["bash", str(REDIS_SCRIPT), *args], capture_output=True, text=True, timeout=600, env=env, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"deploy/local/redis.sh {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def redis_url() -> str:
    """The shared local Redis, started (or reused) by deploy/local/redis.sh and left running."""
    _redis_script("start")
    return f"redis://127.0.0.1:{os.environ.get('REDIS_PORT', '6379')}"


@pytest.fixture
def key_prefix() -> str:
    """A prefix of this test's own: buckets of other tests and runs never meet."""
    return f"test-rate-limit:{uuid.uuid4().hex}"


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def replicas(redis_url: str, key_prefix: str) -> AsyncIterator[tuple[RedisRateLimiter, RedisRateLimiter]]:
    """Two limiters with their own connection pools, as in two gateway replicas; the second replica's
    own clock is an hour off, which must not matter: bucket time is Redis time."""
    first = RedisRateLimiter.from_url(redis_url, key_prefix=key_prefix)
    skewed = RedisRateLimiter.from_url(redis_url, key_prefix=key_prefix, clock=lambda: time.monotonic() + 3600)
    yield first, skewed
    await first.aclose()
    await skewed.aclose()


async def test_redis_bucket_arithmetic(replicas: tuple[RedisRateLimiter, RedisRateLimiter]) -> None:
    limiter, _ = replicas
    policy = RatePolicy("default", rate=0.001, burst=3)  # refills a token per 1000 s: none during the test

    burst = [await limiter.acquire("client-a", policy) for _ in range(3)]
    assert [d.allowed for d in burst] == [True, True, True]
    assert [d.remaining for d in burst] == [2, 1, 0]
    for decision, tokens_missing in zip(burst, [1, 2, 3], strict=True):
        assert decision.reset_seconds == pytest.approx(tokens_missing * 1000, abs=1)
        assert decision.retry_after == 0

    denied = await limiter.acquire("client-a", policy)
    assert not denied.allowed
    assert denied.remaining == 0
    assert denied.retry_after == pytest.approx(1000, abs=1)
    assert denied.reset_seconds == pytest.approx(3000, abs=1)
    assert rate_limit_headers(denied, policy)["Retry-After"] == "1000"


async def test_two_replicas_share_one_limit(replicas: tuple[RedisRateLimiter, RedisRateLimiter]) -> None:
    first, second = replicas
    policy = RatePolicy("per-client", rate=0.001, burst=4)
    decisions = [await (first if index % 2 else second).acquire("client-a", policy) for index in range(10)]
    assert sum(d.allowed for d in decisions) == 4
    assert [d.remaining for d in decisions[:4]] == [3, 2, 1, 0]
    assert (await first.acquire("client-b", policy)).allowed


async def test_concurrent_acquires_never_over_admit(replicas: tuple[RedisRateLimiter, RedisRateLimiter]) -> None:
    first, second = replicas
    policy = RatePolicy("per-client", rate=0.001, burst=40)
    calls = [(first if index % 2 else second).acquire(f"client-{index % 3}", policy) for index in range(600)]
    decisions = await asyncio.gather(*calls)
    for client in range(3):
        admitted = [d for index, d in enumerate(decisions) if index % 3 == client and d.allowed]
        assert len(admitted) == 40
        # every token was handed out exactly once
        assert sorted(d.remaining for d in admitted) == list(range(40))
    # 600 requests at once are more than a pool's connections: they wait for one, none fails open
    assert first.backend_failures == second.backend_failures == 0


async def test_redis_refills_with_its_own_time(replicas: tuple[RedisRateLimiter, RedisRateLimiter]) -> None:
    limiter, _ = replicas
    policy = RatePolicy("fast", rate=20.0, burst=2)
    assert (await limiter.acquire("k", policy)).allowed
    assert (await limiter.acquire("k", policy)).allowed
    denied = await limiter.acquire("k", policy)
    assert not denied.allowed
    await asyncio.sleep(denied.retry_after + 0.02)
    assert (await limiter.acquire("k", policy)).allowed


async def test_a_bucket_key_expires_when_the_bucket_would_be_full(
    replicas: tuple[RedisRateLimiter, RedisRateLimiter], redis_client: Redis
) -> None:
    limiter, _ = replicas
    policy = RatePolicy("short", rate=10.0, burst=2)
    key = limiter.bucket_key("k", policy)
    await limiter.acquire("k", policy)
    assert 0 < await redis_client.pttl(key) <= 100  # one token missing: full in 0.1 s
    await limiter.acquire("k", policy)
    assert 100 < await redis_client.pttl(key) <= 200
    await asyncio.sleep(0.25)
    assert await redis_client.exists(key) == 0
    # and a missing key is simply a full bucket
    assert (await limiter.acquire("k", policy)).remaining == 1


async def test_the_script_is_loaded_again_after_script_flush(
    replicas: tuple[RedisRateLimiter, RedisRateLimiter], redis_client: Redis
) -> None:
    limiter, _ = replicas
    policy = RatePolicy("default", rate=0.001, burst=5)
    assert (await limiter.acquire("k", policy)).remaining == 4
    await redis_client.script_flush()
    after_flush = await limiter.acquire("k", policy)
    assert after_flush.allowed
    assert after_flush.remaining == 3  # the bucket survived, only the script cache was emptied
    assert limiter.backend_failures == 0
    assert await redis_client.script_exists(_BUCKET_SCRIPT_SHA) == [True]
    assert (await limiter.acquire("k", policy)).remaining == 2


async def test_create_rate_limiter_with_a_url_uses_redis(redis_url: str, key_prefix: str) -> None:
    limiter = create_rate_limiter(redis_url)
    assert isinstance(limiter, RedisRateLimiter)
    policy = RatePolicy(f"create-{key_prefix}", rate=0.001, burst=1)
    assert (await limiter.acquire("k", policy)).allowed
    assert not (await limiter.acquire("k", policy)).allowed
    assert limiter.backend_failures == 0
    await limiter.aclose()


# --- Redis unreachable ---------------------------------------------------------------------


@pytest.fixture
def rate_limit_warnings(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="gateway.rate_limit")
    return caplog


def _failures_allowed() -> float:
    value = REGISTRY.get_sample_value("gateway_rate_limit_backend_failures_total", {"outcome": "allowed"})
    return value or 0.0


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "gateway.rate_limit" and r.levelno == logging.WARNING]


async def test_an_unreachable_redis_fails_open_and_warns_rarely(
    rate_limit_warnings: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    limiter = RedisRateLimiter.from_url(
        f"redis://127.0.0.1:{_free_port()}", timeout=0.2, warning_interval=60, retry_backend_after=0, clock=clock
    )
    policy = RatePolicy("default", rate=0.001, burst=2)
    before = _failures_allowed()

    decisions = [await limiter.acquire("k", policy) for _ in range(20)]
    assert all(d.allowed for d in decisions)  # far beyond the burst of 2
    # what a fresh bucket would answer
    assert decisions[0] == RateDecision(allowed=True, limit=2, remaining=1, reset_seconds=1000.0, retry_after=0.0)
    assert limiter.backend_failures == 20
    assert _failures_allowed() - before == 20
    assert len(_warnings(rate_limit_warnings)) == 1
    assert "ConnectionError" in _warnings(rate_limit_warnings)[0].getMessage()

    clock.advance(61)
    await limiter.acquire("k", policy)
    assert len(_warnings(rate_limit_warnings)) == 2
    assert "20 request(s) allowed" in _warnings(rate_limit_warnings)[1].getMessage()
    await limiter.aclose()


async def test_after_a_failure_redis_is_left_alone_for_a_while(rate_limit_warnings: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    limiter = RedisRateLimiter.from_url(
        f"redis://127.0.0.1:{_free_port()}", timeout=0.2, retry_backend_after=5, clock=clock
    )
    policy = RatePolicy("default", rate=1.0, burst=1)
    started = asyncio.get_running_loop().time()
    for _ in range(200):
        assert (await limiter.acquire("k", policy)).allowed
    # only the first call tried to connect
    assert asyncio.get_running_loop().time() - started < 1.0
    assert limiter.backend_failures == 200
    await limiter.aclose()


async def test_fail_closed_denies_while_redis_is_unreachable(rate_limit_warnings: pytest.LogCaptureFixture) -> None:
    limiter = RedisRateLimiter.from_url(f"redis://127.0.0.1:{_free_port()}", timeout=0.2, fail_open=False)
    policy = RatePolicy("default", rate=1.0, burst=10)
    decision = await limiter.acquire("k", policy)
    assert not decision.allowed
    assert decision.retry_after >= 1
    assert rate_limit_headers(decision, policy)["Retry-After"] == "1"
    assert limiter.backend_failures == 1
    assert len(_warnings(rate_limit_warnings)) == 1
    await limiter.aclose()


@pytest.mark.slow
async def test_a_redis_outage_fails_open_and_the_limit_returns_with_redis(
    rate_limit_warnings: pytest.LogCaptureFixture, key_prefix: str
) -> None:
    """A Redis of this test's own on another port, stopped and started again: the shared one stays up."""
    port = _free_port()
    await asyncio.to_thread(_redis_script, "start", port=port)
    clock = FakeClock()
    limiter = RedisRateLimiter.from_url(
        f"redis://127.0.0.1:{port}", key_prefix=key_prefix, retry_backend_after=1, clock=clock
    )
    policy = RatePolicy("default", rate=0.001, burst=1)
    try:
        assert (await limiter.acquire("k", policy)).allowed
        assert not (await limiter.acquire("k", policy)).allowed

        await asyncio.to_thread(_redis_script, "stop", port=port)
        assert (await limiter.acquire("k", policy)).allowed  # fail open
        assert limiter.backend_failures == 1
        assert len(_warnings(rate_limit_warnings)) == 1

        await asyncio.to_thread(_redis_script, "start", port=port)
        clock.advance(1.5)  # past the pause after the failure
        fresh = await limiter.acquire("k", policy)  # the new Redis is empty: a full bucket
        assert fresh.allowed
        assert not (await limiter.acquire("k", policy)).allowed
        assert limiter.backend_failures == 1
    finally:
        await limiter.aclose()
        await asyncio.to_thread(_redis_script, "stop", port=port)
        # an instance on a throwaway port leaves nothing behind
        for leftover in (REPO_ROOT / ".run" / "redis").glob(f"redis-{port}.*"):
            leftover.unlink()
