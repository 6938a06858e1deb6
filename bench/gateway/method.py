"""The measuring method: the highest arrival rate a target holds, then latency at half of it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bench.gateway.k6 import K6, Load
from bench.gateway.processes import Server

#: Offered rates of the step series, as multiples of the probe's saturated throughput. The probe
#: overloads the target, so its figure is only an estimate; the steps find the rate it really holds.
STEP_FACTORS = (0.5, 0.7, 0.85, 1.0, 1.15, 1.3, 1.5)
#: Steps halfway between the highest rate held and the lowest not held, after the series.
REFINEMENTS = 2
#: A step holds while at most this share of iterations is dropped or fails.
MAX_DROPPED = 0.01
MAX_FAILED = 0.01


@dataclass(frozen=True)
class Target:
    """One way to reach the upstream endpoint, and the servers on the way by role ("proxy", "upstream")."""

    name: str
    url: str
    servers: Mapping[str, Server]


@dataclass(frozen=True)
class Capacity:
    """The result of the throughput search for one target."""

    probe: Load
    steps: list[Load]
    #: Achieved rate of the highest step that held (0 if none did).
    max_rate: float
    #: Whether some step did not hold; if none failed, ``max_rate`` is only a lower bound.
    saturated: bool


@dataclass(frozen=True)
class Settings:
    """Lengths and limits of the runs."""

    warmup_seconds: float = 2
    probe_rate: int = 20_000
    probe_seconds: float = 4
    settle_seconds: float = 2
    step_seconds: float = 5
    latency_seconds: float = 20
    p99_limit_ms: float = 100


async def warm_up(k6: K6, target: Target, settings: Settings) -> None:
    """Open connections and fill caches (the gateway's JWKS) before anything is measured."""
    await k6.run(target.url, 200, settings.warmup_seconds)


async def find_capacity(k6: K6, target: Target, settings: Settings, log: Callable[[str], None]) -> Capacity:
    """Probe with an overload, step the offered rate up until a step does not hold, then bisect."""
    probe = await k6.run(target.url, settings.probe_rate, settings.probe_seconds, watch=target.servers)
    log(f"{target.name}: probe at {settings.probe_rate}/s completed {probe.achieved:.0f} req/s")
    await asyncio.sleep(settings.settle_seconds)  # the servers work off the probe's backlog first
    steps: list[Load] = []
    held_steps: list[Load] = []

    async def holds(rate: int) -> bool:
        step = await k6.run(target.url, max(10, rate), settings.step_seconds, watch=target.servers)
        steps.append(step)
        held = step.held(max_dropped=MAX_DROPPED, max_failed=MAX_FAILED, p99_limit_ms=settings.p99_limit_ms)
        if held:
            held_steps.append(step)
        log(
            f"{target.name}: {step.rate}/s offered -> {step.achieved:.0f} req/s, dropped {step.dropped_share:.1%}, "
            f"failed {step.failed:.1%}, p99 {step.p99_ms:.1f} ms: {'held' if held else 'did not hold'}"
        )
        return held

    held_rate, failed_rate = 0, 0
    for factor in STEP_FACTORS:
        rate = round(probe.achieved * factor)
        if not await holds(rate):
            failed_rate = rate
            break
        held_rate = rate
    for _ in range(REFINEMENTS if held_rate and failed_rate else 0):
        rate = (held_rate + failed_rate) // 2
        if await holds(rate):
            held_rate = rate
        else:
            failed_rate = rate
    return Capacity(probe, steps, max((step.achieved for step in held_steps), default=0.0), bool(failed_rate))


async def latency_at(k6: K6, target: Target, rate: int, settings: Settings, log: Callable[[str], None]) -> Load:
    """Latencies of `target` at a constant `rate`."""
    load = await k6.run(target.url, rate, settings.latency_seconds, watch=target.servers)
    log(
        f"{target.name}: {rate}/s for {settings.latency_seconds:g} s -> p50 {load.p50_ms:.2f} ms, "
        f"p99 {load.p99_ms:.2f} ms, dropped {load.dropped_share:.1%}, failed {load.failed:.1%}"
    )
    return load
