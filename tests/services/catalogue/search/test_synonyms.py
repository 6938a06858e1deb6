"""Editors' synonyms: both ways, phrases, replaced at runtime; the engine ships none of its own."""

from contracts.catalogue import Synonym
from services.catalogue.search import SearchIndex
from services.catalogue.search.synonyms import SynonymTable
from tests.services.catalogue.search.corpus import LEISTUNGEN, document, ids

#: The citizens' words of the relevance benchmark's seed list, as editor data.
SEED = [
    Synonym(begriff="Personalausweis", synonyme=["Perso"]),
    Synonym(begriff="Führerschein", synonyme=["Fahrerlaubnis"]),
    Synonym(begriff="Bürgergeld", synonyme=["Hartz IV", "Arbeitslosengeld II"]),
    Synonym(begriff="Ummeldung", synonyme=["Wohnsitz anmelden"]),
]


def test_a_citizens_word_finds_the_official_one() -> None:
    index = SearchIndex(LEISTUNGEN, synonyms=SEED)
    assert ids(index.search("Perso").hits)[0] == "pa"
    assert ids(index.search("perso beantragen").hits)[0] == "pa"


def test_synonyms_work_both_ways() -> None:
    index = SearchIndex(LEISTUNGEN, synonyms=SEED)
    assert set(ids(index.search("Führerschein").hits)) == {"fs", "fe"}
    assert set(ids(index.search("Fahrerlaubnis").hits)) == {"fs", "fe"}


def test_the_word_itself_ranks_before_its_synonym() -> None:
    index = SearchIndex(
        [document("fs", "Führerschein Umtausch"), document("fe", "Fahrerlaubnis Umtausch")], synonyms=SEED
    )
    assert ids(index.search("Führerschein").hits) == ["fs", "fe"]
    assert ids(index.search("Fahrerlaubnis").hits) == ["fe", "fs"]


def test_phrase_synonyms_match_all_their_words() -> None:
    corpus = [*LEISTUNGEN, document("alg", "Arbeitslosengeld II Bewilligung"), document("alg1", "Arbeitslosengeld")]
    index = SearchIndex(corpus, synonyms=SEED)
    assert ids(index.search("ummelden").hits)[0] == "ws"
    assert ids(index.search("Bürgergeld").hits) == ["alg"], "'Arbeitslosengeld' alone is not 'Arbeitslosengeld II'"
    assert ids(index.search("hartz iv").hits) == ["alg"]


def test_synonyms_are_replaced_at_runtime() -> None:
    index = SearchIndex(LEISTUNGEN)
    assert "pa" not in ids(index.search("Ausweisdokument").hits)
    index.set_synonyms([Synonym(begriff="Ausweisdokument", synonyme=["Personalausweis"])])
    assert ids(index.search("Ausweisdokument").hits)[0] == "pa"
    index.set_synonyms([])
    assert "pa" not in ids(index.search("Ausweisdokument").hits)


def test_no_synonyms_are_built_in() -> None:
    index = SearchIndex(LEISTUNGEN)
    assert "fe" not in ids(index.search("Führerschein").hits)
    assert "fs" not in ids(index.search("Fahrerlaubnis").hits)


def test_table_finds_the_longest_phrase_first() -> None:
    table = SynonymTable(
        [
            Synonym(begriff="Wohnsitz anmelden", synonyme=["Ummeldung"]),
            Synonym(begriff="Wohnsitz", synonyme=["Wohnort"]),
        ]
    )
    (span,) = table.spans(("wohnsitz", "anmeld", "heut"))
    assert (span.start, span.end) == (0, 2)
    assert [[token.stem for token in phrase] for phrase in span.alternatives] == [["ummeld"]]
    assert len(table) == 4
    assert table.starts_phrase("wohnsitz") and not table.starts_phrase("anmeld")
