"""Events through a transactional outbox and real Kafka.

- :func:`publish` writes an event into the caller's transaction (the ``outbox`` table);
- :class:`OutboxRelay` moves committed outbox rows to Kafka;
- :class:`EventConsumer` hands Kafka records to handlers exactly once (the ``inbox`` table), with
  retries and a dead-letter topic;
- :mod:`kit.events.envelope` is the CloudEvents 1.0 binary-mode envelope both sides speak.
"""

from kit.events.consumer import EventConsumer, Handler
from kit.events.envelope import CloudEvent, InvalidEnvelopeError
from kit.events.outbox import outbox_table, publish
from kit.events.relay import OutboxRelay
from kit.events.topics import BrokerProbe, ensure_topics

__all__ = [
    "BrokerProbe",
    "CloudEvent",
    "EventConsumer",
    "Handler",
    "InvalidEnvelopeError",
    "OutboxRelay",
    "ensure_topics",
    "outbox_table",
    "publish",
]
