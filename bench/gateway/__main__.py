"""``python -m bench.gateway``: the API gateway against its peer, nginx, and against no proxy at all.

The same upstream endpoint (the catalogue service's ``GET /health/live``: its lightest real route until
it has a read endpoint) is hit (a) directly, (b) through Debian's nginx as a reverse proxy with
keep-alive upstream connections and (c) through the gateway with token validation on, all in this run,
all on 127.0.0.1. Every request carries the same bearer token, so all three see the same bytes.

The load generator is k6 at a fixed arrival rate (constant-arrival-rate: requests start on schedule
whether or not earlier ones have returned, which corrects for coordinated omission). For each target:

1. Maximum throughput: a short overload probe estimates the capacity, then steps of rising offered
   rate run until one does not hold (more than 1 % dropped or failed, or p99 over the limit); the
   achieved rate of the highest step that held is the maximum.
2. Latency: a longer run at half that rate gives p50/p99. Added latency is measured against the direct
   target at the same rate (run again at that rate unless it is within 10 % of direct's own half load).

k6 and the servers share the machine's cores, nothing is pinned: every run reports the cores used by
k6, the proxy, the upstream and all other processes (from /proc), the proxy's CPU time per request, and
a warning when other processes took a noticeable share. The gateway keeps its default verified-token
cache, so the one token has its signature checked once per cache period; ``--no-token-cache`` makes it
check every request.

Provisions what it needs (k6 built once into ``.cache/bench/bin``, nginx from Debian), starts its own
servers on free ports (logs and configs under ``.run/bench/``) and stops them afterwards, also on
Ctrl-C or SIGTERM. Prints the report on stdout, progress on stderr; copy the report to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.gateway.gateway_config import PREFIX, SERVICE, GatewayLaunch, gateway_launch
from bench.gateway.issuer import Issuer, serve_issuer
from bench.gateway.k6 import K6
from bench.gateway.method import STEP_FACTORS, Capacity, Settings, Target, find_capacity, latency_at, warm_up
from bench.gateway.nginx import WORKER_PROCESSES, start_nginx
from bench.gateway.processes import Server, free_port
from bench.gateway.provision import ensure_k6, ensure_nginx
from bench.gateway.report import LatencyRow, Report, print_report

ROOT = Path(__file__).resolve().parents[2]
RUN_DIR = ROOT / ".run" / "bench"
UPSTREAM_PATH = "/health/live"
SCOPE = f"{SERVICE}:read"
#: A baseline run of direct is reused for a proxy whose half-load rate is this close to direct's.
SAME_RATE = 0.10


def log(message: str) -> None:
    """Progress on stderr, so that stdout holds only the report."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Bench:
    """The running servers: the three targets, how the gateway was started, and the issuer."""

    targets: list[Target]
    gateway: GatewayLaunch
    issuer: Issuer


@contextlib.asynccontextmanager
async def running_servers(nginx_binary: Path, *, token_cache: bool) -> AsyncIterator[Bench]:
    """Start the issuer, the upstream, nginx and the gateway on free ports; stop them all at the end."""
    async with contextlib.AsyncExitStack() as stack:
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-gateway-")))
        issuer = await stack.enter_async_context(serve_issuer(free_port(), audience=SERVICE, scope=SCOPE))
        upstream_port, nginx_port, gateway_port = free_port(), free_port(), free_port()
        upstream = _start_upstream(data_dir, issuer, upstream_port)
        stack.callback(upstream.stop)
        nginx = start_nginx(
            nginx_binary, RUN_DIR / "nginx", port=nginx_port, upstream_port=upstream_port, prefix=PREFIX, cwd=ROOT
        )
        stack.callback(nginx.stop)
        upstream_url = f"http://127.0.0.1:{upstream_port}"
        launch = gateway_launch(
            RUN_DIR / "gateway", port=gateway_port, upstream_url=upstream_url, issuer=issuer, token_cache=token_cache
        )
        gateway = Server("gateway", launch.argv, log_dir=RUN_DIR / "gateway", cwd=ROOT, env=launch.env)
        stack.callback(gateway.stop)
        path = f"{PREFIX}{UPSTREAM_PATH}"
        targets = [
            Target("direct", f"http://127.0.0.1:{upstream_port}{UPSTREAM_PATH}", {"upstream": upstream}),
            Target("nginx", f"http://127.0.0.1:{nginx_port}{path}", {"proxy": nginx, "upstream": upstream}),
            Target("gateway", f"http://127.0.0.1:{gateway_port}{path}", {"proxy": gateway, "upstream": upstream}),
        ]
        await upstream.wait_until_serving(targets[0].url)
        await nginx.wait_until_serving(targets[1].url)
        await gateway.wait_until_serving(f"http://127.0.0.1:{gateway_port}/health/live")
        await _check_targets(targets, issuer.token)
        yield Bench(targets, launch, issuer)


def _start_upstream(data_dir: Path, issuer: Issuer, port: int) -> Server:
    prefix = f"{SERVICE.upper()}_"
    env = {
        f"{prefix}DATABASE_URL": f"sqlite+aiosqlite:///{data_dir}/{SERVICE}.db",
        f"{prefix}LOG_LEVEL": "WARNING",
        f"{prefix}IDENTITY_URL": issuer.url,
        f"{prefix}AUTH_JWKS_URL": issuer.jwks_url,
    }
    argv = [sys.executable, "-m", f"services.{SERVICE}", "--role", "api", "--migrate", "--port", str(port)]
    return Server(SERVICE, argv, log_dir=RUN_DIR / SERVICE, cwd=ROOT, env=env)


async def _check_targets(targets: list[Target], token: str) -> None:
    """Fail early unless every target answers 200 with the token, and the gateway 401 without one."""
    async with httpx.AsyncClient(timeout=5) as client:
        for target in targets:
            response = await client.get(target.url, headers={"Authorization": f"Bearer {token}"})
            if response.status_code != 200:
                raise RuntimeError(f"{target.name}: GET {target.url} answered {response.status_code}")
        anonymous = await client.get(targets[-1].url)
        if anonymous.status_code != 401:
            raise RuntimeError(f"gateway: GET without a token answered {anonymous.status_code}, not 401")
    log("gateway: 200 with the token, 401 without one: token validation is on")


async def measure(args: argparse.Namespace) -> None:
    """Provision, start the servers, run the method for each target and print the report."""
    started = time.monotonic()
    main_task = asyncio.current_task()
    if main_task is not None:  # SIGTERM stops the run as Ctrl-C does: every server started is stopped.
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    k6_tool = ensure_k6(ROOT / ".cache" / "bench" / "bin")
    nginx_tool = ensure_nginx()
    log(f"k6: {k6_tool.version} ({k6_tool.provenance}); nginx: {nginx_tool.version} ({nginx_tool.provenance})")
    settings = Settings(
        probe_rate=args.probe_rate,
        step_seconds=args.step_seconds,
        latency_seconds=args.latency_seconds,
        p99_limit_ms=args.p99_limit_ms,
    )
    async with running_servers(nginx_tool.path, token_cache=not args.no_token_cache) as bench:
        k6 = K6(k6_tool.path, RUN_DIR / "k6", token=bench.issuer.token, max_vus=args.max_vus)
        for target in bench.targets:
            await warm_up(k6, target, settings)
        capacities = {target.name: await find_capacity(k6, target, settings, log) for target in bench.targets}
        latencies = await _latencies(k6, bench.targets, capacities, settings)
        jwks_fetches = bench.issuer.factory.jwks_requests
    print_report(
        Report(
            k6=k6_tool,
            nginx=nginx_tool,
            nginx_workers=WORKER_PROCESSES,
            gateway=bench.gateway.description,
            upstream=f"GET {UPSTREAM_PATH} of {SERVICE} (uvicorn, 1 process, SQLite)",
            settings=settings,
            max_vus=args.max_vus,
            capacities=capacities,
            latencies=latencies,
            jwks_fetches=jwks_fetches,
        )
    )
    print(f"wall time {time.monotonic() - started:.0f} s (provisioning included)")


def _half(capacity: Capacity) -> int:
    # No step held: half of the lowest step's rate still says what the target does when not overloaded.
    top = capacity.max_rate or capacity.probe.achieved * STEP_FACTORS[0]
    return max(10, round(top / 2))


async def _latencies(
    k6: K6, targets: list[Target], capacities: dict[str, Capacity], settings: Settings
) -> list[LatencyRow]:
    """Each target at half its max; before each proxy, direct at the proxy's rate as its baseline."""
    direct, *proxies = targets
    direct_rate = _half(capacities[direct.name])
    own = await latency_at(k6, direct, direct_rate, settings, log)
    rows = [LatencyRow(direct.name, own)]
    for proxy in proxies:
        rate = _half(capacities[proxy.name])
        baseline = own
        if abs(rate - direct_rate) > SAME_RATE * direct_rate:
            baseline = await latency_at(k6, direct, rate, settings, log)
            rows.append(LatencyRow(f"direct at {proxy.name}'s rate", baseline))
        rows.append(LatencyRow(proxy.name, await latency_at(k6, proxy, rate, settings, log), baseline))
    return rows


def main() -> None:
    """Parse the options and run the benchmark."""
    parser = argparse.ArgumentParser(prog="python -m bench.gateway", description=__doc__.split("\n\n")[0])
    parser.add_argument("--probe-rate", type=int, default=20_000, help="offered req/s of the overload probe")
    parser.add_argument("--step-seconds", type=float, default=5, help="length of each throughput step")
    parser.add_argument("--latency-seconds", type=float, default=20, help="length of each half-load run")
    parser.add_argument("--p99-limit-ms", type=float, default=100, help="a step with a higher p99 did not hold")
    parser.add_argument("--max-vus", type=int, default=400, help="k6's cap on concurrent requests")
    parser.add_argument(
        "--no-token-cache", action="store_true", help="make the gateway check the token's signature on every request"
    )
    try:
        asyncio.run(measure(parser.parse_args()))
    except (KeyboardInterrupt, asyncio.CancelledError):
        sys.exit("bench.gateway: interrupted; the servers it started are stopped")


if __name__ == "__main__":
    main()
