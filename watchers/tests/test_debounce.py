"""Per-namespace debounce with a max wait (DESIGN §5), on explicit times in seconds."""

from __future__ import annotations

from watchers.churn import ChurnConfig
from watchers.debounce import Debouncer


def run(debouncer, events, until, step=0.05):
    """Tick a clock every `step` s, marking (namespace, time) events; return (time, flushed)."""
    flushes, pending = [], sorted(events, key=lambda e: e[1])
    for tick in range(round(until / step) + 1):
        now = round(tick * step, 6)
        while pending and pending[0][1] <= now:
            debouncer.mark(pending.pop(0)[0], now)
        flushes += [(now, namespace) for namespace in debouncer.due(now)]
    return flushes


def test_a_burst_is_flushed_once_after_the_quiet_period():
    debouncer = Debouncer()
    for t in (0.0, 0.3, 0.6):
        debouncer.mark("shop", t)
    assert debouncer.next_deadline() == 0.6 + 0.5
    assert debouncer.due(1.09) == []
    assert debouncer.due(1.1) == ["shop"]
    assert debouncer.due(5.0) == []
    assert debouncer.next_deadline() is None


def test_continuous_churn_still_flushes_every_max_wait():
    events = [("shop", i / 10) for i in range(100)]  # every 0.1 s for 10 s
    flushes = run(Debouncer(), events, until=12)
    times = [t for t, _ in flushes]
    assert times[:4] == [2.0, 4.1, 6.2, 8.3]
    assert times[-1] == 10.4  # the tail: quiet 0.5 s after the last event at 9.9


def test_a_busy_namespace_does_not_delay_a_quiet_one():
    events = [("busy", i / 10) for i in range(30)] + [("calm", 0.2)]
    flushes = run(Debouncer(), events, until=4)
    assert (0.7, "calm") in flushes
    assert [t for t, ns in flushes if ns == "busy"] == [2.0, 3.4]


def test_next_deadline_is_the_earliest_of_all_namespaces():
    debouncer = Debouncer()
    debouncer.mark("a", 0.0)
    for t in (0.0, 0.4, 0.8, 1.2, 1.6):
        debouncer.mark("b", t)
    assert debouncer.next_deadline() == 0.5
    assert debouncer.due(0.5) == ["a"]
    assert debouncer.next_deadline() == 2.0  # b's max wait beats its quiet period (2.1)


def test_forgotten_namespaces_are_not_flushed():
    debouncer = Debouncer()
    debouncer.mark("gone", 0.0)
    debouncer.forget("gone")
    assert debouncer.due(10.0) == []
    assert debouncer.next_deadline() is None


def test_new_tunables_apply_to_namespaces_already_waiting():
    debouncer = Debouncer()
    debouncer.mark("shop", 0.0)
    debouncer.set_config(ChurnConfig(debounce_ms=100, max_wait_ms=1000))
    assert debouncer.next_deadline() == 0.1
    assert debouncer.due(0.1) == ["shop"]
