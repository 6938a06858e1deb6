"""Topics created at start-up, and the broker check behind ``/health/ready``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaClient
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

log = logging.getLogger(__name__)


async def ensure_topics(
    bootstrap_servers: str, topics: Iterable[str], *, partitions: int = 3, replication_factor: int = 1
) -> None:
    """Create every topic in `topics` that does not exist yet (an existing one is left as it is)."""
    wanted = sorted(set(topics))
    if not wanted:
        return
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=15_000)
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if not missing:
            return
        response = await admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=replication_factor) for name in missing]
        )
        for topic_error in response.topic_errors:
            name, code = topic_error[0], topic_error[1]
            if code and for_code(code) is not TopicAlreadyExistsError:
                raise for_code(code)(f"cannot create topic {name}")
        log.info("topics created", extra={"topics": missing})
    finally:
        await admin.close()


class BrokerProbe:
    """Answers whether the Kafka cluster is reachable, reusing one metadata connection."""

    def __init__(self, bootstrap_servers: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self._client: AIOKafkaClient | None = None
        self._lock = asyncio.Lock()  # concurrent probes share one connection

    async def check(self) -> None:
        """Raise unless the cluster answers a metadata request."""
        async with self._lock:
            await self._check()

    async def _check(self) -> None:
        if self._client is None:
            client = AIOKafkaClient(bootstrap_servers=self.bootstrap_servers, request_timeout_ms=2_000)
            try:
                await client.bootstrap()
            except BaseException:
                await client.close()
                raise
            self._client = client
        try:
            await self._client.fetch_all_metadata()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Close the connection."""
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()
