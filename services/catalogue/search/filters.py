"""Filters on search results and the facet counts beside them.

Filters are ``{key: [values]}``: a document passes a key when it has any of the values (OR), and
passes the filters when it passes every key (AND). Keys are ``kind`` (``leistung``,
``organisationseinheit``), ``online`` (``true``/``false``), ``region`` (ARS: a document passes
when it is relevant everywhere, or in a region that contains or lies within one of the given
ones) and any facet of the documents (``themenfeld``, ``lebenslage``, …).

Facet counts are disjunctive, as in shop and GOV.UK finders: the counts of a key are taken over the
documents that pass every *other* key, so choosing one Themenfeld still shows how many hits each
other Themenfeld would have.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Final

#: Bounds on what a caller may ask for.
MAX_FILTER_KEYS: Final = 20
MAX_FILTER_VALUES: Final = 100
MAX_VALUE_LENGTH: Final = 200

KIND: Final = "kind"
ONLINE: Final = "online"
REGION: Final = "region"
#: The ARS of Germany as a whole.
GERMANY: Final = "0"

FacetPair = tuple[str, str]


def facet_pairs(kind: str, online: bool, facets: Mapping[str, Sequence[str]]) -> tuple[FacetPair, ...]:
    """A document's (key, value) pairs: its kind, its online flag and its facets."""
    pairs = [(KIND, kind), (ONLINE, "true" if online else "false")]
    pairs.extend((key, value) for key, values in facets.items() for value in dict.fromkeys(values))
    return tuple(pairs)


@dataclass(frozen=True, slots=True)
class Filters:
    """Parsed filters: wanted pairs per facet key, and the wanted regions."""

    wanted: Mapping[str, frozenset[FacetPair]]
    regions: tuple[str, ...] | None

    @classmethod
    def parse(cls, filters: Mapping[str, Sequence[str]] | None) -> Filters:
        """Read ``{key: [values]}``, bounded; empty value lists are ignored."""
        wanted: dict[str, frozenset[FacetPair]] = {}
        regions: tuple[str, ...] | None = None
        for key, values in list((filters or {}).items())[:MAX_FILTER_KEYS]:
            chosen = [str(value)[:MAX_VALUE_LENGTH] for value in list(values)[:MAX_FILTER_VALUES]]
            if not chosen:
                continue
            if key == REGION:
                regions = tuple(chosen)
            else:
                wanted[key] = frozenset((key, value.lower() if key == ONLINE else value) for value in chosen)
        return cls(wanted, regions)

    def key(self) -> tuple[object, ...]:
        """A hashable form, for caching results."""
        wanted = tuple(sorted((key, tuple(sorted(pairs))) for key, pairs in self.wanted.items()))
        return wanted, self.regions

    @property
    def active(self) -> bool:
        """Whether anything is filtered at all."""
        return bool(self.wanted) or self.regions is not None

    def failed_keys(self, pairs: Sequence[FacetPair], regions: Sequence[str] | None) -> list[str]:
        """The keys a document with these pairs and regions does not pass (region counts as a key)."""
        failed = [key for key, wanted in self.wanted.items() if not any(pair in wanted for pair in pairs)]
        if self.regions is not None and not _in_regions(regions, self.regions):
            failed.append(REGION)
        return failed


class FacetCounter:
    """Counts facet values over the documents of a result, disjunctively (see the module's docstring)."""

    def __init__(self) -> None:
        self._passing: list[tuple[FacetPair, ...]] = []
        self._failing_one: list[tuple[str, tuple[FacetPair, ...]]] = []

    def add(self, pairs: tuple[FacetPair, ...], failed: Sequence[str]) -> None:
        """Count a document that fails the keys `failed` (at most one, else it counts nowhere)."""
        if not failed:
            self._passing.append(pairs)
        elif len(failed) == 1:
            self._failing_one.append((failed[0], pairs))

    def add_passing(self, pairs: Iterable[tuple[FacetPair, ...]]) -> None:
        """Count documents that pass every filter."""
        self._passing.extend(pairs)

    def result(self) -> dict[str, dict[str, int]]:
        """``{key: {value: count}}``, each key's values most frequent first."""
        counts = Counter(chain.from_iterable(self._passing))
        for key, pairs in self._failing_one:
            counts.update(pair for pair in pairs if pair[0] == key)
        grouped: dict[str, dict[str, int]] = {}
        for (key, value), count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
            grouped.setdefault(key, {})[value] = count
        return grouped


def _in_regions(document_regions: Sequence[str] | None, wanted: Sequence[str]) -> bool:
    if document_regions is None or GERMANY in wanted:
        return True
    return any(
        region == GERMANY or region.startswith(ars) or ars.startswith(region)
        for region in document_regions
        for ars in wanted
    )
