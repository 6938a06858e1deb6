"""Queueing and delivering e-mails."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import uuid
from email.message import EmailMessage

import aiosmtplib
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from kit.db import Database, utcnow
from services.identity.config import Settings
from services.identity.mail.models import QueuedMail

logger = logging.getLogger(__name__)

BATCH = 20
MAX_BACKOFF = dt.timedelta(hours=1)
#: After this many failed attempts (about two days with the backoff) a mail is dropped and logged.
MAX_ATTEMPTS = 60


async def queue_mail(session: AsyncSession, recipient: str, subject: str, body: str) -> None:
    """Queue a plain-text e-mail; it is sent after the caller's transaction commits."""
    now = utcnow()
    session.add(
        QueuedMail(
            id=uuid.uuid4(),
            recipient=recipient,
            subject=subject,
            body=body,
            created_at=now,
            attempts=0,
            next_attempt_at=now,
        )
    )


class MailSender:
    """Delivers queued mails over SMTP; several replicas share the queue (rows are locked while sent)."""

    name = "mail"

    def __init__(self, database: Database, settings: Settings, *, interval: float = 1.0) -> None:
        self.database = database
        self.settings = settings
        self.interval = interval

    async def run(self, stop: asyncio.Event) -> None:
        """Send what is due until `stop` is set."""
        while not stop.is_set():
            try:
                sent = await self.send_due()
            except Exception:  # the loop must survive a database outage; the database check reports that
                logger.exception("mail delivery failed")
                sent = 0
            if sent == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.interval)

    async def check(self) -> None:
        """Never holds readiness up: undelivered mail waits in the queue."""

    async def send_due(self) -> int:
        """Send one batch of due mails; how many were accepted by the SMTP server."""
        sent = 0
        async with self.database.session() as session, session.begin():
            query = (
                select(QueuedMail)
                .where(QueuedMail.next_attempt_at <= utcnow())
                .order_by(QueuedMail.next_attempt_at)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
            for mail in (await session.scalars(query)).all():
                try:
                    await self._deliver(mail)
                except (aiosmtplib.SMTPException, OSError) as error:
                    self._postpone(mail, error)
                else:
                    await session.execute(delete(QueuedMail).where(QueuedMail.id == mail.id))
                    sent += 1
        return sent

    def _postpone(self, mail: QueuedMail, error: Exception) -> None:
        mail.attempts += 1
        mail.last_error = f"{type(error).__name__}: {error}"[:500]
        backoff = min(MAX_BACKOFF, dt.timedelta(seconds=5 * 2 ** min(mail.attempts, 12)))
        mail.next_attempt_at = utcnow() + backoff
        logger.warning("mail %s to the SMTP server failed (%s), attempt %d", mail.id, mail.last_error, mail.attempts)
        if mail.attempts >= MAX_ATTEMPTS:
            logger.error("mail %s dropped after %d attempts", mail.id, mail.attempts)
            mail.next_attempt_at = utcnow() + dt.timedelta(days=3650)

    async def _deliver(self, mail: QueuedMail) -> None:
        settings = self.settings
        message = EmailMessage()
        message["From"] = settings.mail_from
        message["To"] = mail.recipient
        message["Subject"] = mail.subject
        message["Message-ID"] = f"<{mail.id}@{settings.mail_from.rsplit('@', 1)[-1]}>"
        message.set_content(mail.body)
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            start_tls=settings.smtp_starttls,
            use_tls=settings.smtp_tls,
            username=settings.smtp_username,
            password=password,
            timeout=30,
        )
