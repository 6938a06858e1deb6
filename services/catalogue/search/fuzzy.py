"""Typo tolerance: bounded edit distance and a trigram index to find candidate words fast.

A word with at most `d` edits (insert, delete, substitute, swap two neighbours) shares all but at
most ``3 * d`` of its padded trigrams with the original, so counting shared trigrams narrows ten
thousand words down to a handful before any distance is computed.
"""

from __future__ import annotations

from array import array
from typing import Final

#: Words shorter than this are never corrected; up to 7 letters allow one edit, longer ones two.
MIN_FUZZY_LENGTH: Final = 4
TWO_EDITS_FROM: Final = 8
#: At most this many candidates are checked with the full distance, best trigram overlap first.
MAX_VERIFIED: Final = 200


def allowed_edits(word: str) -> int:
    """How many edits a word of this length may carry and still be corrected."""
    if len(word) < MIN_FUZZY_LENGTH:
        return 0
    return 2 if len(word) >= TWO_EDITS_FROM else 1


def edit_distance(first: str, second: str, limit: int) -> int:
    """Optimal-string-alignment distance of the two words, or ``limit + 1`` once it exceeds `limit`."""
    if abs(len(first) - len(second)) > limit:
        return limit + 1
    if first == second:
        return 0
    previous_previous: list[int] = []
    previous = list(range(len(second) + 1))
    for i, a in enumerate(first, start=1):
        current = [i] + [0] * len(second)
        row_minimum = i
        for j, b in enumerate(second, start=1):
            cost = 0 if a == b else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a == second[j - 2] and first[i - 2] == b:
                value = min(value, previous_previous[j - 2] + 1)
            current[j] = value
            row_minimum = min(row_minimum, value)
        if row_minimum > limit:
            return limit + 1
        previous_previous, previous = previous, current
    return min(previous[-1], limit + 1)


def trigrams(word: str) -> set[str]:
    """The trigrams of ``$word$``."""
    padded = f"${word}$"
    return {padded[i : i + 3] for i in range(max(1, len(padded) - 2))}


class TrigramIndex:
    """Words by their trigrams; words are only ever added (a removed word simply finds no documents)."""

    def __init__(self) -> None:
        self._words: list[str] = []
        self._ids: dict[str, int] = {}
        self._by_trigram: dict[str, array[int]] = {}

    def add(self, word: str) -> None:
        """Remember `word` (once)."""
        if word in self._ids:
            return
        number = len(self._words)
        self._ids[word] = number
        self._words.append(word)
        for trigram in trigrams(word):
            numbers = self._by_trigram.get(trigram)
            if numbers is None:
                numbers = self._by_trigram[trigram] = array("I")
            numbers.append(number)

    def similar(self, word: str, max_edits: int) -> list[tuple[str, int]]:
        """Known words within `max_edits` of `word` (itself excluded), closest first."""
        if max_edits <= 0:
            return []
        grams = trigrams(word)
        shared: dict[int, int] = {}
        for gram in grams:
            for number in self._by_trigram.get(gram, ()):
                shared[number] = shared.get(number, 0) + 1
        needed = max(1, len(grams) - 3 * max_edits)
        candidates = sorted(
            (number for number, count in shared.items() if count >= needed),
            key=shared.__getitem__,
            reverse=True,
        )[:MAX_VERIFIED]
        found: list[tuple[str, int]] = []
        for number in candidates:
            candidate = self._words[number]
            if candidate == word:
                continue
            distance = edit_distance(word, candidate, max_edits)
            if distance <= max_edits:
                found.append((candidate, distance))
        found.sort(key=lambda item: item[1])
        return found

    def __len__(self) -> int:
        return len(self._words)
