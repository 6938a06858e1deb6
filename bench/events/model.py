"""The event the benchmark sends: the size of a typical routing event."""

from __future__ import annotations

import uuid
from typing import ClassVar

from contracts.events.base import Event


def bench_event(topic_name: str) -> type[Event]:
    """An event model with a realistic payload size (about 300 bytes of JSON)."""

    class SubmissionReceived(Event):
        event_type: ClassVar[str] = f"de.basisdienste.bench.{topic_name}.received.v1"
        topic: ClassVar[str] = topic_name
        key_field: ClassVar[str] = "submission_id"

        submission_id: uuid.UUID
        leika_key: str = "99050012104000"
        ars: str = "051110000000"
        destination_id: uuid.UUID
        tenant: str = "nrw"
        note: str = "x" * 120

    return SubmissionReceived


def payload(model: type[Event]) -> Event:
    """One event of the benchmark."""
    return model(submission_id=uuid.uuid4(), destination_id=uuid.uuid4())
