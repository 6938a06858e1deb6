"""CloudEvents 1.0 in Kafka binary content mode: attributes in ``ce_*`` headers, data as the value.

Besides the required attributes we carry ``subject``, ``time``, the ``tenant`` extension and the
distributed-tracing extension (``traceparent``, also sent as the plain W3C header so that any
OpenTelemetry-aware consumer continues the trace).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
_SPEC_VERSION_BYTES = SPEC_VERSION.encode()
_CONTENT_TYPE_BYTES = CONTENT_TYPE.encode()
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
_MAX_ATTRIBUTE = 1024


class InvalidEnvelopeError(ValueError):
    """A Kafka record that is not a well-formed CloudEvent with a JSON object as data."""


@dataclass(frozen=True)
class CloudEvent:
    """One event as it travels through Kafka."""

    id: str
    source: str
    type: str
    data: dict[str, Any]
    time: dt.datetime
    subject: str | None = None
    tenant: str | None = None
    traceparent: str | None = None
    extra_headers: tuple[tuple[str, bytes], ...] = field(default=())

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        """The record headers of binary content mode."""
        headers = binary_mode_headers(
            id=self.id,
            source=self.source,
            type=self.type,
            time=self.time,
            subject=self.subject,
            tenant=self.tenant,
            traceparent=self.traceparent,
        )
        headers.extend(self.extra_headers)
        return headers

    def kafka_value(self) -> bytes:
        """The record value: the data as compact JSON."""
        return json.dumps(self.data, separators=(",", ":"), ensure_ascii=False, default=str).encode()

    @classmethod
    def from_kafka(cls, headers: Iterable[tuple[str, bytes | None]] | None, value: bytes | None) -> CloudEvent:
        """Parse a record, raising :class:`InvalidEnvelopeError` for anything malformed."""
        attributes = _decode_headers(headers or ())
        if attributes.get("ce_specversion") != SPEC_VERSION:
            raise InvalidEnvelopeError("not a CloudEvents 1.0 record (ce_specversion)")
        for required in ("ce_id", "ce_source", "ce_type"):
            if not attributes.get(required):
                raise InvalidEnvelopeError(f"missing required attribute {required}")
        content_type = attributes.get("content-type", CONTENT_TYPE)
        if content_type.split(";")[0].strip() != CONTENT_TYPE:
            raise InvalidEnvelopeError("data is not application/json")
        data = _decode_data(value)
        traceparent = attributes.get("ce_traceparent") or attributes.get("traceparent")
        if traceparent is not None and not _TRACEPARENT.match(traceparent):
            traceparent = None  # a broken trace header must not cost us the event
        return cls(
            id=attributes["ce_id"],
            source=attributes["ce_source"],
            type=attributes["ce_type"],
            data=data,
            time=_parse_time(attributes.get("ce_time")),
            subject=attributes.get("ce_subject"),
            tenant=attributes.get("ce_tenant"),
            traceparent=traceparent,
        )


def binary_mode_headers(
    *,
    id: str,
    source: str,
    type: str,
    time: dt.datetime,
    subject: str | None,
    tenant: str | None,
    traceparent: str | None,
) -> list[tuple[str, bytes]]:
    """The ``ce_*`` record headers of one event (its data travels as the record value)."""
    headers = [
        ("ce_specversion", _SPEC_VERSION_BYTES),
        ("ce_id", id.encode()),
        ("ce_source", source.encode()),
        ("ce_type", type.encode()),
        ("ce_time", time.astimezone(dt.UTC).isoformat().replace("+00:00", "Z").encode()),
        ("content-type", _CONTENT_TYPE_BYTES),
    ]
    if subject is not None:
        headers.append(("ce_subject", subject.encode()))
    if tenant is not None:
        headers.append(("ce_tenant", tenant.encode()))
    if traceparent is not None:
        headers.append(("ce_traceparent", traceparent.encode()))
        headers.append(("traceparent", traceparent.encode()))
    return headers


def _decode_headers(headers: Iterable[tuple[str, bytes | None]]) -> dict[str, str]:
    # Only the envelope's own headers are read; others (baggage, the DLQ's) are not ours to judge.
    attributes: dict[str, str] = {}
    for name, raw in headers:
        lowered = name.lower()
        if raw is None or not (lowered.startswith("ce_") or lowered in ("content-type", "traceparent")):
            continue
        if len(raw) > _MAX_ATTRIBUTE:
            raise InvalidEnvelopeError(f"header {name} is too long")
        try:
            attributes[lowered] = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidEnvelopeError(f"header {name} is not UTF-8") from error
    return attributes


def _decode_data(value: bytes | None) -> dict[str, Any]:
    if not value:
        raise InvalidEnvelopeError("empty data")
    try:
        data = json.loads(value)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise InvalidEnvelopeError("data is not JSON") from error
    if not isinstance(data, dict):
        raise InvalidEnvelopeError("data is not a JSON object")
    return data


def _parse_time(value: str | None) -> dt.datetime:
    if not value:
        return dt.datetime.now(dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise InvalidEnvelopeError("ce_time is not RFC 3339") from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
