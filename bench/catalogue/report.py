"""The printed report of ``python -m bench.catalogue``: every figure, the ratios and the targets."""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from bench.catalogue.agreement import Agreement
from bench.catalogue.peer_tables import PeerTables
from bench.catalogue.replica import Memory
from bench.catalogue.speed import SERVER, Measurement, Plan, StepUp
from bench.catalogue.workloads import Workload
from bench.gateway.k6 import Load
from bench.gateway.method import MAX_DROPPED, MAX_FAILED
from bench.gateway.provision import Tool

#: Issue #5's targets.
MAX_IMPORT_SECONDS = 300.0
MAX_SEARCH_P99_MS = 50.0
MAX_LOOKUP_P99_MS = 5.0
MAX_REPLICA_BYTES = 1.5e9
CATALOGUE, PEER = "catalogue", "PostgreSQL"
MIB = 2**20


@dataclass(frozen=True)
class ImportFigures:
    """The national import: wall time, the importer's step summaries, its peak memory."""

    seconds: float
    steps: list[str]
    peak_bytes: int


@dataclass(frozen=True)
class ReplicaFigures:
    """The catalogue replica: time to loaded, the read model's own account, memory at two moments."""

    load_seconds: float
    logged_load: tuple[int, float] | None
    after_load: Memory
    after_tests: Memory


@dataclass(frozen=True)
class Report:
    """Everything the report prints."""

    command: str
    started: str
    k6: Tool
    postgres_version: str
    plan: Plan
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    wall_seconds: float
    import_figures: ImportFigures | None
    replica: ReplicaFigures
    peer_tables: PeerTables
    peer_memory: Memory
    workloads: Sequence[Workload]
    agreement: Agreement
    measurements: Sequence[Measurement]


def print_report(report: Report) -> None:
    """Print the report as aligned sections."""
    _print_setup(report)
    _print_data(report)
    _print_agreement(report.agreement)
    _print_latency(report)
    if report.plan.step_up is not None:
        _print_throughput(report, report.plan.step_up)
    _print_targets(report)


def _print_setup(report: Report) -> None:
    print(f"catalogue speed benchmark (issue #5): {report.command}, started {report.started}")
    print(
        f"  machine: {os.cpu_count()} cores shared with other engineers' test runs (nothing pinned); "
        f"load average (1/5/15 min) before {_load_average(report.load_before)}, "
        f"after {_load_average(report.load_after)}"
    )
    print(
        f"  k6 {report.k6.version} ({report.k6.provenance}), constant-arrival-rate over a list of paths, "
        f"at most {report.plan.max_vus} VUs; {report.postgres_version}, on 127.0.0.1 like everything else"
    )
    print(f"  wall time of the whole run: {report.wall_seconds:.0f} s")
    print()


def _print_data(report: Report) -> None:
    figures = report.import_figures
    if figures is None:
        print("import: skipped (--database-url: an imported database was reused)")
    else:
        print(
            f"import: python -m services.catalogue.importers into an empty database: {figures.seconds:.1f} s "
            f"(target <= {MAX_IMPORT_SECONDS:.0f} s), importer peak RSS {figures.peak_bytes / MIB:.0f} MiB"
        )
        for step in figures.steps:
            print(f"  {step}")
    replica = report.replica
    logged = (
        f"; the read model's own log: {replica.logged_load[0]:,} records in {replica.logged_load[1]:.1f} s"
        if replica.logged_load
        else ""
    )
    print(
        "replica: python -m services.catalogue --role api (uvicorn, 1 process); process start until a search "
        f"finds hits: {replica.load_seconds:.1f} s{logged}"
    )
    print(
        f"  RSS after the load {replica.after_load.rss_bytes / MIB:.0f} MiB, after the load tests "
        f"{replica.after_tests.rss_bytes / MIB:.0f} MiB, peak {replica.after_tests.peak_bytes / MIB:.0f} MiB "
        f"(target <= {MAX_REPLICA_BYTES / MIB:.0f} MiB = 1.5 GB)"
    )
    tables = report.peer_tables
    rows = ", ".join(f"{count:,} {table}" for table, count in tables.rows.items())
    print(
        f"peer: schema 'peer' in the same database, built in {tables.seconds:.1f} s ({rows}), "
        f"{tables.size_bytes / MIB:.1f} MiB on disk with indexes; served by FastAPI + asyncpg "
        f"(uvicorn, 1 process, no middleware), RSS after the load tests {report.peer_memory.rss_bytes / MIB:.0f} MiB"
    )
    print("workloads (each list shuffled once, k6 takes the paths in turn):")
    for workload in report.workloads:
        print(f"  {workload.name}: {workload.description}")
    print()


def _print_agreement(agreement: Agreement) -> None:
    agreeing = agreement.lookups - len(agreement.lookup_disagreements)
    print(
        f"agreement: lookups {agreeing} of {agreement.lookups} the same (Organisationseinheit and rule); "
        f"top hit the same for {sum(top.same for top in agreement.top_hits)} of {len(agreement.top_hits)} "
        "plain queries"
    )
    for disagreement in agreement.lookup_disagreements[:5]:
        print(f"  differs: {disagreement}")
    for top in agreement.top_hits:
        mark = "same" if top.same else "differs"
        print(f"  {top.query!r:18} catalogue {top.catalogue!r}, PostgreSQL {top.peer!r}: {mark}")
    sizes = agreement.answer_bytes
    print(
        "  mean answer size: "
        + "; ".join(
            f"{workload} catalogue {sizes[workload, CATALOGUE]:,.0f} B, PostgreSQL {sizes[workload, PEER]:,.0f} B"
            for workload in ("search", "lookup")
            if (workload, CATALOGUE) in sizes
        )
    )
    print()


def _print_latency(report: Report) -> None:
    settings = report.plan.settings
    print(
        f"latency at {report.plan.rate} req/s for {settings.latency_seconds:g} s each (after a "
        f"{settings.warmup_seconds:g} s warm-up); cpu = cores used by k6 / the side's server / the PostgreSQL "
        "cluster / all other processes"
    )
    print(
        f"  {'workload':9}{'side':12}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'failed':>8}{'dropped':>9}"
        f"{'server µs/req':>15}{'postgres µs/req':>17}   cpu"
    )
    for workload in _workloads(report):
        rows = {m.side: m.latency for m in report.measurements if m.workload == workload}
        for side, load in rows.items():
            print(
                f"  {workload:9}{side:12}{load.p50_ms:8.2f}{load.p99_ms:8.2f}{load.max_ms:8.1f}{load.failed:8.1%}"
                f"{load.dropped_share:9.1%}{_per_request(load, SERVER):15.0f}{_per_request(load, 'postgres'):17.0f}"
                f"   {_cores(load)}"
            )
        if CATALOGUE in rows and PEER in rows:
            ours, theirs = rows[CATALOGUE], rows[PEER]
            both = _per_request(ours, SERVER) + _per_request(ours, "postgres")
            peer_both = _per_request(theirs, SERVER) + _per_request(theirs, "postgres")
            print(
                f"  {workload:9}{'ratio c/PG':12}{_ratio(ours.p50_ms, theirs.p50_ms):>8}"
                f"{_ratio(ours.p99_ms, theirs.p99_ms):>8}{_ratio(ours.max_ms, theirs.max_ms):>8}{'':17}"
                f"{'cpu/req (server + postgres): ' + _ratio(both, peer_both):>32}"
            )
    print(
        "  server µs/req: CPU of the side's process per request; the catalogue's includes its service stack "
        "(kit middleware, telemetry), the peer is a bare FastAPI app."
    )
    print("  postgres µs/req: CPU of the whole PostgreSQL cluster per request, other engineers' queries included.")
    print()


def _print_throughput(report: Report, plan: StepUp) -> None:
    print(
        f"max throughput: highest rate held (dropped <= {MAX_DROPPED:.0%}, failed <= {MAX_FAILED:.0%}, "
        f"p99 <= {plan.p99_limit_ms:g} ms) in {plan.step_seconds:g} s steps from {report.plan.rate}/s up by "
        f"{plan.growth - 1:.0%} until one does not hold, then {plan.refinements} halfway steps"
    )
    print(f"  {'workload':9}{'side':12}{'max req/s':>10}{'p99 ms':>8}{'steps':>7}   cpu at the highest step held")
    for workload in _workloads(report):
        rows = {m.side: m.throughput for m in report.measurements if m.workload == workload and m.throughput}
        for side, throughput in rows.items():
            top = throughput.top
            note = "" if throughput.saturated else f"   (every step up to {plan.max_rate}/s held: a lower bound)"
            p99 = f"{top.p99_ms:8.1f}" if top else f"{'-':>8}"
            cores = _cores(top) if top else "-   (no step held)"
            print(f"  {workload:9}{side:12}{throughput.max_rate:10.0f}{p99}{len(throughput.steps):7}   {cores}{note}")
        if CATALOGUE in rows and PEER in rows:
            print(f"  {workload:9}{'ratio c/PG':12}{_ratio(rows[CATALOGUE].max_rate, rows[PEER].max_rate):>10}")
    print()


def _print_targets(report: Report) -> None:
    print("targets (issue #5), catalogue side:")
    latency = {(m.workload, m.side): m.latency for m in report.measurements}
    checks: list[tuple[str, float, float, str]] = []
    if ("search", CATALOGUE) in latency:
        checks.append(
            (f"search p99 at {report.plan.rate} req/s", latency["search", CATALOGUE].p99_ms, MAX_SEARCH_P99_MS, "ms")
        )
    if ("lookup", CATALOGUE) in latency:
        checks.append(("responsibility lookup p99", latency["lookup", CATALOGUE].p99_ms, MAX_LOOKUP_P99_MS, "ms"))
    if report.import_figures:
        checks.append(("full import", report.import_figures.seconds, MAX_IMPORT_SECONDS, "s"))
    peak = max(report.replica.after_tests.peak_bytes, report.replica.after_tests.rss_bytes)
    checks.append(("memory per replica (peak RSS)", peak / MIB, MAX_REPLICA_BYTES / MIB, "MiB"))
    for name, value, limit, unit in checks:
        verdict = "met" if value <= limit else "MISSED"
        print(f"  {name:34}{value:10.2f} {unit:4} (<= {limit:g} {unit}): {verdict}")
    runs = [m.latency for m in report.measurements]
    runs += [step for m in report.measurements if m.throughput for step in m.throughput.steps]
    other = statistics.fmean(max(0.0, run.cores["other"]) for run in runs) if runs else 0.0
    print(
        f"other processes (other engineers' test runs) used {other:.2f} cores on average during the load tests; "
        "figures from a busy machine are pessimistic for both sides"
    )


def _workloads(report: Report) -> list[str]:
    return list(dict.fromkeys(m.workload for m in report.measurements))


def _per_request(load: Load, role: str) -> float:
    return load.cores.get(role, 0.0) / load.achieved * 1e6 if load.achieved else 0.0


def _cores(load: Load) -> str:
    cores = load.cores
    return (
        f"{cores['k6']:.2f} / {cores.get(SERVER, 0.0):.2f} / {cores.get('postgres', 0.0):.2f} / "
        f"{max(0.0, cores['other']):.2f}"
    )


def _ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}x" if theirs else "-"


def _load_average(values: tuple[float, float, float]) -> str:
    return " / ".join(f"{value:.2f}" for value in values)
