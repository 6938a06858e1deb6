"""Every event that crosses a service boundary, as a pydantic model (see :mod:`contracts.events.base`)."""

from contracts.events.base import EVENT_TYPES, Event, dead_letter_topic
from contracts.events.catalogue import (
    DraftSaved,
    RecordDeleted,
    RecordPublished,
    RecordWithdrawn,
    RegionChanged,
)
from contracts.events.identity import AccountCreated, AccountDeleted, TrustLevelRaised

__all__ = [
    "EVENT_TYPES",
    "AccountCreated",
    "AccountDeleted",
    "DraftSaved",
    "Event",
    "RecordDeleted",
    "RecordPublished",
    "RecordWithdrawn",
    "RegionChanged",
    "TrustLevelRaised",
    "dead_letter_topic",
]
