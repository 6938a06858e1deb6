"""Synonyms maintained by editors: every word of a group stands for every other, both ways.

A group is a :class:`contracts.catalogue.Synonym` (a Begriff and its Synonyme); each entry may be a
phrase ("Wohnsitz anmelden"). Phrases are matched on stems, so "ummelden", "Ummeldung" and
"ummeldungen" all hit the entry "Ummeldung". The table is applied to queries only, so replacing it
(:meth:`SearchIndex.set_synonyms`) needs no re-indexing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from contracts.catalogue import Synonym
from services.catalogue.search.analysis import Token, tokens

#: Longer phrases are ignored: a synonym is a word or a short phrase.
MAX_PHRASE_TERMS: Final = 6

#: A phrase as its words (its stems are the key it is found by).
Phrase = tuple[Token, ...]


@dataclass(frozen=True, slots=True)
class SynonymSpan:
    """Query terms ``[start, end)`` that form a phrase of a group, and the group's other phrases."""

    start: int
    end: int
    alternatives: tuple[Phrase, ...]


def _stems(phrase: Phrase) -> tuple[str, ...]:
    return tuple(token.stem for token in phrase)


class SynonymTable:
    """The editors' synonym groups, looked up by the stems of a query."""

    def __init__(self, synonyms: Iterable[Synonym] = ()) -> None:
        groups: dict[tuple[str, ...], dict[tuple[str, ...], Phrase]] = {}
        for synonym in synonyms:
            phrases = {
                _stems(phrase): phrase
                for phrase in (tuple(tokens(text)) for text in (synonym.begriff, *synonym.synonyme))
                if 0 < len(phrase) <= MAX_PHRASE_TERMS
            }
            for key in phrases:
                others = groups.setdefault(key, {})
                others.update((other, phrase) for other, phrase in phrases.items() if other != key)
        self._alternatives: dict[tuple[str, ...], tuple[Phrase, ...]] = {
            key: tuple(others[other] for other in sorted(others)) for key, others in groups.items() if others
        }
        lengths: dict[str, set[int]] = {}
        for key in self._alternatives:
            lengths.setdefault(key[0], set()).add(len(key))
        self._lengths_by_first = {first: sorted(found, reverse=True) for first, found in lengths.items()}

    def __len__(self) -> int:
        return len(self._alternatives)

    def starts_phrase(self, stem: str) -> bool:
        """Whether some phrase of the table starts with `stem`."""
        return stem in self._lengths_by_first

    def spans(self, query_stems: Sequence[str]) -> list[SynonymSpan]:
        """The phrases found in `query_stems`, longest match first, not overlapping."""
        found: list[SynonymSpan] = []
        position = 0
        while position < len(query_stems):
            for length in self._lengths_by_first.get(query_stems[position], ()):
                phrase = tuple(query_stems[position : position + length])
                alternatives = self._alternatives.get(phrase)
                if alternatives is not None:
                    found.append(SynonymSpan(position, position + length, alternatives))
                    position += length
                    break
            else:
                position += 1
        return found
