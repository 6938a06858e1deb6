"""Outbox shards: how several relay replicas share one outbox without reordering an aggregate's events.

Every outbox row belongs to one of :data:`SHARDS` shards, chosen by its key (the aggregate id). A
relay sends only rows of the shards it owns, and owns a shard by holding a PostgreSQL session-level
advisory lock on it, so one aggregate's events are only ever in flight from one relay, in order.
Relays also hold a membership lock each; from the number of members each computes its fair share
and releases or takes shards between batches (never while a batch of that shard is in flight). A
relay that dies loses its connection and with it its locks, and the others take its shards over.
"""

from __future__ import annotations

import logging
import math
import zlib

import asyncpg

log = logging.getLogger(__name__)

SHARDS = 16
# Advisory lock key spaces (the first of the two int4 keys); any constants unique to this purpose.
_SHARD_SPACE = 0x6B69_7401
_MEMBER_SPACE = 0x6B69_7402
_COUNT_MEMBERS = """
    SELECT count(*) FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND classid = $1
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


def shard_of(key: str) -> int:
    """The shard of an outbox row with this key (stable across processes and versions)."""
    return zlib.crc32(key.encode()) % SHARDS


class ShardOwnership:
    """The shards one relay owns, through advisory locks on its own connection."""

    def __init__(self) -> None:
        self.owned: set[int] = set()
        self._member = False

    async def rebalance(self, connection: asyncpg.Connection) -> None:
        """Join as a member, then release or take shards to own a fair share of them."""
        if not self._member:
            await connection.execute("SELECT pg_advisory_lock($1, pg_backend_pid())", _MEMBER_SPACE)
            self._member = True
        members = int(await connection.fetchval(_COUNT_MEMBERS, _MEMBER_SPACE) or 1)
        fair_share = math.ceil(SHARDS / max(members, 1))
        for shard in sorted(self.owned, reverse=True)[: max(0, len(self.owned) - fair_share)]:
            await connection.execute("SELECT pg_advisory_unlock($1, $2)", _SHARD_SPACE, shard)
            self.owned.discard(shard)
        for shard in range(SHARDS):
            if len(self.owned) >= fair_share:
                break
            if shard not in self.owned and await connection.fetchval(
                "SELECT pg_try_advisory_lock($1, $2)", _SHARD_SPACE, shard
            ):
                self.owned.add(shard)

    def forget(self) -> None:
        """The connection holding the locks is gone, and with it every shard and the membership."""
        if self.owned:
            log.info("outbox shards released with their connection", extra={"shards": sorted(self.owned)})
        self.owned.clear()
        self._member = False
