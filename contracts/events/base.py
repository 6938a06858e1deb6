"""The base of every event model: its CloudEvents type, its topic and the aggregate it is about.

An event type is named ``de.basisdienste.<service>.<aggregate>.<what happened>.v<N>``; it is published
to the topic ``<service>.<aggregate>`` with the aggregate id as the Kafka key, so that one aggregate's
events stay in order. A breaking change is a new type with the next version, never an edit.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

#: Every event model by its CloudEvents type, filled as the models are defined.
EVENT_TYPES: dict[str, type[Event]] = {}


class Event(BaseModel):
    """Payload of one event (the CloudEvents `data`); its envelope is built by kit.events."""

    # Consumers tolerate fields they do not know, so producers can add optional fields freely.
    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    topic: ClassVar[str]
    #: Name of the field holding the aggregate id: the Kafka key and the CloudEvents subject.
    key_field: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        event_type = cls.__dict__.get("event_type")
        if isinstance(event_type, str):
            known = EVENT_TYPES.get(event_type)
            if known is not None and known.__qualname__ != cls.__qualname__:
                raise TypeError(f"event type {event_type} is defined twice")
            EVENT_TYPES[event_type] = cls

    def key(self) -> str:
        """The aggregate id this event is about."""
        return str(getattr(self, self.key_field))


def dead_letter_topic(topic: str) -> str:
    """Where events that cannot be handled on `topic` go, with the error in their headers."""
    return f"{topic}.dlq"
