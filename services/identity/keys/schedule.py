"""The rotation schedule as pure decisions: given a chain's keys and the time, what must change.

Kept apart from the database so that its rules can be checked exhaustively (see the property tests):
a key is published for at least ``publish_lead`` before it signs (except the very first key of a
chain, or a replacement when no key can sign at all), exactly one key signs at any moment once a
chain exists, and a key stays published for ``retention`` after it stopped signing.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field


class KeyState(enum.StrEnum):
    """Where a key is in its life."""

    NEXT = "next"
    CURRENT = "current"
    RETIRED = "retired"
    REMOVED = "removed"


@dataclass(frozen=True)
class ScheduledKey:
    """The schedule of one key (a row of ``signing_keys`` without its key material)."""

    kid: str
    algorithm: str
    published_at: dt.datetime
    activates_at: dt.datetime
    retires_at: dt.datetime | None = None
    removes_at: dt.datetime | None = None
    removed_at: dt.datetime | None = None

    def state_at(self, now: dt.datetime) -> KeyState:
        """The key's state at `now`."""
        if any(moment is not None and moment <= now for moment in (self.removed_at, self.removes_at)):
            return KeyState.REMOVED
        if self.retires_at is not None and self.retires_at <= now:
            return KeyState.RETIRED
        if self.activates_at > now:
            return KeyState.NEXT
        return KeyState.CURRENT

    def signs_at(self, now: dt.datetime) -> bool:
        """Whether tokens signed at `now` may use this key."""
        return self.state_at(now) is KeyState.CURRENT


@dataclass(frozen=True)
class RotationPolicy:
    """How keys rotate: every ``interval``, announced ``publish_lead`` ahead, kept ``retention`` after."""

    interval: dt.timedelta
    publish_lead: dt.timedelta
    retention: dt.timedelta

    def __post_init__(self) -> None:
        if not dt.timedelta(0) < self.publish_lead < self.interval or self.retention < dt.timedelta(0):
            raise ValueError("need 0 < publish_lead < interval and retention >= 0")


@dataclass(frozen=True)
class Retirement:
    """Stop signing with `kid` at `retires_at`; remove it from the JWKS at `removes_at`."""

    kid: str
    retires_at: dt.datetime
    removes_at: dt.datetime


@dataclass(frozen=True)
class ChainPlan:
    """What the rotation job does to one algorithm's chain."""

    #: When the key to create starts signing (None: create no key).
    create_activating_at: dt.datetime | None = None
    retire: list[Retirement] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)

    @property
    def changes_anything(self) -> bool:
        """Whether the plan writes anything."""
        return self.create_activating_at is not None or bool(self.retire or self.remove)


def plan_chain(
    keys: Sequence[ScheduledKey],
    *,
    now: dt.datetime,
    policy: RotationPolicy,
    usable: Collection[str],
    wanted: bool = True,
) -> ChainPlan:
    """The changes one chain needs at `now`.

    `keys` are the chain's keys that are not removed yet; `usable` names those this process can sign
    with (their private key decrypts); `wanted` is False for an algorithm no longer configured, whose
    keys are retired and, once their tokens have expired, removed.
    """
    remove = [
        key.kid for key in keys if key.removed_at is None and key.removes_at is not None and key.removes_at <= now
    ]
    alive = [key for key in keys if key.kid not in remove and key.removed_at is None]
    if not wanted:
        return ChainPlan(retire=_retirements(alive, now, policy), remove=remove)
    signing = [key for key in alive if key.kid in usable and key.state_at(now) in (KeyState.NEXT, KeyState.CURRENT)]
    if any(key.state_at(now) is KeyState.NEXT for key in signing):
        return ChainPlan(remove=remove)  # the successor is already announced
    current = max((key for key in signing if key.state_at(now) is KeyState.CURRENT), key=_activation, default=None)
    if current is None:
        # No key can sign (a new chain, or a lost key encryption key): one must sign at once. Verifiers
        # that do not know it yet fetch the JWKS on the unknown kid.
        activation = now
    elif current.retires_at is not None:
        # It stops signing, but its announced successor is gone: take over when it stops, so that no
        # moment lacks a signing key.
        activation = current.retires_at
    elif now >= current.activates_at + policy.interval - policy.publish_lead:
        activation = max(now + policy.publish_lead, current.activates_at + policy.interval)
    else:
        return ChainPlan(remove=remove)
    return ChainPlan(create_activating_at=activation, retire=_retirements(alive, activation, policy), remove=remove)


def _activation(key: ScheduledKey) -> dt.datetime:
    return key.activates_at


def _retirements(alive: Sequence[ScheduledKey], at: dt.datetime, policy: RotationPolicy) -> list[Retirement]:
    """Every key that would still sign at `at` stops then; earlier retirements stay as they are."""
    return [
        Retirement(key.kid, at, at + policy.retention) for key in alive if key.retires_at is None or key.retires_at > at
    ]
