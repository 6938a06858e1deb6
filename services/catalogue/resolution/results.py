"""What the read model answers: responsibilities with the rules that decided them, fees, texts.

Every answer is built fresh for its question and the model keeps none of them, so they are plain
slotted dataclasses: a frozen dataclass costs several times as much to build, and resolution builds
half a dozen per question.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Generic, Literal

from contracts.catalogue import Gebuehr, Leistung, Onlinedienst, Organisationseinheit, RegionLevel, Textmodul
from services.catalogue.resolution.records import C, PublishedRecord, Rolle

#: How a rule matched the Leistung: by its LeiKa key, or by its LeiKa type.
Match = Literal["leika_key", "leika_typ"]
#: How ties between rules at the same level and specificity are decided.
TIE_BREAK = "the most recently published rule wins (then the greater record id)"


@dataclass(slots=True)
class DecidingRule:
    """The Zuständigkeit that decided an answer, where it was set and how it matched."""

    record_id: uuid.UUID
    tenant: str
    key: str
    #: The region the rule is set for, and that region's level.
    ars: str
    level: RegionLevel
    matched_by: Match
    #: The rule's region when that lies above the asked one; None when set for the asked region.
    inherited_from: str | None
    #: Rules that tied with this one (same region, same specificity) and lost, most recent first.
    outranked: tuple[uuid.UUID, ...] = ()

    @property
    def tie_break(self) -> str | None:
        """How a tie was decided, when there was one."""
        return TIE_BREAK if self.outranked else None

    def describe(self) -> str:
        """One sentence for people: which rule, where it was set, how it matched."""
        how = "its LeiKa key" if self.matched_by == "leika_key" else "its LeiKa type"
        where = f"inherited from {self.ars}" if self.inherited_from else f"set for the asked {self.level}"
        text = (
            f"Zuständigkeit {self.key!r} of tenant {self.tenant!r} ({self.level} {self.ars}), {where}, matched by {how}"
        )
        if self.outranked:
            text += f"; it outranked {len(self.outranked)} tied rule(s): {TIE_BREAK}"
        return text + "."


@dataclass(slots=True)
class Responsible(Generic[C]):
    """An authority or online service found responsible, or why the deciding rule yields none."""

    rule: DecidingRule
    record: PublishedRecord[C] | None
    #: Set when `record` is None: why the rule names nothing that can be shown.
    reason: str | None = None
    #: For ``ziel: gemeindeverwaltung``: the region whose administration was found (Gemeinde or Gemeindeverband).
    administration_of: str | None = None


@dataclass(slots=True)
class RoleResolution:
    """Who is responsible in one role; authority and online service may come from different rules."""

    rolle: Rolle
    organisationseinheit: Responsible[Organisationseinheit] | None
    onlinedienst: Responsible[Onlinedienst] | None


@dataclass(slots=True)
class Resolution:
    """The answer to "who is responsible for this Leistung in this region on this day?"."""

    leika_key: str
    ars: str
    as_of: dt.date
    leistung: PublishedRecord[Leistung] | None
    zustaendige_stelle: RoleResolution | None
    ansprechpunkt: RoleResolution | None

    def role(self, rolle: Rolle) -> RoleResolution | None:
        """The resolution of one role."""
        return self.zustaendige_stelle if rolle == "zustaendige_stelle" else self.ansprechpunkt


@dataclass(slots=True)
class FeeSource:
    """A Gebühr that applies in the asked region, and where it was set (None = nationwide)."""

    record: PublishedRecord[Gebuehr]
    ars: str | None
    inherited_from: str | None


@dataclass(slots=True)
class TextSource:
    """Where a resolved text comes from: the Stammtext (`ars` None) or a Spezialisierung for `ars`."""

    record_id: uuid.UUID
    tenant: str
    key: str
    ars: str | None


@dataclass(slots=True)
class ResolvedText:
    """A text in the language it was found in (the asked one or a fallback), with its source."""

    text: str
    language: str
    source: TextSource


@dataclass(slots=True)
class ResolvedTexts:
    """A Leistung's name and text modules for a region and language."""

    leika_key: str
    language: str
    leistung: PublishedRecord[Leistung]
    bezeichnung: ResolvedText
    texte: dict[Textmodul, ResolvedText]


Coverage = Literal["whole", "part"]


@dataclass(slots=True)
class OnlineLeistung:
    """A Leistung with an online service responsible in all of a region or in part of it."""

    leistung: PublishedRecord[Leistung]
    coverage: Coverage
    #: The online services responsible at the region itself (empty when only rules inside it set some).
    onlinedienste: tuple[PublishedRecord[Onlinedienst], ...]
    #: Regions inside the asked one where an online service is set by a rule of their own, sorted.
    online_in: tuple[str, ...]
    #: Regions inside the asked one where a rule of their own leaves the Leistung without one, sorted.
    offline_in: tuple[str, ...]


@dataclass(slots=True)
class OzgOverview:
    """Which Leistungen can be applied for online in a region (OZG implementation status)."""

    ars: str
    as_of: dt.date
    themenfeld: str | None
    #: Published Leistungen considered (those of the Themenfeld, when one is given).
    leistungen_total: int
    online_whole: int
    online_part: int
    leistungen: tuple[OnlineLeistung, ...]
