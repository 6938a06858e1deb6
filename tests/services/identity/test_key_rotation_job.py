"""The rotation job against PostgreSQL: replicas taking turns, the schedule written to the table, removal,
a lost key encryption key — and what a process's key ring makes of it."""

import asyncio
import datetime as dt
import json
import os
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete, select, update

from kit.db import Database, utcnow
from services.identity.config import SigningAlgorithm
from services.identity.keys.encryption import KeyEncryption
from services.identity.keys.models import SigningKey
from services.identity.keys.ring import KeyRing, NoSigningKeyError
from services.identity.keys.rotation import KeyGeneration, rotate_keys
from services.identity.keys.schedule import RotationPolicy

POLICY = RotationPolicy(
    interval=dt.timedelta(days=30), publish_lead=dt.timedelta(hours=1), retention=dt.timedelta(hours=2)
)
ENCRYPTION = KeyEncryption(os.urandom(32))
GENERATION = KeyGeneration(ENCRYPTION, rsa_bits=2048)


@pytest.fixture
async def database(identity_url: str) -> AsyncIterator[Database]:
    database = Database(identity_url)
    async with database.session() as session, session.begin():
        await session.execute(delete(SigningKey))
    yield database
    await database.dispose()


async def rotate(
    database: Database,
    now: dt.datetime,
    algorithms: tuple[SigningAlgorithm, ...] = ("ES256",),
    generation: KeyGeneration = GENERATION,
    unusable: frozenset[str] = frozenset(),
) -> bool:
    async with database.session() as session, session.begin():
        return await rotate_keys(
            session, algorithms=algorithms, policy=POLICY, generation=generation, now=now, unusable=unusable
        )


async def stored(database: Database) -> list[SigningKey]:
    async with database.session() as session:
        return list((await session.scalars(select(SigningKey).order_by(SigningKey.activates_at))).all())


async def loaded_ring(database: Database, now: dt.datetime, encryption: KeyEncryption = ENCRYPTION) -> KeyRing:
    ring = KeyRing(encryption, ["ES256"])
    async with database.session() as session:
        await ring.load(session, now)
    return ring


async def test_replicas_starting_together_create_one_key(database: Database) -> None:
    now = utcnow()
    results = await asyncio.gather(*(rotate(database, now) for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]
    [key] = await stored(database)
    assert key.activates_at == now
    assert key.private_key is not None
    assert not await rotate(database, now + dt.timedelta(minutes=1))


async def test_each_algorithm_has_its_own_chain(database: Database) -> None:
    await rotate(database, utcnow(), algorithms=("ES256", "RS256"))
    keys = await stored(database)
    assert sorted(key.algorithm for key in keys) == ["ES256", "RS256"]
    assert {key.public_jwk["kty"] for key in keys} == {"EC", "RSA"}


async def test_the_private_key_is_stored_encrypted(database: Database) -> None:
    await rotate(database, utcnow())
    [key] = await stored(database)
    assert key.kek_id == ENCRYPTION.current_id
    assert key.private_key is not None
    assert b"\x30\x81" not in key.private_key[:16]  # no plain DER sequence at the start
    assert ENCRYPTION.decrypt(key.private_key, kid=key.kid, kek_id=key.kek_id)


async def test_rotation_announces_the_successor_and_the_ring_switches_at_its_activation(database: Database) -> None:
    start = utcnow() - dt.timedelta(days=30)
    await rotate(database, start)
    due = start + POLICY.interval - POLICY.publish_lead
    assert await rotate(database, due)
    old, new = await stored(database)
    assert new.published_at == due
    assert new.activates_at == start + POLICY.interval
    assert old.retires_at == new.activates_at
    assert old.removes_at == new.activates_at + POLICY.retention
    ring = await loaded_ring(database, due)
    published = [jwk["kid"] for jwk in json.loads(ring.jwks_body)["keys"]]
    assert published == [new.kid, old.kid]
    switch = new.activates_at.timestamp()
    assert ring.signer(at=switch - 0.001).kid == old.kid
    assert ring.signer(at=switch).kid == new.kid


async def test_a_removed_key_leaves_the_jwks_and_loses_its_private_part(database: Database) -> None:
    start = utcnow() - dt.timedelta(days=31)
    await rotate(database, start)
    await rotate(database, start + POLICY.interval - POLICY.publish_lead)
    old, new = await stored(database)
    assert old.removes_at is not None
    assert await rotate(database, old.removes_at)
    removed, _ = await stored(database)
    assert removed.removed_at == old.removes_at
    assert removed.private_key is None
    ring = await loaded_ring(database, old.removes_at)
    assert ring.verification_key(old.kid) is None
    assert ring.verification_key(new.kid) is not None


async def test_keys_under_a_lost_kek_are_replaced_at_once_and_stay_published(database: Database) -> None:
    now = utcnow()
    await rotate(database, now - dt.timedelta(minutes=5))
    other = KeyEncryption(os.urandom(32))
    ring = await loaded_ring(database, now, other)
    with pytest.raises(NoSigningKeyError):
        ring.signer()
    assert await rotate(database, now, generation=KeyGeneration(other, 2048))
    lost, replacement = await stored(database)
    assert lost.retires_at == now
    assert replacement.activates_at == now
    ring = await loaded_ring(database, now + dt.timedelta(seconds=1), other)
    assert ring.signer().kid == replacement.kid
    assert ring.verification_key(lost.kid) is not None  # its tokens still verify


async def test_an_altered_key_is_reported_by_the_ring_and_replaced(database: Database) -> None:
    now = utcnow()
    await rotate(database, now - dt.timedelta(minutes=5))
    [key] = await stored(database)
    assert key.private_key is not None
    async with database.session() as session, session.begin():
        await session.execute(
            update(SigningKey).where(SigningKey.kid == key.kid).values(private_key=key.private_key[:-1] + b"\0")
        )
    ring = await loaded_ring(database, now)
    assert ring.unusable_kids == {key.kid}
    assert await rotate(database, now, unusable=ring.unusable_kids)
    ring = await loaded_ring(database, now + dt.timedelta(seconds=1))
    assert ring.signer().kid != key.kid


async def test_an_algorithm_dropped_from_the_settings_is_retired(database: Database) -> None:
    now = utcnow()
    await rotate(database, now, algorithms=("ES256", "RS256"))
    later = now + dt.timedelta(minutes=1)
    assert await rotate(database, later, algorithms=("ES256",))
    rsa = next(key for key in await stored(database) if key.algorithm == "RS256")
    assert rsa.retires_at == later
    assert rsa.removes_at == later + POLICY.retention
