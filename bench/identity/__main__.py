"""``python -m bench.identity``: client-credentials token issuance of our identity service against Keycloak.

Both peers run on this machine (2 cores) in one run, one after the other, each with an equivalent
confidential client (``client_secret_basic``, ES256-signed JWT access tokens, 300 s lifetime). For each:

1. warm-up (30 s for Keycloak's JIT, 10 s for ours) with the same load as (a);
2. (a) maximum throughput: N concurrent workers (httpx AsyncClient, keep-alive) for 20 s → tokens/s;
3. (c) during (a), the CPU seconds of the server process and its children from /proc → tokens per
   CPU-second ("per core"), the figure the target (ours >= 2 x Keycloak) is about;
4. (b) p50/p99 latency at a fixed open-loop rate (requests start on schedule; latency counts from the
   scheduled start, so a stall is not hidden) for 20 s.

Then argon2id password verifications per second on one core with the accounts' parameters.

Keycloak is started by ``deploy/local/keycloak.sh`` in development mode (``start-dev``, its embedded H2
database) — acceptable here since client credentials do not touch the database once the client is cached;
our service runs with PostgreSQL (``deploy/local/postgres.sh``). The load generator shares the two cores
with the server, so tokens/s is a floor; tokens per CPU-second of the server is the steadier figure.
Progress goes to stderr, the table to stdout. Every process started is stopped, also on errors or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import signal
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.gateway.processes import Server, free_port
from bench.identity import keycloak
from kit.testing import LocalInfrastructure, repository_root

ROOT = repository_root()
RUN_DIR = ROOT / ".run" / "bench-identity"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    """Progress on stderr, so that stdout holds only the report."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Peer:
    """One token endpoint under test."""

    name: str
    token_url: str
    client_id: str
    client_secret: str
    pid: int
    warmup_seconds: float


@dataclass(frozen=True)
class Result:
    """The figures of one peer."""

    name: str
    tokens_per_second: float
    errors: int
    cpu_seconds: float
    per_cpu_second: float
    rate: int
    p50_ms: float
    p99_ms: float
    late: int
    algorithm: str


def cpu_seconds(root: int) -> float:
    """User + system CPU seconds used so far by `root` and all its descendants (/proc/<pid>/stat)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    tree, pending = set(), [root]
    while pending:
        pid = pending.pop()
        tree.add(pid)
        pending.extend(child for child, parent in parents.items() if parent == pid and child not in tree)
    return sum(times.get(pid, 0.0) for pid in tree)


def _client(peer: Peer, connections: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(auth=(peer.client_id, peer.client_secret), limits=limits, timeout=10)


async def closed_loop(peer: Peer, workers: int, seconds: float) -> tuple[int, int, float]:
    """`workers` concurrent request loops for `seconds`: (tokens, errors, elapsed seconds)."""
    form = {"grant_type": "client_credentials"}
    ok = errors = 0
    async with _client(peer, workers) as client:
        deadline = time.monotonic() + seconds

        async def worker() -> None:
            nonlocal ok, errors
            while time.monotonic() < deadline:
                try:
                    response = await client.post(peer.token_url, data=form)
                except httpx.HTTPError:
                    errors += 1
                    continue
                if response.status_code == 200:
                    ok += 1
                else:
                    errors += 1

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(workers)))
        return ok, errors, time.monotonic() - started


async def open_loop(peer: Peer, rate: int, seconds: float) -> tuple[list[float], int, int]:
    """`rate` requests per second for `seconds`, each started on schedule: (latencies in ms, errors, late)."""
    form = {"grant_type": "client_credentials"}
    latencies: list[float] = []
    errors = late = 0
    async with _client(peer, 256) as client:

        async def one(scheduled: float) -> None:
            nonlocal errors
            try:
                response = await client.post(peer.token_url, data=form)
            except httpx.HTTPError:
                errors += 1
                return
            if response.status_code != 200:
                errors += 1
            latencies.append((time.monotonic() - scheduled) * 1000)

        tasks = []
        start = time.monotonic() + 0.1
        for index in range(int(rate * seconds)):
            scheduled = start + index / rate
            delay = scheduled - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.005:
                late += 1  # the generator itself fell behind; latency still counts from the schedule
            tasks.append(asyncio.create_task(one(scheduled)))
        await asyncio.gather(*tasks)
    return latencies, errors, late


async def _algorithm(peer: Peer) -> str:
    async with _client(peer, 1) as client:
        response = await client.post(peer.token_url, data={"grant_type": "client_credentials"})
        response.raise_for_status()
        body = response.json()
    header = body["access_token"].split(".")[0]
    alg = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["alg"]
    return f"{alg}, expires_in {body.get('expires_in')}"


async def measure(peer: Peer, args: argparse.Namespace) -> Result:
    """Warm up, then max throughput with the server's CPU, then latency at the fixed rate."""
    algorithm = await _algorithm(peer)
    log(f"{peer.name}: token {algorithm}; warm-up {peer.warmup_seconds:g} s")
    await closed_loop(peer, args.workers, peer.warmup_seconds)
    log(f"{peer.name}: {args.workers} workers for {args.seconds:g} s")
    cpu_before = cpu_seconds(peer.pid)
    ok, errors, elapsed = await closed_loop(peer, args.workers, args.seconds)
    cpu = cpu_seconds(peer.pid) - cpu_before
    log(f"{peer.name}: {ok / elapsed:.0f} tokens/s, {errors} errors, server CPU {cpu:.1f} s; {args.rate}/s fixed")
    latencies, fixed_errors, late = await open_loop(peer, args.rate, args.seconds)
    quantiles = statistics.quantiles(latencies, n=100, method="inclusive")
    return Result(
        name=peer.name,
        tokens_per_second=ok / elapsed,
        errors=errors + fixed_errors,
        cpu_seconds=cpu,
        per_cpu_second=ok / cpu if cpu else float("nan"),
        rate=args.rate,
        p50_ms=statistics.median(latencies),
        p99_ms=quantiles[98],
        late=late,
        algorithm=algorithm,
    )


def argon2_rate(seconds: float) -> tuple[float, str]:
    """argon2id verifications per second in this (single) thread with the accounts' parameters."""
    from services.identity.accounts import passwords

    password = "ein langes Passwort 42"
    stored = passwords._hasher.hash(password)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        passwords._hasher.verify(stored, password)
        done += 1
    setting = f"m={passwords.MEMORY_KIB} KiB, t={passwords.TIME_COST}, p={passwords.PARALLELISM}"
    return done / (time.perf_counter() - started), setting


async def _start_ours(database: str, stack: list[Server]) -> Peer:
    port = free_port()
    env = {
        "PYTHONPATH": str(ROOT),
        "IDENTITY_DATABASE_URL": database,
        "IDENTITY_KEY_ENCRYPTION_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "IDENTITY_CLIENT_SECRET_PEPPER": secrets.token_urlsafe(32),
        "IDENTITY_PAGE_SECRET": secrets.token_urlsafe(32),
        "IDENTITY_TOKEN_SECRET": secrets.token_urlsafe(32),
        "IDENTITY_ISSUER": f"http://127.0.0.1:{port}",
        "IDENTITY_LOG_LEVEL": "WARNING",
    }
    argv = [sys.executable, "-m", "services.identity", "--migrate", "--port", str(port)]
    server = Server("identity", argv, log_dir=RUN_DIR, cwd=ROOT, env=env)
    stack.append(server)
    await server.wait_until_serving(f"http://127.0.0.1:{port}/health/live", timeout=120)
    admin = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.identity.clients", "admin", "--tenant", "st",
        cwd=ROOT, env={**os.environ, **env}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await admin.communicate()
    if admin.returncode != 0:
        raise RuntimeError(f"services.identity.clients admin failed: {err.decode()}")
    client = json.loads(out)
    return Peer("identity (ours)", f"http://127.0.0.1:{port}/token", client["client_id"], client["client_secret"],
                server.pid, 10)  # fmt: skip


async def run(args: argparse.Namespace) -> None:
    """Start both peers one after the other, measure each, stop everything, print the table."""
    task = asyncio.current_task()
    if task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    started = time.monotonic()
    infrastructure = LocalInfrastructure()
    infrastructure.start_postgres()
    database = await infrastructure.create_database("bench_identity")
    servers: list[Server] = []
    kc_port = free_port()
    results: list[Result] = []
    try:
        ours = await _start_ours(database, servers)
        results.append(await measure(ours, args))
        for server in servers:
            server.stop()
        log(f"Keycloak {keycloak.version()}: starting with deploy/local/keycloak.sh on port {kc_port}")
        pid = await asyncio.to_thread(keycloak.start_keycloak, kc_port)
        token_url, client_id, secret = await keycloak.configure(f"http://127.0.0.1:{kc_port}")
        peer = Peer(f"Keycloak {keycloak.version()}", token_url, client_id, secret, pid, args.keycloak_warmup)
        results.append(await measure(peer, args))
    finally:
        for server in servers:
            server.stop()
        keycloak.stop_keycloak(kc_port)
        await infrastructure.drop_database(database)
    log("argon2id verifications, 5 s")
    rate, setting = argon2_rate(5.0)
    report(results, args, rate, setting)
    print(f"wall time {time.monotonic() - started:.0f} s")


def report(results: list[Result], args: argparse.Namespace, argon2: float, setting: str) -> None:
    """The table on stdout."""
    print(f"\nClient-credentials token endpoint, {os.cpu_count()} cores, load generator on the same machine")
    print(f"(a) {args.workers} workers x {args.seconds:g} s, keep-alive, client_secret_basic; "
          f"(b) open loop at {args.rate}/s for {args.seconds:g} s; (c) server CPU during (a)")  # fmt: skip
    head = f"{'peer':<18}{'token':<22}{'tokens/s':>9}{'CPU s':>7}{'tok/CPU-s':>10}{'p50 ms':>9}{'p99 ms':>9}"
    print(head + f"{'errors':>7}{'late':>6}")
    for r in results:
        print(f"{r.name:<18}{r.algorithm:<22}{r.tokens_per_second:>9.0f}{r.cpu_seconds:>7.1f}{r.per_cpu_second:>10.0f}"
              f"{r.p50_ms:>9.1f}{r.p99_ms:>9.1f}{r.errors:>7}{r.late:>6}")  # fmt: skip
    if len(results) == 2:
        ours, peer = results
        ratio = ours.per_cpu_second / peer.per_cpu_second
        verdict = "met" if ratio >= 2 else "NOT met"
        print(f"tokens per CPU-second, ours / Keycloak: {ratio:.2f} (target >= 2: {verdict})")
        print(f"max tokens/s, ours / Keycloak: {ours.tokens_per_second / peer.tokens_per_second:.2f}")
    if any(r.errors for r in results):
        print("WARNING: some requests failed (see errors): the figures of that peer are not valid")
    print(f"argon2id password verifications: {argon2:.1f}/s on one core ({setting})")


def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(prog="python -m bench.identity", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=16, help="concurrent workers for max throughput")
    parser.add_argument("--seconds", type=float, default=20, help="length of each measured run")
    parser.add_argument("--rate", type=int, default=100, help="fixed rate (per second) for p50/p99")
    parser.add_argument("--keycloak-warmup", type=float, default=30, help="Keycloak's warm-up in seconds")
    try:
        asyncio.run(run(parser.parse_args()))
    except (KeyboardInterrupt, asyncio.CancelledError):
        sys.exit("bench.identity: interrupted; the servers it started are stopped")


if __name__ == "__main__":
    main()
