"""``python -m gateway``: start the API gateway (settings from ``GATEWAY_*``, see gateway/README.md)."""

import uvicorn

from gateway.app import create_app
from gateway.config import Settings

settings = Settings()
uvicorn.run(
    create_app(settings),
    host=settings.host,
    port=settings.port,
    log_config=None,
    access_log=False,
    # X-Forwarded-* are the gateway's business (GATEWAY_TRUSTED_PROXIES): uvicorn would otherwise
    # believe them from any local peer and hand the edge a client address a client chose.
    proxy_headers=False,
    # Upstreams' Server headers are dropped too: the gateway does not advertise what runs behind it.
    server_header=False,
)
