"""Hostile queries: huge, many words, only punctuation, control characters: fast, bounded, no error."""

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from services.catalogue.search import SearchIndex
from services.catalogue.search.query import MAX_QUERY_TERMS
from tests.services.catalogue.search.corpus import LEISTUNGEN, document

CORPUS = [*LEISTUNGEN, *(document(f"d{n}", f"Leistung {n} Anmeldung Erteilung Zulassung") for n in range(3_000))]
INDEX = SearchIndex(CORPUS, caching=False)

HOSTILE = [
    "x" * 10_000,
    "Anmeldung " * 2_000,
    " ".join(f"wort{n}" for n in range(500)),
    " ".join(["Erteilung Zulassung Anmeldung Leistung"] * 125),
    "!!! ??? ... ;;; §§§ %%% &&& ***",
    "\x00\x01\x02\x1b[31m\r\n\t\x7f",
    "Persnalausweis" * 700,
    "ä" * 5_000,
    "🙂" * 3_000,
    "a b c d e f g h i j k l m n o p",
    "Erteilung",
]


def test_hostile_queries_are_fast_and_raise_nothing() -> None:
    for query in HOSTILE:
        started = time.perf_counter()
        result = INDEX.search(query, filters={"themenfeld": ["x"] * 1000, "region": ["0" * 5000]})
        INDEX.search(query)
        INDEX.suggest(query)
        elapsed = time.perf_counter() - started
        assert elapsed < 0.25, (query[:30], elapsed)
        assert result.total >= 0


def test_query_terms_are_capped() -> None:
    plan = INDEX.plan(" ".join(f"Leistung{n}" for n in range(500)))
    assert len(plan.clauses) <= MAX_QUERY_TERMS
    assert all(len(clause.text) <= 64 for clause in INDEX.plan("y" * 10_000).clauses)


def test_queries_without_searchable_words_find_nothing() -> None:
    for query in ("!!!", "der die das", "\x00", "a"):
        assert INDEX.search(query).total == 0


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_query_is_answered(query: str) -> None:
    result = INDEX.search(query, limit=5)
    assert len(result.hits) <= 5
    assert result.total >= len(result.hits)
    INDEX.suggest(query, limit=5)
