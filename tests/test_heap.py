"""The collector policy: off while the first picture is built, frozen after it and after every
full collection, all unfrozen when the last watcher closes."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from constellation.heap import PERIOD_S, HeapGuard


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.unfreeze()
    yield
    gc.unfreeze()
    if enabled:
        gc.enable()


def picture() -> list[dict]:
    return [{"metadata": {"name": f"p{i}"}, "spec": {"containers": [{}]}} for i in range(100)]


def test_the_collector_is_off_while_the_first_picture_is_built():
    guard = HeapGuard()
    guard.hold()
    assert not gc.isenabled()
    guard.settle()
    assert gc.isenabled()
    guard.close()


def test_the_first_picture_is_frozen_once_built():
    guard = HeapGuard()
    guard.hold()
    kept = picture()
    guard.settle()
    frozen = gc.get_freeze_count()
    assert frozen >= len(kept)
    guard.close()


def test_what_survives_a_full_collection_is_frozen_so_the_next_one_skips_it():
    guard = HeapGuard()
    guard.hold()
    guard.settle()
    before = gc.get_freeze_count()
    kept = picture()
    gc.collect()
    assert gc.get_freeze_count() >= before + len(kept)
    guard.close()


def test_closing_the_last_watcher_unfreezes_everything_and_stops_freezing():
    first, second = HeapGuard(), HeapGuard()
    first.hold()
    second.hold()
    first.settle()
    assert not gc.isenabled()  # the second is still building its picture
    second.settle()
    assert gc.isenabled() and gc.get_freeze_count() > 0
    first.close()
    assert gc.get_freeze_count() > 0  # the second still runs
    second.close()
    assert gc.get_freeze_count() == 0
    picture()
    gc.collect()
    assert gc.get_freeze_count() == 0


def test_a_collector_switched_off_by_someone_else_stays_off():
    gc.disable()
    guard = HeapGuard()
    guard.hold()
    guard.settle()
    assert not gc.isenabled()
    guard.close()
    assert not gc.isenabled()


def test_a_guard_closed_without_settling_gives_the_collector_back():
    guard = HeapGuard()
    guard.hold()
    guard.close()
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_tick_collects_and_freezes_what_the_last_period_left():
    """Churn allocates about what it frees, so CPython seldom collects on its own while the
    unfrozen survivors pile up; a tick collects them every PERIOD_S."""
    guard = HeapGuard()
    guard.hold()
    guard.settle()
    guard.tick(100.0)
    before = gc.get_freeze_count()
    kept = picture()
    guard.tick(100.0 + PERIOD_S / 2)
    assert gc.get_freeze_count() == before  # not yet a period
    guard.tick(100.0 + PERIOD_S)
    assert gc.get_freeze_count() >= before + len(kept)
    guard.close()
