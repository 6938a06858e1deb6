"""Deletes what has expired: revocations of tokens past their expiry and used client assertion ids."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from kit.db import Database, utcnow
from kit.events.relay import sleep_or_stop
from services.identity.config import Settings
from services.identity.oauth.revocation import purge_expired

logger = logging.getLogger(__name__)


class TokenHousekeeping:
    """A :class:`kit.service.Component` purging expired rows every ``housekeeping_interval``."""

    name = "token_housekeeping"

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.interval = settings.housekeeping_interval.total_seconds()
        # A verifier may still accept a token for the clock skew after its exp: keep its revocation as long.
        self.grace = dt.timedelta(seconds=settings.clock_skew)

    async def purge(self) -> int:
        """Delete the expired rows now; how many went."""
        async with self.database.session() as session, session.begin():
            return await purge_expired(session, utcnow() - self.grace)

    async def run(self, stop: asyncio.Event) -> None:
        """Purge every interval until `stop` is set."""
        while not stop.is_set():
            await sleep_or_stop(stop, self.interval)
            if stop.is_set():
                return
            try:
                await self.purge()
            except Exception as error:
                logger.warning("token housekeeping failed", extra={"error": type(error).__name__})

    async def check(self) -> None:
        """Never holds readiness up: expired rows only take space."""
