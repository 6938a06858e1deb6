"""Events of the catalogue service: editorial records (topic ``catalogue.record``) and regions of the
ARS hierarchy (topic ``catalogue.region``).

A published record's event carries its whole published content, so that other services (routing)
can keep their own read model of Zuständigkeiten and Online-Dienste without calling the catalogue.
Draft events carry no content: drafts are private to their tenant's editors.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, ClassVar

from pydantic import Field

from contracts.catalogue import RecordKind, Region
from contracts.events.base import Event


class RecordEvent(Event):
    """Common fields of the events about one editorial record."""

    topic: ClassVar[str] = "catalogue.record"
    key_field: ClassVar[str] = "record_id"

    record_id: uuid.UUID = Field(description="The record (stable across versions).")
    kind: RecordKind
    tenant: str = Field(description="The tenant (Mandant) whose editors own the record.")
    record_key: str = Field(description="The record's key inside its tenant (the LeiKa key for a Leistung).")
    version: int = Field(ge=1, description="The record's version after the change.")
    occurred_at: dt.datetime = Field(description="When it happened (UTC).")


class DraftSaved(RecordEvent):
    """A record's draft was created or changed (the public content is unchanged)."""

    event_type: ClassVar[str] = "de.basisdienste.catalogue.record.draft_saved.v1"


class RecordPublished(RecordEvent):
    """A record's content was published: it is now what everyone reads."""

    event_type: ClassVar[str] = "de.basisdienste.catalogue.record.published.v1"

    content: dict[str, Any] = Field(
        description="The published content, shaped by the kind's model in contracts.catalogue (camelCase)."
    )


class RecordWithdrawn(RecordEvent):
    """A record was withdrawn from publication; it stays as a draft for its editors."""

    event_type: ClassVar[str] = "de.basisdienste.catalogue.record.withdrawn.v1"


class RecordDeleted(RecordEvent):
    """A record was deleted by its editors."""

    event_type: ClassVar[str] = "de.basisdienste.catalogue.record.deleted.v1"


class RegionChanged(Event):
    """A region of the ARS hierarchy was added, renamed, moved or ended by an import of the register."""

    event_type: ClassVar[str] = "de.basisdienste.catalogue.region.changed.v1"
    topic: ClassVar[str] = "catalogue.region"
    key_field: ClassVar[str] = "ars"

    ars: str
    region: Region
    change: str = Field(description="added, renamed, moved, ended or restored.")
    occurred_at: dt.datetime
