"""Resolving a Zuständigkeit: which rule decides, for a Leistung in a region on a day.

The order of precedence, for each role (zuständige Stelle, Ansprechpunkt) on its own:

1. Only rules valid on the asked day count.
2. The region walks up from the asked ARS (Gemeinde 12 → Gemeindeverband 9 → Kreis 5 →
   Regierungsbezirk 3 → Land 2 → Germany "0"); the lowest level with a rule wins, so a Gemeinde
   overrides its Kreis and a Kreis its Land.
3. At one level, a rule for the Leistung's LeiKa key beats one for its LeiKa type.
4. Rules still tied (other tenants, or overlapping validity) are decided for the most recently
   published; the answer names the rules that lost.

The authority and the online service are two answers, each decided by the lowest rule that speaks
about it: a Gemeinde may name its own office while the Land's online service still takes the
applications. A rule speaks about the authority when it names an Organisationseinheit or points
to the Gemeinde's administration (``ziel: gemeindeverwaltung``); it speaks about the online
service when it names an Onlinedienst that lists the Leistung's LeiKa key (a type rule's online
service covers only the Leistungen it offers) or that is not published. A rule whose target is not
published still decides: the answer is empty and says why, rather than falling back to a rule
meant for somewhere else.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Final, NamedTuple

from contracts.catalogue import Onlinedienst, Organisationseinheit
from services.catalogue.resolution.ars import ars_chain, region_level
from services.catalogue.resolution.records import ROLLEN, Rolle
from services.catalogue.resolution.results import DecidingRule, Match, Resolution, Responsible, RoleResolution
from services.catalogue.resolution.rules import ASPECTS, Rule, Slot

if TYPE_CHECKING:
    from services.catalogue.resolution.model import CatalogueReadModel

_BY_KEY: Final[Match] = "leika_key"
_BY_TYP: Final[Match] = "leika_typ"


class _Decision(NamedTuple):
    winner: Rule
    matched_by: Match
    outranked: tuple[Rule, ...]


def resolve(
    model: CatalogueReadModel, leika_key: str, ars: str, *, as_of: dt.date, rolle: Rolle | None = None
) -> Resolution | None:
    """Who is responsible for `leika_key` in `ars` on `as_of` (module docstring: the precedence)."""
    if rolle is not None and rolle not in ROLLEN:
        raise ValueError(f"rolle must be one of {', '.join(ROLLEN)}")
    roles = ROLLEN if rolle is None else (rolle,)
    decisions = _decide(model, leika_key, ars, as_of=as_of, roles=roles)
    if not decisions:
        return None
    # Results are built with positional arguments: on this path keywords cost more than the lookups.
    return Resolution(
        leika_key,
        ars,
        as_of,
        model.leistung(leika_key),
        _role_resolution(model, "zustaendige_stelle", decisions, leika_key, ars),
        _role_resolution(model, "ansprechpunkt", decisions, leika_key, ars),
    )


def online_services(
    model: CatalogueReadModel, leika_key: str, ars: str, *, as_of: dt.date
) -> list[Responsible[Onlinedienst]]:
    """The published online services responsible in either role, the zuständige Stelle's first."""
    resolution = resolve(model, leika_key, ars, as_of=as_of)
    found: dict[object, Responsible[Onlinedienst]] = {}
    for role in ROLLEN:
        resolved = resolution.role(role) if resolution else None
        service = resolved.onlinedienst if resolved else None
        if service is not None and service.record is not None:
            found.setdefault(service.record.record_id, service)
    return list(found.values())


def _decide(
    model: CatalogueReadModel, leika_key: str, ars: str, *, as_of: dt.date, roles: tuple[Rolle, ...] = ROLLEN
) -> dict[Slot, _Decision]:
    """The deciding rules per (role, aspect), walking up the ARS chain of `ars`."""
    tiers = _tiers(model, leika_key, ars)
    if not tiers:
        return {}
    day = as_of.toordinal()
    pending = {(role, aspect) for role in roles for aspect in ASPECTS}
    decisions: dict[Slot, _Decision] = {}
    for matched_by, bucket in tiers:
        tied: dict[Slot, list[Rule]] = {}
        for rule in bucket:
            if not rule.valid_from <= day <= rule.valid_to:
                continue
            slot = rule.authority_slot
            if slot is not None and slot in pending:
                tied.setdefault(slot, []).append(rule)
            slot = rule.online_slot
            if slot is not None and slot in pending and _speaks_about_online(model, rule, leika_key):
                tied.setdefault(slot, []).append(rule)
        for decided, rules in tied.items():
            if len(rules) > 1:
                rules.sort(key=_rank, reverse=True)
            decisions[decided] = _Decision(rules[0], matched_by, tuple(rules[1:]))
            pending.discard(decided)
        if not pending:
            break
    return decisions


def _tiers(model: CatalogueReadModel, leika_key: str, ars: str) -> list[tuple[Match, list[Rule]]]:
    """The rule buckets that can apply, in order of precedence: lower regions first, key before type."""
    typ = model.leistung_typ(leika_key)
    regions = model.rules_by_region
    tiers: list[tuple[Match, list[Rule]]] = []
    for level in ars_chain(ars):
        region = regions.get(level)
        if region is None:
            continue
        bucket = region.by_key.get(leika_key)
        if bucket:
            tiers.append((_BY_KEY, bucket))
        if typ is not None:
            bucket = region.by_typ.get(typ)
            if bucket:
                tiers.append((_BY_TYP, bucket))
    return tiers


def _speaks_about_online(model: CatalogueReadModel, rule: Rule, leika_key: str) -> bool:
    """Whether the rule's online service covers the Leistung (an unpublished one still decides)."""
    assert rule.onlinedienst is not None
    service = model.onlinedienst(rule.tenant, rule.onlinedienst)
    return service is None or model.offers(service, leika_key)


def _rank(rule: Rule) -> tuple[float, int]:
    return rule.rank


def _role_resolution(
    model: CatalogueReadModel,
    role: Rolle,
    decisions: dict[Slot, _Decision],
    leika_key: str,
    ars: str,
) -> RoleResolution | None:
    authority = decisions.get((role, "authority"))
    online = decisions.get((role, "online"))
    if authority is None and online is None:
        return None
    return RoleResolution(
        role,
        None if authority is None else _authority(model, authority, ars),
        None if online is None else _online_service(model, online, leika_key, ars),
    )


def _authority(model: CatalogueReadModel, decision: _Decision, ars: str) -> Responsible[Organisationseinheit]:
    rule = decision.winner
    deciding = _deciding_rule(decision, ars)
    if rule.gemeindeverwaltung:
        found = model.administration(ars, prefer_tenant=rule.tenant)
        if found is None:
            return Responsible(deciding, None, reason=_no_administration(ars))
        administration, region = found
        return Responsible(deciding, administration, None, region)
    assert rule.organisationseinheit is not None  # a rule without a target does not give authority
    record = model.organisationseinheit(rule.tenant, rule.organisationseinheit)
    if record is None:
        reason = f"Organisationseinheit {rule.organisationseinheit!r} of tenant {rule.tenant!r} is not published"
        return Responsible(deciding, None, reason=reason)
    return Responsible(deciding, record)


def _online_service(
    model: CatalogueReadModel, decision: _Decision, leika_key: str, ars: str
) -> Responsible[Onlinedienst]:
    rule = decision.winner
    assert rule.onlinedienst is not None  # only rules naming one speak about the online service
    deciding = _deciding_rule(decision, ars)
    record = model.onlinedienst(rule.tenant, rule.onlinedienst)
    if record is None:
        reason = f"Onlinedienst {rule.onlinedienst!r} of tenant {rule.tenant!r} is not published"
        return Responsible(deciding, None, reason=reason)
    return Responsible(deciding, record)


def _deciding_rule(decision: _Decision, ars: str) -> DecidingRule:
    rule, matched_by, outranked = decision
    return DecidingRule(
        rule.record_id,
        rule.tenant,
        rule.key,
        rule.ars,
        region_level(rule.ars),
        matched_by,
        None if rule.ars == ars else rule.ars,
        tuple(loser.record_id for loser in outranked) if outranked else (),
    )


def _no_administration(ars: str) -> str:
    level = region_level(ars)
    if level == "gemeinde":
        return (
            f"the rule names the Gemeinde's administration, but no Organisationseinheit is the administration "
            f"(verwaltungVon) of Gemeinde {ars} or of its Gemeindeverband {ars[:9]}"
        )
    if level == "gemeindeverband":
        return (
            f"the rule names the Gemeinde's administration, but no Organisationseinheit is the administration "
            f"(verwaltungVon) of Gemeindeverband {ars}"
        )
    return f"the rule names the Gemeinde's administration, which only a Gemeinde can be asked for, not a {level}"
