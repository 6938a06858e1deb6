"""The words the index has seen: for compound splitting, completion and typo correction.

Words are only ever added: a word whose documents are all gone stays known, but finds nothing, so
callers check a word's stem against the postings before they use it. The catalogue's language is
bounded, so the vocabulary stops growing soon after start-up.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable
from typing import Final

from services.catalogue.search.analysis import STOP_WORDS
from services.catalogue.search.compounds import MIN_PART, split_compound
from services.catalogue.search.fuzzy import TrigramIndex

#: Words are scanned at most this far when completing a prefix or a compound's tail.
MAX_SCANNED: Final = 2_000


class Vocabulary:
    """Surfaces (folded words) with their stems, sorted forwards and backwards, and by trigrams."""

    def __init__(self) -> None:
        self._stem_of: dict[str, str] = {}
        self._stems: set[str] = set()
        self._trigrams = TrigramIndex()
        self._forward: list[str] = []
        self._backward: list[str] = []
        self._sorted = True

    def add(self, surface: str, stem: str) -> None:
        """Learn a word (a folded surface) and its stem."""
        if surface in self._stem_of:
            return
        self._stem_of[surface] = stem
        if len(stem) >= MIN_PART and stem not in STOP_WORDS:
            self._stems.add(stem)
        self._trigrams.add(surface)
        self._forward.append(surface)
        self._backward.append(surface[::-1])
        self._sorted = False

    def stem_of(self, surface: str) -> str | None:
        """The stem of a known surface."""
        return self._stem_of.get(surface)

    def is_word(self, text: str) -> bool:
        """Whether `text` can stand as a part of a compound: a known word or stem, no stop word."""
        return text not in STOP_WORDS and (text in self._stem_of or text in self._stems)

    def split(self, surface: str) -> tuple[str, ...]:
        """The compound parts of `surface` (see :func:`split_compound`), or ``()``."""
        return split_compound(surface, self.is_word)

    def starting_with(self, prefix: str, limit: int, rank: Callable[[str], int]) -> list[str]:
        """Up to `limit` known words that start with `prefix` and are longer, best `rank` first."""
        self._sort()
        start = bisect.bisect_right(self._forward, prefix)
        scanned = self._forward[start : start + MAX_SCANNED]
        found = (word for word in _leading(scanned, prefix) if word != prefix)
        return heapq.nlargest(limit, found, key=rank)

    def ending_with(self, tail: str, limit: int, rank: Callable[[str], int]) -> list[str]:
        """Up to `limit` known compounds whose last part is `tail` ("Personal|ausweis"), best first."""
        self._sort()
        reversed_tail = tail[::-1]
        start = bisect.bisect_right(self._backward, reversed_tail)
        scanned = self._backward[start : start + MAX_SCANNED]
        found = (word[::-1] for word in _leading(scanned, reversed_tail) if len(word) >= len(tail) + MIN_PART)
        return heapq.nlargest(limit, found, key=rank)

    def similar(self, surface: str, max_edits: int) -> list[tuple[str, int]]:
        """Known words within `max_edits` of `surface`, closest first."""
        return self._trigrams.similar(surface, max_edits)

    def __len__(self) -> int:
        return len(self._stem_of)

    def prepare(self) -> None:
        """Sort what was added since the last lookup, now rather than in the next query."""
        self._sort()

    def _sort(self) -> None:
        # New words arrive in bursts (start-up, bulk publishing): sort once, not per word.
        if not self._sorted:
            self._forward.sort()
            self._backward.sort()
            self._sorted = True


def _leading(words: list[str], prefix: str) -> list[str]:
    taken: list[str] = []
    for word in words:
        if not word.startswith(prefix):
            break
        taken.append(word)
    return taken
