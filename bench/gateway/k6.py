"""One bounded k6 run (``load.js``: constant-arrival-rate, fixed duration and VU cap) and its figures."""

from __future__ import annotations

import asyncio
import json
import os
import resource
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.gateway.processes import Server, machine_busy_seconds

SCRIPT = Path(__file__).with_name("load.js")


@dataclass(frozen=True)
class Load:
    """What k6 measured in one run at a fixed offered rate, and the CPU each process used meanwhile."""

    rate: int
    seconds: float
    requests: int
    failed: float
    dropped: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    #: Cores used during the run: "k6", each watched server by its role, and "other" (the rest of the machine).
    cores: dict[str, float]

    @property
    def achieved(self) -> float:
        """Successful requests per second."""
        return self.requests * (1 - self.failed) / self.seconds

    @property
    def dropped_share(self) -> float:
        """Iterations k6 could not start on schedule (no free VU), as a share of those offered."""
        return self.dropped / max(1, self.rate * self.seconds)

    def held(self, *, max_dropped: float, max_failed: float, p99_limit_ms: float) -> bool:
        """Whether the target kept up with the offered rate."""
        return self.dropped_share <= max_dropped and self.failed <= max_failed and self.p99_ms <= p99_limit_ms


class K6:
    """Runs ``load.js`` against one URL at a time, with the benchmark's token on every request."""

    def __init__(self, binary: Path, work_dir: Path, *, token: str, max_vus: int) -> None:
        self.binary = binary
        self.work_dir = work_dir
        self.token = token
        self.max_vus = max_vus
        self._runs = 0
        work_dir.mkdir(parents=True, exist_ok=True)

    async def run(self, url: str, rate: int, seconds: float, *, watch: Mapping[str, Server] | None = None) -> Load:
        """Offer `rate` GET requests per second to `url` for `seconds`; `watch` names servers by role."""
        watch = watch or {}
        self._runs += 1
        summary = self.work_dir / f"summary-{self._runs}.json"
        log = self.work_dir / f"k6-{self._runs}.log"
        env = {
            **os.environ,
            "K6_NO_USAGE_REPORT": "true",
            "BENCH_URL": url,
            "BENCH_TOKEN": self.token,
            "BENCH_RATE": str(rate),
            "BENCH_SECONDS": f"{seconds:g}",
            "BENCH_PREALLOCATED_VUS": str(min(self.max_vus, max(10, rate // 50))),
            "BENCH_MAX_VUS": str(self.max_vus),
            "BENCH_SUMMARY": str(summary),
        }
        # The REST API is off (--address ""), so no port is taken; --quiet drops the progress bar.
        argv = [str(self.binary), "run", "--quiet", "--no-color", "--address", "", str(SCRIPT)]
        busy_before = {role: server.cpu_seconds() for role, server in watch.items()}
        k6_before = _children_cpu_seconds()
        machine_before = machine_busy_seconds()
        with log.open("wb") as output:
            process = await asyncio.create_subprocess_exec(*argv, env=env, stdout=output, stderr=output)
            try:
                code = await process.wait()
            except asyncio.CancelledError:
                process.kill()
                await process.wait()
                raise
        if code != 0 or not summary.exists():
            raise RuntimeError(f"k6 exited with {code}; see {log}:\n{log.read_text(errors='replace')[-2000:]}")
        figures = json.loads(summary.read_text())
        # Per second of the test run proper (k6's own figure also holds its start-up, a small share).
        run_seconds = figures["state"]["testRunDurationMs"] / 1000
        used = {"k6": _children_cpu_seconds() - k6_before}
        used |= {role: server.cpu_seconds() - busy_before[role] for role, server in watch.items()}
        used["other"] = machine_busy_seconds() - machine_before - sum(used.values())
        return _load(figures, rate, seconds, {name: cpu / run_seconds for name, cpu in used.items()})


def _load(summary: dict[str, Any], rate: int, seconds: float, cores: dict[str, float]) -> Load:
    metrics = summary["metrics"]

    def value(metric: str, stat: str) -> float:
        return float(metrics.get(metric, {}).get("values", {}).get(stat, 0))

    return Load(
        rate=rate,
        seconds=seconds,
        requests=int(value("http_reqs", "count")),
        failed=value("http_req_failed", "rate"),
        dropped=int(value("dropped_iterations", "count")),
        p50_ms=value("http_req_duration", "p(50)"),
        p99_ms=value("http_req_duration", "p(99)"),
        max_ms=value("http_req_duration", "max"),
        cores=cores,
    )


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
