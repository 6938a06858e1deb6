"""The search over the real LeiKa catalogue: obvious queries find their Leistung in the top three,
and the relevance set of bench/catalogue keeps its quality."""

import statistics

import pytest

from bench.catalogue.relevance import SEED_SYNONYMS, leistung_documents, load_judgements, quality
from services.catalogue.importers.leika import default_leika_path
from services.catalogue.search import SearchIndex

LEIKA = default_leika_path()
pytestmark = pytest.mark.skipif(not LEIKA.exists(), reason=f"{LEIKA} is not there")


@pytest.fixture(scope="module")
def catalogue() -> tuple[SearchIndex, dict[str, str]]:
    documents, titles = leistung_documents(LEIKA)
    return SearchIndex(documents, synonyms=SEED_SYNONYMS), titles


@pytest.mark.parametrize(
    ("query", "leika_key"),
    [
        ("personalausweis", "99008001000000"),
        ("Persnalausweis", "99008001000000"),
        ("kindergeld", "99041008000000"),
        ("Kindergelt", "99041008000000"),
        ("wohngeld", "99107023000000"),
        ("Wohngled", "99107023000000"),
        ("elterngeld", "99041006000000"),
        ("baugenehmigung", "99012008000000"),
        ("hund anmelden", "99110009104000"),
        ("fuehrerschein", "99023001000000"),
        ("fuhrerschein", "99023001000000"),
        ("führerschein verloren", "99023001036003"),
        ("gewerbe anmelden", "99050012104000"),
        ("wohnsitz anmelden", "99115005104000"),
        ("eheschliessung", "99059001000000"),
        ("geburtsurkunde", "99027002000000"),
        ("reisepass", "99085001000000"),
        ("perso beantragen", "99008001012000"),
    ],
)
def test_obvious_queries_find_their_leistung_in_the_top_three(
    catalogue: tuple[SearchIndex, dict[str, str]], query: str, leika_key: str
) -> None:
    index, titles = catalogue
    top = [hit.id for hit in index.search(query, limit=3).hits]
    assert leika_key in top, (query, titles[leika_key], [titles[key] for key in top])


def test_every_judged_key_exists(catalogue: tuple[SearchIndex, dict[str, str]]) -> None:
    _, titles = catalogue
    judgements = load_judgements()
    assert len(judgements) >= 60
    assert {key for judgement in judgements for key in judgement.relevant} <= titles.keys()


def test_relevance_set_quality(catalogue: tuple[SearchIndex, dict[str, str]]) -> None:
    index, _ = catalogue
    results = [
        quality([hit.id for hit in index.search(judgement.query, limit=10).hits], judgement.relevant)
        for judgement in load_judgements()
    ]
    assert statistics.fmean(result.precision_at_3 for result in results) >= 0.88
    assert statistics.fmean(result.reciprocal_rank for result in results) >= 0.93
