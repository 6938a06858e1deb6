"""k6 over a list of paths: :class:`bench.gateway.k6.K6` runs one fixed URL, this one a URL per request.

``paths.js`` takes the paths of a JSON list in turn under the target's base URL. Everything else is the
gateway benchmark's: the constant-arrival-rate scenario, the summary read into a
:class:`~bench.gateway.k6.Load`, and the CPU accounting per process, which here also counts processes
that are no child of ours (the PostgreSQL cluster) under their own names instead of "other".
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from bench.gateway.k6 import K6, Load, _children_cpu_seconds, _load
from bench.gateway.processes import Server, _cpu_seconds_of, _process_tree, machine_busy_seconds

SCRIPT = Path(__file__).with_name("paths.js")


class CpuMeter(Protocol):
    """Anything that tells the CPU time its processes used so far (a :class:`Server`, a cluster)."""

    def cpu_seconds(self) -> float:
        """User plus system seconds."""
        ...


class ProcessTree:
    """A running process we did not start (the PostgreSQL postmaster) with everything it forked."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def cpu_seconds(self) -> float:
        """CPU time of the process and its descendants, those still alive."""
        return sum(_cpu_seconds_of(pid) for pid in _process_tree(self.pid))


class PathsK6(K6):
    """Runs ``paths.js``: each request GETs the next path of `paths_file` under the target's base URL.

    Each run continues the cycle through the paths where the previous one stopped, so a path comes
    round again only after all the others (a replica's result cache smaller than the list never
    answers). `meters` are measured during every run besides the servers the caller watches; their cores show
    under their names in :attr:`Load.cores`.
    """

    def __init__(
        self,
        binary: Path,
        work_dir: Path,
        *,
        paths_file: Path,
        max_vus: int,
        meters: Mapping[str, CpuMeter] | None = None,
    ) -> None:
        super().__init__(binary, work_dir, token="", max_vus=max_vus)
        self.paths_file = paths_file
        self.meters = dict(meters or {})
        self._offset = 0

    async def run(self, url: str, rate: int, seconds: float, *, watch: Mapping[str, Server] | None = None) -> Load:
        """Offer `rate` GET requests per second to `url` + the listed paths for `seconds`."""
        watched: dict[str, CpuMeter] = {**self.meters, **(watch or {})}
        self._runs += 1
        summary = self.work_dir / f"summary-{self._runs}.json"
        log = self.work_dir / f"k6-{self._runs}.log"
        env = {
            **os.environ,
            "K6_NO_USAGE_REPORT": "true",
            "BENCH_URL": url,
            "BENCH_PATHS": str(self.paths_file),
            "BENCH_OFFSET": str(self._offset),
            "BENCH_RATE": str(rate),
            "BENCH_SECONDS": f"{seconds:g}",
            "BENCH_PREALLOCATED_VUS": str(min(self.max_vus, max(10, rate // 50))),
            "BENCH_MAX_VUS": str(self.max_vus),
            "BENCH_SUMMARY": str(summary),
        }
        argv = [str(self.binary), "run", "--quiet", "--no-color", "--address", "", str(SCRIPT)]
        busy_before = {role: meter.cpu_seconds() for role, meter in watched.items()}
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
        self._offset += int(figures["metrics"].get("iterations", {}).get("values", {}).get("count", 0))
        run_seconds = figures["state"]["testRunDurationMs"] / 1000
        used = {"k6": _children_cpu_seconds() - k6_before}
        used |= {role: meter.cpu_seconds() - busy_before[role] for role, meter in watched.items()}
        used["other"] = machine_busy_seconds() - machine_before - sum(used.values())
        return _load(figures, rate, seconds, {name: cpu / run_seconds for name, cpu in used.items()})
