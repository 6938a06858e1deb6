"""Nothing is lost and nothing happens twice when processes die or the broker goes away."""

import asyncio
import os
import signal
import sys

import pytest
from sqlalchemy import func, select

from kit.events.outbox import outbox_table
from kit.testing import TopicWatcher, repository_root
from tests.kit.events.test_outbox_relay_consumer import _consumer, _relay, _topic_with_dlq, running
from tests.kit.events.widgets import register_widgets, wait_for_effects

pytestmark = pytest.mark.slow


async def _unsent(database) -> int:
    async with database.session() as session:
        query = select(func.count()).select_from(outbox_table).where(outbox_table.c.sent_at.is_(None))
        return int(await session.scalar(query) or 0)


async def test_relay_killed_between_send_and_mark_resends_and_the_effect_happens_once(
    clean_database, kafka_bootstrap, topic
) -> None:
    model = await _topic_with_dlq(kafka_bootstrap, topic)
    ids = await register_widgets(clean_database, model, 5)
    script = repository_root() / "tests" / "kit" / "events" / "relay_crash.py"
    env = {**os.environ, "PYTHONPATH": str(repository_root())}
    async with TopicWatcher(kafka_bootstrap, topic) as watcher:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(script), clean_database.url, kafka_bootstrap, env=env
        )
        assert await asyncio.wait_for(process.wait(), timeout=60) == -signal.SIGKILL
        first = await watcher.collect(5)  # Kafka has them…
        assert await _unsent(clean_database) == 5  # …but the outbox does not know
        async with running(_relay(clean_database, kafka_bootstrap), _consumer(clean_database, kafka_bootstrap, model)):
            second = await watcher.collect(5)
            counts = await wait_for_effects(clean_database, 5)
            await asyncio.sleep(1.5)  # let any duplicate reach the consumer
    assert sorted(dict(r.headers)["ce_id"] for r in first) == sorted(dict(r.headers)["ce_id"] for r in second)
    assert await _unsent(clean_database) == 0
    assert counts == dict.fromkeys(ids, 1)
    assert await wait_for_effects(clean_database, 5) == dict.fromkeys(ids, 1)


async def test_kafka_outage_loses_nothing_and_needs_no_restart(
    clean_database, kafka_bootstrap, topic, infrastructure
) -> None:
    model = await _topic_with_dlq(kafka_bootstrap, topic)
    consumer = _consumer(clean_database, kafka_bootstrap, model)
    async with running(_relay(clean_database, kafka_bootstrap), consumer):
        before = await register_widgets(clean_database, model, 20, prefix="before")
        await wait_for_effects(clean_database, 20)
        await asyncio.to_thread(infrastructure.stop_kafka)
        try:
            during = await register_widgets(clean_database, model, 20, prefix="during")
            await asyncio.sleep(2)  # relay and consumer run against a dead broker for a while
            assert await _unsent(clean_database) == 20
        finally:
            await asyncio.to_thread(infrastructure.start_kafka)
        after = await register_widgets(clean_database, model, 20, prefix="after")
        counts = await wait_for_effects(clean_database, 60, timeout=180)
    assert counts == dict.fromkeys([*before, *during, *after], 1)


async def test_consumer_killed_mid_stream_redelivers_without_double_effects(
    clean_database, kafka_bootstrap, topic
) -> None:
    model = await _topic_with_dlq(kafka_bootstrap, topic)
    ids = await register_widgets(clean_database, model, 200)
    group = f"test-crash-{topic}"
    first = _consumer(clean_database, kafka_bootstrap, model, max_records=10)
    first.group_id = group
    async with running(_relay(clean_database, kafka_bootstrap)):
        stop = asyncio.Event()
        task = asyncio.create_task(first.run(stop))
        await wait_for_effects(clean_database, 30)
        task.cancel()  # dies mid-batch: no clean shutdown, offsets of the last batches uncommitted
        with pytest.raises(asyncio.CancelledError):
            await task
        second = _consumer(clean_database, kafka_bootstrap, model)
        second.group_id = group
        async with running(second):
            counts = await wait_for_effects(clean_database, 200, timeout=120)
    assert counts == dict.fromkeys(ids, 1)
