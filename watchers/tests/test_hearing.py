"""How long a watch may stay silent, learned from its bookmarks' pace."""

from watchers.kube.hearing import Hearing


def test_without_bookmarks_only_the_fallback_tells_a_stall() -> None:
    hearing = Hearing(fallback_s=135.0)
    for second in range(100):
        hearing.heard(float(second))

    assert hearing.limit() == 135.0


def test_after_two_bookmark_intervals_a_silence_of_three_is_abnormal() -> None:
    hearing = Hearing(fallback_s=135.0)
    for at in (0.0, 5.0, 10.0):
        hearing.heard(at, bookmarks=1)

    assert hearing.limit() == 15.0


def test_the_longest_recent_interval_sets_the_limit_and_events_do_not_shorten_it() -> None:
    hearing = Hearing(fallback_s=135.0)
    for at in (0.0, 60.0, 100.0):
        hearing.heard(at, bookmarks=1)
    for at in (100.1, 100.2, 100.3):
        hearing.heard(at)

    assert hearing.limit() == 180.0


def test_a_new_stream_does_not_count_the_reconnect_as_an_interval() -> None:
    hearing = Hearing(fallback_s=135.0)
    hearing.heard(0.0, bookmarks=1)
    hearing.heard(1.0, bookmarks=1)
    hearing.new_stream()
    hearing.heard(500.0, bookmarks=1)
    hearing.heard(501.0, bookmarks=1)

    assert hearing.limit() == 3.0


def test_a_very_fast_pace_still_allows_the_floor() -> None:
    hearing = Hearing(fallback_s=135.0, floor_s=2.0)
    for at in (0.0, 0.1, 0.2):
        hearing.heard(at, bookmarks=2)

    assert hearing.limit() == 2.0
