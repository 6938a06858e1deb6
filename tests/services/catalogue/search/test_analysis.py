"""German analysis: folding, stemming, stop words, and the analyser's guarantees on any input."""

import string

from hypothesis import given
from hypothesis import strategies as st

from services.catalogue.search.analysis import MAX_WORD_LENGTH, STOP_WORDS, fold, stem, stems, tokens


def test_fold_lowers_and_drops_umlauts_accents_and_sharp_s() -> None:
    assert fold("Straße Äpfel ÖL Über") == "strasse apfel ol uber"
    assert fold("Café Señor ẞ") == "cafe senor ss"
    assert fold("ﬁnanz") == "finanz"


def test_umlaut_is_found_by_plain_vowel_and_by_vowel_e() -> None:
    assert stem("Führerschein") == stem("Fuehrerschein") == stem("Fuhrerschein")
    assert stem("Gebühren") == stem("Gebuehren") == stem("Gebuhren")
    assert stem("Zuständigkeit") == stem("Zustaendigkeit")


def test_sharp_s_matches_double_s() -> None:
    assert stem("Eheschließung") == stem("Eheschliessung")
    assert stem("Straße") == stem("Strasse")


def test_inflections_share_a_stem() -> None:
    assert stem("Anmeldung") == stem("anmelden") == stem("Anmeldungen")
    assert stem("Hunde") == stem("Hund")
    assert stem("Steuern") == stem("Steuer")


def test_verbs_find_their_ung_nouns() -> None:
    assert stem("verlängern") == stem("Verlängerung")
    assert stem("ändern") == stem("Änderung") == stem("Änderungen")
    assert stem("befreien") == stem("Befreiung")
    assert stem("reservieren") == stem("Reservierung")
    assert stem("prüfen") == stem("Prüfung")


def test_stop_words_and_single_letters_are_dropped() -> None:
    assert stems("Ich will meinen Ausweis für die Reise a") == (stem("Ausweis"), stem("Reise"))
    assert "weg" not in STOP_WORDS, "Weg is also a noun"


def test_tokens_keep_the_written_word_and_numbers() -> None:
    words = list(tokens("§ 882g ZPO, Führerschein-Klasse C1E"))
    assert [word.text for word in words] == ["882g", "ZPO", "Führerschein", "Klasse", "C1E"]
    assert [word.surface for word in words] == ["882g", "zpo", "fuhrerschein", "klasse", "c1e"]


def test_long_words_are_cut() -> None:
    (word,) = tokens("x" * 10_000)
    assert len(word.text) == MAX_WORD_LENGTH


def test_limit_bounds_the_words() -> None:
    assert len(list(tokens("wort " * 1000, limit=12))) == 12


_FOLDED_ALPHABET = set(string.ascii_lowercase + string.digits)


@given(st.text(max_size=300))
def test_any_text_is_analysed_into_folded_words(text: str) -> None:
    for word in tokens(text):
        assert word.surface == fold(word.surface)
        assert word.stem == fold(word.stem)
        assert not set("äöüßÄÖÜ") & set(word.surface + word.stem)
        assert word.surface == word.surface.lower()
        assert word.surface not in STOP_WORDS
        assert 0 < len(word.text) <= MAX_WORD_LENGTH


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzäöüßÄÖÜABC -", max_size=80))
def test_german_text_folds_to_plain_letters(text: str) -> None:
    for word in tokens(text):
        assert set(word.surface) <= _FOLDED_ALPHABET
        assert set(word.stem) <= _FOLDED_ALPHABET
