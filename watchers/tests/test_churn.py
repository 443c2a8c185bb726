"""Lifecycle smoothing and churn rates (DESIGN §5), on literal pods and explicit times."""

from __future__ import annotations

import pytest

from watchers.churn import (
    UNKNOWN_DELETION_TIME,
    ChurnConfig,
    ChurnMonitor,
    ChurnWarning,
    PodSmoothing,
)

NS = "shop"
WEB = "Service/shop/web"
API = "Service/shop/api"


def pod(name, phase="Running", uid=None, **metadata):
    return {
        "metadata": {"name": name, "namespace": NS, "uid": uid or f"uid-{name}", **metadata},
        "status": {"phase": phase},
    }


def seen_namespace(smoothing, now=0.0):
    """Make the smoothing's first look at the namespace, so later pods count as new."""
    assert smoothing.hidden_pods(NS, {}, now) == frozenset()


def test_a_young_pending_pod_is_hidden_then_shown():
    smoothing = PodSmoothing()
    seen_namespace(smoothing)
    pods = {"web-1": pod("web-1", "Pending")}
    assert smoothing.hidden_pods(NS, pods, 10.0) == {"web-1"}
    assert smoothing.next_deadline(NS) == 11.0
    assert smoothing.hidden_pods(NS, pods, 10.9) == {"web-1"}
    assert smoothing.hidden_pods(NS, pods, 11.0) == frozenset()
    assert smoothing.next_deadline(NS) is None


def test_a_pod_that_starts_within_the_grace_is_never_shown_pending():
    smoothing = PodSmoothing()
    seen_namespace(smoothing)
    assert smoothing.hidden_pods(NS, {"web-1": pod("web-1", "Pending")}, 10.0) == {"web-1"}
    assert smoothing.hidden_pods(NS, {"web-1": pod("web-1", "Running")}, 10.4) == frozenset()


def test_pods_present_at_the_first_look_are_shown_even_if_pending():
    smoothing = PodSmoothing()
    assert smoothing.hidden_pods(NS, {"stuck": pod("stuck", "Pending")}, 10.0) == frozenset()
    assert smoothing.hidden_pods(NS, {"stuck": pod("stuck", "Pending")}, 10.1) == frozenset()


def test_a_running_pod_next_to_a_hidden_pending_one_is_shown():
    smoothing = PodSmoothing()
    seen_namespace(smoothing)
    pods = {"web-1": pod("web-1"), "web-2": pod("web-2", "Pending")}
    assert smoothing.hidden_pods(NS, pods, 10.0) == {"web-2"}
    assert smoothing.hidden_pods(NS, pods, 10.5) == {"web-2"}


def test_pods_that_are_not_objects_or_have_no_status_are_never_hidden():
    smoothing = PodSmoothing()
    seen_namespace(smoothing)
    pods = {"a": None, "b": "pod", "c": {"status": "up"}, "d": {}}
    assert smoothing.hidden_pods(NS, pods, 10.0) == frozenset()


def test_a_pod_recreated_under_the_same_name_gets_a_new_grace():
    smoothing = PodSmoothing()
    seen_namespace(smoothing)
    smoothing.hidden_pods(NS, {"db-0": pod("db-0", "Pending", uid="a")}, 1.0)
    assert smoothing.hidden_pods(NS, {"db-0": pod("db-0", "Pending", uid="a")}, 5.0) == set()
    assert smoothing.hidden_pods(NS, {"db-0": pod("db-0", "Pending", uid="b")}, 5.1) == {"db-0"}


def test_a_deleted_pod_lingers_as_terminating_then_goes():
    smoothing = PodSmoothing()
    smoothing.pod_deleted(NS, pod("web-1"), 20.0)
    ghosts = smoothing.lingering(NS, 21.9)
    assert list(ghosts) == ["web-1"]
    assert ghosts["web-1"]["metadata"]["deletionTimestamp"] == UNKNOWN_DELETION_TIME
    assert ghosts["web-1"]["status"] == {"phase": "Running"}
    assert smoothing.next_deadline(NS) == 22.0
    assert smoothing.lingering(NS, 22.0) == {}
    assert smoothing.next_deadline() is None


def test_a_ghost_keeps_the_deletion_time_the_api_gave():
    smoothing = PodSmoothing()
    deleted = pod("web-1", deletionTimestamp="2026-11-23T12:00:00Z")
    smoothing.pod_deleted(NS, deleted, 20.0)
    ghost = smoothing.lingering(NS, 20.5)["web-1"]
    assert ghost["metadata"]["deletionTimestamp"] == "2026-11-23T12:00:00Z"
    assert deleted["metadata"]["deletionTimestamp"] == "2026-11-23T12:00:00Z"


def test_a_recreated_pod_replaces_its_ghost():
    smoothing = PodSmoothing()
    smoothing.pod_deleted(NS, pod("db-0"), 20.0)
    assert smoothing.lingering(NS, 20.5, live={"db-0"}) == {}
    assert smoothing.lingering(NS, 20.6) == {}


def test_a_pod_deleted_while_still_hidden_leaves_no_ghost():
    smoothing = PodSmoothing()
    seen_namespace(smoothing)
    smoothing.hidden_pods(NS, {"web-1": pod("web-1", "Pending")}, 10.0)
    smoothing.pod_deleted(NS, pod("web-1", "Pending"), 10.3)
    assert smoothing.lingering(NS, 10.4) == {}


def test_a_pod_shown_running_within_its_first_second_lingers_when_deleted():
    smoothing = PodSmoothing()
    seen_namespace(smoothing)
    assert smoothing.hidden_pods(NS, {"web-1": pod("web-1", "Pending")}, 10.0) == {"web-1"}
    assert smoothing.hidden_pods(NS, {"web-1": pod("web-1")}, 10.3) == frozenset()
    smoothing.pod_deleted(NS, pod("web-1"), 10.5)
    assert list(smoothing.lingering(NS, 10.6)) == ["web-1"]


def test_a_pod_deleted_the_moment_its_grace_ends_was_shown_and_lingers():
    smoothing = PodSmoothing()
    seen_namespace(smoothing)
    pods = {"web-1": pod("web-1", "Pending")}
    smoothing.hidden_pods(NS, pods, 10.0)
    assert smoothing.hidden_pods(NS, pods, 11.0) == frozenset()
    smoothing.pod_deleted(NS, pods["web-1"], 11.0)
    assert list(smoothing.lingering(NS, 11.1)) == ["web-1"]


def test_a_forgotten_namespace_starts_afresh_with_no_ghosts_and_a_first_look():
    smoothing = PodSmoothing()
    seen_namespace(smoothing)
    smoothing.hidden_pods(NS, {"web-1": pod("web-1", "Pending")}, 10.0)
    smoothing.pod_deleted(NS, pod("db-0"), 10.0)
    smoothing.forget(NS)
    assert (smoothing.lingering(NS, 10.1), smoothing.next_deadline()) == ({}, None)
    # A namespace re-created under the same name: its pods are shown at the first look.
    assert smoothing.hidden_pods(NS, {"web-1": pod("web-1", "Pending")}, 10.2) == frozenset()
    smoothing.forget("never-seen")


def test_next_deadline_covers_every_namespace_when_none_is_named():
    smoothing = PodSmoothing()
    seen_namespace(smoothing)
    smoothing.hidden_pods(NS, {"web-1": pod("web-1", "Pending")}, 10.0)
    smoothing.pod_deleted("other", pod("x"), 9.5)
    assert smoothing.next_deadline("other") == 11.5
    assert smoothing.next_deadline() == 11.0
    smoothing.forget(NS)
    assert smoothing.next_deadline() == 11.5


def test_longer_tunables_stretch_a_ghost_already_lingering():
    smoothing = PodSmoothing()
    smoothing.pod_deleted(NS, pod("web-1"), 20.0)
    smoothing.set_config(ChurnConfig(terminating_linger_ms=5000))
    assert list(smoothing.lingering(NS, 24.0)) == ["web-1"]


def events(monitor, count, start, end, services=(WEB,)):
    """`count` pod events spread evenly over [start, end)."""
    for i in range(count):
        monitor.record_pod_event(NS, services, start + (end - start) * i / count)


def test_rates_are_pods_per_minute_over_the_sliding_window():
    monitor = ChurnMonitor()
    events(monitor, 30, 0, 30)
    events(monitor, 10, 30, 40, services=(WEB, API))
    assert monitor.rate(NS, 40.0) == 40
    assert monitor.service_rate(NS, WEB, 40.0) == 40
    assert monitor.service_rate(NS, API, 40.0) == 10
    assert monitor.rate(NS, 75.0) == 24  # the events at t <= 15 left the window
    assert monitor.rate("elsewhere", 75.0) == 0


def test_a_churning_service_collapses_with_one_warning_and_expands_with_hysteresis():
    monitor = ChurnMonitor()
    counts = {WEB: 10, API: 3}
    events(monitor, 40, 0, 20)
    assert monitor.collapsed_services(NS, counts, 20.0) == frozenset()
    assert monitor.warnings(NS, 20.0) == []

    events(monitor, 40, 20, 30)  # 80 events in the last minute
    assert monitor.collapsed_services(NS, counts, 30.0) == {WEB}
    assert monitor.warnings(NS, 30.0) == [ChurnWarning([WEB], 80.0)]
    assert monitor.warnings(NS, 31.0) == []

    events(monitor, 30, 30, 60)  # still above the threshold, inside the cooldown
    assert monitor.collapsed_services(NS, counts, 60.0) == {WEB}
    assert monitor.warnings(NS, 60.0) == []

    # Below the threshold but not below half of it: stays collapsed.
    assert 30 <= monitor.service_rate(NS, WEB, 85.0) < 60
    assert monitor.collapsed_services(NS, counts, 85.0) == {WEB}
    assert monitor.service_rate(NS, WEB, 95.0) < 30
    assert monitor.collapsed_services(NS, counts, 95.0) == frozenset()


def test_a_rate_of_exactly_the_threshold_is_not_above_it():
    monitor = ChurnMonitor()
    events(monitor, 60, 0, 60)
    assert monitor.collapsed_services(NS, {WEB: 3}, 59.5) == frozenset()
    assert monitor.warnings(NS, 59.5) == []
    monitor.record_pod_event(NS, [], 59.6)  # a pod no service selects tips the namespace over
    assert monitor.warnings(NS, 59.6) == [ChurnWarning([], 61.0)]


def test_a_collapsed_service_expands_only_once_below_half_the_threshold():
    monitor = ChurnMonitor()
    events(monitor, 80, 0, 40)  # one every half second
    assert monitor.collapsed_services(NS, {WEB: 3}, 40.0) == {WEB}
    assert monitor.service_rate(NS, WEB, 84.5) == 30
    assert monitor.collapsed_services(NS, {WEB: 3}, 84.5) == {WEB}
    assert monitor.collapsed_services(NS, {WEB: 3}, 85.0) == frozenset()


def test_the_warning_repeats_after_the_cooldown_while_churn_stays_high():
    monitor = ChurnMonitor(ChurnConfig(warning_cooldown_s=30))
    events(monitor, 120, 0, 60)
    assert len(monitor.warnings(NS, 10.0)) == 1
    assert monitor.warnings(NS, 39.0) == []
    assert len(monitor.warnings(NS, 40.0)) == 1


def test_churn_spread_over_many_services_warns_without_naming_one():
    monitor = ChurnMonitor()
    for i in range(70):
        monitor.record_pod_event(NS, [f"Service/shop/s{i % 7}"], i / 2)
    assert monitor.warnings(NS, 35.0) == [ChurnWarning([], 70.0)]


def test_a_large_service_collapses_and_expands_only_well_below_the_limit():
    monitor = ChurnMonitor()
    assert monitor.collapsed_services(NS, {WEB: 50}, 0.0) == frozenset()
    assert monitor.collapsed_services(NS, {WEB: 51}, 1.0) == {WEB}
    assert monitor.collapsed_services(NS, {WEB: 50}, 2.0) == {WEB}
    assert monitor.collapsed_services(NS, {WEB: 45}, 3.0) == frozenset()


def test_services_gone_from_the_counts_are_forgotten():
    monitor = ChurnMonitor()
    assert monitor.collapsed_services(NS, {WEB: 80}, 0.0) == {WEB}
    assert monitor.collapsed_services(NS, {}, 1.0) == frozenset()
    assert monitor.collapsed_services(NS, {WEB: 48}, 2.0) == frozenset()


def test_a_lower_threshold_applies_at_once():
    monitor = ChurnMonitor()
    events(monitor, 20, 0, 10)
    assert monitor.collapsed_services(NS, {WEB: 5}, 10.0) == frozenset()
    monitor.set_config(ChurnConfig(churn_threshold_per_min=10))
    assert monitor.collapsed_services(NS, {WEB: 5}, 10.0) == {WEB}
    assert monitor.warnings(NS, 10.0) == [ChurnWarning([WEB], 20.0)]


def test_forgetting_a_namespace_clears_its_rates_and_cooldown():
    monitor = ChurnMonitor()
    events(monitor, 100, 0, 10)
    assert monitor.warnings(NS, 10.0)
    monitor.forget(NS)
    assert monitor.rate(NS, 10.0) == 0
    events(monitor, 100, 10, 20)
    assert monitor.warnings(NS, 20.0)


def test_forgetting_a_namespace_clears_its_collapsed_services_and_service_rates():
    monitor = ChurnMonitor()
    events(monitor, 100, 0, 10)
    assert monitor.collapsed_services(NS, {WEB: 51}, 10.0) == {WEB}
    monitor.forget(NS)
    assert monitor.service_rate(NS, WEB, 10.0) == 0
    # 48 pods would keep a collapsed service collapsed; a forgotten one starts expanded.
    assert monitor.collapsed_services(NS, {WEB: 48}, 10.0) == frozenset()
    monitor.forget("never-seen")


def test_zero_turns_a_delay_off_and_the_shortest_window_is_one_second():
    config = ChurnConfig(
        debounce_ms=0, pending_grace_ms=0, terminating_linger_ms=0, churn_window_s=1
    )
    smoothing = PodSmoothing(config)
    seen_namespace(smoothing)
    assert smoothing.hidden_pods(NS, {"web-1": pod("web-1", "Pending")}, 10.0) == frozenset()
    smoothing.pod_deleted(NS, pod("web-1"), 10.0)
    assert smoothing.lingering(NS, 10.0) == {}


def test_nonsensical_tunables_are_rejected():
    with pytest.raises(ValueError, match="churn_window_s"):
        ChurnConfig(churn_window_s=0)
    with pytest.raises(ValueError, match="debounce_ms"):
        ChurnConfig(debounce_ms=-1)
