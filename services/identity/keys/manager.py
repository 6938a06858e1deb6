"""The per-process keeper of the signing keys: runs the rotation job and reloads the ring on a schedule.

It is a :class:`kit.service.Component`, so it runs in every API process and the process is not ready
until a key can sign.
"""

from __future__ import annotations

import asyncio
import logging

from kit.db import Database, utcnow
from kit.events.relay import sleep_or_stop
from services.identity.config import Settings
from services.identity.keys.ring import KeyRing, NoSigningKeyError
from services.identity.keys.rotation import KeyGeneration, rotate_keys
from services.identity.keys.schedule import RotationPolicy

logger = logging.getLogger(__name__)


class SigningKeyManager:
    """Rotates the keys when due and keeps this process's :class:`KeyRing` in step with the database."""

    name = "signing_keys"

    def __init__(self, database: Database, ring: KeyRing, settings: Settings) -> None:
        self.database = database
        self.ring = ring
        self.algorithms = list(settings.signing_algorithms)
        self.policy = RotationPolicy(
            interval=settings.signing_key_rotation_interval,
            publish_lead=settings.signing_key_publish_lead,
            retention=settings.key_retention(),
        )
        self.generation = KeyGeneration(ring.encryption, settings.rsa_key_bits)
        self.interval = settings.signing_key_refresh_interval.total_seconds()

    async def refresh(self) -> None:
        """Run the rotation job, then load what is now in the database (also when the job failed)."""
        try:
            async with self.database.session() as session, session.begin():
                await rotate_keys(
                    session,
                    algorithms=self.algorithms,
                    policy=self.policy,
                    generation=self.generation,
                    now=utcnow(),
                    unusable=self.ring.unusable_kids,
                )
        finally:
            async with self.database.session() as session:
                await self.ring.load(session, utcnow())

    async def run(self, stop: asyncio.Event) -> None:
        """Refresh every interval until `stop` is set; a failed refresh keeps the keys loaded before."""
        while not stop.is_set():
            try:
                await self.refresh()
            except Exception as error:
                logger.warning("signing key refresh failed", extra={"error": type(error).__name__}, exc_info=True)
            # Retry soon while no key is loaded: the process is not ready until then.
            await sleep_or_stop(stop, self.interval if self._can_sign() else min(self.interval, 1.0))

    async def check(self) -> None:
        """Readiness: a key signs access tokens now."""
        if not self._can_sign():
            raise RuntimeError("no signing key loaded")

    def _can_sign(self) -> bool:
        try:
            self.ring.signer()
        except NoSigningKeyError:
            return False
        return True
