"""A circuit breaker per upstream: stop sending requests to an upstream that keeps failing.

Closed (normal) → open after ``failures`` consecutive failures → half-open once ``cool_down`` seconds
have passed, letting exactly one probe request through → closed if the probe succeeds, open again
(for another cool-down) if it fails. While open, requests are answered 503 at once, so clients learn
quickly and a struggling upstream gets room to recover instead of a queue of doomed requests.

A failure is what says the upstream is unavailable: it could not be reached, timed out, or answered
502/503/504. Other answers, 500 included, are its application's business and count as success.
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Callable

__all__ = ["BreakerState", "CircuitBreaker"]


class BreakerState(enum.IntEnum):
    """The states, numbered as in the ``gateway_circuit_state`` metric."""

    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


class CircuitBreaker:
    """The breaker of one upstream. Every admitted request must end in exactly one ``record_*`` call."""

    def __init__(
        self,
        *,
        failures: int,
        cool_down: float,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[BreakerState], None] | None = None,
    ) -> None:
        if failures < 1 or cool_down <= 0:
            raise ValueError("failures must be >= 1 and cool_down > 0")
        self.failure_threshold = failures
        self.cool_down = cool_down
        self._clock = clock
        self._on_change = on_change
        self.state = BreakerState.CLOSED
        self._consecutive_failures = 0
        self._opened_at = -math.inf
        self._probe_started_at: float | None = None

    def configure(self, *, failures: int, cool_down: float) -> None:
        """Take new thresholds (from a reloaded route table) without forgetting the state."""
        self.failure_threshold = failures
        self.cool_down = cool_down

    def admit(self) -> bool:
        """Whether a request may go to the upstream now."""
        if self.state is BreakerState.CLOSED:
            return True
        now = self._clock()
        if self.state is BreakerState.OPEN:
            if now - self._opened_at < self.cool_down:
                return False
            self._set_state(BreakerState.HALF_OPEN)
        # Half-open: one probe at a time. A probe whose outcome never came (its client went away in a
        # way nobody recorded) must not block the upstream for good, so it expires after a cool-down.
        if self._probe_started_at is not None and now - self._probe_started_at < self.cool_down:
            return False
        self._probe_started_at = now
        return True

    def retry_after(self) -> float:
        """Seconds until a request may be admitted again (for ``Retry-After``)."""
        if self.state is BreakerState.OPEN:
            return max(0.0, self.cool_down - (self._clock() - self._opened_at))
        if self.state is BreakerState.HALF_OPEN:
            return self.cool_down
        return 0.0

    def record_success(self) -> None:
        """The upstream answered."""
        self._consecutive_failures = 0
        self._probe_started_at = None
        if self.state is not BreakerState.CLOSED:
            self._set_state(BreakerState.CLOSED)

    def record_failure(self) -> None:
        """The upstream could not be reached, timed out, or answered 502/503/504."""
        self._probe_started_at = None
        if self.state is BreakerState.HALF_OPEN:
            self._open()
            return
        self._consecutive_failures += 1
        if self.state is BreakerState.CLOSED and self._consecutive_failures >= self.failure_threshold:
            self._open()

    def record_unknown(self) -> None:
        """The request ended without telling anything about the upstream (the client went away)."""
        self._probe_started_at = None

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._consecutive_failures = 0
        self._set_state(BreakerState.OPEN)

    def _set_state(self, state: BreakerState) -> None:
        self.state = state
        if self._on_change is not None:
            self._on_change(state)
