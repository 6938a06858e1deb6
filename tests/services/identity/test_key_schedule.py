"""The rotation schedule's rules, example by example and as properties over arbitrary job timings."""

import dataclasses
import datetime as dt
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.identity.keys.schedule import KeyState, RotationPolicy, ScheduledKey, plan_chain

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
POLICY = RotationPolicy(
    interval=dt.timedelta(seconds=100), publish_lead=dt.timedelta(seconds=20), retention=dt.timedelta(seconds=30)
)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def key(kid: str, activates: float, published: float | None = None, **times: float) -> ScheduledKey:
    return ScheduledKey(
        kid=kid,
        algorithm="ES256",
        published_at=at(published if published is not None else activates),
        activates_at=at(activates),
        **{f"{name}_at": at(value) for name, value in times.items()},
    )


def test_a_new_chain_gets_a_key_that_signs_at_once() -> None:
    plan = plan_chain([], now=at(0), policy=POLICY, usable=set())
    assert plan.create_activating_at == at(0)
    assert plan.retire == [] and plan.remove == []


def test_nothing_happens_before_the_successor_is_due() -> None:
    plan = plan_chain([key("a", 0)], now=at(79), policy=POLICY, usable={"a"})
    assert not plan.changes_anything


def test_the_successor_is_announced_a_publish_lead_before_it_signs() -> None:
    plan = plan_chain([key("a", 0)], now=at(80), policy=POLICY, usable={"a"})
    assert plan.create_activating_at == at(100)
    [retirement] = plan.retire
    assert (retirement.kid, retirement.retires_at, retirement.removes_at) == ("a", at(100), at(130))


def test_a_late_job_still_publishes_the_successor_a_full_lead_ahead() -> None:
    plan = plan_chain([key("a", 0)], now=at(500), policy=POLICY, usable={"a"})
    assert plan.create_activating_at == at(520)
    assert plan.retire[0].retires_at == at(520)


def test_an_announced_successor_means_nothing_to_do() -> None:
    chain = [key("a", 0, retires=100, removes=130), key("b", 100, published=80)]
    assert not plan_chain(chain, now=at(90), policy=POLICY, usable={"a", "b"}).changes_anything


def test_a_key_is_removed_once_its_tokens_have_expired() -> None:
    chain = [key("a", 0, retires=100, removes=130), key("b", 100, published=80)]
    assert plan_chain(chain, now=at(129), policy=POLICY, usable={"b"}).remove == []
    assert plan_chain(chain, now=at(130), policy=POLICY, usable={"b"}).remove == ["a"]


def test_a_key_nobody_can_use_is_replaced_at_once_and_stays_published() -> None:
    plan = plan_chain([key("a", 0)], now=at(10), policy=POLICY, usable=set())
    assert plan.create_activating_at == at(10)
    [retirement] = plan.retire
    assert (retirement.retires_at, retirement.removes_at) == (at(10), at(40))


def test_an_unusable_successor_is_replaced_by_a_usable_one() -> None:
    chain = [key("a", 0, retires=100, removes=130), key("b", 100, published=80)]
    plan = plan_chain(chain, now=at(85), policy=POLICY, usable={"a"})
    # "a" keeps signing until the replacement takes over; "b" never signs.
    assert plan.create_activating_at == at(100)
    assert [r.kid for r in plan.retire] == ["b"]


def test_when_the_announced_successor_is_gone_the_replacement_takes_over_on_time() -> None:
    chain = [key("a", 0, retires=100, removes=130)]
    plan = plan_chain(chain, now=at(90), policy=POLICY, usable={"a"})
    assert plan.create_activating_at == at(100)


def test_an_algorithm_no_longer_configured_is_retired_then_removed() -> None:
    plan = plan_chain([key("a", 0)], now=at(10), policy=POLICY, usable={"a"}, wanted=False)
    assert plan.create_activating_at is None
    assert [(r.kid, r.retires_at, r.removes_at) for r in plan.retire] == [("a", at(10), at(40))]
    retired = [key("a", 0, retires=10, removes=40)]
    assert not plan_chain(retired, now=at(20), policy=POLICY, usable={"a"}, wanted=False).changes_anything
    assert plan_chain(retired, now=at(40), policy=POLICY, usable={"a"}, wanted=False).remove == ["a"]


def test_states_follow_the_timestamps() -> None:
    scheduled = key("a", 10, published=0, retires=20, removes=30)
    assert [scheduled.state_at(at(t)) for t in (0, 10, 20, 30)] == [
        KeyState.NEXT,
        KeyState.CURRENT,
        KeyState.RETIRED,
        KeyState.REMOVED,
    ]
    assert dataclasses.replace(scheduled, removed_at=at(25)).state_at(at(25)) is KeyState.REMOVED


def test_a_policy_must_publish_before_it_rotates() -> None:
    with pytest.raises(ValueError):
        RotationPolicy(
            interval=dt.timedelta(seconds=10), publish_lead=dt.timedelta(seconds=10), retention=dt.timedelta()
        )


def run_job(keys: dict[str, ScheduledKey], now: dt.datetime, usable: set[str]) -> None:
    """Apply one run of the job to `keys`, as rotate_keys does to the table."""
    alive = [k for k in keys.values() if k.removed_at is None]
    plan = plan_chain(alive, now=now, policy=POLICY, usable=usable)
    for kid in plan.remove:
        keys[kid] = dataclasses.replace(keys[kid], removed_at=now)
    for retirement in plan.retire:
        keys[retirement.kid] = dataclasses.replace(
            keys[retirement.kid], retires_at=retirement.retires_at, removes_at=retirement.removes_at
        )
    if plan.create_activating_at is not None:
        kid = f"k{len(keys)}"
        keys[kid] = ScheduledKey(kid, "ES256", published_at=now, activates_at=plan.create_activating_at)
        usable.add(kid)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(min_value=0.5, max_value=400), min_size=1, max_size=40))
def test_any_timing_of_the_job_keeps_the_guarantees(gaps: list[float]) -> None:
    keys: dict[str, ScheduledKey] = {}
    usable: set[str] = set()
    now = T0
    runs = [now]
    run_job(keys, now, usable)
    for gap in gaps:
        now += dt.timedelta(seconds=gap)
        runs.append(now)
        run_job(keys, now, usable)
    ordered = sorted(keys.values(), key=lambda k: k.activates_at)
    # Every key but the first was published a full lead before it signed.
    for successor in ordered[1:]:
        assert successor.activates_at - successor.published_at >= POLICY.publish_lead
    # Each key signs until the next one does: no gap, no overlap.
    for predecessor, successor in itertools.pairwise(ordered):
        assert predecessor.retires_at == successor.activates_at
    # At every run exactly one key signs.
    for moment in runs:
        assert sum(k.signs_at(moment) for k in keys.values()) == 1
    # A key stays published for the whole retention after it stopped signing.
    for k in keys.values():
        if k.removed_at is not None:
            assert k.retires_at is not None
            assert k.removed_at >= k.retires_at + POLICY.retention
