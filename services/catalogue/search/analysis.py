"""German text analysis: words, case and umlaut folding, Snowball stemming, stop words.

Every word is seen in two forms. Its *surface* is the word folded: lower case, umlauts and accents
dropped (``ä`` → ``a``), ``ß`` → ``ss``; suggestions, compound splitting and typo tolerance work on
surfaces. Its *stem* is the Snowball German stem, folded the same way; the index matches stems.
Snowball reads ``ae``/``oe``/``ue`` as umlauts, so "Fuehrerschein", "Führerschein" and
"Fuhrerschein" share the stem ``fuhrerschein``: ``ä`` is found by ``a`` and by ``ae`` alike.

Two rules on top of Snowball let citizens' verbs find the nouns of the catalogue's names, where
Snowball keeps them apart: a stem still ending in ``ung`` loses it ("Befreiung" → ``befrei`` as
"befreien"), and a noun in ``-erung`` loses the ``er`` Snowball leaves ("Verlängerung" →
``verlang`` as "verlängern", "Reservierung" → ``reservi`` as "reservieren").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from typing import Final, NamedTuple

import Stemmer  # type: ignore[import-not-found]  # PyStemmer ships no type information

#: Longer words are cut to this many characters (the longest German law names fit).
MAX_WORD_LENGTH: Final = 64

_WORD = re.compile(r"[^\W_]+")
_FAST_FOLD = str.maketrans({"ä": "a", "ö": "o", "ü": "u", "ß": "ss", "ẞ": "ss", "é": "e", "è": "e", "à": "a"})
_STEMMER = Stemmer.Stemmer("german")
#: What is left of a noun once -ung (-erung) is gone is at least this long ("prüf", "wohn"; "and").
_MIN_UNG_STEM = 4
_MIN_ERUNG_STEM = 3
_ERUNG = ("erung", "erungen")


def fold(text: str) -> str:
    """Lower-case `text` and drop umlauts, accents and ``ß`` (``"Straße Ä"`` → ``"strasse a"``)."""
    lowered = text.lower().translate(_FAST_FOLD)
    if lowered.isascii():
        return lowered
    # Compatibility forms may decompose to capitals (mathematical letters), and lower-casing to accents.
    decomposed = unicodedata.normalize("NFKD", lowered).lower().translate(_FAST_FOLD)
    decomposed = unicodedata.normalize("NFKD", decomposed)
    return "".join(character for character in decomposed if not unicodedata.combining(character))


def _fold_words(words: str) -> frozenset[str]:
    return frozenset(fold(word) for word in words.split())


#: The Snowball German stop words, folded ("weg" is left out: it is also the noun "Weg").
STOP_WORDS: Final = _fold_words(
    """aber alle allem allen aller alles als also am an ander andere anderem anderen anderer anderes
    anderm andern anders auch auf aus bei bin bis bist da damit dann der den des dem die das dass daß
    du dich dir dein deine deinem deinen deiner deines denn derer dessen dies diese diesem diesen
    dieser dieses doch dort durch ein eine einem einen einer eines einig einige einigem einigen
    einiger einiges einmal er ihn ihm es etwas euer eure eurem euren eurer eures für gegen gewesen
    hab habe haben hat hatte hatten hier hin hinter ich mich mir ihr ihre ihrem ihren ihrer ihres
    euch im in indem ins ist jede jedem jeden jeder jedes jene jenem jenen jener jenes jetzt kann
    kein keine keinem keinen keiner keines können könnte machen man manche manchem manchen mancher
    manches mein meine meinem meinen meiner meines mit muss musste nach nicht nichts noch nun nur ob
    oder ohne sehr sein seine seinem seinen seiner seines selbst sich sie ihnen sind so solche
    solchem solchen solcher solches soll sollte sondern sonst über um und uns unsere unserem
    unseren unser unseres unter viel vom von vor während war waren warst was weil weiter welche
    welchem welchen welcher welches wenn werde werden wie wieder will wir wird wirst wo wollen
    wollte würde würden zu zum zur zwar zwischen"""
)


class Token(NamedTuple):
    """A word of a text: as written, folded (its surface) and stemmed."""

    text: str
    surface: str
    stem: str


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The folded Snowball German stem of one word (``"Anmeldungen"`` → ``"anmeld"``)."""
    lowered = word.lower()
    if lowered.isdigit():
        return fold(lowered)
    stemmed = fold(_STEMMER.stemWord(lowered))
    if stemmed.endswith("ung") and len(stemmed) >= _MIN_UNG_STEM + 3:
        return stemmed[:-3]
    if stemmed.endswith("er") and len(stemmed) >= _MIN_ERUNG_STEM + 2 and fold(lowered).endswith(_ERUNG):
        return stemmed[:-2]
    return stemmed


def tokens(text: str, *, limit: int | None = None) -> Iterator[Token]:
    """The searchable words of `text` in order: no stop words, no single letters, at most `limit`."""
    produced = 0
    for match in _WORD.finditer(text):
        if limit is not None and produced >= limit:
            return
        word = match.group()[:MAX_WORD_LENGTH]
        analysed = _analyse_word(word)
        if analysed is None:
            continue
        produced += 1
        yield Token(word, *analysed)


@lru_cache(maxsize=200_000)
def _analyse_word(word: str) -> tuple[str, str] | None:
    surface = fold(word)
    if surface in STOP_WORDS or (len(surface) < 2 and not surface.isdigit()):
        return None
    return surface, stem(word)


def stems(text: str) -> tuple[str, ...]:
    """The stems of `text`'s searchable words (for synonyms and tests)."""
    return tuple(token.stem for token in tokens(text))
