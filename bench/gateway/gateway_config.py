"""Everything the benchmark knows about the gateway under test: how to start it, with which route table.

The rest of the harness sees only :class:`GatewayLaunch`, so a change of the gateway's settings or of
its route table format is a change of this file alone.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.gateway.issuer import Issuer
from gateway.route_table import load_route_table

#: The upstream service and the path prefix the gateway (and nginx, for the same bytes) routes it by.
SERVICE = "catalogue"
PREFIX = f"/{SERVICE}"
#: A rate-limit class on the route that no benchmark rate reaches: the limiter's bookkeeping is part
#: of the hot path as deployed, its 429s are not part of the measurement.
UNREACHED_RATE_LIMIT = {"rate": 1_000_000, "burst": 1_000_000}


@dataclass(frozen=True)
class GatewayLaunch:
    """How to start the gateway for the benchmark."""

    argv: list[str]
    env: dict[str, str]
    #: One line for the report.
    description: str


def gateway_launch(
    run_dir: Path, *, port: int, upstream_url: str, issuer: Issuer, token_cache: bool = True
) -> GatewayLaunch:
    """The gateway on 127.0.0.1:`port`, routing ``PREFIX`` to `upstream_url`, trusting `issuer`.

    With `token_cache` (the gateway's default) a verified token is remembered for a while, so the one
    token of the benchmark has its signature checked once per cache period; without, on every request.
    """
    env = {
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(port),
        "GATEWAY_ROUTES_FILE": str(write_route_table(run_dir, upstream_url, issuer)),
        "GATEWAY_JWKS_URL": issuer.jwks_url,
        "GATEWAY_ISSUER": issuer.url,
        # nginx runs with access_log off; so does the gateway, and it logs warnings and errors only.
        "GATEWAY_ACCESS_LOG": "false",
        "GATEWAY_LOG_LEVEL": "WARNING",
    }
    if not token_cache:
        env["GATEWAY_TOKEN_CACHE_SECONDS"] = "0"
    return GatewayLaunch(
        argv=[sys.executable, "-m", "gateway"],
        env=env,
        description=(
            f"1 process, route {PREFIX} auth: required, scope {issuer.scope}, audience {issuer.audience}, "
            f"rate limit {UNREACHED_RATE_LIMIT['rate']:,}/s (never reached), "
            + ("verified-token cache on (default)" if token_cache else "verified-token cache off")
        ),
    )


def write_route_table(run_dir: Path, upstream_url: str, issuer: Issuer) -> Path:
    """A route table with the benchmarked route only, checked by the gateway's own loader."""
    table: dict[str, Any] = {
        # /health is internal by default (404 at the gateway); the benchmark's endpoint is /health/live, so
        # this upstream keeps only /metrics internal: the check still runs on every request.
        "upstreams": {SERVICE: {"url": upstream_url, "internal_paths": ["/metrics"]}},
        "rate_limits": {"bench": UNREACHED_RATE_LIMIT},
        "routes": [
            {
                "prefix": PREFIX,
                "upstream": SERVICE,
                "strip_prefix": True,
                "auth": "required",
                "scopes": [issuer.scope],
                "audience": issuer.audience,
                "rate_limit": "bench",
            }
        ],
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "routes.yaml"
    path.write_text(yaml.safe_dump(table, sort_keys=False))
    load_route_table(path, default_timeout=30, environ={})
    return path
