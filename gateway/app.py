"""The gateway's app: health of every upstream, metrics, and the proxy routes by service prefix."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import FastAPI, Request
from starlette.responses import StreamingResponse

from gateway.config import Settings
from gateway.proxy import Proxy
from kit.http.problems import ProblemError, install_problem_handlers
from kit.http.request_id import RequestIdMiddleware
from kit.telemetry import setup_telemetry

_PROXIED_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def create_app(settings: Settings | None = None) -> FastAPI:
    """The gateway app, configured from the environment unless `settings` are given."""
    settings = settings or Settings()
    proxy = Proxy(settings.upstreams(), timeout=settings.upstream_timeout)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await proxy.start()
        try:
            yield
        finally:
            await proxy.close()

    app = FastAPI(
        title="Basisdienste API gateway",
        description="The one entry point of the Basisdienste suite.",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    checks: dict[str, Callable[[], Awaitable[None]]] = {
        name: _readiness_of(proxy, name) for name in settings.upstreams()
    }
    setup_telemetry(app, settings, checks)  # type: ignore[arg-type]

    @app.api_route("/{service}/{path:path}", methods=_PROXIED_METHODS, include_in_schema=False)
    async def forward(request: Request, service: str, path: str) -> StreamingResponse:
        if service not in proxy.upstreams:
            raise ProblemError(404, "not-found", "Not Found", "no route for this path")
        return await proxy.forward(request, service, upstream_path(request, service))

    app.add_middleware(RequestIdMiddleware)
    return app


def upstream_path(request: Request, service: str) -> str:
    """The path to request upstream: the raw path without the service prefix, checked for tricks."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    path = raw.split(b"?", 1)[0].decode("latin-1")
    rest = path[len(service) + 1 :] or "/"
    lowered = rest.lower()
    segments = rest.split("/")
    if "%2f" in lowered or "%5c" in lowered or "\\" in rest or "//" in rest or any(s in (".", "..") for s in segments):
        raise ProblemError(400, "invalid-path", "Bad Request", "the path is not in normal form")
    return rest


def _readiness_of(proxy: Proxy, service: str) -> Callable[[], Awaitable[None]]:
    async def check() -> None:
        await proxy.ready(service)

    return check
