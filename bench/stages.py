"""Where the watcher's loop thread spends its CPU, stage by stage (bench/watcher.py --stages).

Instrumentation for the benchmark only: it wraps the loop's stage methods on their classes
and adds each call's own thread CPU time (`time.thread_time`) to its stage. A coroutine is
timed step by step, so time the loop spends on other tasks while it awaits Redis is not
counted against it. Whatever the stages do not cover (loop wake-ups, socket callbacks,
timers) is reported as the rest of the loop thread by the caller.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Generator
from typing import Any


class StageClock:
    """Thread CPU seconds per stage, counted while `running` is set."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self.running = False

    def instrument(self, owner: type, method: str, stage: str) -> None:
        """Count every call of `owner.method` (a function or a coroutine) as `stage`."""
        original = getattr(owner, method)
        if inspect.iscoroutinefunction(original):

            @functools.wraps(original)
            async def timed_coroutine(*args: Any, **kwargs: Any) -> Any:
                return await _Stepped(self, stage, original(*args, **kwargs))

            setattr(owner, method, timed_coroutine)
            return

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                if self.running:
                    self.seconds[stage] += time.thread_time() - started

        setattr(owner, method, timed)

    def add(self, stage: str, seconds: float) -> None:
        if self.running:
            self.seconds[stage] += seconds


class _Stepped:
    """Awaits a coroutine, timing only the steps it runs itself."""

    def __init__(self, clock: StageClock, stage: str, coroutine: Awaitable[Any]) -> None:
        self.clock, self.stage, self.coroutine = clock, stage, coroutine

    def __await__(self) -> Generator[Any, Any, Any]:
        coroutine: Any = self.coroutine
        step: Callable[[Any], Any] = coroutine.send
        value: Any = None
        while True:
            started = time.thread_time()
            try:
                yielded = step(value)
            except StopIteration as done:
                self.clock.add(self.stage, time.thread_time() - started)
                return done.value
            self.clock.add(self.stage, time.thread_time() - started)
            try:
                value, step = (yield yielded), coroutine.send
            except BaseException as exc:  # noqa: BLE001 - handed back to the coroutine
                value, step = exc, coroutine.throw


def instrument_watcher(clock: StageClock) -> None:
    """The loop thread's stages: what a pod event costs between the informer and Redis."""
    from constellation.snapshot import RedisSnapshotStore
    from watchers.diff import NamespaceDiffer
    from watchers.pipeline import Pipeline
    from watchers.publish import Publisher

    clock.instrument(Pipeline, "ingest", "ingest (store, lifecycle, debounce)")
    clock.instrument(Pipeline, "render", "flush: … render (smoothing, topology)")
    clock.instrument(NamespaceDiffer, "diff", "flush: … diff")
    clock.instrument(Pipeline, "flush", "flush (render + diff + encode)")
    clock.instrument(Publisher, "publish", "publish (stamp, encode, frame, Redis call)")
    clock.instrument(RedisSnapshotStore, "apply", "publish: … the Redis script call")
