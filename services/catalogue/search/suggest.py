"""Suggestions as you type: names that start with what was typed, then words that complete it.

Every entry is a folded key in one sorted list, so a prefix is one binary search away. An entry is
a document's name, a name found by one of its later words ("ausstellung" → "Personalausweis
Ausstellung"; "xdorf" → "Gemeindeverwaltung Xdorf"), or a word of the names, which completes a
single typed word. Several typed words match consecutive words of a name, each as a prefix ("hund
anm" → "Hundehaltung Anmeldung"). Umlauts fold ("fuhrer" → "Führerschein"); when nothing starts
with a longer typed word, its spellings one edit away that start some entry are tried instead
("persnala" → "Personalausweis").
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from typing import Final

from services.catalogue.search.analysis import fold

#: At most this many entries are read per lookup.
MAX_SCANNED: Final = 400
MAX_PREFIX_CHARACTERS: Final = 100
#: Fewer typed characters get no suggestions: one letter says too little.
MIN_TYPED: Final = 2
#: Typed words this long are corrected when nothing starts with them.
MIN_CORRECTED_LENGTH: Final = 5
MAX_CORRECTED_LENGTH: Final = 24
MAX_CORRECTIONS: Final = 3
#: Names are found by their first words only; words are completed from this length on.
MAX_LATER_WORDS: Final = 6
MIN_WORD_LENGTH: Final = 4

_NAME, _LATER, _WORD = "1", "2", "3"
_SEPARATOR = "\x00"
_PUNCTUATION = ".,;:()[]\"'/"
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _key(text: str) -> str:
    return " ".join(fold(text).replace("-", " ").split())


class Suggester:
    """The entries of suggestion, counted so that the names of removed documents go away."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._keys: list[str] = []
        self._sorted = True
        self._dead = 0

    def add(self, names: Iterable[str]) -> None:
        """Add a document's names (its title and alt titles)."""
        for entry in _entries(names):
            count = self._counts.get(entry, 0)
            self._counts[entry] = count + 1
            if count == 0:
                self._keys.append(entry)
                self._sorted = False

    def remove(self, names: Iterable[str]) -> None:
        """Take back what :meth:`add` added for the same names."""
        for entry in _entries(names):
            count = self._counts.get(entry, 0)
            if count > 1:
                self._counts[entry] = count - 1
            elif self._counts.pop(entry, None) is not None:
                self._dead += 1

    def prepare(self) -> None:
        """Sort new entries and drop removed ones, now rather than in the next lookup."""
        if self._dead > len(self._keys) // 4:
            self._keys = [entry for entry in self._keys if entry in self._counts]
            self._dead = 0
        if not self._sorted:
            self._keys.sort()
            self._sorted = True

    def suggest(self, prefix: str, limit: int) -> list[str]:
        """Up to `limit` suggestions for the typed `prefix` (see the module's docstring)."""
        prefix = prefix[:MAX_PREFIX_CHARACTERS]
        words = _key(prefix).split()
        if not words or len(" ".join(words)) < MIN_TYPED or limit <= 0:
            return []
        self.prepare()
        found = self._complete(words, limit)
        if not found and len(words[-1]) >= MIN_CORRECTED_LENGTH:
            for corrected in self._corrections(words[-1][:MAX_CORRECTED_LENGTH]):
                found.extend(self._complete([*words[:-1], corrected], limit))
        return list(dict.fromkeys(found))[:limit]

    def _corrections(self, word: str) -> list[str]:
        """Prefixes of entries one edit away from `word` (not at its end: the word is still being typed)."""
        candidates: set[str] = set()
        for position in range(len(word)):
            head, tail = word[:position], word[position:]
            if len(tail) > 1:
                candidates.add(head + tail[1:])
                candidates.add(head + tail[1] + tail[0] + tail[2:])
            for letter in _LETTERS:
                candidates.add(head + letter + tail[1:])
                candidates.add(head + letter + tail)
        candidates.discard(word)
        found = sorted(candidate for candidate in candidates if self._has_prefix(candidate))
        return found[:MAX_CORRECTIONS]

    def _has_prefix(self, prefix: str) -> bool:
        position = bisect.bisect_left(self._keys, prefix)
        return position < len(self._keys) and self._keys[position].startswith(prefix)

    def _complete(self, words: list[str], limit: int) -> list[str]:
        typed = " ".join(words)
        # Names that start with the typed text, then names whose words the typed words start.
        names = {(kind, len(display), display) for _, kind, display in self._scan(typed) if kind != _WORD}
        if len(names) < limit and len(words) > 1:
            names.update(
                (kind, len(display), display)
                for key, kind, display in self._scan(words[0])
                if kind != _WORD and _continues(key.split(), words)
            )
        found = [display for _, _, display in sorted(names)]
        if len(found) < limit and len(words) == 1:
            completions = [
                (-self._counts.get(f"{key}{_SEPARATOR}{kind}{_SEPARATOR}{display}", 0), display)
                for key, kind, display in self._scan(typed)
                if kind == _WORD
            ]
            found += [display for _, display in sorted(completions)]
        return list(dict.fromkeys(found))[:limit]

    def _scan(self, prefix: str) -> list[tuple[str, str, str]]:
        """The live entries whose key starts with `prefix`, as (key, kind, display)."""
        start = bisect.bisect_left(self._keys, prefix)
        found: list[tuple[str, str, str]] = []
        for entry in self._keys[start : start + MAX_SCANNED]:
            if not entry.startswith(prefix):
                break
            if entry in self._counts:
                key, kind, display = entry.split(_SEPARATOR, 2)
                found.append((key, kind, display))
        return found


def _continues(key_words: list[str], typed: list[str]) -> bool:
    """Whether each typed word starts the name's word at the same place."""
    return len(key_words) >= len(typed) and all(
        word.startswith(part) for word, part in zip(key_words, typed, strict=False)
    )


def _entries(names: Iterable[str]) -> set[str]:
    entries: set[str] = set()
    for name in names:
        display = " ".join(name.split())
        key = _key(display)
        if not key:
            continue
        entries.add(f"{key}{_SEPARATOR}{_NAME}{_SEPARATOR}{display}")
        words = display.replace("-", " ").split()
        for position, word in enumerate(words[:MAX_LATER_WORDS]):
            word = word.strip(_PUNCTUATION)
            folded = fold(word)
            if len(folded) < MIN_WORD_LENGTH or not folded.isalnum():
                continue
            entries.add(f"{folded}{_SEPARATOR}{_WORD}{_SEPARATOR}{word}")
            if position:
                entries.add(f"{_key(' '.join(words[position:]))}{_SEPARATOR}{_LATER}{_SEPARATOR}{display}")
    return entries
