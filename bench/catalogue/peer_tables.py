"""The PostgreSQL peer's tables, built in schema ``peer`` of the benchmark's database from the same
published records the catalogue's replica loads.

What a straightforward PostgreSQL implementation of the public reads would keep:

* ``peer.documents``: one row per published Leistung and Organisationseinheit with its name and its
  texts (the same fields the catalogue's search document holds: short names, Suchbegriffe, OZG
  taxonomy, text modules; the address for an authority), ``to_tsvector('german', name || ' ' || texts)``
  stored and GIN-indexed;
* ``peer.rules``: the Zuständigkeiten as rows (ARS, LeiKa key or LeiKa types, role, target, validity),
  indexed by (ARS, LeiKa key) and by the LeiKa types; no (Leistung, Gemeinde) pair is stored;
* ``peer.leistungen``, ``peer.organisationseinheiten`` (indexed by ``verwaltung_von``) and
  ``peer.regions`` (the current period of each ARS) with the published JSON the answers return.

LeiKa types are written canonically on both sides (``services.catalogue.resolution.leika_types``), so a
type rule matches a Leistung by array containment.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import asyncpg

from contracts.catalogue import Leistung, Organisationseinheit, Zustaendigkeit
from services.catalogue.resolution.leika_types import canonical_leika_typ
from services.catalogue.search import SearchDocument, leistung_document, organisationseinheit_document

SCHEMA = "peer"

_DDL = """
DROP SCHEMA IF EXISTS peer CASCADE;
CREATE SCHEMA peer;
CREATE TABLE peer.documents (
    id text PRIMARY KEY,
    kind text NOT NULL,
    name text NOT NULL,
    texts text NOT NULL,
    payload jsonb NOT NULL,
    document tsvector GENERATED ALWAYS AS (to_tsvector('german', name || ' ' || texts)) STORED
);
CREATE TABLE peer.leistungen (
    leika_key text PRIMARY KEY,
    id uuid NOT NULL,
    tenant text NOT NULL,
    key text NOT NULL,
    version integer NOT NULL,
    leika_typ text,
    content jsonb NOT NULL
);
CREATE TABLE peer.organisationseinheiten (
    id uuid PRIMARY KEY,
    tenant text NOT NULL,
    key text NOT NULL,
    version integer NOT NULL,
    verwaltung_von text,
    published_at timestamptz,
    content jsonb NOT NULL,
    UNIQUE (tenant, key)
);
CREATE TABLE peer.rules (
    id uuid PRIMARY KEY,
    tenant text NOT NULL,
    key text NOT NULL,
    ars text NOT NULL,
    leika_key text,
    leika_typen text[],
    rolle text NOT NULL,
    ziel text NOT NULL,
    organisationseinheit text,
    onlinedienst text,
    gueltig_ab date,
    gueltig_bis date,
    published_at timestamptz
);
CREATE TABLE peer.regions (
    ars text PRIMARY KEY,
    level text NOT NULL,
    record jsonb NOT NULL
);
"""

_INDEXES = """
CREATE INDEX documents_document ON peer.documents USING gin (document);
CREATE INDEX organisationseinheiten_verwaltung_von ON peer.organisationseinheiten (verwaltung_von);
CREATE INDEX rules_ars_leika_key ON peer.rules (ars, leika_key);
CREATE INDEX rules_leika_typen ON peer.rules USING gin (leika_typen);
ANALYZE peer.documents, peer.leistungen, peer.organisationseinheiten, peer.rules, peer.regions;
"""

_PUBLISHED = """
SELECT id, kind, tenant, key, published_version, published::text AS content, published_at
FROM editorial_records
WHERE published_version IS NOT NULL AND kind = ANY($1::text[])
"""

_REGIONS = """
INSERT INTO peer.regions (ars, level, record)
SELECT ars, level, jsonb_build_object(
    'ars', ars, 'ags', ags, 'level', level, 'name', name, 'parentArs', parent_ars,
    'validFrom', valid_from, 'validTo', valid_to)
FROM region_periods
WHERE valid_to IS NULL
"""


@dataclass(frozen=True)
class PeerTables:
    """What was built: rows per table, the time it took, and the schema's size on disk with indexes."""

    rows: dict[str, int]
    seconds: float
    size_bytes: int


async def build_peer_tables(dsn: str) -> PeerTables:
    """(Re)create schema ``peer`` in the database at `dsn` from its published records."""
    started = time.perf_counter()
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(_DDL)
        rows = await connection.fetch(_PUBLISHED, ["leistung", "organisationseinheit", "zustaendigkeit"])
        documents: list[SearchDocument] = []
        leistungen, authorities, rules = [], [], []
        for row in rows:
            content: str = row["content"]
            ref = (row["id"], row["tenant"], row["key"], row["published_version"])
            if row["kind"] == "leistung":
                leistung = Leistung.model_validate_json(content)
                documents.append(leistung_document(str(row["id"]), leistung))
                leistungen.append((leistung.leika_key, *ref, canonical_leika_typ(leistung.leika_typ), content))
            elif row["kind"] == "organisationseinheit":
                authority = Organisationseinheit.model_validate_json(content)
                documents.append(organisationseinheit_document(str(row["id"]), authority))
                authorities.append((*ref, authority.verwaltung_von, row["published_at"], content))
            else:
                rules.append(_rule(row, Zustaendigkeit.model_validate_json(content)))
        await connection.copy_records_to_table(
            "documents",
            schema_name=SCHEMA,
            records=[_document_row(document) for document in documents],
            columns=["id", "kind", "name", "texts", "payload"],
        )
        await connection.copy_records_to_table(
            "leistungen",
            schema_name=SCHEMA,
            records=leistungen,
            columns=["leika_key", "id", "tenant", "key", "version", "leika_typ", "content"],
        )
        await connection.copy_records_to_table(
            "organisationseinheiten",
            schema_name=SCHEMA,
            records=authorities,
            columns=["id", "tenant", "key", "version", "verwaltung_von", "published_at", "content"],
        )
        await connection.copy_records_to_table("rules", schema_name=SCHEMA, records=rules, columns=_RULE_COLUMNS)
        await connection.execute(_REGIONS)
        await connection.execute(_INDEXES)
        counts = {
            table: int(await connection.fetchval(f"SELECT count(*) FROM peer.{table}"))
            for table in ("documents", "leistungen", "organisationseinheiten", "rules", "regions")
        }
        size = await connection.fetchval(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = $1 AND c.relkind = 'r'",
            SCHEMA,
        )
    finally:
        await connection.close()
    return PeerTables(counts, time.perf_counter() - started, int(size or 0))


_RULE_COLUMNS = [
    "id",
    "tenant",
    "key",
    "ars",
    "leika_key",
    "leika_typen",
    "rolle",
    "ziel",
    "organisationseinheit",
    "onlinedienst",
    "gueltig_ab",
    "gueltig_bis",
    "published_at",
]


def _rule(row: asyncpg.Record, rule: Zustaendigkeit) -> tuple[object, ...]:
    typen = rule.leistungen.leika_typen
    return (
        row["id"],
        row["tenant"],
        row["key"],
        rule.ars,
        rule.leistungen.leika_key,
        None if typen is None else sorted({typ for typ in map(canonical_leika_typ, typen) if typ}),
        rule.rolle,
        rule.ziel,
        rule.organisationseinheit,
        rule.onlinedienst,
        rule.gueltig_ab,
        rule.gueltig_bis,
        row["published_at"],
    )


def _document_row(document: SearchDocument) -> tuple[str, str, str, str, str]:
    # The same fields the catalogue indexes (its "alt", "taxonomy" and "body"), as one text.
    _, alt, taxonomy, body = document.field_texts()
    texts = "\n".join(part for part in (alt, taxonomy, body) if part)
    return document.id, document.kind, document.title, texts, json.dumps(dict(document.payload), ensure_ascii=False)
