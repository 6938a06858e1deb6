"""The in-memory search index of one catalogue replica: documents in, ranked hits out.

Built at start-up from the published records (:meth:`SearchIndex.upsert_many`) and kept current
one record at a time (:meth:`SearchIndex.upsert`, :meth:`SearchIndex.remove`). Every method runs
to its end without yielding, so on the service's event loop no query ever sees half an update.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, Final

from contracts.catalogue import Synonym
from services.catalogue.search.analysis import fold, stem, tokens
from services.catalogue.search.documents import FIELDS, TITLE, SearchDocument
from services.catalogue.search.filters import FacetCounter, FacetPair, Filters, facet_pairs
from services.catalogue.search.postings import Postings
from services.catalogue.search.query import MAX_QUERY_CHARACTERS, Alternative, Clause, QueryPlan, plan_query
from services.catalogue.search.ranking import (
    FieldVector,
    RankingParameters,
    field_norms,
    idf,
    saturation,
    title_bonus,
)
from services.catalogue.search.suggest import Suggester
from services.catalogue.search.synonyms import SynonymTable
from services.catalogue.search.vocabulary import Vocabulary

#: At most this many words of each field are indexed.
MAX_FIELD_TOKENS: Final = (64, 256, 64, 4_000)
MAX_LIMIT: Final = 100
MAX_OFFSET: Final = 10_000
#: Recent results are kept until the index or the synonyms change: popular queries repeat.
RESULT_CACHE_SIZE: Final = 512
#: So are the scores of the latest broad clauses (those matching this many documents).
CLAUSE_CACHE_SIZE: Final = 16
CACHED_CLAUSE_MIN_DOCUMENTS: Final = 300
#: The length normalisation is redone for every document once a field's average length has
#: drifted this far from the averages the postings were computed with.
RENORMALISE_AFTER_DRIFT: Final = 0.1


@dataclass(frozen=True, slots=True)
class Hit:
    """A document found: its id, score, kind, title, payload and the title words that matched."""

    id: str
    score: float
    kind: str
    title: str
    payload: Mapping[str, Any]
    highlights: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SearchResult:
    """A page of hits, the number of all hits, facet counts over all hits, and a corrected query.

    Results are cached and shared between callers: treat them as read-only.
    """

    total: int
    hits: tuple[Hit, ...]
    facets: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    corrected_query: str | None = None


@dataclass(slots=True)
class _Entry:
    number: int
    document: SearchDocument
    #: The terms and, in the same order, their frequency per field (a compound's part counts
    #: `part_weight`, so "Steuer" in "Hundesteuer" is a weak occurrence of the term "steu").
    terms: tuple[str, ...]
    frequencies: tuple[FieldVector, ...]
    lengths: FieldVector
    #: The title's words: each its stem and its compound parts' stems.
    title_words: tuple[tuple[str, ...], ...]
    facets: tuple[FacetPair, ...]
    sort_key: str


class SearchIndex:
    """German full-text search over Leistungen and Organisationseinheiten, with filters and facets.

    With `caching` (the default) recent results and the scores of broad clauses are kept until the
    next change; benchmarks turn it off to measure every query in full.
    """

    def __init__(
        self,
        documents: Iterable[SearchDocument] = (),
        *,
        synonyms: Iterable[Synonym] = (),
        parameters: RankingParameters | None = None,
        caching: bool = True,
    ) -> None:
        self._parameters = parameters or RankingParameters()
        self._caching = caching
        self._results: OrderedDict[tuple[object, ...], SearchResult] = OrderedDict()
        self._clauses: OrderedDict[tuple[Alternative, ...], tuple[dict[int, float], list[int]]] = OrderedDict()
        self._entries: dict[str, _Entry] = {}
        self._by_number: dict[int, _Entry] = {}
        self._next_number = 0
        self._postings: dict[str, Postings] = {}
        self._length_sums = [0.0] * len(FIELDS)
        self._averages: FieldVector = (1.0, 1.0, 1.0, 1.0)
        self._vocabulary = Vocabulary()
        self._splits: dict[str, tuple[str, ...]] = {}
        self._split_vocabulary_size = 0
        self._synonyms = SynonymTable(synonyms)
        self._suggester = Suggester()
        self._interned: dict[Any, Any] = {}
        self.upsert_many(documents)

    @property
    def parameters(self) -> RankingParameters:
        """The ranking's parameters (fixed for the index's life: the postings depend on them)."""
        return self._parameters

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, document_id: object) -> bool:
        return document_id in self._entries

    def upsert(self, document: SearchDocument) -> None:
        """Add `document`, or replace the document with its id."""
        self.upsert_many((document,))

    def upsert_many(self, documents: Iterable[SearchDocument]) -> None:
        """Add or replace many documents: their words are learnt first, so compounds split against all of them."""
        batch = list({document.id: document for document in documents}.values())
        if not batch:
            return
        self._forget_results()
        analysed = [(document, _analyse(document)) for document in batch]
        for _, fields in analysed:
            for field_tokens in fields:
                for surface, stem_ in field_tokens:
                    self._vocabulary.add(surface, stem_)
        for document in batch:
            self._remove(document.id)
        added = [self._add(document, fields) for document, fields in analysed]
        if not self._renormalise_if_drifted():
            for entry in added:
                self._post(entry)
        self._vocabulary.prepare()
        self._suggester.prepare()

    def remove(self, document_id: str) -> bool:
        """Take a document out; whether it was there."""
        removed = self._remove(document_id)
        if removed:
            self._forget_results()
            self._renormalise_if_drifted()
        return removed

    def set_synonyms(self, synonyms: Iterable[Synonym]) -> None:
        """Replace the editors' synonyms; the next query uses the new ones."""
        self._synonyms = SynonymTable(synonyms)
        self._forget_results()

    def document_frequency(self, stem: str) -> int:
        """In how many documents a stem occurs, as a word or as a compound's part."""
        postings = self._postings.get(stem)
        return len(postings) if postings else 0

    def statistics(self) -> dict[str, int]:
        """Sizes, for metrics: documents, distinct terms, postings, known words."""
        return {
            "documents": len(self._entries),
            "terms": len(self._postings),
            "postings": sum(len(postings) for postings in self._postings.values()),
            "words": len(self._vocabulary),
        }

    def plan(self, query: str) -> QueryPlan:
        """How `query` would be matched (for debugging and tests)."""
        return plan_query(
            query,
            vocabulary=self._vocabulary,
            synonyms=self._synonyms,
            frequency=self.document_frequency,
            parameters=self._parameters,
        )

    def search(
        self,
        query: str,
        *,
        filters: Mapping[str, Sequence[str]] | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> SearchResult:
        """Rank the documents matching `query` and passing `filters` (see :mod:`.filters`).

        A blank query lists every document passing the filters by title. `limit` is capped at
        :data:`MAX_LIMIT` and `offset` at :data:`MAX_OFFSET`.
        """
        limit = max(0, min(limit, MAX_LIMIT))
        offset = max(0, min(offset, MAX_OFFSET))
        query = query[:MAX_QUERY_CHARACTERS]
        parsed = Filters.parse(filters)
        key = (query, parsed.key(), limit, offset)
        result = self._results.get(key)
        if result is not None:
            self._results.move_to_end(key)
            return result
        result = self._search(query, parsed, limit, offset) if query.strip() else self._browse(parsed, limit, offset)
        if self._caching:
            self._results[key] = result
            if len(self._results) > RESULT_CACHE_SIZE:
                self._results.popitem(last=False)
        return result

    def _search(self, query: str, parsed: Filters, limit: int, offset: int) -> SearchResult:
        plan = self.plan(query)
        scores = self._score(plan)
        by_number = self._by_number
        counter = FacetCounter()
        if parsed.active:
            candidates: dict[int, float] = {}
            for number, score in scores.items():
                entry = by_number[number]
                failed = parsed.failed_keys(entry.facets, entry.document.regions)
                counter.add(entry.facets, failed)
                if not failed:
                    candidates[number] = score
        else:
            candidates = scores
            counter.add_passing(by_number[number].facets for number in scores)
        depth = max(self._parameters.rerank_depth, offset + limit)
        best = heapq.nlargest(depth, candidates.items(), key=itemgetter(1))
        terms = plan.terms()
        parameters = self._parameters
        reranked = sorted(
            (
                (
                    -score * title_bonus(by_number[number].title_words, terms, parameters),
                    by_number[number].sort_key,
                    number,
                )
                for number, score in best
            )
        )
        hits = [self._hit(by_number[number], -score, terms) for score, _, number in reranked[offset : offset + limit]]
        return SearchResult(len(candidates), tuple(hits), counter.result(), plan.corrected_query)

    def suggest(self, prefix: str, limit: int = 10) -> list[str]:
        """Completions of what a user has typed so far: names first, then words (see :mod:`.suggest`)."""
        return self._suggester.suggest(prefix, max(0, min(limit, MAX_LIMIT)))

    def _score(self, plan: QueryPlan) -> dict[int, float]:
        """Each matching document's score: the clauses' best alternatives summed, times coordination."""
        term_scores: dict[str, dict[int, float]] = {}
        totals: dict[int, float] = {}
        matched: dict[int, int] = {}
        clauses = [clause for clause in plan.clauses if clause.alternatives]
        for position, clause in enumerate(clauses):
            best, strong = self._clause_scores(clause, term_scores)
            if position == 0:
                totals = dict(best)
                matched = dict.fromkeys(strong, 1)
                continue
            for number, score in best.items():
                totals[number] = totals.get(number, 0.0) + score
            for number in strong:
                matched[number] = matched.get(number, 0) + 1
        exponent = self._parameters.coordination_exponent
        return {
            number: total * (max(matched.get(number, 0), 1) / len(clauses)) ** exponent
            for number, total in totals.items()
        }

    def _clause_scores(
        self, clause: Clause, term_scores: dict[str, dict[int, float]]
    ) -> tuple[dict[int, float], list[int]]:
        """Per document, the best alternative's score; and the documents that match the clause well.

        A clause counts as matched when the match is a fair share of the clause's best one: a
        passing mention of a query word in a law's name does not make a document match "all words".
        Broad clauses ("beantragen" with its synonyms) recur in many queries and are kept a while.
        """
        cached = self._clauses.get(clause.alternatives)
        if cached is not None:
            return cached
        best: dict[int, float] = {}
        for alternative in clause.alternatives:
            if len(alternative.terms) == 1:
                scores = self._term_scores(alternative.terms[0], term_scores)
                weight = alternative.weight
            elif alternative.partial:
                scores = self._partial_phrase_scores(alternative.terms, term_scores)
                weight = alternative.weight / len(alternative.terms)
            else:
                scores = self._phrase_scores(alternative.terms, term_scores)
                weight = alternative.weight
            if not best:
                best = {number: score * weight for number, score in scores.items()}
                continue
            for number, score in scores.items():
                score *= weight
                if score > best.get(number, 0.0):
                    best[number] = score
        threshold = self._parameters.coordination_threshold * max(best.values(), default=0.0)
        result = best, [number for number, score in best.items() if score >= threshold]
        if self._caching and len(best) >= CACHED_CLAUSE_MIN_DOCUMENTS:
            self._clauses[clause.alternatives] = result
            if len(self._clauses) > CLAUSE_CACHE_SIZE:
                self._clauses.popitem(last=False)
        return result

    def _term_scores(self, term: str, cache: dict[str, dict[int, float]]) -> dict[int, float]:
        """BM25F of one stem per document (computed once per query)."""
        scores = cache.get(term)
        if scores is None:
            postings = self._postings.get(term)
            weight = idf(len(postings), max(len(self._entries), 1)) if postings else 0.0
            scores = {number: weight * value for number, value in postings.items()} if postings else {}
            cache[term] = scores
        return scores

    def _phrase_scores(self, terms: tuple[str, ...], cache: dict[str, dict[int, float]]) -> dict[int, float]:
        """The stems' scores summed, for the documents that have all of them."""
        per_term = sorted((self._term_scores(term, cache) for term in terms), key=len)
        rarest, others = per_term[0], per_term[1:]
        phrase: dict[int, float] = {}
        for number, score in rarest.items():
            for scores in others:
                other = scores.get(number)
                if other is None:
                    break
                score += other
            else:
                phrase[number] = score
        return phrase

    def _partial_phrase_scores(self, terms: tuple[str, ...], cache: dict[str, dict[int, float]]) -> dict[int, float]:
        """The stems' scores summed per document, times the number of them it has (so all beat some)."""
        sums: dict[int, float] = {}
        counts: dict[int, int] = {}
        for term in terms:
            for number, score in self._term_scores(term, cache).items():
                sums[number] = sums.get(number, 0.0) + score
                counts[number] = counts.get(number, 0) + 1
        return {number: total * counts[number] for number, total in sums.items()}

    def _browse(self, parsed: Filters, limit: int, offset: int) -> SearchResult:
        counter = FacetCounter()
        passing: list[_Entry] = []
        for entry in self._entries.values():
            failed = parsed.failed_keys(entry.facets, entry.document.regions) if parsed.active else []
            counter.add(entry.facets, failed)
            if not failed:
                passing.append(entry)
        page = heapq.nsmallest(offset + limit, passing, key=lambda entry: (entry.sort_key, entry.number))
        hits = tuple(self._hit(entry, 0.0, set()) for entry in page[offset:])
        return SearchResult(len(passing), hits, counter.result())

    def _hit(self, entry: _Entry, score: float, terms: set[str]) -> Hit:
        document = entry.document
        highlights = tuple(
            token.text
            for token, stems in zip(
                tokens(document.title, limit=MAX_FIELD_TOKENS[TITLE]), entry.title_words, strict=False
            )
            if any(stem_ in terms for stem_ in stems)
        )
        return Hit(document.id, round(score, 6), document.kind, document.title, document.payload, highlights)

    def _add(self, document: SearchDocument, fields: list[list[tuple[str, str]]]) -> _Entry:
        """Take a document in, all but its postings (:meth:`_post`, once the lengths are known)."""
        part_weight = self._parameters.part_weight
        frequencies: dict[str, list[float]] = {}
        lengths = [0.0] * len(FIELDS)
        title_words: list[tuple[str, ...]] = []
        for position, field_tokens in enumerate(fields):
            lengths[position] = float(len(field_tokens))
            for surface, stem_ in field_tokens:
                frequencies.setdefault(stem_, [0.0] * len(FIELDS))[position] += 1.0
                parts = [part for part in self._parts(surface) if part != stem_]
                # Parts add to the same term's frequency, so whole and part occurrences saturate
                # together and share one idf (BM25F), at a lower weight.
                for part in parts:
                    frequencies.setdefault(part, [0.0] * len(FIELDS))[position] += part_weight
                if position == TITLE:
                    title_words.append(self._intern((stem_, *parts)))
        number = self._next_number
        self._next_number += 1
        entry = _Entry(
            number=number,
            document=document,
            terms=tuple(frequencies),
            frequencies=tuple(self._intern(tuple(vector)) for vector in frequencies.values()),
            lengths=self._intern(tuple(lengths)),
            title_words=tuple(title_words),
            facets=self._intern(facet_pairs(document.kind, document.online, document.facets)),
            sort_key=fold(document.title),
        )
        self._entries[document.id] = entry
        self._by_number[number] = entry
        for position, length in enumerate(lengths):
            self._length_sums[position] += length
        self._suggester.add((document.title, *document.alt_titles))
        return entry

    def _remove(self, document_id: str) -> bool:
        entry = self._entries.pop(document_id, None)
        if entry is None:
            return False
        del self._by_number[entry.number]
        for term in entry.terms:
            postings = self._postings[term]
            postings.discard(entry.number)
            if not postings:
                del self._postings[term]
        for position, length in enumerate(entry.lengths):
            self._length_sums[position] -= length
        self._suggester.remove((entry.document.title, *entry.document.alt_titles))
        return True

    def _post(self, entry: _Entry) -> None:
        norms = field_norms(entry.lengths, self._averages, self._parameters)
        k1 = self._parameters.k1
        postings = self._postings
        for term, vector in zip(entry.terms, entry.frequencies, strict=True):
            term_postings = postings.get(term)
            if term_postings is None:
                term_postings = postings[term] = Postings()
            term_postings.set(entry.number, saturation(vector, norms, k1))

    def _parts(self, surface: str) -> tuple[str, ...]:
        """The stems of a word's compound parts, cached until the vocabulary grows."""
        if len(self._vocabulary) != self._split_vocabulary_size:
            self._splits.clear()
            self._split_vocabulary_size = len(self._vocabulary)
        parts = self._splits.get(surface)
        if parts is None:
            parts = tuple(
                dict.fromkeys(self._vocabulary.stem_of(part) or stem(part) for part in self._vocabulary.split(surface))
            )
            self._splits[surface] = parts
        return parts

    def _renormalise_if_drifted(self) -> bool:
        """Recompute every posting when the average field lengths moved; whether it did."""
        count = len(self._entries)
        if not count:
            return False
        current = [total / count for total in self._length_sums]
        if all(
            abs(now - used) <= RENORMALISE_AFTER_DRIFT * max(used, 1.0)
            for now, used in zip(current, self._averages, strict=True)
        ):
            return False
        self._averages = (current[0], current[1], current[2], current[3])
        self._postings.clear()
        for entry in self._by_number.values():
            self._post(entry)
        return True

    def _forget_results(self) -> None:
        self._results.clear()
        self._clauses.clear()

    def _intern(self, value: Any) -> Any:
        # Many documents share frequency vectors, lengths and facets: keep one copy of each.
        return self._interned.setdefault(value, value)


def _analyse(document: SearchDocument) -> list[list[tuple[str, str]]]:
    return [
        [(token.surface, token.stem) for token in tokens(text, limit=limit)]
        for text, limit in zip(document.field_texts(), MAX_FIELD_TOKENS, strict=True)
    ]
