"""Typo tolerance: one edit from four letters, two from eight; exact matches first."""

from hypothesis import given
from hypothesis import strategies as st

from services.catalogue.search import SearchIndex
from services.catalogue.search.fuzzy import TrigramIndex, allowed_edits, edit_distance
from tests.services.catalogue.search.corpus import LEISTUNGEN, document, ids


def test_misspelt_names_find_their_leistung() -> None:
    index = SearchIndex(LEISTUNGEN)
    assert ids(index.search("Persnalausweis").hits)[0] == "pa"
    assert ids(index.search("Wohngled").hits)[0] == "wg"
    assert ids(index.search("Kindergelt").hits)[0] == "kg"
    assert ids(index.search("Füherschein").hits)[0] == "fs"


def test_the_corrected_query_is_reported() -> None:
    index = SearchIndex(LEISTUNGEN)
    result = index.search("wohngled beantragen")
    assert result.corrected_query == "wohngeld beantragen"
    assert index.search("Wohngeld").corrected_query is None


def test_short_words_are_not_corrected() -> None:
    index = SearchIndex([document("eh", "Ehe"), document("amt", "Amt")])
    assert index.search("Eha").total == 0
    assert allowed_edits("abc") == 0
    assert allowed_edits("abcd") == 1
    assert allowed_edits("abcdefgh") == 2


def test_two_edits_only_for_long_words() -> None:
    index = SearchIndex([document("kg", "Kindergeld"), document("hund", "Hund")])
    assert ids(index.search("Kindrgelt").hits) == ["kg"]
    assert index.search("Hnt").total == 0
    assert index.search("Hnnt").total == 0, "two edits in a four-letter word"


def test_exact_match_outranks_a_correction() -> None:
    index = SearchIndex([document("bund", "Bund"), document("hund", "Hund Anmeldung")])
    assert ids(index.search("Hund").hits) == ["hund"], "an existing word is not corrected to another"
    index = SearchIndex([document("a", "Kindergeld"), document("b", "Kindergelt Sonderfall")])
    assert ids(index.search("Kindergelt").hits)[0] == "b"


def test_transposed_letters_are_one_edit() -> None:
    assert edit_distance("wohngeld", "wohngled", 2) == 1
    assert edit_distance("abc", "abc", 1) == 0
    assert edit_distance("abcdef", "ghijkl", 2) == 3


@given(st.text(alphabet="abcde", max_size=8), st.text(alphabet="abcde", max_size=8), st.integers(0, 3))
def test_edit_distance_is_symmetric_and_bounded(first: str, second: str, limit: int) -> None:
    distance = edit_distance(first, second, limit)
    assert distance == edit_distance(second, first, limit)
    assert 0 <= distance <= limit + 1
    assert (distance == 0) == (first == second)


def test_trigram_index_finds_words_within_the_distance() -> None:
    words = TrigramIndex()
    for word in ("personalausweis", "personenstand", "reisepass", "wohngeld"):
        words.add(word)
    assert words.similar("persnalausweis", 2) == [("personalausweis", 1)]
    assert words.similar("wohngeld", 1) == [], "the word itself is no correction"
    assert len(words) == 4
