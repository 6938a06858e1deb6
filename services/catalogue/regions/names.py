"""Folding region names for prefix search that ignores case, umlauts and diacritics.

A name is kept in two folded forms, because people type umlauts both ways: "Muenchen" (the German
transliteration) and "Munchen" (umlaut dots dropped). A query matches when its own folding in either
form is a prefix of the name's folding in that form.
"""

from __future__ import annotations

import unicodedata

_TRANSLITERATION = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def _without_diacritics(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _squeezed(text: str) -> str:
    return " ".join(text.split())


def name_key(name: str) -> str:
    """The name folded with umlauts transliterated: "Göttingen" -> "goettingen"."""
    lowered = unicodedata.normalize("NFC", name).lower().translate(_TRANSLITERATION)
    return _squeezed(_without_diacritics(lowered).casefold())


def name_plain(name: str) -> str:
    """The name folded with umlauts as plain vowels: "Göttingen" -> "gottingen"."""
    return _squeezed(_without_diacritics(name).casefold())
