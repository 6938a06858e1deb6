"""Zuständigkeiten kept compactly: only what resolution reads, with interned strings and day numbers.

A national catalogue holds a few rules that cover millions of (Leistung, Gemeinde) pairs and a few
thousand regional ones; each is indexed under the region it is set for, by LeiKa key or by each of
its LeiKa types (:class:`RegionRules`).
"""

from __future__ import annotations

import datetime as dt
import sys
import uuid
from dataclasses import dataclass, field
from typing import Final, Literal

from contracts.catalogue import Zustaendigkeit
from services.catalogue.resolution.leika_types import canonical_leika_typ
from services.catalogue.resolution.records import ROLLEN, PublishedRecord, Rolle

#: Day numbers (date.toordinal) standing for open validity ends.
OPEN_START: Final = 0
OPEN_END: Final = dt.date.max.toordinal()

#: What a rule decides about: the authority, or the online service.
Aspect = Literal["authority", "online"]
ASPECTS: Final[tuple[Aspect, ...]] = ("authority", "online")
#: A role and an aspect: one answer of a resolution.
Slot = tuple[Rolle, Aspect]
#: One shared tuple per slot, which rules point to: questions compare them without building any.
_SLOTS: Final[dict[Slot, Slot]] = {(rolle, aspect): (rolle, aspect) for rolle in ROLLEN for aspect in ASPECTS}


@dataclass(frozen=True, slots=True)
class Rule:
    """A published Zuständigkeit, reduced to what resolution needs."""

    record_id: uuid.UUID
    tenant: str
    key: str
    ars: str
    rolle: Rolle
    #: True for ``ziel: gemeindeverwaltung``: the authority is the asked Gemeinde's administration.
    gemeindeverwaltung: bool
    organisationseinheit: str | None
    onlinedienst: str | None
    #: The slot the rule decides about the authority in, when it names one (directly or as the
    #: Gemeinde's administration); the one it decides about the online service in, when it names one.
    authority_slot: Slot | None
    online_slot: Slot | None
    leika_key: str | None
    #: Canonical LeiKa types (see leika_types); empty for a rule about one LeiKa key.
    leika_typen: tuple[str, ...]
    valid_from: int
    valid_to: int
    rank: tuple[float, int]

    def holds_on(self, day: int) -> bool:
        """Whether the rule is valid on the day with this ordinal."""
        return self.valid_from <= day <= self.valid_to


def rule_from(record: PublishedRecord[Zustaendigkeit]) -> Rule:
    """The compact rule of a published Zuständigkeit."""
    content = record.content
    auswahl = content.leistungen
    typen = {canonical_leika_typ(typ) for typ in auswahl.leika_typen or ()}
    return Rule(
        record_id=record.record_id,
        tenant=sys.intern(record.tenant),
        key=sys.intern(record.key),
        ars=sys.intern(content.ars),
        rolle=content.rolle,
        gemeindeverwaltung=content.ziel == "gemeindeverwaltung",
        organisationseinheit=_interned(content.organisationseinheit),
        onlinedienst=_interned(content.onlinedienst),
        authority_slot=(
            _SLOTS[content.rolle, "authority"]
            if content.ziel == "gemeindeverwaltung" or content.organisationseinheit is not None
            else None
        ),
        online_slot=_SLOTS[content.rolle, "online"] if content.onlinedienst is not None else None,
        leika_key=_interned(auswahl.leika_key),
        leika_typen=tuple(sorted(typ for typ in typen if typ is not None)),
        valid_from=content.gueltig_ab.toordinal() if content.gueltig_ab else OPEN_START,
        valid_to=content.gueltig_bis.toordinal() if content.gueltig_bis else OPEN_END,
        rank=record.rank,
    )


@dataclass(slots=True)
class RegionRules:
    """The rules set for one region: by LeiKa key, and by canonical LeiKa type."""

    by_key: dict[str, list[Rule]] = field(default_factory=dict)
    by_typ: dict[str, list[Rule]] = field(default_factory=dict)

    def add(self, rule: Rule) -> None:
        """Index `rule` under its key or each of its types."""
        for index, entry in self._entries(rule):
            index.setdefault(entry, []).append(rule)

    def discard(self, rule: Rule) -> None:
        """Remove `rule` from the indexes it was added to."""
        for index, entry in self._entries(rule):
            bucket = index.get(entry)
            if bucket is None:
                continue
            bucket[:] = [other for other in bucket if other.record_id != rule.record_id]
            if not bucket:
                del index[entry]

    def __bool__(self) -> bool:
        return bool(self.by_key or self.by_typ)

    def rules(self) -> list[Rule]:
        """Every rule of the region once."""
        seen: dict[uuid.UUID, Rule] = {}
        for bucket in (*self.by_key.values(), *self.by_typ.values()):
            for rule in bucket:
                seen.setdefault(rule.record_id, rule)
        return list(seen.values())

    def _entries(self, rule: Rule) -> list[tuple[dict[str, list[Rule]], str]]:
        if rule.leika_key is not None:
            return [(self.by_key, rule.leika_key)]
        return [(self.by_typ, typ) for typ in rule.leika_typen]


def _interned(value: str | None) -> str | None:
    return None if value is None else sys.intern(value)
