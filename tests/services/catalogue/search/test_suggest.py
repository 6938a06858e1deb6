"""Suggestions as you type: names first, words next, umlauts folded, typos corrected, fast."""

import time

from services.catalogue.search import SearchIndex
from tests.services.catalogue.search.corpus import LEISTUNGEN, document

CORPUS = [
    *LEISTUNGEN,
    document("gv", "Gemeindeverwaltung Flintbek", kind="organisationseinheit"),
    document("sv", "Stadtverwaltung Flensburg", kind="organisationseinheit"),
]


def test_names_starting_with_the_prefix_shortest_first() -> None:
    index = SearchIndex(CORPUS)
    assert index.suggest("Personal") == ["Personalausweis", "Personalausweis Ausstellung"]


def test_umlauts_and_case_fold() -> None:
    index = SearchIndex(CORPUS)
    assert index.suggest("fuhrer")[0] == "Führerschein"
    assert index.suggest("FÜHRER")[0] == "Führerschein"


def test_later_words_find_names() -> None:
    index = SearchIndex(CORPUS)
    assert "Stadtverwaltung Flensburg" in index.suggest("flens")
    assert "Personalausweis Ausstellung" in index.suggest("ausstell")


def test_several_words_match_consecutive_words() -> None:
    index = SearchIndex(CORPUS)
    assert index.suggest("hund anm") == ["Hundehaltung Anmeldung"]
    assert index.suggest("wohnsitz an") == ["Wohnsitz Anmeldung"]
    assert index.suggest("gemeindeverwaltung fl") == ["Gemeindeverwaltung Flintbek"]


def test_names_by_later_words_then_words_completing_a_single_typed_word() -> None:
    index = SearchIndex([document("a", "Gebühr für Kopien"), document("b", "Beglaubigung von Kopien")])
    assert index.suggest("kop") == ["Gebühr für Kopien", "Beglaubigung von Kopien", "Kopien"]
    assert index.suggest("kop", limit=2) == ["Gebühr für Kopien", "Beglaubigung von Kopien"]


def test_typos_in_longer_words_are_corrected() -> None:
    index = SearchIndex(CORPUS)
    assert index.suggest("persnala")[0] == "Personalausweis"
    assert index.suggest("kindergelt") == ["Kindergeld"]
    assert index.suggest("xyzzy") == []
    assert index.suggest("kndr") == [], "short prefixes are not corrected"


def test_limit_and_tiny_prefixes() -> None:
    index = SearchIndex(CORPUS)
    assert index.suggest("p") == [], "one letter says too little"
    assert index.suggest("") == []
    assert index.suggest("   ") == []
    assert len(index.suggest("pe", limit=1)) == 1
    assert index.suggest("pe", limit=0) == []


def test_suggestions_take_well_under_a_millisecond() -> None:
    corpus = [*CORPUS, *(document(f"oe{n}", f"Gemeindeverwaltung Ort{n:05d}") for n in range(10_000))]
    index = SearchIndex(corpus)
    for prefix in ("gemeindeverwaltung o", "ort0", "pers", "persnala", "x" * 500):
        index.suggest(prefix)
        started = time.perf_counter()
        for _ in range(20):
            index.suggest(prefix)
        assert (time.perf_counter() - started) / 20 < 0.005, prefix
