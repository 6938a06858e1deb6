"""Ranking: names beat body text, whole names beat longer ones, all words beat some, rare beats common."""

from services.catalogue.search import SearchIndex
from services.catalogue.search.ranking import RankingParameters, idf, title_bonus
from tests.services.catalogue.search.corpus import LEISTUNGEN, document, ids


def test_name_beats_short_names_beats_taxonomy_beats_body() -> None:
    index = SearchIndex(
        [
            document("body", "Sonstiges", body="Hier geht es auch um den Reisepass."),
            document("taxonomy", "Anderes", taxonomy="Reisepass"),
            document("alt", "Drittes", alt_titles=["Reisepass"]),
            document("title", "Reisepass"),
        ]
    )
    assert ids(index.search("Reisepass").hits) == ["title", "alt", "taxonomy", "body"]


def test_keywords_count_like_short_names() -> None:
    index = SearchIndex([document("kw", "Eins", keywords=["Pass"]), document("body", "Zwei", body="Pass")])
    assert ids(index.search("Pass").hits) == ["kw", "body"]


def test_the_plain_name_comes_before_its_variants() -> None:
    index = SearchIndex(
        [
            document("v2", "Wohngeld Bewilligung erneut"),
            document("plain", "Wohngeld"),
            document("v1", "Wohngeld Änderung"),
            document("other", "Pflegewohngeld"),
            document("care", "Pflege Beratung"),
        ]
    )
    found = ids(index.search("Wohngeld").hits)
    assert found == ["plain", "v1", "v2", "other"], "a compound with the word as its part comes last"


def test_documents_with_every_word_come_first() -> None:
    index = SearchIndex(LEISTUNGEN)
    found = ids(index.search("hund anmelden").hits)
    assert found[0] == "ha"
    assert set(found) >= {"ha", "hs", "ws", "eh"}


def test_names_starting_with_the_query_get_a_bonus() -> None:
    index = SearchIndex([document("late", "Erlaubnis für Hunde"), document("start", "Hunde Erlaubnis")])
    assert ids(index.search("Hunde").hits) == ["start", "late"]


def test_rare_words_weigh_more() -> None:
    assert idf(1, 1000) > idf(100, 1000) > idf(1000, 1000) >= 0
    corpus = [document(f"c{n}", f"Bescheinigung Nummer {n}") for n in range(20)]
    index = SearchIndex([*corpus, document("rare", "Apostille Bescheinigung Zusatz")])
    assert ids(index.search("Apostille Bescheinigung").hits)[0] == "rare"


def test_title_bonus_rewards_the_first_word_and_coverage() -> None:
    parameters = RankingParameters()
    assert title_bonus([], {"a"}, parameters) == 1.0
    full = title_bonus([("hund",)], {"hund"}, parameters)
    first = title_bonus([("hund",), ("anmeld",)], {"hund"}, parameters)
    later = title_bonus([("anmeld",), ("hund",)], {"hund"}, parameters)
    part = title_bonus([("hundehalt", "hund", "halt")], {"hund"}, parameters)
    assert full > first > later > 1.0
    assert first > part > 1.0


def test_scores_are_ordered_and_ties_broken_by_title() -> None:
    index = SearchIndex([document("b", "Zulassung B"), document("a", "Zulassung A")])
    hits = index.search("Zulassung").hits
    assert [hit.title for hit in hits] == ["Zulassung A", "Zulassung B"]
    assert hits[0].score == hits[1].score > 0
