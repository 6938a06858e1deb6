"""The catalogue's read model: every published record of one replica, indexed for resolution.

Zuständigkeiten are indexed by the region they are set for and, inside it, by LeiKa key or LeiKa
type; Organisationseinheiten by (tenant, key) and by the region they administer (``verwaltungVon``);
Online-Dienste by (tenant, key); Gebühren and Spezialisierungen by LeiKa key. Nothing is stored per
(Leistung, Gemeinde) pair: a question walks up the asked region's ARS chain (at most six levels)
and looks at the few rules set there, so a national catalogue of ~40 million implied pairs fits
in a few megabytes of rules and is answered in microseconds.

The model is synchronous and is changed one record at a time (:meth:`CatalogueReadModel.put`,
:meth:`CatalogueReadModel.remove`); every method runs to its end without yielding, so on the
service's event loop no question sees half a change.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterator, Mapping
from typing import Any, TypeVar, cast

from contracts.catalogue import (
    CONTENT_MODELS,
    Gebuehr,
    Leistung,
    Onlinedienst,
    Organisationseinheit,
    RecordKind,
    Spezialisierung,
    Zustaendigkeit,
)
from services.catalogue.resolution import fees, overview, responsibility, texts
from services.catalogue.resolution.ars import administered_regions
from services.catalogue.resolution.compaction import compact_organisationseinheit
from services.catalogue.resolution.leika_types import canonical_leika_typ
from services.catalogue.resolution.overview import Children
from services.catalogue.resolution.records import PublishedRecord, Rolle
from services.catalogue.resolution.results import FeeSource, OzgOverview, Resolution, ResolvedTexts, Responsible
from services.catalogue.resolution.rules import RegionRules, Rule, rule_from

R = TypeVar("R", bound=PublishedRecord[Any])

#: Kinds the model holds; synonyms belong to search, not to resolution.
HELD_KINDS = frozenset(CONTENT_MODELS) - {RecordKind.SYNONYM}


class CatalogueReadModel:
    """The published catalogue in memory: put records in, ask who is responsible where."""

    __slots__ = (
        "_administrations",
        "_gebuehren",
        "_leistung_typen",
        "_leistungen",
        "_offered_keys",
        "_records",
        "_region_order",
        "_rules",
        "_rules_by_region",
        "_spezialisierungen",
        "_targets",
    )

    def __init__(self) -> None:
        self._records: dict[uuid.UUID, PublishedRecord[Any]] = {}
        self._rules: dict[uuid.UUID, tuple[Rule, int]] = {}
        self._rules_by_region: dict[str, RegionRules] = {}
        self._region_order: tuple[str, ...] | None = None
        self._leistungen: dict[str, list[PublishedRecord[Leistung]]] = {}
        self._leistung_typen: dict[str, str | None] = {}
        #: Organisationseinheiten and Online-Dienste by kind, tenant and key.
        self._targets: dict[RecordKind, dict[str, dict[str, PublishedRecord[Any]]]] = {
            RecordKind.ORGANISATIONSEINHEIT: {},
            RecordKind.ONLINEDIENST: {},
        }
        self._administrations: dict[str, list[PublishedRecord[Organisationseinheit]]] = {}
        self._offered_keys: dict[uuid.UUID, frozenset[str]] = {}
        self._gebuehren: dict[str, list[PublishedRecord[Gebuehr]]] = {}
        self._spezialisierungen: dict[str, list[PublishedRecord[Spezialisierung]]] = {}

    # --- changes -------------------------------------------------------------------------------

    def put(self, record: PublishedRecord[Any]) -> bool:
        """Add a published record, or replace the one with its record id.

        An Organisationseinheit is held compacted (see compaction): the model may hold an equal
        copy of `record` rather than `record` itself.

        Returns False, changing nothing, for a version older than the one held (an event delivered
        again out of order) and for a kind the model does not hold (synonyms). Raises TypeError
        when the content is not its kind's model.
        """
        if record.kind not in HELD_KINDS:
            return False
        if not isinstance(record.content, CONTENT_MODELS[record.kind]):
            raise TypeError(f"a {record.kind} record needs {CONTENT_MODELS[record.kind].__name__} content")
        held = self._held_version(record.record_id)
        if held is not None and record.version < held:
            return False
        self._drop(record.record_id)
        if record.kind is RecordKind.ZUSTAENDIGKEIT:
            self._add_rule(cast(PublishedRecord[Zustaendigkeit], record))
            return True
        if isinstance(record.content, Organisationseinheit):
            compacted = compact_organisationseinheit(record.content)
            if compacted is not record.content:
                record = dataclasses.replace(record, content=compacted)
        self._add_record(record)
        return True

    def remove(self, kind: RecordKind, record_id: uuid.UUID) -> bool:
        """Take a withdrawn or deleted record out; False when the model did not hold it."""
        if kind is RecordKind.ZUSTAENDIGKEIT:
            held = record_id in self._rules
        else:
            record = self._records.get(record_id)
            held = record is not None and record.kind is kind
        if held:
            self._drop(record_id)
        return held

    # --- questions -----------------------------------------------------------------------------

    def resolve(self, leika_key: str, ars: str, *, as_of: dt.date, rolle: Rolle | None = None) -> Resolution | None:
        """Who is responsible for `leika_key` in region `ars` on `as_of` (see responsibility).

        Both roles unless `rolle` is given; None when no rule valid on that day covers the
        Leistung anywhere on the region's ARS chain. Raises ValueError for an invalid ARS.
        """
        return responsibility.resolve(self, leika_key, ars, as_of=as_of, rolle=rolle)

    def online_services(self, leika_key: str, ars: str, *, as_of: dt.date) -> list[Responsible[Onlinedienst]]:
        """The published online services responsible for `leika_key` in `ars` on `as_of`, in either role."""
        return responsibility.online_services(self, leika_key, ars, as_of=as_of)

    def fees(self, leika_key: str, ars: str, *, as_of: dt.date) -> list[FeeSource]:
        """The Gebühren of `leika_key` valid in `ars` on `as_of`: the most specific region's win."""
        return fees.fees(self, leika_key, ars, as_of=as_of)

    def texts(self, leika_key: str, ars: str, language: str = "de") -> ResolvedTexts | None:
        """The Leistung's Stammtext overlaid by the region's Spezialisierungen, in `language` or German."""
        return texts.texts(self, leika_key, ars, language)

    def ozg_overview(
        self, ars: str, *, as_of: dt.date, themenfeld: str | None = None, children: Children | None = None
    ) -> OzgOverview:
        """Which Leistungen have an online service responsible in all or part of region `ars`.

        `children` (the ARS of the regions directly below an ARS, from the register) makes "whole"
        exact where the regions that set their own services tile the asked one (see overview).
        """
        return overview.ozg_overview(self, ars, as_of=as_of, themenfeld=themenfeld, children=children)

    # --- lookups used by the questions -----------------------------------------------------------

    def get(self, record_id: uuid.UUID) -> PublishedRecord[Any] | None:
        """A held record other than a Zuständigkeit (those are kept as compact rules)."""
        return self._records.get(record_id)

    def leistung(self, leika_key: str) -> PublishedRecord[Leistung] | None:
        """The published Leistung with this LeiKa key."""
        bucket = self._leistungen.get(leika_key)
        return bucket[0] if bucket else None

    def leistung_typ(self, leika_key: str) -> str | None:
        """The canonical LeiKa type of the published Leistung (None when unknown or untyped)."""
        return self._leistung_typen.get(leika_key)

    def leistungen(self) -> Iterator[PublishedRecord[Leistung]]:
        """Every published Leistung, one per LeiKa key."""
        return (bucket[0] for bucket in self._leistungen.values())

    def organisationseinheit(self, tenant: str, key: str) -> PublishedRecord[Organisationseinheit] | None:
        """The tenant's published Organisationseinheit with this key."""
        return self._targets[RecordKind.ORGANISATIONSEINHEIT].get(tenant, {}).get(key)

    def onlinedienst(self, tenant: str, key: str) -> PublishedRecord[Onlinedienst] | None:
        """The tenant's published Onlinedienst with this key."""
        return self._targets[RecordKind.ONLINEDIENST].get(tenant, {}).get(key)

    def offers(self, onlinedienst: PublishedRecord[Onlinedienst], leika_key: str) -> bool:
        """Whether the online service lists the Leistung among its LeiKa keys."""
        return leika_key in self._offered_keys[onlinedienst.record_id]

    def administration(
        self, ars: str, *, prefer_tenant: str
    ) -> tuple[PublishedRecord[Organisationseinheit], str] | None:
        """The administration serving `ars`, and the region it administers.

        The Organisationseinheit whose ``verwaltungVon`` is the Gemeinde itself, else its
        Gemeindeverband's; among several, `prefer_tenant`'s, then the most recently published.
        """
        for region in administered_regions(ars):
            bucket = self._administrations.get(region)
            if bucket:
                if len(bucket) == 1 or bucket[0].tenant == prefer_tenant:
                    return bucket[0], region
                own = [record for record in bucket if record.tenant == prefer_tenant]
                return (own or bucket)[0], region
        return None

    def rules_at(self, ars: str) -> RegionRules | None:
        """The rules set for exactly this region."""
        return self._rules_by_region.get(ars)

    @property
    def rules_by_region(self) -> Mapping[str, RegionRules]:
        """The rules by the region they are set for (read-only: change the model through put/remove)."""
        return self._rules_by_region

    def regions_with_rules(self) -> tuple[str, ...]:
        """Every region some rule is set for, sorted (so a region's descendants are contiguous)."""
        if self._region_order is None:
            self._region_order = tuple(sorted(self._rules_by_region))
        return self._region_order

    def gebuehren(self, leika_key: str) -> list[PublishedRecord[Gebuehr]]:
        """Every published Gebühr of a Leistung, in all regions."""
        return self._gebuehren.get(leika_key, [])

    def spezialisierungen(self, leika_key: str) -> list[PublishedRecord[Spezialisierung]]:
        """Every published Spezialisierung of a Leistung, most recently published first."""
        return self._spezialisierungen.get(leika_key, [])

    def counts(self) -> dict[str, int]:
        """How many records of each kind the model holds."""
        counted = {kind.value: 0 for kind in HELD_KINDS}
        for record in self._records.values():
            counted[record.kind.value] += 1
        counted[RecordKind.ZUSTAENDIGKEIT.value] = len(self._rules)
        return counted

    # --- indexing ------------------------------------------------------------------------------

    def _held_version(self, record_id: uuid.UUID) -> int | None:
        if record_id in self._rules:
            return self._rules[record_id][1]
        record = self._records.get(record_id)
        return None if record is None else record.version

    def _add_rule(self, record: PublishedRecord[Zustaendigkeit]) -> None:
        rule = rule_from(record)
        self._rules[rule.record_id] = (rule, record.version)
        region = self._rules_by_region.get(rule.ars)
        if region is None:
            region = self._rules_by_region[rule.ars] = RegionRules()
            self._region_order = None
        region.add(rule)

    def _add_record(self, record: PublishedRecord[Any]) -> None:
        self._records[record.record_id] = record
        content = record.content
        if isinstance(content, Leistung):
            _insert(self._leistungen, content.leika_key, record)
            self._refresh_leistung_typ(content.leika_key)
        elif isinstance(content, Organisationseinheit | Onlinedienst):
            self._targets[record.kind].setdefault(record.tenant, {})[record.key] = record
            if isinstance(content, Organisationseinheit) and content.verwaltung_von is not None:
                _insert(self._administrations, content.verwaltung_von, record)
            if isinstance(content, Onlinedienst):
                self._offered_keys[record.record_id] = frozenset(content.leika_keys)
        elif isinstance(content, Gebuehr):
            _insert(self._gebuehren, content.leika_key, record)
        elif isinstance(content, Spezialisierung):
            _insert(self._spezialisierungen, content.leika_key, record)

    def _drop(self, record_id: uuid.UUID) -> None:
        held_rule = self._rules.pop(record_id, None)
        if held_rule is not None:
            rule = held_rule[0]
            region = self._rules_by_region[rule.ars]
            region.discard(rule)
            if not region:
                del self._rules_by_region[rule.ars]
                self._region_order = None
            return
        record = self._records.pop(record_id, None)
        if record is None:
            return
        content = record.content
        if isinstance(content, Leistung):
            _discard(self._leistungen, content.leika_key, record_id)
            self._refresh_leistung_typ(content.leika_key)
        elif isinstance(content, Organisationseinheit | Onlinedienst):
            by_key = self._targets[record.kind].get(record.tenant, {})
            if by_key.get(record.key) is record:
                del by_key[record.key]
            if isinstance(content, Organisationseinheit) and content.verwaltung_von is not None:
                _discard(self._administrations, content.verwaltung_von, record_id)
            self._offered_keys.pop(record_id, None)
        elif isinstance(content, Gebuehr):
            _discard(self._gebuehren, content.leika_key, record_id)
        elif isinstance(content, Spezialisierung):
            _discard(self._spezialisierungen, content.leika_key, record_id)

    def _refresh_leistung_typ(self, leika_key: str) -> None:
        leistung = self.leistung(leika_key)
        if leistung is None:
            self._leistung_typen.pop(leika_key, None)
        else:
            self._leistung_typen[leika_key] = canonical_leika_typ(leistung.content.leika_typ)


def _insert(index: dict[str, list[R]], key: str, record: R) -> None:
    """Add `record` to its bucket, keeping the most recently published first."""
    bucket = index.setdefault(key, [])
    bucket.append(record)
    bucket.sort(key=lambda held: held.rank, reverse=True)


def _discard(index: dict[str, list[R]], key: str, record_id: uuid.UUID) -> None:
    bucket = index.get(key)
    if bucket is None:
        return
    bucket[:] = [held for held in bucket if held.record_id != record_id]
    if not bucket:
        del index[key]
