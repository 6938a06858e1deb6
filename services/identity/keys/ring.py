"""The keys of one process, loaded from the database: the signers, the JWKS and the verification keys.

A request never touches the database or decrypts anything for a key: :meth:`KeyRing.load` decrypts
each private key once and the token endpoint picks its signer from memory. Which key signs follows
from the stored activation and retirement times, so every replica switches at the same moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth.jwks import VerificationKey, parse_jwks
from services.identity.config import SigningAlgorithm
from services.identity.keys.encryption import KeyDecryptionError, KeyEncryption
from services.identity.keys.material import Signer, load_private_key
from services.identity.keys.models import SigningKey
from services.identity.keys.rotation import scheduled
from services.identity.keys.schedule import KeyState

logger = logging.getLogger(__name__)

#: How long a request waits for the keys of a process that is just starting.
STARTUP_WAIT = 5.0


class NoSigningKeyError(Exception):
    """No key may sign now (the keys are not loaded yet, or the rotation job has not run)."""


@dataclass(frozen=True)
class _Period:
    """When one signer signs, as Unix times (cheaper to compare per request than datetimes)."""

    starts: float
    ends: float
    signer: Signer


class KeyRing:
    """The signing keys of this process, reloaded by :meth:`load` whenever the schedule may have moved."""

    def __init__(self, encryption: KeyEncryption, algorithms: Sequence[SigningAlgorithm]) -> None:
        self.encryption = encryption
        self.algorithms = tuple(algorithms)
        self.loaded = asyncio.Event()
        self.jwks_body = b'{"keys":[]}'
        self.jwks_etag = _etag(self.jwks_body)
        self._periods: dict[str, list[_Period]] = {}
        self._verification_keys: dict[str, VerificationKey] = {}
        self._signers: dict[str, Signer] = {}
        self._undecryptable: set[str] = set()

    @property
    def access_token_algorithm(self) -> SigningAlgorithm:
        """The algorithm access tokens are signed with: the first configured one."""
        return self.algorithms[0]

    async def load(self, session: AsyncSession, now: dt.datetime) -> None:
        """Read the keys that are not removed, decrypt the ones that sign now or later, publish the rest."""
        rows = (await session.scalars(select(SigningKey).where(SigningKey.removed_at.is_(None)))).all()
        published = [row for row in rows if scheduled(row).state_at(now) is not KeyState.REMOVED]
        published.sort(key=lambda row: row.activates_at, reverse=True)
        periods: dict[str, list[_Period]] = {}
        for row in published:
            if scheduled(row).state_at(now) is KeyState.RETIRED:
                continue
            signer = self._signer(row)
            if signer is not None:
                ends = row.retires_at.timestamp() if row.retires_at is not None else math.inf
                periods.setdefault(row.algorithm, []).append(_Period(row.activates_at.timestamp(), ends, signer))
        document = {"keys": [row.public_jwk for row in published]}
        body = json.dumps(document, separators=(",", ":")).encode()
        # Swapped in one go, between two awaits: a request sees either the old ring or the new one.
        self._periods = periods
        self._verification_keys = parse_jwks(document)
        self._signers = {kid: signer for kid, signer in self._signers.items() if kid in {row.kid for row in published}}
        self.jwks_body, self.jwks_etag = body, _etag(body)
        self.loaded.set()

    def signer(self, algorithm: str | None = None, at: float | None = None) -> Signer:
        """The key that signs at `at` (now by default) for `algorithm` (the access-token one by default)."""
        moment = time.time() if at is None else at
        for period in self._periods.get(algorithm or self.access_token_algorithm, ()):
            # Newest first: during a hand-over the successor wins from its activation on.
            if period.starts <= moment < period.ends:
                return period.signer
        raise NoSigningKeyError(f"no {algorithm or self.access_token_algorithm} key signs now")

    async def wait_loaded(self, timeout: float = STARTUP_WAIT) -> None:
        """Return once the keys have been loaded, or after `timeout` seconds (a process just starting)."""
        if not self.loaded.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.loaded.wait(), timeout)

    @property
    def unusable_kids(self) -> frozenset[str]:
        """Keys whose private part does not decrypt here (altered, or under an unknown KEK)."""
        return frozenset(self._undecryptable)

    def verification_key(self, kid: str) -> VerificationKey | None:
        """The published public key with this kid, for checking tokens this service issued."""
        return self._verification_keys.get(kid)

    def _signer(self, row: SigningKey) -> Signer | None:
        known = self._signers.get(row.kid)
        if known is not None:
            return known
        if row.private_key is None or row.kid in self._undecryptable:
            return None
        try:
            der = self.encryption.decrypt(row.private_key, kid=row.kid, kek_id=row.kek_id)
        except KeyDecryptionError as error:
            # Logged once: the rotation job replaces a key nobody here can use, and it stays published.
            self._undecryptable.add(row.kid)
            logger.error("signing key unusable: %s", error)
            return None
        signer = Signer(row.kid, cast(SigningAlgorithm, row.algorithm), load_private_key(der))
        self._signers[row.kid] = signer
        return signer


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
