"""Spot checks that the catalogue and its PostgreSQL peer answer from the same data.

Lookups must agree exactly: the same Organisationseinheit found responsible by the same rule for
every checked (LeiKa key, Gemeinde). Searches rank differently by design (the relevance benchmark
measures how), so for a few queries that name a Leistung plainly the top hits are compared and
reported, not required to match. The mean size of the answers shows that both sides send about the
same bytes.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

#: Queries that plainly name a Leistung: both searches should put it first.
CLEAR_QUERIES = ("Hundesteuer", "Reisepass", "Wohngeld", "Elterngeld", "Personalausweis", "Baugenehmigung")


@dataclass(frozen=True)
class TopHits:
    """The first hit of each side for one query (None when a side finds nothing)."""

    query: str
    catalogue: str | None
    peer: str | None

    @property
    def same(self) -> bool:
        """Whether both put the same record first."""
        return self.catalogue is not None and self.catalogue == self.peer


@dataclass(frozen=True)
class Agreement:
    """What the spot checks found."""

    lookups: int
    lookup_disagreements: list[str]
    top_hits: list[TopHits]
    #: Mean bytes of an answer, by workload and side.
    answer_bytes: dict[tuple[str, str], float]


async def check_agreement(catalogue_url: str, peer_url: str, lookup_paths: Sequence[str]) -> Agreement:
    """Ask both sides the clear queries and the given lookups; compare the answers."""
    sizes: dict[tuple[str, str], list[int]] = {}
    disagreements: list[str] = []
    top_hits: list[TopHits] = []
    async with httpx.AsyncClient(timeout=10.0) as client:

        async def both(workload: str, path: str) -> tuple[dict[str, Any], dict[str, Any]]:
            answers = []
            for side, base in (("catalogue", catalogue_url), ("PostgreSQL", peer_url)):
                response = await client.get(base + path)
                response.raise_for_status()
                sizes.setdefault((workload, side), []).append(len(response.content))
                answers.append(response.json())
            return answers[0], answers[1]

        for query in CLEAR_QUERIES:
            ours, theirs = await both("search", f"/suche?{urlencode({'q': query})}")
            top_hits.append(TopHits(query, _top_title(ours), _top_title(theirs)))
        for path in lookup_paths:
            ours, theirs = await both("lookup", path)
            if _responsible(ours) != _responsible(theirs):
                disagreements.append(f"{path}: catalogue {_responsible(ours)}, PostgreSQL {_responsible(theirs)}")
    return Agreement(
        len(lookup_paths),
        disagreements,
        top_hits,
        {key: statistics.fmean(values) for key, values in sizes.items()},
    )


def _top_title(answer: dict[str, Any]) -> str | None:
    hits = answer["hits"]
    return str(hits[0]["title"]) if hits else None


def _responsible(answer: dict[str, Any]) -> tuple[str | None, str | None]:
    """The zuständige Stelle's Organisationseinheit and deciding rule, by id."""
    role = answer["regions"][0]["zustaendigeStelle"]
    found = role and role["organisationseinheit"]
    if not found:
        return None, None
    record = found["record"]
    return (record["id"] if record else None), found["rule"]["id"]
