"""Fixtures of the gateway tests: a stand-in token issuer with its JWKS served over real HTTP, a real
upstream that records what reaches it, and real gateways (uvicorn on ephemeral ports) in front of them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from opentelemetry.sdk.trace import TracerProvider

from gateway.app import Gateway, create_app
from gateway.config import Settings
from gateway.server import GatewayHttpProtocol
from kit.auth.testing import TokenFactory
from tests.gateway.servers import serve
from tests.gateway.upstream import Upstream

ISSUER = "http://identity.test"


@dataclass
class Issuer:
    """The stand-in for identity: signs tokens, serves its JWKS over HTTP and counts the fetches."""

    tokens: TokenFactory
    jwks_url: str

    @property
    def fetches(self) -> int:
        """JWKS requests served so far."""
        return self.tokens.jwks_requests


@dataclass
class RunningGateway:
    """A gateway serving over HTTP, with a client for it."""

    url: str
    app: Gateway
    client: httpx.AsyncClient
    routes_file: Path


def route_table(upstreams: dict[str, Any], routes: list[dict[str, Any]], **sections: Any) -> str:
    """The YAML of a route table; an upstream is its URL or its whole entry."""
    entries = {name: {"url": value} if isinstance(value, str) else value for name, value in upstreams.items()}
    document = {"upstreams": entries, **sections, "routes": routes}
    return yaml.safe_dump(document, sort_keys=False)


@pytest.fixture(scope="module")
async def issuer() -> AsyncIterator[Issuer]:
    tokens = TokenFactory(issuer=ISSUER, audience="echo")
    async with serve(tokens.jwks_app) as url:
        yield Issuer(tokens, url + "/jwks")


@pytest.fixture(scope="module")
async def upstream() -> AsyncIterator[tuple[Upstream, str]]:
    app = Upstream("echo")
    async with serve(app) as url:
        yield app, url


GatewayStarter = Callable[..., contextlib.AbstractAsyncContextManager[RunningGateway]]


@pytest.fixture(scope="module")
def start_gateway(issuer: Issuer, tmp_path_factory: pytest.TempPathFactory) -> GatewayStarter:
    """``async with start_gateway(routes_yaml, **settings) as gw``: a gateway trusting `issuer`
    (``tracer_provider=`` traces its proxied requests there)."""

    @contextlib.asynccontextmanager
    async def start(
        table: str, *, tracer_provider: TracerProvider | None = None, **settings: Any
    ) -> AsyncIterator[RunningGateway]:
        routes_file = tmp_path_factory.mktemp("gateway") / "routes.yaml"
        routes_file.write_text(table)
        options: dict[str, Any] = {"jwks_url": issuer.jwks_url, "issuer": ISSUER, "routes_file": routes_file}
        app = create_app(Settings(**(options | settings)), tracer_provider=tracer_provider)
        # The server protocol of python -m gateway.
        async with serve(app, http=GatewayHttpProtocol) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
            yield RunningGateway(url, app, client, routes_file)

    return start
