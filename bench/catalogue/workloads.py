"""The requests the benchmark offers: the paths k6 takes in turn, the same for both sides.

* search: every query of ``relevance_set.yaml`` (what citizens type) and each of its prefixes of three
  characters or more that does not end in a space (the query while it is being typed);
* lookup: random pairs of a municipal Leistung (a LeiKa key some type rule covers) and a Gemeinde
  (the current Gemeinden of the register), drawn from the benchmark's database.

Each list is shuffled with a fixed seed, so a run is repeatable and neighbouring requests differ. k6
takes the paths in a cycle that continues from run to run (:class:`bench.catalogue.k6_paths.PathsK6`).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import asyncpg

from bench.catalogue.relevance import load_judgements
from services.catalogue.search.index import RESULT_CACHE_SIZE

SEED = 5
#: The shortest prefix offered: shorter ones are what suggestions (not the search) answer.
MIN_PREFIX = 3

_MUNICIPAL_KEYS = """
SELECT leika_key FROM peer.leistungen l
WHERE EXISTS (SELECT 1 FROM peer.rules r WHERE r.leika_typen @> ARRAY[l.leika_typ])
ORDER BY leika_key
"""
_GEMEINDEN = "SELECT ars FROM peer.regions WHERE level = 'gemeinde' ORDER BY ars"


@dataclass(frozen=True)
class Workload:
    """A named list of request paths, written to `file` for k6."""

    name: str
    paths: list[str]
    file: Path
    description: str


def search_texts(queries: Iterable[str]) -> list[str]:
    """The queries and their prefixes, each once, in a fixed shuffled order."""
    texts: dict[str, None] = {}
    for query in queries:
        query = " ".join(query.split())
        for end in range(MIN_PREFIX, len(query)):
            if query[end - 1] != " ":
                texts[query[:end]] = None
        texts[query] = None
    ordered = list(texts)
    random.Random(SEED).shuffle(ordered)
    return ordered


def search_workload(work_dir: Path) -> Workload:
    """Search paths from the relevance set's queries."""
    queries = [judgement.query for judgement in load_judgements()]
    texts = search_texts(queries)
    paths = [f"/suche?{urlencode({'q': text})}" for text in texts]
    description = f"{len(queries)} queries of relevance_set.yaml and their prefixes: {len(paths)} distinct searches"
    if len(paths) > RESULT_CACHE_SIZE:
        description += (
            f", more than the replica's result cache holds ({RESULT_CACHE_SIZE}): taken in a cycle, none is"
            " answered from it"
        )
    return _written(Workload("search", paths, work_dir / "search-paths.json", description))


async def lookup_workload(dsn: str, work_dir: Path, count: int) -> Workload:
    """`count` random (municipal LeiKa key, Gemeinde ARS) lookups over the peer's tables."""
    connection = await asyncpg.connect(dsn)
    try:
        keys = [row[0] for row in await connection.fetch(_MUNICIPAL_KEYS)]
        gemeinden = [row[0] for row in await connection.fetch(_GEMEINDEN)]
    finally:
        await connection.close()
    if not keys or not gemeinden:
        raise RuntimeError("no municipal Leistungen or no Gemeinden: was the national import complete?")
    pairs = lookup_pairs(keys, gemeinden, count)
    paths = [f"/zustaendigkeiten?{urlencode({'leikaKey': key, 'ars': ars})}" for key, ars in pairs]
    description = (
        f"{len(paths)} random pairs of {len(keys)} municipal Leistungen x {len(gemeinden)} Gemeinden "
        f"({len(keys) * len(gemeinden) / 1e6:.1f} M implied pairs)"
    )
    return _written(Workload("lookup", paths, work_dir / "lookup-paths.json", description))


def lookup_pairs(keys: Sequence[str], gemeinden: Sequence[str], count: int) -> list[tuple[str, str]]:
    """`count` pairs drawn independently and uniformly (with the fixed seed)."""
    draw = random.Random(SEED)
    return [(draw.choice(keys), draw.choice(gemeinden)) for _ in range(count)]


def _written(workload: Workload) -> Workload:
    workload.file.parent.mkdir(parents=True, exist_ok=True)
    workload.file.write_text(json.dumps(workload.paths, ensure_ascii=False))
    return workload
