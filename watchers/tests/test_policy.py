import random

import pytest

from watchers.kube.policy import (
    Action,
    Failure,
    FailureCounter,
    ListMode,
    Phase,
    backoff_delay,
    classify_end,
    classify_status,
    decide,
    next_list_mode,
)


class Fixed:
    """A random source that always returns the same value."""

    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("failure", "action"),
    [
        (Failure.WATCH_ENDED, Action.REWATCH),
        (Failure.WATCH_CLOSED_FAST, Action.BACKOFF_RELIST),
        (Failure.DISCONNECTED, Action.BACKOFF_REWATCH),
        (Failure.THROTTLED, Action.BACKOFF_REWATCH),
        (Failure.EXPIRED, Action.RELIST),
        (Failure.LIST_EXPIRED, Action.RELIST_FROM_SCRATCH),
        (Failure.CONTINUE_EXPIRED, Action.RELIST_UNPAGED),
        (Failure.RV_TOO_LARGE, Action.RELIST_FROM_SCRATCH),
        (Failure.SERVER_ERROR, Action.BACKOFF_RELIST),
        (Failure.MALFORMED, Action.BACKOFF_RELIST),
        (Failure.NOT_FOUND, Action.BACKOFF_RELIST),
        (Failure.UNAUTHORIZED, Action.AUTH_FAILED),
    ],
)
def test_each_failure_gets_the_reaction_in_the_table(failure, action):
    assert decide(failure, 0, Fixed(0.0)).action is action


def test_immediate_reactions_do_not_wait_however_many_failures_came_before():
    assert decide(Failure.WATCH_ENDED, 9, Fixed(0.5)).delay == 0.0
    assert decide(Failure.EXPIRED, 9, Fixed(0.5)).delay == 0.0


def test_backoff_starts_at_0_8_seconds_and_doubles():
    assert [backoff_delay(n, Fixed(0.0)) for n in range(4)] == pytest.approx([0.8, 1.6, 3.2, 6.4])


def test_backoff_stops_growing_at_the_cap():
    assert backoff_delay(6, Fixed(0.0)) == 30.0
    assert backoff_delay(10_000, Fixed(0.0)) == 30.0


def test_jitter_adds_up_to_the_whole_delay_again():
    assert backoff_delay(0, Fixed(0.999)) == pytest.approx(1.6, abs=0.01)
    delays = [backoff_delay(2, random.Random(seed)) for seed in range(50)]
    assert all(3.2 <= d < 6.4 for d in delays)
    assert len(set(delays)) == 50


def test_statuses_classify_by_code_and_phase():
    assert classify_status(410, {}, Phase.WATCH) is Failure.EXPIRED
    assert classify_status(410, {}, Phase.LIST) is Failure.LIST_EXPIRED
    assert classify_status(410, {"reason": "Expired"}, Phase.CONTINUE) is Failure.CONTINUE_EXPIRED
    assert classify_status(401, {}, Phase.WATCH) is Failure.UNAUTHORIZED
    assert classify_status(403, {}, Phase.LIST) is Failure.UNAUTHORIZED
    assert classify_status(404, {}, Phase.LIST) is Failure.NOT_FOUND
    assert classify_status(429, {}, Phase.WATCH) is Failure.THROTTLED
    assert classify_status(500, {}, Phase.WATCH) is Failure.SERVER_ERROR
    assert classify_status(503, {}, Phase.LIST) is Failure.SERVER_ERROR


def test_504_is_rv_too_large_only_when_the_status_says_so():
    too_large = {
        "kind": "Status",
        "code": 504,
        "reason": "Timeout",
        "message": "Timeout: Too large resource version: 99, current: 12",
        "details": {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large"}]},
    }
    assert classify_status(504, too_large, Phase.LIST) is Failure.RV_TOO_LARGE
    assert classify_status(504, {"message": "Too large resource version: 9"}, Phase.WATCH) is (
        Failure.RV_TOO_LARGE
    )
    assert classify_status(504, {"reason": "Timeout", "details": "odd"}, Phase.LIST) is (
        Failure.SERVER_ERROR
    )


def test_a_watch_closed_at_once_with_no_events_is_a_failure():
    assert classify_end(0.2, 0) is Failure.WATCH_CLOSED_FAST


def test_a_watch_that_saw_events_or_lasted_a_second_ended_normally():
    assert classify_end(0.2, 1) is Failure.WATCH_ENDED
    assert classify_end(1.0, 0) is Failure.WATCH_ENDED


def test_quiet_closes_every_few_seconds_rewatch_without_relisting_or_waiting():
    # Case #9: the rate is bounded by the server's own close interval, never a hot loop.
    counter = FailureCounter(Clock())
    for duration in (2.0, 3.5, 5.0, 2.0, 4.0):
        failure = classify_end(duration, 0)
        decision = decide(failure, counter.current(), Fixed(0.0))
        assert decision.action is Action.REWATCH
        assert next_list_mode(decision.action, None, resumable=True) is None
    assert counter.current() == 0


def test_instant_closes_in_a_loop_back_off_up_to_the_cap_with_jitter():
    # Case #10: every loop relists after a wait that doubles to the cap.
    clock, rng = Clock(), random.Random(7)
    counter = FailureCounter(clock)
    delays = []
    for _ in range(12):
        decision = decide(classify_end(0.05, 0), counter.current(), rng)
        assert decision.action is Action.BACKOFF_RELIST
        counter.record()
        delays.append(decision.delay)
        clock.now += decision.delay + 0.05
    bases = [0.8, 1.6, 3.2, 6.4, 12.8, 25.6] + [30.0] * 6
    assert all(base <= d < 2 * base for base, d in zip(bases, delays, strict=True))


def test_failures_are_forgotten_after_two_quiet_minutes():
    clock = Clock()
    counter = FailureCounter(clock)
    for _ in range(5):
        clock.now += 10
        counter.record()
    assert counter.current() == 5
    clock.now += 119
    assert counter.current() == 5
    clock.now += 1
    assert counter.current() == 0


def test_relist_actions_pick_their_list_mode():
    assert next_list_mode(Action.RELIST, None, resumable=True) is ListMode.AT_LAST_RV
    assert next_list_mode(Action.BACKOFF_RELIST, None, resumable=True) is ListMode.AT_LAST_RV
    assert next_list_mode(Action.AUTH_FAILED, None, resumable=True) is ListMode.AT_LAST_RV
    assert next_list_mode(Action.RELIST_FROM_SCRATCH, None, resumable=True) is ListMode.CONSISTENT
    assert next_list_mode(Action.RELIST_UNPAGED, None, resumable=True) is ListMode.UNPAGED


def test_without_a_resumable_version_a_relist_at_it_reads_from_scratch():
    assert next_list_mode(Action.RELIST, None, resumable=False) is ListMode.CONSISTENT


def test_a_rewatch_becomes_a_list_when_there_is_nothing_to_resume_from():
    assert next_list_mode(Action.REWATCH, None, resumable=False) is ListMode.CONSISTENT
    assert next_list_mode(Action.BACKOFF_REWATCH, None, resumable=True) is None


def test_a_retry_after_a_failed_list_repeats_that_list():
    assert next_list_mode(Action.BACKOFF_REWATCH, ListMode.UNPAGED, True) is ListMode.UNPAGED
    assert next_list_mode(Action.BACKOFF_REWATCH, ListMode.CONSISTENT, True) is ListMode.CONSISTENT


class _Half:
    def random(self) -> float:
        return 0.5


def test_refusals_retry_on_their_own_schedule_within_seconds_however_many_there_were() -> None:
    delays = [decide(Failure.UNAUTHORIZED, attempt, _Half()).delay for attempt in range(12)]
    server_errors = [decide(Failure.SERVER_ERROR, attempt, _Half()).delay for attempt in range(12)]

    assert max(delays) <= 6.0
    assert delays[0] <= 1.5
    assert max(server_errors) >= 30.0
