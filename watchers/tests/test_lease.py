"""Leader election decisions from literal Lease objects and explicit times."""

from __future__ import annotations

import pytest

from watchers.lease import (
    Action,
    LeaseConfig,
    Observation,
    decide,
    expires_at,
    format_micro_time,
    observe,
    parse_micro_time,
    released,
)

NOON = 1795435200.0  # 2026-11-23T12:00:00Z
CONFIG = LeaseConfig()

HELD_BY_A = {
    "apiVersion": "coordination.k8s.io/v1",
    "kind": "Lease",
    "metadata": {"name": "watcher", "namespace": "ops", "resourceVersion": "41"},
    "spec": {
        "holderIdentity": "a",
        "leaseDurationSeconds": 15,
        "acquireTime": "2026-11-23T11:00:00.000000Z",
        "renewTime": "2026-11-23T12:00:00.000000Z",
        "leaseTransitions": 3,
    },
}


def decide_for(identity: str, lease: dict | None, now: float, **kwargs) -> object:
    return decide(
        lease, name="watcher", namespace="ops", identity=identity, now=now, config=CONFIG, **kwargs
    )


def test_micro_time_is_rfc3339_with_six_fraction_digits_in_utc():
    assert format_micro_time(NOON + 0.25) == "2026-11-23T12:00:00.250000Z"
    assert parse_micro_time("2026-11-23T12:00:00.250000Z") == NOON + 0.25


def test_parse_micro_time_accepts_plain_time_and_offsets_and_rejects_garbage():
    assert parse_micro_time("2026-11-23T12:00:00Z") == NOON
    assert parse_micro_time("2026-11-23T13:00:00+01:00") == NOON
    assert parse_micro_time("yesterday") is None
    assert parse_micro_time(None) is None


def test_no_lease_means_create_one_naming_us_with_zero_transitions():
    decision = decide_for("b", None, NOON)
    assert decision.action is Action.CREATE
    assert decision.body == {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "watcher", "namespace": "ops"},
        "spec": {
            "holderIdentity": "b",
            "leaseDurationSeconds": 15,
            "acquireTime": "2026-11-23T12:00:00.000000Z",
            "renewTime": "2026-11-23T12:00:00.000000Z",
            "leaseTransitions": 0,
        },
    }


def test_a_live_lease_held_by_another_means_wait_until_it_expires():
    decision = decide_for("b", HELD_BY_A, NOON + 14.9)
    assert decision.action is Action.WAIT
    assert decision.holder == "a" and decision.body is None
    assert decision.expires_at == NOON + 15


def test_an_expired_lease_is_taken_over_with_its_resource_version_and_one_more_transition():
    decision = decide_for("b", HELD_BY_A, NOON + 15.5)
    assert decision.action is Action.ACQUIRE and decision.holder == "a"
    assert decision.body["metadata"]["resourceVersion"] == "41"
    assert decision.body["spec"] == {
        "holderIdentity": "b",
        "leaseDurationSeconds": 15,
        "acquireTime": "2026-11-23T12:00:15.500000Z",
        "renewTime": "2026-11-23T12:00:15.500000Z",
        "leaseTransitions": 4,
    }


def test_our_own_lease_is_renewed_keeping_acquire_time_and_transitions():
    decision = decide_for("a", HELD_BY_A, NOON + 2)
    assert decision.action is Action.RENEW
    assert decision.body["spec"]["acquireTime"] == "2026-11-23T11:00:00.000000Z"
    assert decision.body["spec"]["renewTime"] == "2026-11-23T12:00:02.000000Z"
    assert decision.body["spec"]["leaseTransitions"] == 3


def test_our_own_lease_is_renewed_even_after_it_expired():
    assert decide_for("a", HELD_BY_A, NOON + 60).action is Action.RENEW


def test_a_released_lease_is_acquired_at_once():
    lease = {**HELD_BY_A, "spec": {**HELD_BY_A["spec"], "holderIdentity": ""}}
    decision = decide_for("b", lease, NOON + 0.1)
    assert decision.action is Action.ACQUIRE and decision.holder == ""
    assert decision.body["spec"]["leaseTransitions"] == 4


def test_a_lease_without_a_renew_time_counts_as_expired():
    lease = {
        "metadata": {"name": "watcher", "resourceVersion": "7"},
        "spec": {"holderIdentity": "a"},
    }
    assert decide_for("b", lease, NOON).action is Action.ACQUIRE


def test_the_holders_own_duration_decides_expiry_not_ours():
    lease = {**HELD_BY_A, "spec": {**HELD_BY_A["spec"], "leaseDurationSeconds": 40}}
    assert decide_for("b", lease, NOON + 30).action is Action.WAIT


def test_a_standby_whose_clock_runs_ahead_still_waits_a_full_duration_after_seeing_a_renewal():
    seen = observe(None, HELD_BY_A, NOON + 10)
    decision = decide_for("b", HELD_BY_A, NOON + 20, observation=seen)
    assert decision.action is Action.WAIT and decision.expires_at == NOON + 25
    assert decide_for("b", HELD_BY_A, NOON + 25, observation=seen).action is Action.ACQUIRE


def test_observation_keeps_its_first_seen_time_until_the_record_changes():
    first = observe(None, HELD_BY_A, NOON)
    assert observe(first, HELD_BY_A, NOON + 5) is first
    renewed = {**HELD_BY_A, "spec": {**HELD_BY_A["spec"], "renewTime": "2026-11-23T12:00:02Z"}}
    assert observe(first, renewed, NOON + 5) == Observation(
        ("a", "2026-11-23T12:00:02Z", 15), NOON + 5
    )


def test_expiry_without_an_observation_is_renew_time_plus_duration():
    assert expires_at(HELD_BY_A["spec"], CONFIG) == NOON + 15


def test_release_empties_the_holder_and_shortens_the_lease_keeping_the_version():
    body = released(HELD_BY_A, "a", NOON + 3)
    assert body["metadata"]["resourceVersion"] == "41"
    assert body["spec"] == {
        "holderIdentity": "",
        "leaseDurationSeconds": 1,
        "acquireTime": "2026-11-23T12:00:03.000000Z",
        "renewTime": "2026-11-23T12:00:03.000000Z",
        "leaseTransitions": 3,
    }


def test_a_lease_someone_else_holds_is_not_ours_to_release():
    assert released(HELD_BY_A, "b", NOON) is None


def test_fractional_durations_round_up_to_whole_seconds_on_the_wire():
    config = LeaseConfig(lease_duration_s=1.5, renew_deadline_s=1.0, retry_period_s=0.2)
    assert config.lease_duration_seconds == 2


@pytest.mark.parametrize(
    ("duration", "deadline", "retry"), [(10, 10, 2), (15, 10, 10), (15, 10, 0), (5, 10, 2)]
)
def test_timings_must_leave_the_leader_time_to_stop_before_its_lease_expires(
    duration, deadline, retry
):
    with pytest.raises(ValueError, match="retry period < renew deadline < lease duration"):
        LeaseConfig(lease_duration_s=duration, renew_deadline_s=deadline, retry_period_s=retry)
