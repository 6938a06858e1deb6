"""UUIDv7: version and variant bits right, and ids sort by creation time."""

import time

from kit.ids import uuid7


def test_version_and_variant() -> None:
    value = uuid7()
    assert value.version == 7
    assert value.variant == "specified in RFC 4122"


def test_ids_sort_by_creation_time() -> None:
    earlier = [uuid7() for _ in range(50)]
    time.sleep(0.002)
    later = [uuid7() for _ in range(50)]
    assert max(earlier) < min(later)
    assert len(set(earlier + later)) == 100


def test_timestamp_is_unix_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    value = uuid7()
    after = time.time_ns() // 1_000_000
    assert before <= value.int >> 80 <= after


def test_ids_made_in_the_same_millisecond_keep_their_order() -> None:
    ids = [uuid7() for _ in range(20_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
