"""Incremental updates: upsert and remove take effect at once, without stale hits or counts."""

from contracts.catalogue import Synonym
from services.catalogue.search import SearchIndex
from tests.services.catalogue.search.corpus import LEISTUNGEN, document, ids


def test_upsert_adds_and_replaces() -> None:
    index = SearchIndex(LEISTUNGEN)
    assert index.search("Bibliotheksausweis").total == 0
    index.upsert(document("bib", "Bibliotheksausweis"))
    assert ids(index.search("Bibliotheksausweis").hits) == ["bib"]
    index.upsert(document("bib", "Leseausweis"))
    assert index.search("Bibliotheksausweis").total == 0, "the old title is gone"
    assert ids(index.search("Leseausweis").hits) == ["bib"]
    assert len(index) == len(LEISTUNGEN) + 1
    assert "bib" in index


def test_remove_leaves_no_stale_hits_counts_or_suggestions() -> None:
    index = SearchIndex(LEISTUNGEN)
    assert index.search("Kindergeld").facets["online"] == {"true": 1}
    assert "Kindergeld" in index.suggest("kinder")
    assert index.remove("kg")
    assert index.search("Kindergeld").total == 0
    assert index.search("", filters={"online": ["true"]}).total == 1
    assert "Kindergeld" not in index.suggest("kinder")
    assert not index.remove("kg")
    assert index.document_frequency("kindergeld") == 0


def test_cached_results_do_not_outlive_a_change() -> None:
    index = SearchIndex(LEISTUNGEN)
    first = index.search("Wohngeld")
    assert index.search("Wohngeld") is first, "repeated queries are answered from the cache"
    index.upsert(document("wg2", "Wohngeld Zahlung"))
    assert set(ids(index.search("Wohngeld").hits)) == {"wg", "wg2"}
    index.remove("wg2")
    assert ids(index.search("Wohngeld").hits) == ["wg"]
    index.set_synonyms([Synonym(begriff="Wohngeld", synonyme=["Mietzuschuss"])])
    assert ids(index.search("Mietzuschuss").hits) == ["wg"]


def test_caching_can_be_off() -> None:
    index = SearchIndex(LEISTUNGEN, caching=False)
    assert index.search("Wohngeld") is not index.search("Wohngeld")


def test_an_index_built_at_once_equals_one_built_document_by_document() -> None:
    corpus = [*LEISTUNGEN, document("gw", "Gewerbe Anmeldung", body="Gewerbeanmeldung beim Gewerbeamt")]
    at_once = SearchIndex(corpus, caching=False)
    one_by_one = SearchIndex(caching=False)
    for item in corpus:
        one_by_one.upsert(item)
    for query in ("Anmeldung", "Hund", "Kindergeld beantragen", "Gewerbe", "Ausweis"):
        assert ids(at_once.search(query).hits) == ids(one_by_one.search(query).hits), query


def test_removing_and_readding_everything_restores_the_results() -> None:
    index = SearchIndex(LEISTUNGEN, caching=False)
    before = [(hit.id, hit.score) for hit in index.search("Anmeldung").hits]
    for item in LEISTUNGEN:
        index.remove(item.id)
    assert len(index) == 0
    assert index.statistics()["postings"] == 0
    assert index.search("Anmeldung").total == 0
    index.upsert_many(LEISTUNGEN)
    assert [(hit.id, hit.score) for hit in index.search("Anmeldung").hits] == before


def test_duplicates_in_one_batch_keep_the_last() -> None:
    index = SearchIndex([document("x", "Erster Name"), document("x", "Zweiter Name")])
    assert len(index) == 1
    assert index.search("Erster").total == 0
    assert ids(index.search("Zweiter").hits) == ["x"]
