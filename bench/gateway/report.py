"""The benchmark's printed report: setup, maximum throughput, latency at half load, and the ratios."""

from __future__ import annotations

import os
from dataclasses import dataclass

from bench.gateway.k6 import Load
from bench.gateway.method import MAX_DROPPED, MAX_FAILED, Capacity, Settings
from bench.gateway.provision import Tool

#: Issue #3's targets.
MIN_THROUGHPUT_RATIO = 0.60
MAX_ADDED_P99_MS = 5.0
#: Cores used by processes outside the benchmark above which its figures are not worth recording.
BUSY_MACHINE_CORES = 0.25


@dataclass(frozen=True)
class LatencyRow:
    """One half-load run; a proxy's row carries the direct run at the same rate it is compared with."""

    label: str
    load: Load
    baseline: Load | None = None


@dataclass(frozen=True)
class Report:
    """Everything the report prints."""

    k6: Tool
    nginx: Tool
    nginx_workers: int
    gateway: str
    upstream: str
    settings: Settings
    max_vus: int
    capacities: dict[str, Capacity]
    latencies: list[LatencyRow]
    jwks_fetches: int


def print_report(report: Report) -> None:
    """Print the report as a few aligned tables."""
    settings = report.settings
    print(f"gateway benchmark: {report.upstream}, the same bearer token on every request to every target")
    print(f"  k6: {report.k6.version} ({report.k6.provenance}), constant-arrival-rate, at most {report.max_vus} VUs")
    print(
        f"  nginx: {report.nginx.version} ({report.nginx.provenance}), {report.nginx_workers} worker, "
        "keepalive 64 to the upstream, access_log off"
    )
    print(f"  gateway: {report.gateway}; JWKS fetches: {report.jwks_fetches}")
    print(
        f"  {os.cpu_count()} cores, nothing pinned; cpu = cores used by k6 / the proxy / the upstream / "
        "all other processes"
    )
    print()
    print(
        f"max throughput: highest rate held (dropped <= {MAX_DROPPED:.0%}, failed <= {MAX_FAILED:.0%}, "
        f"p99 <= {settings.p99_limit_ms:g} ms) in {settings.step_seconds:g} s steps after a "
        f"{settings.probe_seconds:g} s overload probe at {settings.probe_rate}/s"
    )
    print(f"  {'target':24}{'max req/s':>10}{'probe req/s':>13}   cpu at probe")
    for name, capacity in report.capacities.items():
        note = "" if capacity.saturated else "   every step held: a lower bound"
        note = note if capacity.max_rate else "   no step held"
        print(f"  {name:24}{capacity.max_rate:10.0f}{capacity.probe.achieved:13.0f}   {_cores(capacity.probe)}{note}")
    print()
    print(
        f"latency at half of each target's max, {settings.latency_seconds:g} s each; "
        "added = p99 minus direct's p99 at the same rate"
    )
    print(
        f"  {'target':24}{'req/s':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'p99 added':>12}{'dropped':>9}"
        f"{'proxy cpu/req':>15}   cpu"
    )
    for row in report.latencies:
        load = row.load
        added = f"{load.p99_ms - row.baseline.p99_ms:+9.2f} ms" if row.baseline else f"{'-':>12}"
        per_request = f"{load.cores['proxy'] / load.rate * 1e6:9.0f} µs" if "proxy" in load.cores else f"{'-':>12}"
        print(
            f"  {row.label:24}{load.rate:7}{load.p50_ms:9.2f}{load.p99_ms:9.2f}{load.max_ms:9.1f}{added}"
            f"{load.dropped_share:9.1%}   {per_request}   {_cores(load)}"
        )
    print()
    _print_verdict(report)


def _print_verdict(report: Report) -> None:
    nginx, gateway = report.capacities["nginx"].max_rate, report.capacities["gateway"].max_rate
    ratio = f"{gateway / nginx:.0%}" if nginx else "-"
    print(f"gateway / nginx max throughput: {ratio} (target >= {MIN_THROUGHPUT_RATIO:.0%})")
    added = {row.label: row.load.p99_ms - row.baseline.p99_ms for row in report.latencies if row.baseline is not None}
    print(
        "p99 added over direct at half load: "
        + ", ".join(f"{label} {value:+.2f} ms" for label, value in added.items())
        + f" (target for the gateway <= +{MAX_ADDED_P99_MS:g} ms)"
    )
    runs = [capacity.probe for capacity in report.capacities.values()]
    runs += [step for capacity in report.capacities.values() for step in capacity.steps]
    runs += [row.load for row in report.latencies]
    other = sum(max(0.0, run.cores["other"]) for run in runs) / len(runs)
    if other > BUSY_MACHINE_CORES:
        print(f"warning: other processes used {other:.2f} cores on average meanwhile; rerun on a quiet machine")


def _cores(load: Load) -> str:
    cores = load.cores
    proxy = f"{cores['proxy']:.2f}" if "proxy" in cores else "-   "
    return f"{cores['k6']:.2f} / {proxy} / {cores['upstream']:.2f} / {max(0.0, cores['other']):.2f}"
