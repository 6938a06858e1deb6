"""BM25F ranking with field weights, and the bonuses for names that are what was asked for.

A term's weight in a document is BM25F: its frequency in each field, scaled by the field's weight
and normalised by the field's length against the average, summed and then saturated. The sum
over the query's clauses is scaled by the share of clauses the document matches (coordination),
so a Leistung that matches every word outranks one that matches one word very well. Among the
best candidates, names that start with a query word and names made only of query words get a
bonus: "Wohngeld" comes before "Wohngeld Bewilligung erneut" for the query "Wohngeld".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

FieldVector = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class RankingParameters:
    """The tunable numbers of ranking; the defaults are tuned on ``bench/catalogue/relevance_set.yaml``."""

    #: Weights of title, alt titles/Suchbegriffe, taxonomy, body.
    field_weights: FieldVector = (6.0, 4.0, 1.5, 1.0)
    #: Length normalisation per field (0: none, 1: full).
    field_b: FieldVector = (0.75, 0.5, 0.3, 0.75)
    k1: float = 1.2
    #: Weight of a compound's part against the whole word ("Steuer" in "Hundesteuer"), as a
    #: frequency in the postings.
    part_weight: float = 0.4
    #: Weights of the ways a query word can be matched, the word itself being 1.
    synonym_weight: float = 0.9
    #: A word the index lacks, matched by its parts together, or as the tail of a known compound.
    split_weight: float = 0.6
    compound_weight: float = 0.8
    #: A word the index knows, also matched by its parts together.
    known_split_weight: float = 0.5
    prefix_weight: float = 0.5
    fuzzy_weight: float = 0.6
    fuzzy_weight_two_edits: float = 0.45
    #: Score x (matched clauses / clauses) ** coordination_exponent, a clause counting as matched
    #: when its score reaches this share of the best score any document has for it.
    coordination_exponent: float = 2.0
    coordination_threshold: float = 0.3
    #: Bonuses (added to 1, then multiplied) for the name's first word and for the share of the
    #: name's words that the query asked for.
    title_start_bonus: float = 0.5
    title_cover_bonus: float = 0.5
    #: How many of the best candidates get the title bonuses (the rest keep their score).
    rerank_depth: int = 100


def idf(document_frequency: int, documents: int) -> float:
    """BM25's inverse document frequency (never negative)."""
    return math.log(1.0 + (documents - document_frequency + 0.5) / (document_frequency + 0.5))


def field_norms(lengths: Sequence[float], averages: Sequence[float], parameters: RankingParameters) -> FieldVector:
    """Per field, its weight over BM25's length normalisation, for one document."""
    norms = [
        weight / (1.0 - b + b * length / max(average, 1.0))
        for length, average, weight, b in zip(
            lengths, averages, parameters.field_weights, parameters.field_b, strict=True
        )
    ]
    return norms[0], norms[1], norms[2], norms[3]


def saturation(frequencies: FieldVector, norms: FieldVector, k1: float) -> float:
    """BM25F's saturated, length-normalised, field-weighted frequency of one term in one document."""
    weighted = (
        frequencies[0] * norms[0] + frequencies[1] * norms[1] + frequencies[2] * norms[2] + frequencies[3] * norms[3]
    )
    return weighted / (k1 + weighted)


def title_bonus(title_words: Sequence[Sequence[str]], query_terms: set[str], parameters: RankingParameters) -> float:
    """The factor for a name: its first word asked for, and the share of its words asked for.

    `title_words` are the name's words, each as its stem followed by its compound parts' stems; a
    word matched only through a part counts half.
    """
    if not title_words:
        return 1.0
    shares = [_share_asked_for(stems, query_terms) for stems in title_words]
    return 1.0 + parameters.title_start_bonus * shares[0] + parameters.title_cover_bonus * sum(shares) / len(shares)


def _share_asked_for(stems: Sequence[str], query_terms: set[str]) -> float:
    if stems[0] in query_terms:
        return 1.0
    return 0.5 if any(part in query_terms for part in stems[1:]) else 0.0
