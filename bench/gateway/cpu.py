"""``python -m bench.gateway.cpu``: the gateway's CPU time per proxied request, quickly, at one fixed rate.

The full benchmark (``python -m bench.gateway``) takes minutes and its throughput figures swing with
whatever else runs on the machine. CPU time per request is the steadier figure, and what a change of
the hot path moves: this runs the same upstream, token and route as the full benchmark, offers one
fixed rate through the gateway (and through nginx with ``--nginx``) and prints the proxy's CPU per
request with the latencies. ``--profile FILE`` runs the gateway under cProfile and writes its
statistics to FILE when it stops (read them with ``python -m pstats FILE``); profiling slows the
gateway, so the CPU figure of such a run is not comparable.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
from pathlib import Path

from bench.gateway.__main__ import RUN_DIR, SCOPE, UPSTREAM_PATH, _start_upstream, log
from bench.gateway.gateway_config import PREFIX, SERVICE, gateway_launch
from bench.gateway.issuer import serve_issuer
from bench.gateway.k6 import K6, Load
from bench.gateway.nginx import start_nginx
from bench.gateway.processes import Server, free_port
from bench.gateway.provision import ensure_k6, ensure_nginx

ROOT = Path(__file__).resolve().parents[2]
#: ``python -m gateway`` under cProfile. uvicorn re-raises SIGTERM once it has shut down, which would
#: end the process before the statistics are written: a handler of our own turns it into an exit.
_PROFILED_GATEWAY = """
import cProfile, runpy, signal, sys
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
profile = cProfile.Profile()
profile.enable()
try:
    runpy.run_module("gateway", run_name="__main__")
finally:
    profile.disable()
    profile.dump_stats(sys.argv[1])
"""


async def measure(args: argparse.Namespace) -> None:
    """Start the servers, warm up, offer the rate to each proxy and print what each used."""
    k6_tool = ensure_k6(ROOT / ".cache" / "bench" / "bin")
    async with contextlib.AsyncExitStack() as stack:
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-gateway-cpu-")))
        issuer = await stack.enter_async_context(serve_issuer(free_port(), audience=SERVICE, scope=SCOPE))
        upstream_port, gateway_port = free_port(), free_port()
        upstream = _start_upstream(data_dir, issuer, upstream_port)
        stack.callback(upstream.stop)
        launch = gateway_launch(
            RUN_DIR / "gateway",
            port=gateway_port,
            upstream_url=f"http://127.0.0.1:{upstream_port}",
            issuer=issuer,
            token_cache=not args.no_token_cache,
        )
        argv = launch.argv
        if args.profile:
            argv = [sys.executable, "-c", _PROFILED_GATEWAY, args.profile]
        gateway = Server("gateway", argv, log_dir=RUN_DIR / "gateway", cwd=ROOT, env=launch.env)
        stack.callback(gateway.stop)
        targets: dict[str, tuple[str, Server]] = {
            "gateway": (f"http://127.0.0.1:{gateway_port}{PREFIX}{UPSTREAM_PATH}", gateway)
        }
        if args.nginx:
            nginx_port = free_port()
            nginx = start_nginx(
                ensure_nginx().path,
                RUN_DIR / "nginx",
                port=nginx_port,
                upstream_port=upstream_port,
                prefix=PREFIX,
                cwd=ROOT,
            )
            stack.callback(nginx.stop)
            targets["nginx"] = (f"http://127.0.0.1:{nginx_port}{PREFIX}{UPSTREAM_PATH}", nginx)
            await nginx.wait_until_serving(targets["nginx"][0])
        await upstream.wait_until_serving(f"http://127.0.0.1:{upstream_port}{UPSTREAM_PATH}")
        await gateway.wait_until_serving(f"http://127.0.0.1:{gateway_port}/health/live")
        k6 = K6(k6_tool.path, RUN_DIR / "k6-cpu", token=issuer.token, max_vus=args.max_vus)
        for name, (url, server) in targets.items():
            await k6.run(url, 200, 2)
            load = await k6.run(url, args.rate, args.seconds, watch={"proxy": server, "upstream": upstream})
            _print(name, load)


def _print(name: str, load: Load) -> None:
    cores = load.cores
    print(
        f"{name:8} {load.rate}/s for {load.seconds:g} s: {cores['proxy'] / load.achieved * 1e6:6.0f} µs cpu/request, "
        f"p50 {load.p50_ms:.2f} ms, p99 {load.p99_ms:.2f} ms, failed {load.failed:.1%}, "
        f"dropped {load.dropped_share:.1%}; cores k6 {cores['k6']:.2f}, upstream {cores['upstream']:.2f}, "
        f"other {max(0.0, cores['other']):.2f}",
        flush=True,
    )


def main() -> None:
    """Parse the options and measure."""
    parser = argparse.ArgumentParser(prog="python -m bench.gateway.cpu", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=500, help="offered req/s")
    parser.add_argument("--seconds", type=float, default=20, help="length of the measured run")
    parser.add_argument("--max-vus", type=int, default=200, help="k6's cap on concurrent requests")
    parser.add_argument("--nginx", action="store_true", help="measure nginx at the same rate too")
    parser.add_argument("--no-token-cache", action="store_true", help="check the token's signature on every request")
    parser.add_argument("--profile", metavar="FILE", help="run the gateway under cProfile, statistics to FILE")
    args = parser.parse_args()
    if args.profile:
        args.profile = str(Path(args.profile).resolve())  # the gateway runs in the repository root
    try:
        asyncio.run(measure(args))
    except KeyboardInterrupt:
        sys.exit("bench.gateway.cpu: interrupted; the servers it started are stopped")
    log("done")


if __name__ == "__main__":
    main()
