"""The CloudEvents binary-mode envelope: what we write parses back, and what is malformed is refused."""

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kit.events.envelope import CloudEvent, InvalidEnvelopeError

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)


def _event(**overrides: object) -> CloudEvent:
    values: dict[str, object] = {
        "id": "0190a0b0-0000-7000-8000-000000000001",
        "source": "/basisdienste/test",
        "type": "de.basisdienste.test.thing.happened.v1",
        "data": {"a": 1},
        "time": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        "subject": "thing-1",
        "tenant": "nrw",
        "traceparent": TRACEPARENT,
    }
    values.update(overrides)
    return CloudEvent(**values)  # type: ignore[arg-type]


def test_binary_mode_headers_carry_every_attribute() -> None:
    headers = dict(_event().kafka_headers())
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_type"] == b"de.basisdienste.test.thing.happened.v1"
    assert headers["ce_time"] == b"2026-01-02T03:04:05Z"
    assert headers["ce_tenant"] == b"nrw"
    assert headers["traceparent"] == headers["ce_traceparent"] == TRACEPARENT.encode()
    assert headers["content-type"] == b"application/json"


@given(data=st.dictionaries(st.text(max_size=10), json_values, max_size=5), subject=st.text(min_size=1, max_size=30))
def test_round_trip(data: dict[str, object], subject: str) -> None:
    event = _event(data=data, subject=subject)
    parsed = CloudEvent.from_kafka(event.kafka_headers(), event.kafka_value())
    assert parsed == event


@pytest.mark.parametrize(
    ("headers", "value"),
    [
        ([], b"{}"),
        ([("ce_specversion", b"0.3"), ("ce_id", b"1"), ("ce_source", b"/s"), ("ce_type", b"t")], b"{}"),
        ([("ce_specversion", b"1.0"), ("ce_source", b"/s"), ("ce_type", b"t")], b"{}"),
        ([("ce_specversion", b"1.0"), ("ce_id", b"1"), ("ce_source", b"/s"), ("ce_type", b"t")], b"not json"),
        ([("ce_specversion", b"1.0"), ("ce_id", b"1"), ("ce_source", b"/s"), ("ce_type", b"t")], b"[1, 2]"),
        ([("ce_specversion", b"1.0"), ("ce_id", b"1"), ("ce_source", b"/s"), ("ce_type", b"t")], None),
        ([("ce_specversion", b"1.0"), ("ce_id", b"\xff"), ("ce_source", b"/s"), ("ce_type", b"t")], b"{}"),
        (
            [("ce_specversion", b"1.0"), ("ce_id", b"1"), ("ce_source", b"/s"), ("ce_type", b"t"), ("ce_time", b"x")],
            b"{}",
        ),
        (
            [
                ("ce_specversion", b"1.0"),
                ("ce_id", b"1"),
                ("ce_source", b"/s"),
                ("ce_type", b"t"),
                ("content-type", b"application/xml"),
            ],
            b"{}",
        ),
    ],
)
def test_malformed_records_are_refused(headers: list[tuple[str, bytes]], value: bytes | None) -> None:
    with pytest.raises(InvalidEnvelopeError):
        CloudEvent.from_kafka(headers, value)


@given(value=st.binary(max_size=64))
def test_arbitrary_bytes_never_raise_anything_but_invalid_envelope(value: bytes) -> None:
    headers = [("ce_specversion", b"1.0"), ("ce_id", b"1"), ("ce_source", b"/s"), ("ce_type", b"t")]
    try:
        parsed = CloudEvent.from_kafka(headers, value)
    except InvalidEnvelopeError:
        return
    assert parsed.data == json.loads(value)


def test_a_broken_traceparent_is_dropped_not_fatal() -> None:
    event = _event(traceparent=None)
    headers = [*event.kafka_headers(), ("traceparent", b"garbage")]
    assert CloudEvent.from_kafka(headers, event.kafka_value()).traceparent is None


def test_foreign_and_empty_headers_are_ignored() -> None:
    event = _event()
    headers = [*event.kafka_headers(), ("baggage", b"x" * 5000), ("dlq_error_message", None)]
    assert CloudEvent.from_kafka(headers, event.kafka_value()) == event  # type: ignore[arg-type]


def test_deeply_nested_data_is_an_invalid_envelope_not_a_crash() -> None:
    headers = [("ce_specversion", b"1.0"), ("ce_id", b"1"), ("ce_source", b"/s"), ("ce_type", b"t")]
    with pytest.raises(InvalidEnvelopeError):
        CloudEvent.from_kafka(headers, b"[" * 100_000 + b"]" * 100_000)
