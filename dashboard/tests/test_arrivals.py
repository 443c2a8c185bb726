"""Unpacking the watcher's envelopes and telling lost messages from late ones, with literals."""

from __future__ import annotations

from constellation import protocol
from dashboard.arrivals import Arrivals, Batch


def test_a_flush_envelope_becomes_a_batch_in_order() -> None:
    texts = [protocol.encode(protocol.resource_updated("web", {"n": n})) for n in (1, 2)]
    envelope = {
        "type": "state.messages",
        "epoch": "e1",
        "namespace": "web",
        "messages": [
            {"text": texts[0], "seq": 7, "ns_seq": 3},
            {"text": texts[1], "seq": 9, "ns_seq": 4},
        ],
    }

    batch = Batch.from_envelope(envelope)

    assert (batch.epoch, batch.namespace, batch.items) == (
        "e1",
        "web",
        ((3, texts[0]), (4, texts[1])),
    )
    assert (batch.last_ns_seq, batch.last_seq, batch.deletes_namespace) == (4, 9, False)


def test_a_single_message_envelope_carrying_a_deletion_is_marked() -> None:
    text = protocol.encode(protocol.namespace_deleted("web"))
    envelope = {"type": "state.message", "epoch": "e1", "namespace": "web",
                "text": text, "seq": 5, "ns_seq": 2}  # fmt: skip

    batch = Batch.from_envelope(envelope)

    assert (batch.items, batch.last_seq, batch.deletes_namespace) == (((2, text),), 5, True)


def arrived(arrivals: Arrivals, namespace: str, ns_seq: int, seq: int, epoch: str = "e1") -> None:
    text = protocol.encode({"type": "ResourceUpdated", "namespace": namespace})
    arrivals.note(
        Batch.from_envelope(
            {
                "type": "state.message",
                "epoch": epoch,
                "namespace": namespace,
                "text": text,
                "ns_seq": ns_seq,
                "seq": seq,
            }
        )
    )


def test_a_message_not_arrived_at_the_first_check_is_not_yet_lost() -> None:
    arrivals = Arrivals()

    check = arrivals.check("e1", {"web": 1}, seq=1)

    assert (check.lost, check.received) == (frozenset(), {})


def test_a_message_still_missing_when_nothing_else_arrived_is_lost() -> None:
    arrivals = Arrivals()
    arrivals.check("e1", {"web": 1}, seq=1)

    assert arrivals.check("e1", {"web": 1}, seq=1).lost == {"web"}


def test_a_message_still_missing_behind_older_arrivals_waits_until_a_newer_one_arrives() -> None:
    arrivals = Arrivals()
    arrivals.check("e1", {"api": 5, "web": 1}, seq=6)
    arrived(arrivals, "api", 4, seq=4)  # older than web's message: the process is behind

    assert arrivals.check("e1", {"api": 5, "web": 1}, seq=6).lost == frozenset()

    arrived(arrivals, "api", 5, seq=7)  # published after web's: web's cannot still come
    assert arrivals.check("e1", {"api": 5, "web": 1}, seq=7).lost == {"web"}


def test_a_message_that_arrives_late_is_not_lost_and_is_reported_received() -> None:
    arrivals = Arrivals()
    arrivals.check("e1", {"web": 2}, seq=2)
    arrived(arrivals, "web", 2, seq=2)

    check = arrivals.check("e1", {"web": 2}, seq=2)

    assert (check.lost, check.received) == (frozenset(), {"web": 2})


def test_arrivals_of_another_epoch_do_not_count() -> None:
    arrivals = Arrivals()
    arrived(arrivals, "web", 1, seq=1, epoch="e0")

    assert arrivals.check("e1", {"web": 1}, seq=1).received == {}


def test_a_namespace_quiet_since_before_the_process_listened_is_not_lost() -> None:
    arrivals = Arrivals()
    arrivals.learned("e1", {"web": 7})  # a client's FullState read ns_seq 7

    for _ in range(3):
        assert arrivals.check("e1", {"web": 7}, seq=30).lost == frozenset()


def test_a_message_after_what_a_read_taught_is_still_awaited() -> None:
    arrivals = Arrivals()
    arrivals.learned("e1", {"web": 7})
    arrivals.check("e1", {"web": 8}, seq=31)

    assert arrivals.check("e1", {"web": 8}, seq=31).lost == {"web"}


def test_namespaces_the_process_does_not_watch_are_never_lost_here() -> None:
    arrivals = Arrivals()
    arrived(arrivals, "web", 1, seq=1)
    for _ in range(3):
        check = arrivals.check("e1", {"web": 1, "api": 4}, seq=5, watched={"web"})

    assert check.lost == frozenset()
