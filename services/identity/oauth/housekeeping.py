"""Deletes what has expired: revocations of tokens past their expiry, used client assertion ids, and the
rows of login flows (codes, refresh tokens, sessions, eID transactions, e-mail links) no longer of use."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from kit.db import Database, utcnow
from kit.events.relay import sleep_or_stop
from services.identity.config import Settings
from services.identity.oauth.revocation import purge_expired

#: Codes are kept while their login session may live (12 h at most): back-channel logout finds the
#: clients of a session through them.
CODE_RETENTION = dt.timedelta(hours=13)
#: Ended and expired login sessions stay visible in the person's data export for a while.
SESSION_RETENTION = dt.timedelta(days=30)


async def purge_flows(session: AsyncSession, now: dt.datetime) -> int:
    """Delete rows of login flows that can no longer be used; how many went."""
    # Imported here: these modules import the OAuth package themselves.
    from services.identity.accounts.models import EmailToken
    from services.identity.login.eid_models import EidTransaction
    from services.identity.login.models import LoginSessionRow
    from services.identity.oidc.models import AuthorizationCode, RefreshToken

    statements = [
        delete(AuthorizationCode).where(AuthorizationCode.expires_at < now - CODE_RETENTION),
        delete(RefreshToken).where(RefreshToken.expires_at < now),
        delete(LoginSessionRow).where(LoginSessionRow.expires_at < now - SESSION_RETENTION),
        delete(EidTransaction).where(EidTransaction.expires_at < now),
        delete(EmailToken).where(EmailToken.expires_at < now),
    ]
    removed = 0
    for statement in statements:
        removed += int(getattr(await session.execute(statement), "rowcount", 0) or 0)
    return removed


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
            now = utcnow()
            return await purge_expired(session, now - self.grace) + await purge_flows(session, now)

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
