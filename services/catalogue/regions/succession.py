"""Who took over an ended Gemeinde's territory: inferred from areas, since the register names no
successors.

Territory is conserved. When Gemeinden end between two registers, their land went to Gemeinden that
grew (or were newly formed) by as much: several ended Gemeinden merged into one (their areas add up
to its gain), or one was divided among several (their gains add up to its area). Both are looked for
first within the Kreis, then within the Land (Kreis borders move too). Areas are compared in
hectares, the register's unit, within a tolerance, because surveys re-measure areas a little.

Where several combinations add up, the most cohesive wins: parcels from fewest Gemeindeverbände
(within a Kreis) or Kreise (within a Land), since mergers happen among neighbours that already
share an administration. Then the closest sum, then the fewest parcels.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: A merger or division is only believed when the areas agree this closely.
_ABSOLUTE_TOLERANCE_HA = 2
_RELATIVE_TOLERANCE = 0.005
#: Bounds the search for matching sums, so a large Land cannot make an import slow.
_SEARCH_BUDGET = 200_000


@dataclass(frozen=True, slots=True)
class Parcel:
    """A Gemeinde's area that ended (its whole area) or was gained (growth, or a new Gemeinde's area)."""

    ars: str
    hectares: int


@dataclass(frozen=True, slots=True)
class Succession:
    """The Gemeinden that took over an ended one, and how that was inferred."""

    successors: tuple[str, ...]
    method: str


def tolerance(hectares: int) -> int:
    """How far two areas may differ and still be taken for the same territory."""
    return max(_ABSOLUTE_TOLERANCE_HA, round(hectares * _RELATIVE_TOLERANCE))


def infer_successors(ended: Sequence[Parcel], gained: Sequence[Parcel]) -> dict[str, Succession]:
    """Successors of the `ended` Gemeinden, by the ARS of each ended one that could be explained.

    `gained` lists new Gemeinden first (whole area) and then Gemeinden that grew (by their growth):
    a new Gemeinde is the likelier heir, so it is matched first.
    """
    found: dict[str, Succession] = {}
    sources = [parcel for parcel in ended if parcel.hectares > 0]
    targets = [parcel for parcel in gained if parcel.hectares > 0]
    for scope, group_of, cluster_of in (("kreis", _kreis, _verband), ("land", _land, _kreis)):
        sources_by_group = _grouped(sources, group_of)
        targets_by_group = _grouped(targets, group_of)
        for group, group_sources in sources_by_group.items():
            group_targets = targets_by_group.get(group, [])
            found |= _match_group(group_sources, group_targets, scope, cluster_of)
        used = {ars for succession in found.values() for ars in succession.successors}
        sources = [parcel for parcel in sources if parcel.ars not in found]
        targets = [parcel for parcel in targets if parcel.ars not in used]
    return found


def _verband(ars: str) -> str:
    return ars[:9]


def _kreis(ars: str) -> str:
    return ars[:5]


def _land(ars: str) -> str:
    return ars[:2]


def _grouped(parcels: Sequence[Parcel], group_of: Callable[[str], str]) -> dict[str, list[Parcel]]:
    groups: dict[str, list[Parcel]] = defaultdict(list)
    for parcel in parcels:
        groups[group_of(parcel.ars)].append(parcel)
    return groups


def _match_group(
    sources: list[Parcel], targets: list[Parcel], scope: str, cluster_of: Callable[[str], str]
) -> dict[str, Succession]:
    found: dict[str, Succession] = {}
    sources, targets = list(sources), list(targets)
    # Mergers: one target gained what several (or one) ended Gemeinden had.
    for target in list(targets):
        subset = best_subset(sources, target.hectares, cluster_of)
        if subset:
            for parcel in subset:
                found[parcel.ars] = Succession((target.ars,), f"area-merge-{scope}")
            sources = [parcel for parcel in sources if parcel not in subset]
            targets.remove(target)
    # Divisions: one ended Gemeinde's area is what several targets gained together.
    for source in sorted(sources, key=lambda parcel: -parcel.hectares):
        candidates = [parcel for parcel in targets if parcel.hectares <= source.hectares + tolerance(source.hectares)]
        subset = best_subset(candidates, source.hectares, cluster_of)
        if subset:
            found[source.ars] = Succession(tuple(sorted(parcel.ars for parcel in subset)), f"area-split-{scope}")
            targets = [parcel for parcel in targets if parcel not in subset]
    return found


def best_subset(
    parcels: Sequence[Parcel], hectares: int, cluster_of: Callable[[str], str] = _verband
) -> tuple[Parcel, ...] | None:
    """The parcels whose areas add up to `hectares` within the tolerance: of several such subsets the
    one from the fewest clusters, then the closest, then the smallest. None when no subset found
    within the search budget is close enough."""
    slack = tolerance(hectares)
    items = sorted(parcels, key=lambda parcel: -parcel.hectares)
    remaining = [0] * (len(items) + 1)
    for index in range(len(items) - 1, -1, -1):
        remaining[index] = remaining[index + 1] + items[index].hectares
    best: tuple[tuple[int, int, int], tuple[Parcel, ...]] | None = None
    budget = _SEARCH_BUDGET
    stack: list[tuple[int, int, tuple[Parcel, ...]]] = [(0, 0, ())]
    while stack and budget > 0:
        budget -= 1
        index, total, chosen = stack.pop()
        if chosen and abs(total - hectares) <= slack:
            score = (len({cluster_of(parcel.ars) for parcel in chosen}), abs(total - hectares), len(chosen))
            if best is None or score < best[0]:
                best = (score, chosen)
        if index == len(items) or total + remaining[index] < hectares - slack:
            continue
        stack.append((index + 1, total, chosen))
        parcel = items[index]
        if total + parcel.hectares <= hectares + slack:
            stack.append((index + 1, total + parcel.hectares, (*chosen, parcel)))
    return best[1] if best is not None else None
