"""``python -m bench.catalogue.peer_app``: the PostgreSQL peer of the catalogue's public reads over HTTP.

The same stack as the catalogue service (FastAPI on uvicorn, one process, asyncpg) without the
service's middleware, answering the two benchmarked reads with one SQL statement each over the tables
of :mod:`bench.catalogue.peer_tables`; PostgreSQL builds the JSON, the app passes it through.

* ``GET /suche?q=…``: ``websearch_to_tsquery('german', q)`` against the GIN-indexed tsvector, ranked
  by ``ts_rank_cd``, the first 20 with the number of all matches (no facets, no highlights).
* ``GET /zustaendigkeiten?leikaKey=…&ars=…``: per role, the valid rule lowest on the ARS chain (the
  ARS, its prefixes of 9, 5, 3 and 2 digits, and '0'), a rule for the LeiKa key before one for the
  Leistung's LeiKa type, then the most recently published; for ``ziel = gemeindeverwaltung`` the
  Organisationseinheit whose ``verwaltung_von`` is the Gemeinde (else its Gemeindeverband). The answer
  has the shape of the catalogue's: the Leistung, the region, per role the authority and the rule.

Settings from the environment: ``BENCH_PEER_DSN`` (asyncpg DSN), ``BENCH_PEER_POOL`` (connections, 10).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
from collections.abc import AsyncIterator
from typing import Annotated
from zoneinfo import ZoneInfo

import asyncpg
import uvicorn
from fastapi import FastAPI, Query, Response
from fastapi.responses import JSONResponse

from contracts.catalogue import ARS_PATTERN

BERLIN = ZoneInfo("Europe/Berlin")
JSON = "application/json"

SEARCH = """
WITH asked AS (SELECT $1::text AS q, websearch_to_tsquery('german', $1::text) AS query),
hits AS (
    SELECT d.id, d.kind, d.name, d.payload, ts_rank_cd(d.document, asked.query) AS score, count(*) OVER () AS total
    FROM peer.documents d, asked
    WHERE d.document @@ asked.query
    ORDER BY score DESC, d.id
    LIMIT $2
)
SELECT json_build_object(
    'query', (SELECT q FROM asked),
    'total', coalesce((SELECT max(total) FROM hits), 0),
    'hits', coalesce(
        (SELECT json_agg(
            json_build_object('id', id, 'kind', kind, 'title', name, 'score', score, 'payload', payload)
            ORDER BY score DESC, id)
         FROM hits),
        '[]'::json)
)::text
"""

LOOKUP = """
WITH asked AS (SELECT $1::text AS leika_key, $2::text AS ars, $3::date AS day),
leistung AS (
    SELECT l.* FROM peer.leistungen l, asked WHERE l.leika_key = asked.leika_key
),
chain (ars, depth) AS (
    SELECT ars, 0 FROM asked UNION ALL
    SELECT left(ars, 9), 1 FROM asked WHERE length(ars) > 9 UNION ALL
    SELECT left(ars, 5), 2 FROM asked WHERE length(ars) > 5 UNION ALL
    SELECT left(ars, 3), 3 FROM asked WHERE length(ars) > 3 UNION ALL
    SELECT left(ars, 2), 4 FROM asked WHERE length(ars) > 2 UNION ALL
    SELECT '0', 5 FROM asked WHERE ars <> '0'
),
winner AS (
    SELECT DISTINCT ON (r.rolle) r.*
    FROM asked, chain JOIN peer.rules r ON r.ars = chain.ars
    WHERE (r.leika_key = asked.leika_key OR r.leika_typen @> ARRAY[(SELECT leika_typ FROM leistung)])
      AND (r.ziel = 'gemeindeverwaltung' OR r.organisationseinheit IS NOT NULL)
      AND (r.gueltig_ab IS NULL OR r.gueltig_ab <= asked.day)
      AND (r.gueltig_bis IS NULL OR asked.day <= r.gueltig_bis)
    ORDER BY r.rolle, chain.depth, r.leika_key IS NULL, r.published_at DESC
),
answer AS (
    SELECT w.rolle, json_build_object(
        'organisationseinheit', json_build_object(
            'record', CASE WHEN o.id IS NOT NULL THEN json_build_object(
                'id', o.id, 'tenant', o.tenant, 'key', o.key, 'version', o.version, 'content', o.content) END,
            'rule', json_build_object(
                'id', w.id, 'tenant', w.tenant, 'key', w.key, 'ars', w.ars,
                'matchedBy', CASE WHEN w.leika_key IS NULL THEN 'leika_typ' ELSE 'leika_key' END,
                'inheritedFrom', NULLIF(w.ars, asked.ars)),
            'administrationOf', o.verwaltung_von),
        'onlinedienst', NULL) AS role
    FROM asked, winner w
    LEFT JOIN LATERAL (
        SELECT o.* FROM peer.organisationseinheiten o, asked
        WHERE (w.ziel = 'gemeindeverwaltung' AND length(asked.ars) IN (9, 12)
               AND o.verwaltung_von IN (asked.ars, CASE WHEN length(asked.ars) = 12 THEN left(asked.ars, 9) END))
           OR (w.ziel = 'fest' AND o.tenant = w.tenant AND o.key = w.organisationseinheit)
        ORDER BY length(o.verwaltung_von) DESC NULLS LAST, o.tenant = w.tenant DESC, o.published_at DESC
        LIMIT 1
    ) o ON true
)
SELECT json_build_object(
    'leikaKey', asked.leika_key,
    'asOf', asked.day,
    'leistung', (SELECT json_build_object(
        'id', id, 'tenant', tenant, 'key', key, 'version', version, 'content', content) FROM leistung),
    'regions', json_build_array(json_build_object(
        'region', regions.record,
        'zustaendigeStelle', (SELECT role FROM answer WHERE rolle = 'zustaendige_stelle'),
        'ansprechpunkt', (SELECT role FROM answer WHERE rolle = 'ansprechpunkt')))
)::text
FROM asked JOIN peer.regions ON regions.ars = asked.ars
"""

_NO_REGION = {"title": "No such region", "status": 404, "detail": "No region has this key."}


def create_app(dsn: str, pool_size: int) -> FastAPI:
    """The peer's app, with a pool of `pool_size` connections to `dsn`."""
    pools: list[asyncpg.Pool] = []

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pools.append(await asyncpg.create_pool(dsn, min_size=pool_size, max_size=pool_size))
        try:
            yield
        finally:
            await pools[0].close()

    app = FastAPI(title="PostgreSQL peer of the catalogue's public reads", lifespan=lifespan)

    @app.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/suche")
    async def search(
        q: Annotated[str, Query(max_length=500)] = "", limit: Annotated[int, Query(ge=1, le=100)] = 20
    ) -> Response:
        body: str = await pools[0].fetchval(SEARCH, q, limit)
        return Response(body, media_type=JSON)

    @app.get("/zustaendigkeiten")
    async def lookup(
        leika_key: Annotated[str, Query(alias="leikaKey", pattern=r"^(\d{14}|X[0-9A-Za-z]{1,31})$")],
        ars: Annotated[str, Query(pattern=ARS_PATTERN)],
    ) -> Response:
        body: str | None = await pools[0].fetchval(LOOKUP, leika_key, ars, dt.datetime.now(BERLIN).date())
        if body is None:
            return JSONResponse(_NO_REGION, status_code=404, media_type="application/problem+json")
        return Response(body, media_type=JSON)

    return app


def main() -> None:
    """Serve the peer on 127.0.0.1."""
    parser = argparse.ArgumentParser(prog="python -m bench.catalogue.peer_app", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = create_app(os.environ["BENCH_PEER_DSN"], int(os.environ.get("BENCH_PEER_POOL", "10")))
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
