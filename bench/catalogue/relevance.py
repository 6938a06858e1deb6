"""``python -m bench.catalogue.relevance``: search quality and speed on the real LeiKa catalogue.

Loads ``leika/leika_leistungen.csv`` (under ``CATALOGUE_DATA_DIR``) through the LeiKa parser, and with
``--authorities`` (the default) also one Organisationseinheit per municipal administration of
``gemeindeverwaltungen/gemeindeverwaltungen_2011.csv``, so the index holds what a replica holds.
Builds the search index with the seed synonyms below as the editors' data, runs every query of
``relevance_set.yaml`` and prints, for the index and for plain PostgreSQL full-text search over the
same Leistungen (``to_tsvector('german', name || ' ' || description)``, ``websearch_to_tsquery``,
ranked by ``ts_rank_cd``, GIN index, in a scratch database):

* precision@3: the share of the first three hits that are relevant, out of ``min(3, relevant)`` so a
  query with one relevant Leistung can reach 1;
* MRR: the mean of ``1 / rank`` of the first relevant hit within the first 10 (0 when none);
* the queries that miss, with what came first;
* latency per query, single-threaded: p50/p99 over all runs of all queries (``--repeat`` each), with
  the index's result cache off (in service, a repeated query is answered from the cache).

Needs the local PostgreSQL (``make infra``) unless ``--no-postgres``.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gc
import math
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import yaml

from contracts.catalogue import Anschrift, Organisationseinheit, Synonym
from kit.testing import LocalInfrastructure
from services.catalogue.importers.leika import ParsedLeistung, default_leika_path, parse_leika
from services.catalogue.search import SearchDocument, SearchIndex, leistung_document, organisationseinheit_document

RELEVANCE_SET = Path(__file__).with_name("relevance_set.yaml")
AUTHORITIES_FILE = Path("gemeindeverwaltungen") / "gemeindeverwaltungen_2011.csv"
CUTOFF = 10

#: What editors would enter as synonyms on day one: citizens' words for the catalogue's words.
SEED_SYNONYMS: tuple[Synonym, ...] = tuple(
    Synonym(begriff=begriff, synonyme=list(synonyme))
    for begriff, synonyme in (
        ("Personalausweis", ("Perso",)),
        ("Führerschein", ("Fahrerlaubnis",)),
        ("Bürgergeld", ("Hartz IV", "Hartz 4", "Arbeitslosengeld II", "ALG II")),
        ("Ummeldung", ("Wohnsitz anmelden", "Adressänderung", "Umzug")),
        ("Kraftfahrzeug", ("Auto", "Kfz", "Pkw")),
        ("Eheschließung", ("heiraten", "Hochzeit", "Trauung")),
        ("Baugenehmigung", ("Bauantrag", "Bauerlaubnis")),
        ("Abbruch", ("Abriss",)),
        ("Ausbildungsförderung", ("BAföG",)),
        ("Kindertagesstätte", ("Kita", "Kindergarten", "Kindertageseinrichtung")),
        ("Wohnberechtigungsschein", ("WBS",)),
        ("Meldebestätigung", ("Meldebescheinigung",)),
        ("Abfallbehälter", ("Mülltonne", "Müllbehälter")),
        ("Fischereischein", ("Angelschein",)),
        ("Steueridentifikationsnummer", ("Steuer-ID", "IdNr")),
        ("Gewerbeanmeldung", ("Gewerbeschein", "Gewerbe anmelden")),
        ("verloren", ("Verlust",)),
        ("beantragen", ("Antrag", "Ausstellung", "Erteilung", "Bewilligung")),
        ("Kraftfahrzeug Zulassung", ("Auto anmelden", "Auto zulassen", "Kfz anmelden")),
    )
)


@dataclass(frozen=True)
class Judgement:
    """A query and the LeiKa keys that answer it."""

    query: str
    relevant: frozenset[str]


@dataclass(frozen=True)
class Quality:
    """Precision@3 and reciprocal rank of one query's ranking."""

    precision_at_3: float
    reciprocal_rank: float


def load_judgements(path: Path = RELEVANCE_SET) -> list[Judgement]:
    """The queries of the relevance set."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [Judgement(item["query"], frozenset(item["relevant"])) for item in data["queries"]]


def quality(ranking: Sequence[str], relevant: frozenset[str]) -> Quality:
    """Precision@3 (out of ``min(3, relevant)``) and reciprocal rank (within :data:`CUTOFF`)."""
    found = sum(1 for key in ranking[:3] if key in relevant)
    rank = next((position for position, key in enumerate(ranking[:CUTOFF], start=1) if key in relevant), None)
    return Quality(found / min(3, len(relevant)), 1.0 / rank if rank else 0.0)


def data_dir() -> Path:
    """``CATALOGUE_DATA_DIR``, by default ``../shared/data`` beside the checkout."""
    return default_leika_path().parents[1]


def leistung_documents(path: Path) -> tuple[list[SearchDocument], dict[str, str]]:
    """Search documents of the parsed Leistungen (id = LeiKa key), and the names by key."""
    documents = [
        leistung_document(row.leistung.leika_key, row.leistung)
        for row in parse_leika(path)
        if isinstance(row, ParsedLeistung)
    ]
    return documents, {document.id: document.title for document in documents}


def authority_documents(path: Path) -> list[SearchDocument]:
    """One Organisationseinheit per municipal administration (a stand-in for the importer's records)."""
    documents = []
    with path.open(encoding="utf-8", newline="") as lines:
        for row in csv.DictReader(lines):
            name = " ".join(row["anschrift_der_gemeinde"].split())
            postleitzahl, _, ort = row["plz_ort"].partition(" ")
            oe = Organisationseinheit(
                name={"de": name},
                art="Gemeindeverwaltung",
                anschrift=Anschrift(
                    strasse=row["strasse"] or None,
                    postleitzahl=postleitzahl if len(postleitzahl) == 5 and postleitzahl.isdigit() else None,
                    ort=ort or name,
                ),
            )
            documents.append(organisationseinheit_document(f"oe-{row['ags']}", oe))
    return documents


def index_memory(documents: Sequence[SearchDocument], synonyms: Sequence[Synonym]) -> int:
    """Bytes a fresh index of `documents` holds (the documents themselves not counted)."""
    gc.collect()
    tracemalloc.start()
    index = SearchIndex(documents, synonyms=synonyms)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del index
    return held


def timed(
    run: Callable[[str], list[str]], judgements: Sequence[Judgement], repeat: int
) -> tuple[dict[str, list[str]], list[float]]:
    """Each query's ranking and the latency of every run, in milliseconds."""
    rankings: dict[str, list[str]] = {}
    latencies: list[float] = []
    for _ in range(repeat):
        for judgement in judgements:
            started = time.perf_counter()
            rankings[judgement.query] = run(judgement.query)
            latencies.append((time.perf_counter() - started) * 1000)
    return rankings, latencies


async def postgres_rankings(
    documents: Sequence[SearchDocument], judgements: Sequence[Judgement], repeat: int
) -> tuple[dict[str, list[str]], list[float], float]:
    """Plain PostgreSQL full-text search over the same Leistungen: rankings, latencies, load seconds."""
    infrastructure = LocalInfrastructure()
    await asyncio.to_thread(infrastructure.start_postgres)
    url = await infrastructure.create_database("search_relevance")
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        await connection.execute(
            "CREATE TABLE leistung (leika_key text PRIMARY KEY, name text NOT NULL, description text NOT NULL,"
            " document tsvector GENERATED ALWAYS AS (to_tsvector('german', name || ' ' || description)) STORED)"
        )
        await connection.copy_records_to_table(
            "leistung",
            records=[(d.id, d.title, d.body) for d in documents],
            columns=["leika_key", "name", "description"],
        )
        await connection.execute("CREATE INDEX leistung_document ON leistung USING gin (document)")
        await connection.execute("ANALYZE leistung")
        loaded = time.perf_counter() - started
        statement = await connection.prepare(
            "SELECT leika_key FROM leistung, websearch_to_tsquery('german', $1) AS query"
            " WHERE document @@ query ORDER BY ts_rank_cd(document, query) DESC, leika_key LIMIT $2"
        )
        rankings: dict[str, list[str]] = {}
        latencies: list[float] = []
        for _ in range(repeat):
            for judgement in judgements:
                started = time.perf_counter()
                rows = await statement.fetch(judgement.query, CUTOFF)
                latencies.append((time.perf_counter() - started) * 1000)
                rankings[judgement.query] = [row["leika_key"] for row in rows]
        return rankings, latencies, loaded
    finally:
        await connection.close()
        await infrastructure.drop_database(url)


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def report(
    name: str,
    rankings: dict[str, list[str]],
    latencies: list[float],
    judgements: Sequence[Judgement],
    titles: dict[str, str],
    *,
    show_failures: bool,
) -> None:
    """Print the quality and latency of one system, and its failures."""
    qualities = {j.query: quality(rankings.get(j.query, []), j.relevant) for j in judgements}
    precision = statistics.fmean(q.precision_at_3 for q in qualities.values())
    mrr = statistics.fmean(q.reciprocal_rank for q in qualities.values())
    misses = sum(1 for q in qualities.values() if q.reciprocal_rank == 0)
    print(
        f"{name:<28} precision@3 {precision:.3f}   MRR {mrr:.3f}   no relevant hit in top {CUTOFF}: {misses:>2}"
        f"   latency p50 {percentile(latencies, 0.5):6.2f} ms  p99 {percentile(latencies, 0.99):6.2f} ms"
        f"  max {max(latencies):6.2f} ms"
    )
    if not show_failures:
        return
    for judgement in judgements:
        result = qualities[judgement.query]
        if result.precision_at_3 == 1.0 and result.reciprocal_rank == 1.0:
            continue
        top = "; ".join(
            f"{'+' if key in judgement.relevant else '-'}{titles.get(key, key)}"
            for key in rankings[judgement.query][:3]
        )
        print(f"    {judgement.query!r:34} P@3 {result.precision_at_3:.2f} RR {result.reciprocal_rank:.2f}  {top}")


def main() -> None:
    """Run the benchmark and print the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20, help="runs of each query for the latency figures")
    parser.add_argument("--no-authorities", action="store_true", help="index the Leistungen only")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL comparison")
    parser.add_argument("--no-synonyms", action="store_true", help="index without the seed synonyms")
    parser.add_argument("--quiet", action="store_true", help="do not list the queries that miss")
    arguments = parser.parse_args()

    judgements = load_judgements()
    leistungen, titles = leistung_documents(Path(os.environ.get("LEIKA_CSV", default_leika_path())))
    missing = sorted({key for j in judgements for key in j.relevant} - titles.keys())
    if missing:
        raise SystemExit(f"relevance_set.yaml names keys the catalogue lacks: {', '.join(missing)}")
    documents = list(leistungen)
    if not arguments.no_authorities:
        documents += authority_documents(data_dir() / AUTHORITIES_FILE)

    synonyms = () if arguments.no_synonyms else SEED_SYNONYMS
    started = time.perf_counter()
    # Without caching, so that every run of every query is measured in full.
    index = SearchIndex(documents, synonyms=synonyms, caching=False)
    built = time.perf_counter() - started
    statistics_ = index.statistics()
    print(
        f"index: {statistics_['documents']} documents ({len(leistungen)} Leistungen), {statistics_['terms']} terms,"
        f" {statistics_['postings']} postings, {statistics_['words']} words; built in {built:.2f} s;"
        f" holds {index_memory(documents, synonyms) / 2**20:.1f} MiB (traced in a second build)"
    )
    print(f"{len(judgements)} queries, {sum(len(j.relevant) for j in judgements)} judged relevant keys\n")

    def search(query: str) -> list[str]:
        return [hit.id for hit in index.search(query, limit=CUTOFF).hits]

    rankings, latencies = timed(search, judgements, arguments.repeat)
    report("search index", rankings, latencies, judgements, titles, show_failures=not arguments.quiet)
    if not arguments.no_postgres:
        pg_rankings, pg_latencies, loaded = asyncio.run(postgres_rankings(leistungen, judgements, arguments.repeat))
        print(f"\nPostgreSQL: {len(leistungen)} rows loaded and indexed in {loaded:.2f} s")
        report("PostgreSQL full-text", pg_rankings, pg_latencies, judgements, titles, show_failures=not arguments.quiet)


if __name__ == "__main__":
    main()
