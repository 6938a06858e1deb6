"""Identifiers: UUIDv7 (RFC 9562), time-ordered so that inserts stay local in B-tree indexes and the
outbox can send events in the order they were written."""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_millis = 0
_last_counter = 0
_COUNTER_BITS = 74  # rand_a (12) + rand_b (62)
_COUNTER_MAX = (1 << _COUNTER_BITS) - 1


def uuid7() -> uuid.UUID:
    """A new UUIDv7, strictly greater than every one made before it in this process.

    48 bits of Unix milliseconds, then 74 bits that start random each millisecond and count up
    within it (RFC 9562 §6.2, method 2): two events published in the same millisecond keep their
    order. The random start leaves the top counter bit clear, so a millisecond holds 2^73 ids.
    """
    global _last_millis, _last_counter
    with _lock:
        millis = time.time_ns() // 1_000_000
        if millis > _last_millis:
            counter = int.from_bytes(os.urandom(10), "big") >> (80 - _COUNTER_BITS + 1)
        else:  # same millisecond, or the clock stepped back: keep counting from the last id
            millis = _last_millis
            counter = _last_counter + 1
            if counter > _COUNTER_MAX:
                millis, counter = millis + 1, 0
        _last_millis, _last_counter = millis, counter
    value = (millis & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76  # version
    value |= (counter >> 62) << 64  # rand_a: the counter's top 12 bits
    value |= 0b10 << 62  # RFC 9562 variant
    value |= counter & 0x3FFF_FFFF_FFFF_FFFF  # rand_b: its low 62 bits
    return uuid.UUID(int=value)
