"""A query turned into clauses: each query word (or synonym phrase) with the ways it may match.

A word the index knows matches itself, and, if it is a compound, its parts together with a lower
weight ("Briefwahlunterlagen" also finds "Briefwahl"). A word the index does not know is tried as a
compound of known words ("Personalausweisantrag" → "Personalausweis" + "Antrag"), as the last part
or the beginning of known compounds ("Behindertenausweis" → "Schwerbehindertenausweis";
"Führersch" → "Führerschein"), and, when none of these exists, as a typo of a known word
("Wohngled" → "Wohngeld"). A phrase from the editors' synonyms matches itself or any phrase of its
group, a one-word synonym the index lacks as a word being tried as a compound part or beginning too
("Abriss" → "Abbruch" → "Abbruchgenehmigung"). Each way has its weight, below the word's own, so
exact matches outrank the others.

The work is bounded whatever the input: the text is cut to :data:`MAX_QUERY_CHARACTERS`, at most
:data:`MAX_QUERY_TERMS` words are used, words are cut to 64 characters, and every expansion is capped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from services.catalogue.search.analysis import Token, stem, tokens
from services.catalogue.search.fuzzy import allowed_edits
from services.catalogue.search.ranking import RankingParameters
from services.catalogue.search.synonyms import SynonymSpan, SynonymTable
from services.catalogue.search.vocabulary import Vocabulary

MAX_QUERY_CHARACTERS: Final = 500
MAX_QUERY_TERMS: Final = 12
#: Known compounds and completions tried for one unknown word, the most frequent first.
MAX_EXPANSIONS: Final = 20
#: Corrections tried for one misspelt word, the closest first.
MAX_CORRECTIONS: Final = 3
#: Unknown words shorter than this are neither completed nor looked for inside compounds.
MIN_EXPANDED_LENGTH: Final = 4


@dataclass(frozen=True, slots=True)
class Alternative:
    """One way to match a clause: stems that must all occur (or, if `partial`, some), and its weight."""

    terms: tuple[str, ...]
    weight: float
    #: The known word a misspelt query word was corrected to.
    correction: str | None = None
    #: Whether a document with only some of the terms matches (in proportion), as for the words
    #: the user typed; a compound's parts and a synonym phrase only match together.
    partial: bool = False


@dataclass(frozen=True, slots=True)
class Clause:
    """A query word or synonym phrase, with the ways it may match (none: it matches nothing)."""

    text: str
    alternatives: tuple[Alternative, ...]


@dataclass(frozen=True, slots=True)
class QueryPlan:
    """The clauses of a query and, when a word was corrected, the query as corrected."""

    clauses: tuple[Clause, ...]
    corrected_query: str | None = None

    def terms(self) -> set[str]:
        """Every stem any clause may match."""
        return {term for clause in self.clauses for alternative in clause.alternatives for term in alternative.terms}


class _Planner:
    def __init__(self, vocabulary: Vocabulary, frequency: Callable[[str], int], parameters: RankingParameters) -> None:
        self.vocabulary = vocabulary
        self.frequency = frequency
        self.parameters = parameters

    def separate_compounds(self, words: list[Token], synonyms: SynonymTable) -> list[Token]:
        """Unknown compounds of known words as those words: "Kindergeldantrag" → "Kindergeld Antrag".

        Not when the word is inside a known compound ("Behindertenausweis") or starts a synonym.
        """
        separated: list[Token] = []
        for word in words:
            parts = (
                ()
                if self.frequency(word.stem) or synonyms.starts_phrase(word.stem)
                else self.vocabulary.split(word.surface)
            )
            if parts and not self.containing(word):
                separated.extend(Token(part, part, stem(part)) for part in parts)
            else:
                separated.append(word)
        return separated[:MAX_QUERY_TERMS]

    def containing(self, word: Token) -> list[str]:
        """Known compounds that end with `word`, the most frequent first."""
        if len(word.surface) < MIN_EXPANDED_LENGTH:
            return []
        return self.vocabulary.ending_with(word.surface, MAX_EXPANSIONS, self.rank)

    def synonym_clause(self, words: list[Token], span: SynonymSpan) -> Clause:
        covered = words[span.start : span.end]
        found = [Alternative(tuple(word.stem for word in covered), 1.0, partial=True)]
        for phrase in span.alternatives:
            if len(phrase) == 1:
                found.extend(self.word(phrase[0], self.parameters.synonym_weight, correct=False))
            elif all(self.frequency(token.stem) for token in phrase):
                found.append(Alternative(tuple(token.stem for token in phrase), self.parameters.synonym_weight))
        return Clause(" ".join(word.text for word in covered), self.live(found))

    def word(self, word: Token, scale: float = 1.0, *, correct: bool = True) -> tuple[Alternative, ...]:
        parameters = self.parameters
        parts = tuple(stem(part) for part in self.vocabulary.split(word.surface))
        if self.frequency(word.stem):
            found = [Alternative((word.stem,), scale)]
            if parts:
                found.append(Alternative(parts, scale * parameters.known_split_weight))
            return self.live(found)
        found = [Alternative(parts, scale * parameters.split_weight)] if parts else []
        if len(word.surface) >= MIN_EXPANDED_LENGTH:
            for compound in self.vocabulary.ending_with(word.surface, MAX_EXPANSIONS, self.rank):
                found.append(Alternative((self.stem_of(compound),), scale * parameters.compound_weight))
            for completion in self.vocabulary.starting_with(word.surface, MAX_EXPANSIONS, self.rank):
                found.append(Alternative((self.stem_of(completion),), scale * parameters.prefix_weight))
        alternatives = self.live(found)
        if alternatives or not correct:
            return alternatives
        return self.corrections(word, scale)

    def corrections(self, word: Token, scale: float) -> tuple[Alternative, ...]:
        candidates = [
            (candidate, distance, self.rank(candidate))
            for candidate, distance in self.vocabulary.similar(word.surface, allowed_edits(word.surface))
        ]
        candidates = sorted((c for c in candidates if c[2]), key=lambda c: (c[1], -c[2]))[:MAX_CORRECTIONS]
        weights = {1: self.parameters.fuzzy_weight, 2: self.parameters.fuzzy_weight_two_edits}
        return self.live(
            [
                Alternative((self.stem_of(candidate),), scale * weights[distance], correction=candidate)
                for candidate, distance, _ in candidates
            ]
        )

    def rank(self, surface: str) -> int:
        return self.frequency(self.stem_of(surface))

    def stem_of(self, surface: str) -> str:
        return self.vocabulary.stem_of(surface) or stem(surface)

    def live(self, alternatives: list[Alternative]) -> tuple[Alternative, ...]:
        """The alternatives that can match something, each set of terms once with its best weight."""
        best: dict[tuple[str, ...], Alternative] = {}
        for alternative in alternatives:
            present = [self.frequency(term) > 0 for term in alternative.terms]
            if not any(present) or not (alternative.partial or all(present)):
                continue
            known = best.get(alternative.terms)
            if known is None or alternative.weight > known.weight:
                best[alternative.terms] = alternative
        return tuple(best.values())


def plan_query(
    text: str,
    *,
    vocabulary: Vocabulary,
    synonyms: SynonymTable,
    frequency: Callable[[str], int],
    parameters: RankingParameters,
) -> QueryPlan:
    """Analyse `text` into clauses; `frequency` gives the number of documents a stem occurs in."""
    planner = _Planner(vocabulary, frequency, parameters)
    text = text[:MAX_QUERY_CHARACTERS]
    words = planner.separate_compounds(list(tokens(text, limit=MAX_QUERY_TERMS)), synonyms)
    spans = {span.start: span for span in synonyms.spans([word.stem for word in words])}
    clauses: list[Clause] = []
    corrected = text
    position = 0
    while position < len(words):
        span = spans.get(position)
        if span is not None:
            clauses.append(planner.synonym_clause(words, span))
            position = span.end
            continue
        word = words[position]
        alternatives = planner.word(word)
        correction = next((alternative.correction for alternative in alternatives if alternative.correction), None)
        if correction is not None:
            corrected = re.sub(rf"(?<!\w){re.escape(word.text)}(?!\w)", correction, corrected, count=1)
        clauses.append(Clause(word.text, alternatives))
        position += 1
    return QueryPlan(tuple(clauses), corrected if corrected != text else None)
