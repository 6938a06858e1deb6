"""The OZG overview: which Leistungen can be applied for online in a region, reasoned over rules.

Enumerating every (Leistung, Gemeinde) pair of a Land would mean millions of resolutions. Instead:

* Only a rule that names an online service can make a Leistung online, and a rule applies to a
  region and everything below it. So the candidates are the Leistungen named by rules with an
  Onlinedienst set for the region, above it, or inside it: a key rule names its Leistung, a type
  rule the Leistungen of its types that its online service offers.
* Below the asked region the answer changes only where a rule is set; everywhere else it is the
  asked region's own. So a candidate is online in the *whole* region when it is online at the
  region itself and at every region inside it that has a rule of its own about its online
  service; in *none* of it when it is online neither at the region nor at any of those.
* Otherwise it is online in *part* of the region — unless the regions inside that set their own
  services tile it (every Regierungsbezirk of a Land has its own). Only the register knows that:
  given ``children`` (the regions directly below an ARS, e.g. from the region directory), the
  overview descends into the regions that hold rules and decides exactly; without it, it
  answers *part*.

The questions asked are ordinary resolutions, so the overview agrees with :func:`resolve`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Literal

from services.catalogue.resolution.ars import ars_chain, lies_below
from services.catalogue.resolution.records import PublishedRecord
from services.catalogue.resolution.results import OnlineLeistung, OzgOverview
from services.catalogue.resolution.rules import Rule

if TYPE_CHECKING:
    from contracts.catalogue import Onlinedienst
    from services.catalogue.resolution.model import CatalogueReadModel

#: The regions directly below an ARS (for "0": the Länder), as the municipality register has them.
Children = Callable[[str], Iterable[str]]
_Status = Literal["whole", "part", "none"]


def ozg_overview(
    model: CatalogueReadModel,
    ars: str,
    *,
    as_of: dt.date,
    themenfeld: str | None = None,
    children: Children | None = None,
) -> OzgOverview:
    """The Leistungen with an online service responsible in all or part of `ars` on `as_of`."""
    chain = ars_chain(ars)
    day = as_of.toordinal()
    considered = [
        record for record in model.leistungen() if themenfeld is None or record.content.themenfeld == themenfeld
    ]
    wanted = {record.content.leika_key for record in considered}
    candidates: set[str] = set()
    for level in chain:
        for rule in _online_rules(model, level, day):
            candidates.update(_named_leistungen(model, rule, wanted))
    inside = _rules_inside(model, ars, day)
    for _region, rule in inside:
        candidates.update(_named_leistungen(model, rule, wanted))

    # For each candidate, the regions inside that have a rule of their own about its online service.
    own_rule_regions: dict[str, set[str]] = defaultdict(set)
    for region, rule in inside:
        for leika_key in _concerned_leistungen(model, rule, candidates):
            own_rule_regions[leika_key].add(region)

    found: list[OnlineLeistung] = []
    for leika_key in sorted(candidates):
        online = _OnlineAt(model, leika_key, as_of)
        inner = sorted(own_rule_regions.get(leika_key, ()))
        online_in = [region for region in inner if online(region)]
        offline_in = [region for region in inner if not online(region)]
        here = online.services(ars)
        if here and not offline_in:
            coverage: _Status = "whole"
        elif not here and not online_in:
            coverage = "none"
        elif children is None:
            coverage = "part"
        else:
            coverage = _status(ars, inner, online, children)
        if coverage == "none":
            continue
        leistung = model.leistung(leika_key)
        assert leistung is not None  # candidates are published Leistungen
        found.append(
            OnlineLeistung(
                leistung=leistung,
                coverage=coverage,
                onlinedienste=tuple(here),
                online_in=tuple(online_in),
                offline_in=tuple(offline_in),
            )
        )
    return OzgOverview(
        ars=ars,
        as_of=as_of,
        themenfeld=themenfeld,
        leistungen_total=len(considered),
        online_whole=sum(1 for entry in found if entry.coverage == "whole"),
        online_part=sum(1 for entry in found if entry.coverage == "part"),
        leistungen=tuple(found),
    )


def _online_rules(model: CatalogueReadModel, region: str, day: int) -> list[Rule]:
    rules = model.rules_at(region)
    if rules is None:
        return []
    return [rule for rule in rules.rules() if rule.onlinedienst is not None and rule.holds_on(day)]


def _rules_inside(model: CatalogueReadModel, ars: str, day: int) -> list[tuple[str, Rule]]:
    """The valid rules with an online service set for regions strictly inside `ars`."""
    return [
        (region, rule)
        for region in model.regions_with_rules()
        if lies_below(region, ars)
        for rule in _online_rules(model, region, day)
    ]


def _named_leistungen(model: CatalogueReadModel, rule: Rule, wanted: set[str]) -> set[str]:
    """The wanted Leistungen `rule` can make online: those of its key or types its service offers."""
    service = _service(model, rule)
    if service is None:
        return set()
    offered = {rule.leika_key} if rule.leika_key is not None else set(service.content.leika_keys)
    return {key for key in offered & wanted if _covers(model, rule, key) and model.offers(service, key)}


def _concerned_leistungen(model: CatalogueReadModel, rule: Rule, candidates: set[str]) -> set[str]:
    """The candidates whose online service `rule` speaks about (an unpublished service blocks all)."""
    service = _service(model, rule)
    keys = candidates if rule.leika_key is None else {rule.leika_key} & candidates
    return {key for key in keys if _covers(model, rule, key) and (service is None or model.offers(service, key))}


def _covers(model: CatalogueReadModel, rule: Rule, leika_key: str) -> bool:
    """Whether `rule` is about the Leistung: by its key, or by its LeiKa type."""
    if rule.leika_key is not None:
        return rule.leika_key == leika_key
    return model.leistung_typ(leika_key) in rule.leika_typen


def _service(model: CatalogueReadModel, rule: Rule) -> PublishedRecord[Onlinedienst] | None:
    assert rule.onlinedienst is not None
    return model.onlinedienst(rule.tenant, rule.onlinedienst)


class _OnlineAt:
    """Whether one Leistung is online at a region, each region asked once."""

    def __init__(self, model: CatalogueReadModel, leika_key: str, as_of: dt.date) -> None:
        self._model, self._leika_key, self._as_of = model, leika_key, as_of
        self._found: dict[str, list[PublishedRecord[Onlinedienst]]] = {}

    def services(self, ars: str) -> list[PublishedRecord[Onlinedienst]]:
        found = self._found.get(ars)
        if found is None:
            responsible = self._model.online_services(self._leika_key, ars, as_of=self._as_of)
            found = self._found[ars] = [service.record for service in responsible if service.record]
        return found

    def __call__(self, ars: str) -> bool:
        return bool(self.services(ars))


def _status(region: str, inner: list[str], online: _OnlineAt, children: Children) -> _Status:
    """The exact coverage of `region`: descend into the children that hold rule regions."""
    below = [other for other in inner if lies_below(other, region)]
    if not below:
        return "whole" if online(region) else "none"
    kids = list(children(region))
    if not kids:  # the register knows no finer division: judge by the rule regions alone
        statuses = {online(region), *map(online, below)}
        return "part" if len(statuses) > 1 else ("whole" if True in statuses else "none")
    seen: set[_Status] = set()
    for kid in kids:
        seen.add(_status(kid, below, online, children))
        if "part" in seen or len(seen) > 1:
            return "part"
    return seen.pop()
