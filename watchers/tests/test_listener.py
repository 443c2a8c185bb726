import asyncio
import threading

from watchers.kube.listener import LoopListener


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.stamps: list[float] = []
        self.threads: set[int] = set()
        self.done = asyncio.Event()
        self.fail_on: str | None = None

    def on_events(self, kind, events, at):
        self.threads.add(threading.get_ident())
        if kind == self.fail_on:
            raise RuntimeError("listener bug")
        self.calls.append(("events", kind, [t for t, _ in events]))
        self.stamps.append(at)

    def on_synced(self, kind):
        self.threads.add(threading.get_ident())
        self.calls.append(("synced", kind))
        self.done.set()


async def test_calls_from_an_informer_thread_run_on_the_loop_thread_in_order():
    recorder = Recorder()
    listener = LoopListener(asyncio.get_running_loop(), recorder)

    def informer_thread():
        listener.on_events("Pod", [("ADDED", {}), ("MODIFIED", {})], 1.0)
        listener.on_events("Pod", [("DELETED", {})], 2.0)
        listener.on_synced("Pod")

    thread = threading.Thread(target=informer_thread)
    thread.start()
    await asyncio.wait_for(recorder.done.wait(), 5)
    thread.join()
    assert recorder.calls == [
        ("events", "Pod", ["ADDED", "MODIFIED"]),
        ("events", "Pod", ["DELETED"]),
        ("synced", "Pod"),
    ]
    assert recorder.threads == {threading.get_ident()}


async def test_batches_wait_in_the_inbox_with_their_arrival_time():
    recorder = Recorder()
    listener = LoopListener(asyncio.get_running_loop(), recorder, delay_s=60)
    thread = threading.Thread(target=listener.on_events, args=("Pod", [("ADDED", {})], 7.5))
    thread.start()
    thread.join()
    await asyncio.sleep(0)
    assert recorder.calls == []  # not before the delay, unless someone drains
    listener.drain()
    assert recorder.calls == [("events", "Pod", ["ADDED"])]
    assert recorder.stamps == [7.5]


async def test_batches_reach_the_loop_after_the_delay_without_a_drain():
    recorder = Recorder()
    listener = LoopListener(asyncio.get_running_loop(), recorder, delay_s=0.01)
    threading.Thread(target=listener.on_events, args=("Pod", [("ADDED", {})], 1.0)).start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while not recorder.calls and loop.time() < deadline:
        await asyncio.sleep(0.01)
    assert recorder.calls == [("events", "Pod", ["ADDED"])]


async def test_a_failing_batch_does_not_strand_the_ones_behind_it():
    recorder = Recorder()
    recorder.fail_on = "Service"
    listener = LoopListener(asyncio.get_running_loop(), recorder, delay_s=60)
    listener.on_events("Service", [("ADDED", {})], 1.0)
    listener.on_events("Pod", [("ADDED", {})], 1.0)
    listener.drain()
    assert recorder.calls == [("events", "Pod", ["ADDED"])]


def test_calls_after_the_loop_closed_are_dropped():
    loop = asyncio.new_event_loop()
    loop.close()
    recorder = Recorder()
    listener = LoopListener(loop, recorder)
    listener.on_events("Pod", [("ADDED", {})], 1.0)
    listener.on_synced("Pod")
    assert recorder.calls == []
