"""The benchmark's publisher process: events at a fixed rate, one transaction each.

``python -m bench.events.publisher <database url> <topic> <rate> <seconds>`` prints a JSON object
mapping each event id to the monotonic time its transaction committed. Late events are published at
once, never skipped, so a stall shows up in the latencies instead of hiding (coordinated omission).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from bench.events.model import bench_event, payload
from kit.db import Database
from kit.events import publish


async def main(url: str, topic: str, rate: int, seconds: float) -> None:
    """Publish `rate` events per second for `seconds` and print their commit times."""
    model = bench_event(topic)
    database = Database(url, pool_size=2)
    committed: dict[str, float] = {}
    started = time.monotonic()
    for index in range(int(rate * seconds)):
        delay = started + index / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        async with database.session() as session, session.begin():
            event_id = await publish(session, payload(model))
        committed[str(event_id)] = time.monotonic()
    await database.dispose()
    print(json.dumps(committed))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
