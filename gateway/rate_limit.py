"""Rate limiting at the edge: a token bucket per (policy, key), in this process or shared through Redis.

A policy gives each key (a client id from the token, or the caller's IP on anonymous routes) a bucket
of ``burst`` tokens that refills at ``rate`` tokens per second; each request takes one token, and a
request that finds less than one token is denied. Over any interval of length T a key is admitted
at most ``burst + rate * T`` times.

- :class:`InProcessRateLimiter` keeps the buckets in this process: the default, for one replica.
- :class:`RedisRateLimiter` keeps them in Redis, so several gateway replicas share one limit. One Lua
  script refills, takes and stores atomically, with the time of the Redis server, so replicas whose
  clocks disagree still agree on every bucket.

:func:`rate_limit_fields` renders a decision as the ``RateLimit-Policy`` and ``RateLimit`` fields of
draft-ietf-httpapi-ratelimit-headers-10 (the same shape in -11), the older ``RateLimit-Limit``,
``RateLimit-Remaining`` and ``RateLimit-Reset`` trio that clients widely understand, and
``Retry-After`` on a denial (:func:`rate_limit_headers`: the same as a dict of strings).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, NamedTuple, Protocol

from prometheus_client import Counter
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError

logger = logging.getLogger(__name__)

Clock = Callable[[], float]

rate_limit_backend_failures_total = Counter(
    "gateway_rate_limit_backend_failures_total",
    "Requests decided without the shared rate-limit store (Redis unreachable or failing), by outcome.",
    ["outcome"],
)

#: Rounding slack when turning float seconds into whole seconds: 2.0000000001 s is 2 s, not 3.
_SECONDS_SLACK: Final = 1e-6


@dataclass(frozen=True)
class RatePolicy:
    """A token bucket: ``burst`` tokens at most, refilled at ``rate`` tokens per second."""

    name: str
    rate: float
    burst: int

    def __post_init__(self) -> None:
        # the name is sent to clients as a Structured Field String: printable ASCII only
        if not self.name or not all(" " <= char <= "~" for char in self.name):
            raise ValueError(f"policy name must be non-empty printable ASCII, got {self.name!r}")
        if not (math.isfinite(self.rate) and self.rate > 0):
            raise ValueError(f"rate must be a positive number of tokens per second, got {self.rate!r}")
        if self.burst < 1:
            raise ValueError(f"burst must be at least 1, got {self.burst!r}")

    @functools.cached_property
    def header_name(self) -> bytes:
        """The name as a Structured Field String (RFC 9651, section 3.3.3), as every field carries it."""
        escaped = self.name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'.encode("ascii")

    @functools.cached_property
    def policy_field(self) -> bytes:
        """The ``RateLimit-Policy`` field: the quota is the burst, q/w the sustained rate."""
        window = max(1, _whole_seconds(self.burst / self.rate))
        return b"%b;q=%d;w=%d" % (self.header_name, self.burst, window)


class RateDecision(NamedTuple):
    """The outcome of one request against one policy."""

    allowed: bool
    limit: int  # = burst
    remaining: int  # whole tokens left after this request
    reset_seconds: float  # until the bucket is full again
    retry_after: float  # 0 when allowed; else seconds until one token is available


class RateLimiter(Protocol):
    """Takes one token for ``key`` from the bucket of ``policy``, or says why not."""

    async def acquire(self, key: str, policy: RatePolicy) -> RateDecision: ...

    async def aclose(self) -> None: ...


def _decide(tokens: float, policy: RatePolicy) -> tuple[float, RateDecision]:
    """Take one token from a bucket holding ``tokens`` (already refilled): the new level and the decision."""
    if tokens >= 1:
        tokens -= 1
        allowed, retry_after = True, 0.0
    else:
        allowed, retry_after = False, (1 - tokens) / policy.rate
    decision = RateDecision(
        allowed=allowed,
        limit=policy.burst,
        remaining=math.floor(tokens),
        reset_seconds=(policy.burst - tokens) / policy.rate,
        retry_after=retry_after,
    )
    return tokens, decision


class _Bucket(NamedTuple):
    tokens: float
    updated: float
    full_at: float  # when the bucket will hold ``burst`` tokens again: from then on it is just a default


class InProcessRateLimiter:
    """Token buckets in this process's memory.

    At most ``max_buckets`` buckets are kept, in least-recently-used order. A bucket that has
    refilled completely is dropped without loss (a new bucket starts full, too); each call drops
    up to two such buckets from the cold end. When the table is still full, the least recently used
    bucket goes even if it is not full: under a flood of distinct keys memory stays bounded, and
    the cost is that such an idle key may be admitted early. Every call is O(1).
    """

    _EXPIRED_SWEEP_PER_CALL: Final = 2

    def __init__(self, *, max_buckets: int = 100_000, clock: Clock = time.monotonic) -> None:
        if max_buckets < 1:
            raise ValueError("max_buckets must be at least 1")
        self.max_buckets = max_buckets
        self._clock = clock
        self._buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()
        #: buckets dropped before they were full because the table was full
        self.evicted_early = 0

    def __len__(self) -> int:
        return len(self._buckets)

    async def acquire(self, key: str, policy: RatePolicy) -> RateDecision:
        # No await in here: on the event loop the read-modify-write of a bucket is atomic.
        now = self._clock()
        bucket_key = (policy.name, key)
        bucket = self._buckets.get(bucket_key)
        if bucket is None:
            tokens = float(policy.burst)
        else:
            elapsed = max(0.0, now - bucket.updated)
            tokens = min(float(policy.burst), bucket.tokens + elapsed * policy.rate)
        tokens, decision = _decide(tokens, policy)
        self._buckets[bucket_key] = _Bucket(tokens, now, now + decision.reset_seconds)
        self._buckets.move_to_end(bucket_key)
        self._evict(now)
        return decision

    def _evict(self, now: float) -> None:
        for _ in range(self._EXPIRED_SWEEP_PER_CALL):
            coldest = next(iter(self._buckets.values()), None)
            if coldest is None or coldest.full_at > now:
                break
            self._buckets.popitem(last=False)
        while len(self._buckets) > self.max_buckets:
            self._buckets.popitem(last=False)
            self.evicted_early += 1

    async def aclose(self) -> None:
        self._buckets.clear()


# KEYS[1] = the bucket (a hash: tokens, ts in microseconds of Redis time); ARGV = rate, burst.
# Returns {allowed 0|1, whole tokens left, microseconds until full, microseconds until one token}.
# Redis truncates Lua numbers in replies to integers, so the script returns whole units only.
# A denial writes nothing: the stored (tokens, ts) still describe the bucket, and so does its TTL.
# The key expires when the bucket would be full again; a missing key is a full bucket, so nothing
# is lost. If Redis time steps back (failover to a replica with a slower clock) a bucket just does
# not refill until the clock passes its ts.
_BUCKET_SCRIPT: Final = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
    tokens = burst
elseif now > ts then
    tokens = math.min(burst, tokens + (now - ts) * rate / 1000000)
else
    tokens = math.min(burst, tokens)
end
local allowed = 0
local retry_us = 0
if tokens >= 1 then
    tokens = tokens - 1
    allowed = 1
else
    retry_us = math.ceil((1 - tokens) * 1000000 / rate)
end
local full_us = math.ceil((burst - tokens) * 1000000 / rate)
if allowed == 1 then
    redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%.17g', now))
    redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil(full_us / 1000)))
end
return {allowed, math.floor(tokens), full_us, retry_us}
"""
_BUCKET_SCRIPT_SHA: Final = hashlib.sha1(_BUCKET_SCRIPT.encode(), usedforsecurity=False).hexdigest()


class RedisRateLimiter:
    """Token buckets in Redis, shared by every gateway replica that uses the same Redis and prefix.

    When Redis cannot be reached or fails, the request is decided without it: allowed by default
    (``fail_open=True``). That is a deliberate choice for a citizen portal: an outage of the limit
    store must not become an outage of the portal, and the limit only protects capacity, not data,
    since every service still authenticates and authorises each request itself. Operators who put
    the upstreams' protection first set ``fail_open=False`` and get denials instead. Either way each
    such request is counted (``backend_failures``, the ``gateway_rate_limit_backend_failures_total``
    metric) and a warning is logged at most every ``warning_interval`` seconds. After a failure
    Redis is left alone for ``retry_backend_after`` seconds, so an unreachable store does not add its
    timeout to every request.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        key_prefix: str = "basisdienste:ratelimit",
        fail_open: bool = True,
        warning_interval: float = 60.0,
        retry_backend_after: float = 1.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self._redis = redis
        self.key_prefix = key_prefix
        self.fail_open = fail_open
        self.warning_interval = warning_interval
        self.retry_backend_after = retry_backend_after
        self._clock = clock
        self._backend_down_until = -math.inf
        self._last_warning_at = -math.inf
        self._failures_since_warning = 0
        #: requests decided without Redis since this limiter was made
        self.backend_failures = 0

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        timeout: float = 0.5,
        max_connections: int = 50,
        pool_timeout: float = 1.0,
        **options: Any,
    ) -> RedisRateLimiter:
        """A limiter with its own connection pool to ``url`` (``redis://``, ``rediss://`` or ``unix://``).

        ``timeout`` bounds connecting and each command: a rate-limit check must not stall requests.
        A failed command is retried once at once, which covers a pooled connection that Redis closed.
        When all ``max_connections`` are busy a request waits up to ``pool_timeout`` for one instead
        of failing: redis-py's default pool raises at its limit, which under a burst of requests
        would count as an outage and lift the limit exactly when it matters.
        """
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=pool_timeout,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), retries=1),
        )
        return cls(Redis.from_pool(pool), **options)

    def bucket_key(self, key: str, policy: RatePolicy) -> str:
        """The Redis key holding the bucket of ``key`` under ``policy``."""
        return f"{self.key_prefix}:{policy.name}:{key}"

    async def acquire(self, key: str, policy: RatePolicy) -> RateDecision:
        if self._clock() < self._backend_down_until:
            return self._decide_without_backend(policy, None)
        try:
            reply = await self._run_script(self.bucket_key(key, policy), policy)
        except (RedisError, OSError) as error:
            self._backend_down_until = self._clock() + self.retry_backend_after
            return self._decide_without_backend(policy, error)
        allowed, remaining, full_us, retry_us = (int(value) for value in reply)
        return RateDecision(
            allowed=bool(allowed),
            limit=policy.burst,
            remaining=remaining,
            reset_seconds=full_us / 1_000_000,
            retry_after=retry_us / 1_000_000,
        )

    async def _run_script(self, redis_key: str, policy: RatePolicy) -> list[Any]:
        arguments = (redis_key, repr(float(policy.rate)), str(policy.burst))
        try:
            reply = await self._redis.evalsha(_BUCKET_SCRIPT_SHA, 1, *arguments)
        except NoScriptError:
            # Redis restarted or SCRIPT FLUSH ran: EVAL runs the script and caches it again.
            reply = await self._redis.eval(_BUCKET_SCRIPT, 1, *arguments)
        return list(reply)

    def _decide_without_backend(self, policy: RatePolicy, error: BaseException | None) -> RateDecision:
        self.backend_failures += 1
        self._failures_since_warning += 1
        outcome = "allowed" if self.fail_open else "denied"
        rate_limit_backend_failures_total.labels(outcome=outcome).inc()
        self._maybe_warn(outcome, error)
        if self.fail_open:
            # the real level is unknown: answer what a fresh bucket would after this request
            return _decide(float(policy.burst), policy)[1]
        wait = max(1.0, self.retry_backend_after)
        return RateDecision(allowed=False, limit=policy.burst, remaining=0, reset_seconds=wait, retry_after=wait)

    def _maybe_warn(self, outcome: str, error: BaseException | None) -> None:
        now = self._clock()
        if now - self._last_warning_at < self.warning_interval:
            return
        self._last_warning_at = now
        reason = f"{type(error).__name__}: {error}" if error is not None else "still unavailable"
        logger.warning(
            "rate-limit store (Redis) unavailable (%s); %d request(s) %s without a limit check since the last warning",
            reason,
            self._failures_since_warning,
            outcome,
            extra={"rate_limit_backend_failures": self.backend_failures, "rate_limit_fail_open": self.fail_open},
        )
        self._failures_since_warning = 0

    async def aclose(self) -> None:
        await self._redis.aclose()


def create_rate_limiter(redis_url: str | None, *, fail_open: bool = True) -> RateLimiter:
    """The shared Redis limiter when a Redis URL is configured, else the in-process one."""
    if redis_url:
        return RedisRateLimiter.from_url(redis_url, fail_open=fail_open)
    return InProcessRateLimiter()


def rate_limit_headers(decision: RateDecision, policy: RatePolicy) -> dict[str, str]:
    """:func:`rate_limit_fields` as a dict of field names and values."""
    return {_CANONICAL_NAMES[name]: value.decode("ascii") for name, value in rate_limit_fields(decision, policy)}


_CANONICAL_NAMES = {
    b"ratelimit-policy": "RateLimit-Policy",
    b"ratelimit": "RateLimit",
    b"ratelimit-limit": "RateLimit-Limit",
    b"ratelimit-remaining": "RateLimit-Remaining",
    b"ratelimit-reset": "RateLimit-Reset",
    b"retry-after": "Retry-After",
}


def rate_limit_fields(decision: RateDecision, policy: RatePolicy) -> list[tuple[bytes, bytes]]:
    """Response header fields for ``decision`` under ``policy`` (names lower-case, as ASGI sends them).

    - ``RateLimit-Policy: "<name>";q=<burst>;w=<seconds an empty bucket takes to fill>``: the
      quota is the burst, and q/w the sustained rate (rounded down where burst/rate is fractional).
    - ``RateLimit: "<name>";r=<remaining>;t=<seconds until the next token>``: ``t`` is the draft's
      "time until additional quota is made available"; on a denial it equals ``Retry-After``
      (which must not point earlier than ``t``). A full bucket has no ``t``.
    - ``RateLimit-Limit``, ``RateLimit-Remaining``, ``RateLimit-Reset`` (seconds until the bucket is full).
    - ``Retry-After`` (whole seconds, rounded up, at least 1) when denied.

    No partition key (``pk``) is sent: the key is a client id or an IP address, and the draft asks not
    to echo sensitive data.
    """
    next_token = _seconds_until_next_token(decision, policy)
    service_limit = b"%b;r=%d" % (policy.header_name, decision.remaining)
    if next_token is not None:
        service_limit += b";t=%d" % next_token
    fields = [
        (b"ratelimit-policy", policy.policy_field),
        (b"ratelimit", service_limit),
        (b"ratelimit-limit", b"%d" % decision.limit),
        (b"ratelimit-remaining", b"%d" % decision.remaining),
        (b"ratelimit-reset", b"%d" % _whole_seconds(decision.reset_seconds)),
    ]
    if not decision.allowed:
        fields.append((b"retry-after", b"%d" % max(1, _whole_seconds(decision.retry_after))))
    return fields


def _seconds_until_next_token(decision: RateDecision, policy: RatePolicy) -> int | None:
    if not decision.allowed:
        return max(1, _whole_seconds(decision.retry_after))
    if decision.remaining >= policy.burst or decision.reset_seconds <= 0:
        return None
    # reset_seconds refills (burst - tokens); the next whole token needs all but (burst - remaining - 1) of that
    seconds = decision.reset_seconds - (policy.burst - decision.remaining - 1) / policy.rate
    return max(1, _whole_seconds(seconds))


def _whole_seconds(seconds: float) -> int:
    """Seconds rounded up to a whole number, never negative."""
    return max(0, math.ceil(seconds - _SECONDS_SLACK))
