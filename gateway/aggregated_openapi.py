"""``GET /openapi.json``: the services' OpenAPI documents, fetched through the pool and merged.

The merge itself is :func:`gateway.openapi.merge_openapi`; this module decides what goes in. Each
upstream's document is keyed by the prefix a route strips to reach it (``/payment``), or by "" when
the upstream is only reached at fixed paths. An upstream that cannot be reached, or whose document
cannot be merged, is left out and named in ``info.x-unavailable``, so the portal team still reads
the rest; so are the paths the gateway never forwards (each upstream's internal paths). The result
is kept for ``GATEWAY_OPENAPI_CACHE_SECONDS``; concurrent requests for an expired document share one
round of fetches.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from gateway.openapi import merge_openapi
from gateway.route_table import RouteTable
from gateway.upstream_client import UpstreamError
from gateway.upstream_pool import UpstreamPool

__all__ = ["AggregatedOpenApi"]

logger = logging.getLogger(__name__)

#: An OpenAPI document larger than this is not one we merge.
MAX_DOCUMENT_BYTES = 8 * 1024 * 1024
_FETCH_TIMEOUT = 5.0
TITLE = "Basisdienste API"
DESCRIPTION = "Every service of the Basisdienste suite, as reached through the API gateway."


class AggregatedOpenApi:
    """The merged document, cached."""

    def __init__(
        self,
        pool: UpstreamPool,
        table: Callable[[], RouteTable],
        *,
        version: str,
        cache_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self._table = table
        self._version = version
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._document: dict[str, Any] | None = None
        self._fetched_at = 0.0
        self._inflight: asyncio.Task[dict[str, Any]] | None = None

    async def document(self) -> dict[str, Any]:
        """The merged document, fetched again when older than the cache time."""
        if self._document is not None and self._clock() - self._fetched_at < self._cache_seconds:
            return self._document
        if self._inflight is None:
            self._inflight = asyncio.create_task(self._build())
            self._inflight.add_done_callback(self._store)
        # Shielded: a client that goes away must not cancel the fetch the others wait for.
        return await asyncio.shield(self._inflight)

    def invalidate(self, _table: RouteTable | None = None) -> None:
        """Forget the cached document (the route table changed)."""
        self._document = None

    def _store(self, task: asyncio.Task[dict[str, Any]]) -> None:
        self._inflight = None
        if not task.cancelled() and task.exception() is None:
            self._document = task.result()
            self._fetched_at = self._clock()

    async def _build(self) -> dict[str, Any]:
        table = self._table()
        names = table.upstream_names()
        fetched = await asyncio.gather(*(self._fetch(table.upstream_urls[name]) for name in names))
        documents: dict[str, dict[str, Any]] = {}
        owners: dict[str, str] = {}
        unavailable: list[str] = []
        for name, document in zip(names, fetched, strict=True):
            prefix = table.public_prefix(name)
            if document is None or prefix in documents:
                if prefix in documents:
                    logger.warning("OpenAPI of %s left out: %s is also exposed at %r", name, owners[prefix], prefix)
                unavailable.append(name)
                continue
            documents[prefix] = _without_internal_paths(document, table.spec.internal_paths_of(name))
            owners[prefix] = name
        merged = self._merge(documents, owners, unavailable)
        merged["info"]["x-unavailable"] = sorted(unavailable)
        return merged

    def _merge(
        self, documents: dict[str, dict[str, Any]], owners: dict[str, str], unavailable: list[str]
    ) -> dict[str, Any]:
        try:
            return self._merged(documents)
        except ValueError:
            pass
        # Some document does not fit (not OpenAPI 3.1, or claims another's paths): add them one by
        # one and leave out those that break the merge.
        accepted: dict[str, dict[str, Any]] = {}
        for prefix in sorted(documents):
            try:
                self._merged({**accepted, prefix: documents[prefix]})
            except ValueError as error:
                logger.warning("OpenAPI of %s left out: %s", owners[prefix], error)
                unavailable.append(owners[prefix])
                continue
            accepted[prefix] = documents[prefix]
        return self._merged(accepted)

    def _merged(self, documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return merge_openapi(documents, title=TITLE, version=self._version, description=DESCRIPTION)

    async def _fetch(self, base_url: str) -> dict[str, Any] | None:
        try:
            status, body = await self._pool.get(
                base_url + "/openapi.json", timeout=_FETCH_TIMEOUT, max_bytes=MAX_DOCUMENT_BYTES
            )
            if status != 200 or body is None:
                return None
            document = json.loads(body)
        except (UpstreamError, TimeoutError, ValueError, RecursionError) as error:
            logger.warning("OpenAPI of %s not fetched: %s", base_url, type(error).__name__)
            return None
        return document if isinstance(document, dict) else None


def _without_internal_paths(document: dict[str, Any], internal: tuple[str, ...]) -> dict[str, Any]:
    """`document` without the operations the gateway never forwards (an upstream's internal paths)."""
    paths = document.get("paths")
    if not isinstance(paths, dict) or not internal:
        return document
    kept = {path: item for path, item in paths.items() if not _is_internal(path, internal)}
    return {**document, "paths": kept}


def _is_internal(path: str, internal: tuple[str, ...]) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in internal)
