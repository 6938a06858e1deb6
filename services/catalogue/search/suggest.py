"""Suggestions as you type: names that start with what was typed, then words that complete it.

Every entry is a folded key in one sorted list (so a prefix is one binary search away), marked
with its kind: a document's name, a word of the names (completing the last typed word), or a name
found by one of its later words ("ausstellung" → "Personalausweis Ausstellung"). Umlauts fold
("fuhrer" → "Führerschein"); a longer typed word with a typo is corrected against the vocabulary.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from typing import Final

from services.catalogue.search.analysis import fold
from services.catalogue.search.fuzzy import allowed_edits
from services.catalogue.search.vocabulary import Vocabulary

#: At most this many entries are read per lookup.
MAX_SCANNED: Final = 400
MAX_PREFIX_CHARACTERS: Final = 100
#: Typed words this long are corrected when too little starts with them.
MIN_CORRECTED_LENGTH: Final = 5
#: Names are found by their first words only.
MAX_LATER_WORDS: Final = 6
MIN_WORD_LENGTH: Final = 4

_NAME, _WORD, _LATER = "1", "2", "3"
_SEPARATOR = "\x00"


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
            if count <= 1:
                if self._counts.pop(entry, None) is not None:
                    self._dead += 1
            else:
                self._counts[entry] = count - 1

    def suggest(self, prefix: str, limit: int, vocabulary: Vocabulary) -> list[str]:
        """Up to `limit` suggestions for the typed `prefix` (see the module's docstring)."""
        typed = _key(prefix[:MAX_PREFIX_CHARACTERS])
        if not typed or limit <= 0:
            return []
        self._tidy()
        found = self._lookup(prefix[:MAX_PREFIX_CHARACTERS], typed, limit)
        last = typed.rsplit(" ", 1)[-1]
        if len(found) < limit and len(last) >= MIN_CORRECTED_LENGTH:
            head = typed[: len(typed) - len(last)]
            for corrected in vocabulary.similar_prefixes(last, allowed_edits(last))[:3]:
                for suggestion in self._lookup(prefix, head + corrected, limit):
                    if suggestion not in found:
                        found.append(suggestion)
        return found[:limit]

    def _lookup(self, prefix: str, typed: str, limit: int) -> list[str]:
        names: list[tuple[int, str]] = []
        words: list[tuple[int, str]] = []
        later: list[tuple[int, str]] = []
        last_start = typed.rfind(" ") + 1
        start = bisect.bisect_left(self._keys, typed)
        for entry in self._keys[start : start + MAX_SCANNED]:
            if not entry.startswith(typed):
                break
            count = self._counts.get(entry)
            if count is None:
                continue
            _, kind, display = entry.split(_SEPARATOR, 2)
            if kind == _NAME:
                names.append((len(display), display))
            elif kind == _LATER:
                later.append((len(display), display))
        if last_start or len(names) < limit:
            # Complete the last typed word with the words of the names, the most common first.
            last = typed[last_start:]
            written = prefix.rstrip()
            head = written[: written.rfind(" ") + 1]
            word_start = bisect.bisect_left(self._keys, last)
            for entry in self._keys[word_start : word_start + MAX_SCANNED]:
                if not entry.startswith(last):
                    break
                count = self._counts.get(entry)
                _, kind, display = entry.split(_SEPARATOR, 2)
                if count is not None and kind == _WORD:
                    words.append((-count, head + display))
        ordered = [display for _, display in sorted(names)]
        ordered += [display for _, display in sorted(words)]
        ordered += [display for _, display in sorted(later)]
        return list(dict.fromkeys(ordered))[:limit]

    def _tidy(self) -> None:
        if self._dead > len(self._keys) // 4:
            self._keys = [entry for entry in self._keys if entry in self._counts]
            self._dead = 0
        if not self._sorted:
            self._keys.sort()
            self._sorted = True


def _entries(names: Iterable[str]) -> set[str]:
    entries: set[str] = set()
    for name in names:
        display = " ".join(name.split())
        key = _key(display)
        if not key:
            continue
        entries.add(f"{key}{_SEPARATOR}{_NAME}{_SEPARATOR}{display}")
        words = display.replace("-", " ").split()
        for position, word in enumerate(words):
            word = word.strip(".,;:()[]\"'")
            folded = fold(word)
            if len(folded) >= MIN_WORD_LENGTH and folded.isalnum():
                entries.add(f"{folded}{_SEPARATOR}{_WORD}{_SEPARATOR}{word}")
            if 0 < position < MAX_LATER_WORDS and len(folded) >= MIN_WORD_LENGTH:
                later_key = _key(" ".join(words[position:]))
                entries.add(f"{later_key}{_SEPARATOR}{_LATER}{_SEPARATOR}{display}")
    return entries
