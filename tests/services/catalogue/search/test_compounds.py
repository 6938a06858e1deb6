"""Compound words: split against the index's own vocabulary, found by their parts and as parts."""

from services.catalogue.search import SearchIndex
from services.catalogue.search.compounds import split_compound
from tests.services.catalogue.search.corpus import LEISTUNGEN, document, ids

WORDS = {"personal", "ausweis", "personalausweis", "antrag", "hunde", "steuer", "bibliothek", "reise", "pass", "bau"}


def is_word(text: str) -> bool:
    return text in WORDS


def test_greedy_longest_match_first() -> None:
    assert split_compound("personalausweisantrag", is_word) == ("personalausweis", "antrag")
    assert split_compound("personalausweis", is_word) == ("personal", "ausweis")


def test_linking_morphemes() -> None:
    assert split_compound("bibliotheksausweis", is_word) == ("bibliothek", "ausweis")
    assert split_compound("hundesteuer", is_word) == ("hunde", "steuer")
    assert split_compound("reisenpass", is_word) == ("reise", "pass")


def test_backtracks_when_the_rest_does_not_split() -> None:
    words = {"baum", "bau", "genehmigung"}
    assert split_compound("baugenehmigung", words.__contains__) == ("bau", "genehmigung")


def test_no_split_without_known_parts_or_of_short_words() -> None:
    assert split_compound("personalxyz", is_word) == ()
    assert split_compound("passau", is_word) == ()
    assert split_compound("bau", is_word) == ()
    assert split_compound("personal", is_word) == (), "a word is not split into itself"


def test_a_part_finds_the_compound() -> None:
    index = SearchIndex([*LEISTUNGEN, document("aus", "Ausweispflicht"), document("bib", "Bibliotheksausweis")])
    found = ids(index.search("Ausweis").hits)
    assert {"pa", "bib", "aus"} <= set(found)
    assert ids(index.search("Steuer").hits)[0] == "hs"
    assert set(ids(index.search("Pass").hits)[:2]) == {"rp", "krp"}


def test_a_compound_of_known_words_finds_its_parts() -> None:
    index = SearchIndex([*LEISTUNGEN, document("wa", "Wohngeld Antrag")])
    assert ids(index.search("Personalausweisantrag").hits)[0] == "pa"
    assert ids(index.search("Hundehaltunganmeldung").hits)[0] == "ha"


def test_a_compound_of_unknown_words_is_not_split() -> None:
    index = SearchIndex(LEISTUNGEN)
    assert index.search("Personalausweisantrag").total == 0, "'Antrag' is no word of this index"


def test_the_tail_of_a_known_compound_finds_it() -> None:
    index = SearchIndex([*LEISTUNGEN, document("sba", "Schwerbehindertenausweis"), document("pk", "Parkplatz")])
    assert ids(index.search("Behindertenausweis").hits) == ["sba"]


def test_whole_words_outrank_parts() -> None:
    index = SearchIndex([document("hs", "Hundesteuer"), document("st", "Steuer"), document("gs", "Grundsteuer Erlass")])
    assert ids(index.search("Steuer").hits)[0] == "st"
