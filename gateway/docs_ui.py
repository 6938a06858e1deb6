"""The docs UI of the merged OpenAPI document: Swagger UI, served by the gateway itself.

:func:`docs_router` serves Swagger UI from the assets of the ``swagger-ui-bundle-v2`` package, each
under its own digest, with a strict Content Security Policy: the page loads nothing from elsewhere.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]  # ships no py.typed

__all__ = ["CONTENT_SECURITY_POLICY", "docs_router"]

#: Everything on the docs page comes from the gateway; ``data:`` images are embedded in Swagger UI's CSS.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
_DOCS_ROUTE = "gateway_docs"
_ASSET_ROUTE = "gateway_docs_asset"
_CSS = "text/css; charset=utf-8"
_JS = "text/javascript; charset=utf-8"
_SWAGGER_UI_FILES = {
    "swagger-ui.css": _CSS,
    "index.css": _CSS,
    "swagger-ui-bundle.js": _JS,
    "favicon-32x32.png": "image/png",
    "favicon-16x16.png": "image/png",
}
_OWN_FILES = {"docs-init.js": _JS}
_OWN_FILES_DIR = Path(__file__).with_name("docs_assets")
_PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
#: Asset URLs carry a digest of their content, so they can be cached for good.
_ASSET_HEADERS = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
}
_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{swagger-ui.css}">
<link rel="stylesheet" href="{index.css}">
<link rel="icon" type="image/png" sizes="32x32" href="{favicon-32x32.png}">
<link rel="icon" type="image/png" sizes="16x16" href="{favicon-16x16.png}">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<script src="{swagger-ui-bundle.js}"></script>
<script src="{docs-init.js}"></script>
</body>
</html>
"""


_PLACEHOLDER = re.compile(r"\{([a-z0-9._-]+)\}")


@dataclass(frozen=True)
class _Asset:
    body: bytes
    media_type: str
    digest: str


@cache
def _assets() -> dict[str, _Asset]:
    files = [(swagger_ui_path / name, name, media_type) for name, media_type in _SWAGGER_UI_FILES.items()]
    files += [(_OWN_FILES_DIR / name, name, media_type) for name, media_type in _OWN_FILES.items()]
    assets: dict[str, _Asset] = {}
    for path, name, media_type in files:
        body = path.read_bytes()
        assets[name] = _Asset(body, media_type, hashlib.sha256(body).hexdigest()[:20])
    return assets


def docs_router(openapi_url: str = "/openapi.json", *, title: str = "Basisdienste API") -> APIRouter:
    """``GET /docs``: Swagger UI for the document at ``openapi_url``, with its assets under ``/docs/assets/``.

    The page has a Content-Security-Policy allowing nothing but the gateway's own origin, and no
    inline script: Swagger UI is started by a script file that reads ``openapi_url`` from the page.
    No route of this router is part of the OpenAPI document.
    """
    assets = _assets()
    router = APIRouter(include_in_schema=False)

    @router.api_route("/docs", methods=["GET", "HEAD"], name=_DOCS_ROUTE, response_class=HTMLResponse)
    async def docs_page(request: Request) -> HTMLResponse:
        urls = {
            name: request.url_for(_ASSET_ROUTE, digest=asset.digest, name=name).path for name, asset in assets.items()
        }
        root_path = str(request.scope.get("root_path", "")).rstrip("/")
        document_url = root_path + openapi_url if openapi_url.startswith("/") else openapi_url
        values = {**urls, "title": title, "openapi_url": document_url}
        page = _PLACEHOLDER.sub(lambda match: html.escape(values[match[1]], quote=True), _PAGE)
        return HTMLResponse(page, headers=_PAGE_HEADERS)

    @router.api_route("/docs/assets/{digest}/{name}", methods=["GET", "HEAD"], name=_ASSET_ROUTE)
    async def docs_asset(digest: str, name: str) -> Response:
        asset = assets.get(name)
        if asset is None or asset.digest != digest:
            raise HTTPException(status_code=404)
        return Response(asset.body, media_type=asset.media_type, headers={**_ASSET_HEADERS, "ETag": f'"{digest}"'})

    return router
