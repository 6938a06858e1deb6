"""``make contracts``: write what crosses service boundaries into committed files.

- ``contracts/schemas/<event type>.json``: the JSON Schema of every event's data;
- ``contracts/asyncapi.yaml``: an AsyncAPI 3.0 document of every topic, its events and who sends them;
- ``contracts/openapi/<service>.json``: each service's OpenAPI document.

``python -m tools.contracts --check`` writes nothing and fails when a committed file differs from
what the code generates (the drift test runs it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

import contracts.events  # noqa: F401 - defines every event model
from contracts.events.base import EVENT_TYPES, Event, dead_letter_topic
from kit.service import ServiceSpec, consumed_topics, create_service_app
from services.catalogue.app import SPEC as CATALOGUE
from services.identity.app import SPEC as IDENTITY
from services.mailbox.app import SPEC as MAILBOX
from services.payment.app import SPEC as PAYMENT
from services.routing.app import SPEC as ROUTING

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = ROOT / "contracts"
SERVICES: tuple[ServiceSpec, ...] = (IDENTITY, CATALOGUE, MAILBOX, PAYMENT, ROUTING)

#: The CloudEvents attributes every record carries as Kafka headers (binary content mode).
CLOUDEVENT_HEADERS: dict[str, Any] = {
    "type": "object",
    "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type"],
    "properties": {
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_id": {"type": "string", "description": "Event id (UUIDv7); consumers drop duplicates by it."},
        "ce_source": {"type": "string", "description": "/basisdienste/<service>"},
        "ce_type": {"type": "string"},
        "ce_subject": {"type": "string", "description": "The aggregate id (also the Kafka key)."},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_tenant": {"type": "string", "description": "The tenant (Mandant) the event belongs to."},
        "ce_traceparent": {"type": "string", "description": "W3C trace context (distributed tracing extension)."},
        "traceparent": {"type": "string", "description": "The same trace context as a plain W3C header."},
        "content-type": {"type": "string", "const": "application/json"},
    },
}


def event_schema(model: type[Event]) -> dict[str, Any]:
    """The JSON Schema of one event's data."""
    schema = model.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:basisdienste:event:{model.event_type}",
        **schema,
        "x-topic": model.topic,
        "x-key": model.key_field,
    }


def asyncapi_document() -> dict[str, Any]:
    """An AsyncAPI 3.0 document of every topic, its events, its publisher and its consumers."""
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    by_topic: dict[str, list[type[Event]]] = {}
    for event_type in sorted(EVENT_TYPES):
        model = EVENT_TYPES[event_type]
        by_topic.setdefault(model.topic, []).append(model)
        messages[_message_id(model)] = {
            "name": event_type,
            "title": model.__name__,
            "summary": (model.__doc__ or "").strip().splitlines()[0],
            "contentType": "application/json",
            "headers": CLOUDEVENT_HEADERS,
            "payload": {"$ref": f"./schemas/{event_type}.json"},
        }
    for topic, models in sorted(by_topic.items()):
        channel_id = topic.replace(".", "_")
        channels[channel_id] = {
            "address": topic,
            "description": f"Events about {topic.split('.', 1)[1]} from the {topic.split('.', 1)[0]} service; "
            f"unhandleable records go to {dead_letter_topic(topic)}.",
            "messages": {_message_id(m): {"$ref": f"#/components/messages/{_message_id(m)}"} for m in models},
        }
        operations[f"{channel_id}_send"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": f"The {topic.split('.', 1)[0]} service publishes through its outbox.",
        }
    for spec in SERVICES:
        for topic in consumed_topics(spec, spec.settings_type()):
            channel_id = topic.replace(".", "_")
            operations[f"{channel_id}_receive_{spec.name}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "summary": f"Consumer group {spec.name}.",
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Basisdienste events",
            "version": "1.0.0",
            "description": "CloudEvents 1.0 in Kafka binary content mode; key = aggregate id.",
        },
        "defaultContentType": "application/json",
        "servers": {"local": {"host": "127.0.0.1:9092", "protocol": "kafka"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def _message_id(model: type[Event]) -> str:
    return model.event_type.removeprefix("de.basisdienste.").replace(".", "_")


def generated_files() -> dict[Path, str]:
    """Every generated file and its content."""
    files: dict[Path, str] = {}
    for event_type, model in sorted(EVENT_TYPES.items()):
        files[CONTRACTS / "schemas" / f"{event_type}.json"] = _json(event_schema(model))
    files[CONTRACTS / "asyncapi.yaml"] = yaml.safe_dump(asyncapi_document(), sort_keys=False, allow_unicode=True)
    for spec in SERVICES:
        app = create_service_app(spec, spec.settings_type())
        files[CONTRACTS / "openapi" / f"{spec.name}.json"] = _json(app.openapi())
    return files


def _json(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def drift() -> list[str]:
    """Generated files that differ from (or are missing among) the committed ones."""
    return [
        str(path.relative_to(ROOT))
        for path, content in generated_files().items()
        if not path.exists() or path.read_text(encoding="utf-8") != content
    ]


def main() -> int:
    """Write the files, or with ``--check`` report drift."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="write nothing; fail on drift")
    args = parser.parse_args()
    if args.check:
        stale = drift()
        for name in stale:
            print(f"out of date: {name} (run make contracts)", file=sys.stderr)
        return 1 if stale else 0
    for path, content in generated_files().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
