"""The load tests: each workload against each side, at a fixed rate and up to its maximum throughput.

For every workload (search, lookup) and side (the catalogue replica, the PostgreSQL peer), with k6
over the workload's paths:

1. latency, as in the gateway benchmark (:func:`bench.gateway.method.latency_at`): a short warm-up,
   then the fixed rate (200 requests/s) for ``latency_seconds``; all four run first, while no server
   has been overloaded yet;
2. maximum throughput, by stepping up: from the latency rate, each step offers 25 % more until one
   does not hold (more than 1 % dropped or failed, or p99 over the limit, as in
   :mod:`bench.gateway.method`), then two steps halfway between the highest rate held and the lowest
   not held; the achieved rate of the highest step that held. The gateway method's overload probe
   is not used: a server of a few hundred requests per second comes out of it with a backlog that
   fails the next steps, and its estimate capped the steps below what the peer held.

Besides k6 and the side's server, the PostgreSQL cluster's CPU is counted in every run ("postgres"):
the peer's queries run there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.catalogue.k6_paths import CpuMeter, PathsK6
from bench.catalogue.workloads import Workload
from bench.gateway.k6 import Load
from bench.gateway.method import MAX_DROPPED, MAX_FAILED, Settings, Target, latency_at, warm_up
from bench.gateway.processes import Server

#: The role under which a side's server shows in :attr:`Load.cores`.
SERVER = "server"


@dataclass(frozen=True)
class Side:
    """One implementation under test: its server process and base URL."""

    name: str
    url: str
    server: Server


@dataclass(frozen=True)
class StepUp:
    """How the maximum throughput is searched."""

    step_seconds: float = 5
    #: Each step offers this much more than the last one that held.
    growth: float = 1.25
    #: Steps halfway between the highest rate held and the lowest not held.
    refinements: int = 2
    #: Pause after a step that did not hold, so that the server works off its backlog first.
    settle_seconds: float = 3
    p99_limit_ms: float = 100
    #: No step offers more.
    max_rate: int = 5000


@dataclass(frozen=True)
class Throughput:
    """The steps run and the achieved rate of the highest that held (0 if none did)."""

    steps: list[Load]
    held: list[bool]
    max_rate: float
    #: Whether some step did not hold; if none failed, ``max_rate`` is only a lower bound.
    saturated: bool

    @property
    def top(self) -> Load | None:
        """The highest step that held."""
        return max((s for s, held in zip(self.steps, self.held, strict=True) if held), key=_achieved, default=None)


@dataclass(frozen=True)
class Measurement:
    """The figures of one workload on one side."""

    workload: str
    side: str
    latency: Load
    throughput: Throughput | None


@dataclass(frozen=True)
class Plan:
    """What to run and how long."""

    rate: int
    settings: Settings
    max_vus: int
    step_up: StepUp | None


async def measure(
    k6_binary: Path,
    work_dir: Path,
    workloads: Sequence[Workload],
    sides: Sequence[Side],
    plan: Plan,
    *,
    meters: Mapping[str, CpuMeter],
    log: Callable[[str], None],
) -> list[Measurement]:
    """Latency at the plan's rate for every (workload, side), then the maximum throughput of each."""
    runners = {
        workload.name: PathsK6(
            k6_binary, work_dir / workload.name, paths_file=workload.file, max_vus=plan.max_vus, meters=meters
        )
        for workload in workloads
    }
    targets = [
        (workload.name, side.name, Target(f"{side.name} {workload.name}", side.url, {SERVER: side.server}))
        for workload in workloads
        for side in sides
    ]
    latencies: dict[tuple[str, str], Load] = {}
    for workload, side, target in targets:
        await warm_up(runners[workload], target, plan.settings)
        latencies[workload, side] = await latency_at(runners[workload], target, plan.rate, plan.settings, log)
    throughputs: dict[tuple[str, str], Throughput] = {}
    if plan.step_up is not None:
        for workload, side, target in targets:
            throughputs[workload, side] = await step_up(runners[workload], target, plan.rate, plan.step_up, log)
    return [
        Measurement(workload, side, latencies[workload, side], throughputs.get((workload, side)))
        for workload, side, _ in targets
    ]


async def step_up(k6: PathsK6, target: Target, start: int, plan: StepUp, log: Callable[[str], None]) -> Throughput:
    """Offer `start` requests/s, then more by `plan.growth` until a step does not hold; then bisect."""
    steps: list[Load] = []
    held: list[bool] = []

    async def holds(rate: int) -> bool:
        step = await k6.run(target.url, rate, plan.step_seconds, watch=target.servers)
        steps.append(step)
        held.append(step.held(max_dropped=MAX_DROPPED, max_failed=MAX_FAILED, p99_limit_ms=plan.p99_limit_ms))
        log(
            f"{target.name}: {rate}/s offered -> {step.achieved:.0f} req/s, dropped {step.dropped_share:.1%}, "
            f"failed {step.failed:.1%}, p99 {step.p99_ms:.1f} ms: {'held' if held[-1] else 'did not hold'}"
        )
        if not held[-1]:
            await asyncio.sleep(plan.settle_seconds)
        return held[-1]

    held_rate, failed_rate, rate = 0, 0, start
    while rate <= plan.max_rate:
        if not await holds(rate):
            failed_rate = rate
            break
        held_rate, rate = rate, max(rate + 1, round(rate * plan.growth))
    for _ in range(plan.refinements if failed_rate else 0):
        rate = (held_rate + failed_rate) // 2
        if rate in (held_rate, failed_rate):
            break
        if await holds(rate):
            held_rate = rate
        else:
            failed_rate = rate
    top = max((s.achieved for s, ok in zip(steps, held, strict=True) if ok), default=0.0)
    return Throughput(steps, held, top, bool(failed_rate))


def _achieved(load: Load) -> float:
    return load.achieved
