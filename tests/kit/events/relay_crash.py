"""A relay that dies by SIGKILL right after Kafka acknowledged its first batch, before marking it sent.

Run as ``python tests/kit/events/relay_crash.py <database url> <bootstrap servers>``.
"""

import asyncio
import os
import signal
import sys

from kit.db import Database
from kit.events import OutboxRelay


def die(_rows: object) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


async def main(url: str, bootstrap: str) -> None:
    relay = OutboxRelay(Database(url), service="test", bootstrap_servers=bootstrap, after_send=die)
    await relay.run(asyncio.Event())


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
