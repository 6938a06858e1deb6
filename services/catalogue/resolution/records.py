"""A published record as the read model takes it: identity, version, publication time and content."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from contracts.catalogue import Model, RecordKind

#: The roles a Zuständigkeit gives its target (contracts.catalogue.Zustaendigkeit.rolle).
Rolle = Literal["zustaendige_stelle", "ansprechpunkt"]
ROLLEN: tuple[Rolle, ...] = ("zustaendige_stelle", "ansprechpunkt")

C = TypeVar("C", bound=Model)

_NEVER = float("-inf")


@dataclass(frozen=True, slots=True)
class PublishedRecord(Generic[C]):
    """One published editorial record: `content` is its kind's model from ``contracts.catalogue``.

    `published_at` (timezone-aware; the ``occurredAt`` of its ``RecordPublished`` event) decides
    between rules that tie: the most recently published wins, then the greater record id. A record
    without it counts as published before every other.
    """

    record_id: uuid.UUID
    kind: RecordKind
    tenant: str
    key: str
    version: int
    content: C
    published_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        if self.published_at is not None and self.published_at.utcoffset() is None:
            raise ValueError("published_at must be timezone-aware, or replicas could order ties differently")

    @property
    def rank(self) -> tuple[float, int]:
        """The order of precedence among tied records: greater is more recent."""
        return (_NEVER if self.published_at is None else self.published_at.timestamp(), self.record_id.int)
