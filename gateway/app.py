"""The gateway app: the edge that proxies by the route table, and its own endpoints.

Layers, outermost first: request ids (kit) → CORS (when origins are configured) → the edge
(:mod:`gateway.edge`), which proxies routed requests itself and hands everything else to a FastAPI
app with the gateway's own endpoints: ``/health/live``, ``/health/ready`` (every upstream),
``/metrics``, ``/openapi.json`` (merged) and ``/docs``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from opentelemetry.sdk.trace import TracerProvider
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.aggregated_openapi import AggregatedOpenApi
from gateway.config import Settings
from gateway.docs_ui import docs_router
from gateway.edge import PROXIED_METHODS, Edge, OwnPaths
from gateway.edge_auth import EdgeAuth
from gateway.forwarding import TrustedProxies
from gateway.proxy import Proxy
from gateway.rate_limit import create_rate_limiter
from gateway.route_reload import RouteTableSource
from gateway.route_table import RouteTable, load_route_table
from gateway.tracing import ProxyTracing
from gateway.upstream_pool import UpstreamPool
from kit.auth import JwksCache
from kit.http.problems import install_problem_handlers
from kit.http.request_id import RequestIdMiddleware
from kit.telemetry.health import health_router
from kit.telemetry.logging import configure_logging
from kit.telemetry.metrics import mount_metrics
from kit.telemetry.tracing import configure_tracing, instrument_app, instrument_httpx

__all__ = ["Gateway", "create_app"]

VERSION = "0.1.0"
#: Headers a browser may read from a cross-origin response, beyond the CORS-safelisted ones.
_CORS_EXPOSED = [
    "X-Request-ID",
    "Location",
    "Retry-After",
    "WWW-Authenticate",
    "RateLimit",
    "RateLimit-Policy",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
]
_CORS_ALLOWED_HEADERS = [
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "X-Request-ID",
    "traceparent",
    "tracestate",
]


class Gateway:
    """The ASGI app of the gateway, with handles on its parts for operations and tests."""

    def __init__(self, app: ASGIApp, *, api: FastAPI, edge: Edge, routes: RouteTableSource, pool: UpstreamPool) -> None:
        self.app = app
        self.api = api
        self.edge = edge
        self.routes = routes
        self.pool = pool

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def create_app(settings: Settings | None = None, *, tracer_provider: TracerProvider | None = None) -> Gateway:
    """The gateway, configured from the environment unless `settings` are given.

    Proxied requests are traced with `tracer_provider` (default: the process's, set up by
    kit.telemetry with the OTLP endpoint of the settings); tests pass one of their own.
    Raises :class:`~gateway.route_table.RouteTableError` if the route table does not load.
    """
    settings = settings or Settings()
    configure_logging(settings.service_name, settings.log_level)
    provider = configure_tracing(settings.service_name, settings.otlp_endpoint)
    instrument_httpx()
    load = functools.partial(
        load_route_table, default_timeout=settings.upstream_timeout, url_overrides=settings.url_overrides()
    )
    routes = RouteTableSource(settings.routes_file, load)
    pool = UpstreamPool(
        max_connections=settings.upstream_max_connections, keepalive_timeout=settings.upstream_keepalive
    )
    pool.configure(routes.current)
    routes.on_change(pool.configure)
    auth = _edge_auth(settings, routes.current)
    limiter = create_rate_limiter(settings.redis_url or None, fail_open=settings.rate_limit_fail_open)
    openapi = AggregatedOpenApi(
        pool, lambda: routes.current, version=VERSION, cache_seconds=settings.openapi_cache_seconds
    )
    routes.on_change(openapi.invalidate)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await pool.start()
        watcher = asyncio.create_task(routes.watch())
        try:
            with routes.reloading_on_sighup():
                yield
        finally:
            watcher.cancel()
            await pool.close()
            await limiter.aclose()
            await auth.aclose()

    api = FastAPI(
        title="Basisdienste API gateway",
        version=VERSION,
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    install_problem_handlers(api)
    instrument_app(api)
    mount_metrics(api, settings.service_name)
    checks = {name: _readiness_of(pool, routes, name) for name in routes.current.upstream_names()}
    api.include_router(health_router(checks))

    @api.get("/openapi.json", include_in_schema=False)
    async def merged_openapi() -> JSONResponse:
        return JSONResponse(await openapi.document(), headers={"Cache-Control": "no-cache"})

    api.include_router(docs_router("/openapi.json"))
    # The paths of the routers above (docs_router serves its assets under /docs/assets/).
    tracing = ProxyTracing(tracer_provider or provider)
    own_paths = OwnPaths(exact=["/metrics", "/openapi.json", "/docs"], prefixes=["/health/", "/docs/assets/"])
    edge = Edge(
        api=api,
        own_paths=own_paths,
        routes=routes,
        auth=auth,
        limiter=limiter,
        proxy=Proxy(pool, tracing),
        tracing=tracing,
        trusted_proxies=TrustedProxies(settings.trusted_proxy_networks()),
        access_log=settings.access_log,
    )
    app: ASGIApp = edge
    origins = settings.cors_origin_list()
    if origins:
        app = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_credentials=settings.cors_allow_credentials,
            allow_methods=sorted(PROXIED_METHODS),
            allow_headers=_CORS_ALLOWED_HEADERS,
            expose_headers=_CORS_EXPOSED,
            max_age=600,
        )
    return Gateway(RequestIdMiddleware(app), api=api, edge=edge, routes=routes, pool=pool)


def _edge_auth(settings: Settings, table: RouteTable) -> EdgeAuth:
    identity = table.upstream_urls.get("identity")
    jwks_url = settings.jwks_url or (f"{identity}/jwks" if identity else "")
    issuer = settings.issuer or identity or ""
    if not jwks_url or not issuer:
        raise ValueError("no identity upstream in the route table: set GATEWAY_JWKS_URL and GATEWAY_ISSUER")
    jwks = JwksCache(jwks_url, min_refresh_interval=settings.jwks_refresh_interval)
    return EdgeAuth(
        jwks, issuer=issuer, cache_size=settings.token_cache_size, cache_seconds=settings.token_cache_seconds
    )


def _readiness_of(pool: UpstreamPool, routes: RouteTableSource, upstream: str) -> Callable[[], Awaitable[None]]:
    async def check() -> None:
        # The URL of the table in force: a reload may have moved the upstream, or dropped it (then
        # nothing is routed to it any more, and it has no say in the gateway's readiness).
        url = routes.current.upstream_urls.get(upstream)
        if url is not None:
            await pool.check_ready(url)

    return check
