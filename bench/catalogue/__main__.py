"""``python -m bench.catalogue``: the catalogue's speed at national scale against plain PostgreSQL.

One run, all on this machine:

1. a scratch database on the local PostgreSQL (``make infra``) and the full national import into it
   (``python -m services.catalogue.importers``), timed;
2. one catalogue API replica on it: the time from its start until its read model is loaded, and its
   resident memory after the load and after the load tests;
3. the peer, plain PostgreSQL in the same database (:mod:`bench.catalogue.peer_tables`), served by a
   minimal app of the same stack (:mod:`bench.catalogue.peer_app`), checked against the catalogue;
4. k6 (:mod:`bench.catalogue.speed`): search and responsibility lookups on both sides, p50/p99 at
   200 requests/s and the maximum throughput;
5. the report on stdout (progress goes to stderr): every figure, the ratios catalogue/PostgreSQL, the
   targets of issue #5, the wall time and the machine's load before and after.

Every process it starts and the scratch database are removed at the end, also after a failure, Ctrl-C
or SIGTERM. Logs, k6 summaries and the path lists stay under ``.run/bench/catalogue``.
``python -m bench.catalogue.relevance`` measures search quality; this measures speed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import resource
import signal
import sys
import time
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from bench.catalogue.agreement import check_agreement
from bench.catalogue.k6_paths import ProcessTree
from bench.catalogue.peer_tables import build_peer_tables
from bench.catalogue.replica import logged_load, memory, start_replica, wait_until_loaded
from bench.catalogue.report import CATALOGUE, PEER, ImportFigures, ReplicaFigures, Report, print_report
from bench.catalogue.speed import Plan, Side, StepUp, measure
from bench.catalogue.workloads import lookup_workload, search_workload
from bench.gateway.method import Settings
from bench.gateway.processes import Server, free_port
from bench.gateway.provision import ensure_k6
from kit.testing import LocalInfrastructure

ROOT = Path(__file__).resolve().parents[2]
RUN_DIR = ROOT / ".run" / "bench" / "catalogue"
DROP_ATTEMPTS = 30


def log(message: str) -> None:
    """Progress on stderr, so that stdout holds only the report."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def run(args: argparse.Namespace) -> Report:
    """Provision, import, start both sides, check them, load them; the figures."""
    started = time.monotonic()
    started_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load_before = os.getloadavg()
    log(f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}")
    k6_tool = ensure_k6(ROOT / ".cache" / "bench" / "bin")
    infrastructure = LocalInfrastructure()
    await asyncio.to_thread(infrastructure.start_postgres)
    async with contextlib.AsyncExitStack() as stack:
        import_figures = None
        url = args.database_url
        if url is None:
            url = await infrastructure.create_database("bench_catalogue")
            stack.push_async_callback(_drop, infrastructure, url)
            log(f"scratch database {make_url(url).database}; importing the national data")
            import_figures = await national_import(url)
            log(f"imported in {import_figures.seconds:.1f} s")
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

        catalogue_url = f"http://127.0.0.1:{free_port()}"
        loading = time.monotonic()
        replica = start_replica(url, int(catalogue_url.rsplit(":", 1)[1]), log_dir=RUN_DIR, cwd=ROOT)
        stack.callback(replica.stop)
        await wait_until_loaded(replica, catalogue_url)
        load_seconds = time.monotonic() - loading
        after_load = memory(replica.pid)
        log(f"catalogue loaded in {load_seconds:.1f} s, RSS {after_load.rss_bytes / 2**20:.0f} MiB")

        peer_tables = await build_peer_tables(dsn)
        log(f"peer tables built in {peer_tables.seconds:.1f} s")
        peer_url = f"http://127.0.0.1:{free_port()}"
        peer_argv = [sys.executable, "-m", "bench.catalogue.peer_app", "--port", peer_url.rsplit(":", 1)[1]]
        peer = Server("peer", peer_argv, log_dir=RUN_DIR, cwd=ROOT, env={"BENCH_PEER_DSN": dsn})
        stack.callback(peer.stop)
        await peer.wait_until_serving(f"{peer_url}/health/live")

        workloads = [search_workload(RUN_DIR), await lookup_workload(dsn, RUN_DIR, args.lookups)]
        agreement = await check_agreement(catalogue_url, peer_url, workloads[1].paths[: args.spot_checks])
        if agreement.lookup_disagreements:
            raise RuntimeError(
                "the catalogue and PostgreSQL disagree on lookups, so their speeds are not comparable:\n"
                + "\n".join(agreement.lookup_disagreements[:10])
            )
        log(f"spot checks: {agreement.lookups} lookups agree")

        postmaster, postgres_version = await _postgres(dsn)
        plan = Plan(
            rate=args.rate,
            settings=Settings(warmup_seconds=args.warmup_seconds, latency_seconds=args.latency_seconds),
            max_vus=args.max_vus,
            step_up=None
            if args.no_throughput
            else StepUp(step_seconds=args.step_seconds, p99_limit_ms=args.p99_limit_ms, max_rate=args.max_rate),
        )
        sides = [Side(CATALOGUE, catalogue_url, replica), Side(PEER, peer_url, peer)]
        measurements = await measure(
            k6_tool.path,
            RUN_DIR / "k6",
            workloads,
            sides,
            plan,
            meters={"postgres": ProcessTree(postmaster)},
            log=log,
        )
        after_tests = memory(replica.pid)
        peer_memory = memory(peer.pid)
    load_after = os.getloadavg()
    return Report(
        command=_command(),
        started=started_at,
        k6=k6_tool,
        postgres_version=postgres_version,
        plan=plan,
        load_before=load_before,
        load_after=load_after,
        wall_seconds=time.monotonic() - started,
        import_figures=import_figures,
        replica=ReplicaFigures(load_seconds, logged_load(replica), after_load, after_tests),
        peer_tables=peer_tables,
        peer_memory=peer_memory,
        workloads=workloads,
        agreement=agreement,
        measurements=measurements,
    )


async def national_import(url: str) -> ImportFigures:
    """Run ``python -m services.catalogue.importers`` against `url`; its time, steps and peak memory."""
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    log_path = RUN_DIR / "import.log"
    env = {**os.environ, "CATALOGUE_DATABASE_URL": url}
    started = time.monotonic()
    with log_path.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.catalogue.importers", cwd=ROOT, env=env, stdout=output, stderr=output
        )
        try:
            code = await process.wait()
        except asyncio.CancelledError:
            process.kill()
            await process.wait()
            raise
    seconds = time.monotonic() - started
    text = log_path.read_text(errors="replace")
    if code != 0:
        raise RuntimeError(f"the import exited with {code}; see {log_path}:\n{text[-2000:]}")
    # The step summaries are the lines before "Summary" that are not indented (progress lines are).
    steps = [line for line in text.split("\nSummary\n", 1)[0].splitlines() if line and not line[0].isspace()]
    # The largest child so far: before the import only `k6 version` ran, far smaller.
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return ImportFigures(seconds, steps, peak)


async def _postgres(dsn: str) -> tuple[int, str]:
    """The postmaster's pid (the parent of our backend) and the server's version."""
    connection = await asyncpg.connect(dsn)
    try:
        backend = int(await connection.fetchval("SELECT pg_backend_pid()"))
        postmaster = _parent_pid(backend)  # while the backend lives
        version = str(await connection.fetchval("SELECT 'PostgreSQL ' || current_setting('server_version')"))
    finally:
        await connection.close()
    return postmaster, version


def _parent_pid(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[1])


async def _drop(infrastructure: LocalInfrastructure, url: str) -> None:
    # An autovacuum worker busy with the fresh import is a superuser's process, which FORCE may not
    # terminate for us: the drop fails until the worker is done, so it is tried again for a while.
    for attempt in range(DROP_ATTEMPTS):
        try:
            await infrastructure.drop_database(url)
            break
        except asyncpg.InsufficientPrivilegeError:
            if attempt == DROP_ATTEMPTS - 1:
                raise
            await asyncio.sleep(1)
    log(f"scratch database {make_url(url).database} dropped")


def _command() -> str:
    arguments = ["<url>" if argument.startswith("postgresql") else argument for argument in sys.argv[1:]]
    return " ".join([".venv/bin/python -m bench.catalogue", *arguments])


async def _main(args: argparse.Namespace) -> None:
    main_task = asyncio.current_task()
    if main_task is not None:  # SIGTERM stops the run as Ctrl-C does: every process started is stopped.
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    print_report(await run(args))


def main() -> None:
    """Parse the options and run the benchmark."""
    parser = argparse.ArgumentParser(prog="python -m bench.catalogue", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=200, help="offered req/s of the latency runs")
    parser.add_argument("--latency-seconds", type=float, default=25, help="length of each latency run")
    parser.add_argument("--warmup-seconds", type=float, default=2, help="length of the warm-up before each")
    parser.add_argument("--step-seconds", type=float, default=5, help="length of each throughput step")
    parser.add_argument("--p99-limit-ms", type=float, default=100, help="a step with a higher p99 did not hold")
    parser.add_argument("--max-rate", type=int, default=5000, help="no throughput step offers more req/s")
    parser.add_argument("--max-vus", type=int, default=200, help="k6's cap on concurrent requests")
    parser.add_argument("--lookups", type=int, default=2000, help="distinct (LeiKa key, Gemeinde) lookups")
    parser.add_argument("--spot-checks", type=int, default=25, help="lookups compared between both sides")
    parser.add_argument("--no-throughput", action="store_true", help="skip the maximum-throughput search")
    parser.add_argument(
        "--database-url",
        help="reuse this imported database (SQLAlchemy URL) instead of a scratch one: no import, not dropped",
    )
    try:
        asyncio.run(_main(parser.parse_args()))
    except (KeyboardInterrupt, asyncio.CancelledError):
        sys.exit("bench.catalogue: interrupted; the processes and the scratch database it made are removed")


if __name__ == "__main__":
    main()
