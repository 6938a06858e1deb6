"""The shapes of the public read API (camelCase JSON), built from the read model's answers."""

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from contracts.catalogue import Region
from services.catalogue.resolution import DecidingRule, PublishedRecord, Responsible, RoleResolution


class View(BaseModel):
    """camelCase output models."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class RecordRef(View):
    """A published record: its id, tenant, key, version and content."""

    id: uuid.UUID
    tenant: str
    key: str
    version: int
    content: dict[str, Any]


class RuleView(View):
    """The Zuständigkeit that decided an answer."""

    id: uuid.UUID
    tenant: str
    key: str
    ars: str = Field(description="The region the rule is set for.")
    level: str
    matched_by: str = Field(description="leika_key or leika_typ")
    inherited_from: str | None = Field(description="Set when the rule was set above the asked region.")
    explanation: str
    tie_break: str | None


class ResponsibleView(View):
    """An authority or online service found responsible, or why the deciding rule names none."""

    record: RecordRef | None
    rule: RuleView
    reason: str | None = None
    administration_of: str | None = None


class RoleView(View):
    """Who is responsible in one role."""

    organisationseinheit: ResponsibleView | None
    onlinedienst: ResponsibleView | None


class RegionResponsibility(View):
    """The answer for one region: the region and who is responsible there, per role."""

    region: Region
    zustaendige_stelle: RoleView | None
    ansprechpunkt: RoleView | None


class ResponsibilityAnswer(View):
    """Who is responsible for a Leistung: one answer per candidate region (several for a postal code)."""

    leika_key: str
    as_of: dt.date
    leistung: RecordRef | None
    regions: list[RegionResponsibility]


class FeeView(View):
    """A Gebühr that applies in the asked region and where it was set (none = nationwide)."""

    record: RecordRef
    ars: str | None
    inherited_from: str | None


class TextView(View):
    """A text in the language found, and whether it comes from a regional Spezialisierung."""

    text: str
    language: str
    specialised_for: str | None


class LeistungInPlace(View):
    """A Leistung as a citizen of one place needs it: texts, responsible authority, fees, online services."""

    leika_key: str
    language: str
    leistung: RecordRef
    bezeichnung: TextView
    texte: dict[str, TextView]
    region: Region | None
    zustaendige_stelle: RoleView | None
    ansprechpunkt: RoleView | None
    gebuehren: list[FeeView]
    onlinedienste: list[ResponsibleView]


class SearchHitView(View):
    """A search hit."""

    id: str
    kind: str
    title: str
    score: float
    payload: dict[str, Any]
    highlights: list[str]


class SearchAnswer(View):
    """One page of search hits, with facet counts over all matches."""

    query: str
    total: int
    hits: list[SearchHitView]
    facets: dict[str, dict[str, int]]


class OpenStatusView(View):
    """Whether an authority is open at a moment, until when, and when it opens next."""

    at: dt.datetime
    open: bool
    until: dt.datetime | None
    next_opening: dt.datetime | None
    reason: str
    holiday: str | None


class OrganisationseinheitView(View):
    """An authority with its status now (or at the asked moment)."""

    organisationseinheit: RecordRef
    open_status: OpenStatusView | None


class OnlineLeistungView(View):
    """A Leistung that can be applied for online in all or part of a region."""

    leika_key: str
    name: str
    coverage: str
    onlinedienste: list[RecordRef]
    online_in: list[str]
    offline_in: list[str]


class OzgOverviewView(View):
    """Which Leistungen are online in a region."""

    ars: str
    as_of: dt.date
    themenfeld: str | None
    leistungen_total: int
    online_whole: int
    online_part: int
    leistungen: list[OnlineLeistungView]


def record_ref(record: PublishedRecord[Any]) -> RecordRef:
    """The view of a published record."""
    return RecordRef(
        id=record.record_id,
        tenant=record.tenant,
        key=record.key,
        version=record.version,
        content=record.content.model_dump(mode="json", by_alias=True, exclude_none=True),
    )


def rule_view(rule: DecidingRule) -> RuleView:
    """The view of a deciding rule."""
    return RuleView(
        id=rule.record_id,
        tenant=rule.tenant,
        key=rule.key,
        ars=rule.ars,
        level=rule.level,
        matched_by=rule.matched_by,
        inherited_from=rule.inherited_from,
        explanation=rule.describe(),
        tie_break=rule.tie_break,
    )


def responsible_view(responsible: Responsible[Any]) -> ResponsibleView:
    """The view of an authority or online service found responsible."""
    return ResponsibleView(
        record=record_ref(responsible.record) if responsible.record else None,
        rule=rule_view(responsible.rule),
        reason=responsible.reason,
        administration_of=responsible.administration_of,
    )


def role_view(role: RoleResolution | None) -> RoleView | None:
    """The view of one role's resolution."""
    if role is None:
        return None
    return RoleView(
        organisationseinheit=responsible_view(role.organisationseinheit) if role.organisationseinheit else None,
        onlinedienst=responsible_view(role.onlinedienst) if role.onlinedienst else None,
    )
