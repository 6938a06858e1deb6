"""The rotation job: applies :func:`~services.identity.keys.schedule.plan_chain` to the stored keys.

Every API replica runs it; on PostgreSQL a transaction-scoped advisory lock makes them take turns, and
each one plans from what the previous one committed, so two replicas never create two successors.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.config import SigningAlgorithm
from services.identity.keys.encryption import KeyEncryption
from services.identity.keys.material import generate_private_key, private_key_bytes, public_jwk
from services.identity.keys.models import SigningKey
from services.identity.keys.schedule import ChainPlan, RotationPolicy, ScheduledKey, plan_chain

logger = logging.getLogger(__name__)

#: The advisory lock key of the rotation job (any constant unique within the identity database).
_ROTATION_LOCK = "identity.signing_keys.rotation"


@dataclass(frozen=True)
class KeyGeneration:
    """What new keys are made of."""

    encryption: KeyEncryption
    rsa_bits: int


def scheduled(row: SigningKey) -> ScheduledKey:
    """The schedule of a stored key."""
    return ScheduledKey(
        kid=row.kid,
        algorithm=row.algorithm,
        published_at=row.published_at,
        activates_at=row.activates_at,
        retires_at=row.retires_at,
        removes_at=row.removes_at,
        removed_at=row.removed_at,
    )


async def rotate_keys(
    session: AsyncSession,
    *,
    algorithms: Sequence[SigningAlgorithm],
    policy: RotationPolicy,
    generation: KeyGeneration,
    now: dt.datetime,
    unusable: Collection[str] = (),
) -> bool:
    """Create, retire and remove keys as the schedule demands at `now`; True when anything changed.

    `unusable` names keys that failed to decrypt although their KEK is configured (an altered row):
    they are replaced like keys under an unknown KEK.

    Runs in the caller's transaction, which it locks against concurrent rotations on PostgreSQL (on
    SQLite, the one writer at a time is lock enough).
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": _ROTATION_LOCK})
    rows = (await session.scalars(select(SigningKey).where(SigningKey.removed_at.is_(None)))).all()
    by_kid = {row.kid: row for row in rows}
    usable = {
        row.kid
        for row in rows
        if row.private_key is not None and generation.encryption.can_decrypt(row.kek_id) and row.kid not in unusable
    }
    changed = False
    for algorithm in sorted({*algorithms, *(row.algorithm for row in rows)}):
        chain = [scheduled(row) for row in rows if row.algorithm == algorithm]
        plan = plan_chain(chain, now=now, policy=policy, usable=usable, wanted=algorithm in algorithms)
        if plan.changes_anything:
            await _apply(session, plan, by_kid, algorithm, generation, now)
            changed = True
    return changed


async def _apply(
    session: AsyncSession,
    plan: ChainPlan,
    rows: dict[str, SigningKey],
    algorithm: str,
    generation: KeyGeneration,
    now: dt.datetime,
) -> None:
    for kid in plan.remove:
        rows[kid].removed_at = now
        rows[kid].private_key = None  # nothing can sign with a removed key again
        logger.info("signing key removed", extra={"kid": kid})
    for retirement in plan.retire:
        rows[retirement.kid].retires_at = retirement.retires_at
        rows[retirement.kid].removes_at = retirement.removes_at
    if plan.create_activating_at is not None:
        # Only configured algorithms (SigningAlgorithm values) get new keys: plan_chain creates none otherwise.
        configured = cast(SigningAlgorithm, algorithm)
        key = await asyncio.to_thread(generate_private_key, configured, generation.rsa_bits)
        jwk = public_jwk(key, configured)
        session.add(
            SigningKey(
                kid=jwk["kid"],
                algorithm=algorithm,
                public_jwk=jwk,
                private_key=generation.encryption.encrypt(private_key_bytes(key), kid=jwk["kid"]),
                kek_id=generation.encryption.current_id,
                published_at=now,
                activates_at=plan.create_activating_at,
            )
        )
        logger.info(
            "signing key created",
            extra={"kid": jwk["kid"], "algorithm": algorithm, "activates_at": plan.create_activating_at.isoformat()},
        )
    await session.flush()
