"""OpenID Connect Back-Channel Logout 1.0: when a login session ends, every client that received tokens in
it and registered a ``backchannel_logout_uri`` gets a logout token.

Notices are queued in the same transaction that ends the session and delivered by a background component
with retries (exponential backoff, for a day), so a process dying in between loses none.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
import uuid
from typing import Any

import httpx
from sqlalchemy import Index, Integer, String, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import UTCDateTime, utcnow
from services.identity.clients.models import Client
from services.identity.models import Base
from services.identity.oidc.models import AuthorizationCode
from services.identity.oidc.outbound import ForbiddenTargetError, check_target
from services.identity.oidc.subjects import subject_for
from services.identity.runtime import Identity

logger = logging.getLogger(__name__)

LOGOUT_TOKEN_TYPE = "logout+jwt"  # noqa: S105 - the JWT typ of logout tokens, not a secret
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_LIFETIME = 120
GIVE_UP_AFTER = dt.timedelta(days=1)
BATCH = 20


class LogoutNotice(Base):
    """A logout token still to be delivered to one client."""

    __tablename__ = "logout_notices"
    __table_args__ = (Index("ix_logout_notices_next_attempt_at", "next_attempt_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(255), comment="the sub this client knows the person by")
    sid: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))


async def queue_logout_notices(identity: Identity, session: AsyncSession, sid: str, account_id: uuid.UUID) -> int:
    """Queue a notice for every client with a back-channel logout URI that got a code in session `sid`."""
    query = (
        select(Client)
        .join(AuthorizationCode, AuthorizationCode.client_id == Client.client_id)
        .where(AuthorizationCode.sid == sid, Client.backchannel_logout_uri.is_not(None))
        .distinct()
    )
    now = utcnow()
    clients = (await session.scalars(query)).all()
    for client in clients:
        snapshot = await identity.clients.find(client.client_id)
        if snapshot is None:
            continue
        session.add(
            LogoutNotice(
                id=uuid.uuid4(),
                client_id=client.client_id,
                subject=subject_for(identity, snapshot, account_id),
                sid=sid,
                created_at=now,
                attempts=0,
                next_attempt_at=now,
            )
        )
    return len(clients)


def logout_token(identity: Identity, client_id: str, subject: str, sid: str) -> str:
    """A logout token (Back-Channel Logout §2.4): no nonce, the logout event, sub and sid."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": identity.issuer,
        "aud": client_id,
        "iat": now,
        "exp": now + LOGOUT_TOKEN_LIFETIME,
        "jti": str(uuid.uuid4()),
        "sub": subject,
        "sid": sid,
        "events": {LOGOUT_EVENT: {}},
    }
    return identity.ring.signer(at=time.time()).sign(claims, typ=LOGOUT_TOKEN_TYPE)


class BackchannelLogout:
    """Delivers queued logout notices; several replicas share the queue (rows are locked while sent)."""

    name = "backchannel_logout"

    def __init__(self, identity: Identity, *, interval: float = 1.0) -> None:
        self.identity = identity
        self.interval = interval
        # No redirects: a client's URL must not bounce the request somewhere internal.
        self.http = httpx.AsyncClient(timeout=5.0, follow_redirects=False)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver what is due until `stop` is set."""
        try:
            while not stop.is_set():
                try:
                    delivered = await self.deliver_due()
                except Exception:  # survive a database outage; the database check reports it
                    logger.exception("back-channel logout delivery failed")
                    delivered = 0
                if delivered == 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.interval)
        finally:
            await self.http.aclose()

    async def check(self) -> None:
        """Never holds readiness up: undelivered notices wait in the queue."""

    async def deliver_due(self) -> int:
        """Deliver one batch of due notices; how many were done with (delivered or given up)."""
        identity = self.identity
        done = 0
        async with identity.database.session() as session, session.begin():
            query = (
                select(LogoutNotice)
                .where(LogoutNotice.next_attempt_at <= utcnow())
                .order_by(LogoutNotice.next_attempt_at)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
            for notice in (await session.scalars(query)).all():
                error = await self._deliver(notice)
                if error is None or utcnow() - notice.created_at > GIVE_UP_AFTER:
                    if error is not None:
                        logger.error("back-channel logout to %s given up: %s", notice.client_id, error)
                    await session.execute(delete(LogoutNotice).where(LogoutNotice.id == notice.id))
                    done += 1
                else:
                    notice.attempts += 1
                    notice.last_error = error[:500]
                    delay = min(3600, 2 ** min(notice.attempts, 12))
                    notice.next_attempt_at = utcnow() + dt.timedelta(seconds=delay)
        return done

    async def _deliver(self, notice: LogoutNotice) -> str | None:
        client = await self.identity.clients.find(notice.client_id)
        if client is None or client.backchannel_logout_uri is None:
            return None  # the client is gone or no longer wants notices
        uri = client.backchannel_logout_uri
        try:
            await check_target(uri, self.identity.settings.outbound_allowed_hosts)
            await self.identity.ring.wait_loaded()
            token = logout_token(self.identity, notice.client_id, notice.subject, notice.sid)
            response = await self.http.post(uri, data={"logout_token": token}, headers={"Cache-Control": "no-store"})
        except ForbiddenTargetError as error:
            return f"refused: {error}"
        except httpx.HTTPError as error:
            return f"{type(error).__name__}: {error}"
        if response.status_code not in (200, 204):
            return f"HTTP {response.status_code}"
        return None
