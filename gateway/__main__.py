"""``python -m gateway``: start the API gateway (settings from ``GATEWAY_*``, see gateway/README.md)."""

import gc

import uvicorn

from gateway.app import create_app
from gateway.config import Settings
from gateway.server import GatewayHttpProtocol

settings = Settings()
app = create_app(settings)
# Everything imported and built so far lives as long as the process. Frozen, it is no longer traversed
# by the cyclic garbage collector, whose full collections would otherwise walk some 140,000 objects
# (about 100 ms of CPU, during which no request moves) every few thousand requests.
gc.collect()
gc.freeze()
uvicorn.run(
    app,
    host=settings.host,
    port=settings.port,
    # Chosen explicitly rather than by uvicorn's "auto", which would fall back silently: the gateway's
    # CPU per request was measured with these (uvloop's event loop, llhttp's parser through httptools,
    # each response's writes gathered into one send).
    loop="uvloop",
    http=GatewayHttpProtocol,
    log_config=None,
    access_log=False,
    # X-Forwarded-* are the gateway's business (GATEWAY_TRUSTED_PROXIES): uvicorn would otherwise
    # believe them from any local peer and hand the edge a client address a client chose.
    proxy_headers=False,
    # Upstreams' Server headers are dropped too: the gateway does not advertise what runs behind it.
    server_header=False,
)
