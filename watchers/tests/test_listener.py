import asyncio
import threading

from watchers.kube.listener import LoopListener


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.threads: set[int] = set()
        self.done = asyncio.Event()

    def on_events(self, kind, events):
        self.threads.add(threading.get_ident())
        self.calls.append(("events", kind, [t for t, _ in events]))

    def on_synced(self, kind):
        self.threads.add(threading.get_ident())
        self.calls.append(("synced", kind))
        self.done.set()


async def test_calls_from_an_informer_thread_run_on_the_loop_thread_in_order():
    recorder = Recorder()
    listener = LoopListener(asyncio.get_running_loop(), recorder)

    def informer_thread():
        listener.on_events("Pod", [("ADDED", {}), ("MODIFIED", {})])
        listener.on_events("Pod", [("DELETED", {})])
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


def test_calls_after_the_loop_closed_are_dropped():
    loop = asyncio.new_event_loop()
    loop.close()
    recorder = Recorder()
    listener = LoopListener(loop, recorder)
    listener.on_events("Pod", [("ADDED", {})])
    listener.on_synced("Pod")
    assert recorder.calls == []
