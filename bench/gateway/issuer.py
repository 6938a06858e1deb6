"""A stand-in token issuer: ``kit.auth.testing.TokenFactory``'s JWKS served over real HTTP, in this process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import uvicorn

from kit.auth.testing import TokenFactory

#: Outlives the whole benchmark, so no run sees an expired token.
TOKEN_LIFETIME = 3600


@dataclass(frozen=True)
class Issuer:
    """The issuer's URLs and the one token every request of the benchmark carries."""

    factory: TokenFactory
    url: str
    jwks_url: str
    audience: str
    scope: str
    token: str


@contextlib.asynccontextmanager
async def serve_issuer(port: int, *, audience: str, scope: str) -> AsyncIterator[Issuer]:
    """Serve the JWKS at ``http://127.0.0.1:<port>/jwks`` until the context ends."""
    url = f"http://127.0.0.1:{port}"
    factory = TokenFactory(issuer=url, audience=audience)
    # interface: uvicorn would take the bound method for an ASGI 2 app by its signature.
    config = uvicorn.Config(
        factory.jwks_app,
        host="127.0.0.1",
        port=port,
        interface="asgi3",
        lifespan="off",
        log_config=None,
        access_log=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    token = factory.issue("bench-user", scopes=[scope], tenant="bench", client_id="bench", lifetime=TOKEN_LIFETIME)
    try:
        yield Issuer(factory, url, f"{url}/jwks", audience, scope, token)
    finally:
        server.should_exit = True
        await task
