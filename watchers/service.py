"""The watcher's event loop: informers in, pipeline flushes out, through every outage.

One asyncio loop owns the pipeline; informer threads hand it batches through
`LoopListener`, which gathers them for up to `batch_delay_s` (never more than
half the debounce, so every flush deadline is known in time). The loop sleeps
until the next flush deadline or the next batch, publishes what is due,
refreshes the snapshot's heartbeat, polls the admin settings, and re-checks
whether the Gateway API (HTTPRoute) is served.
When publishing fails (Redis down) it keeps ingesting, retries with backoff,
and once Redis answers again republishes everything under a new epoch, so no
client is left with a picture that silently diverged.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from kubernetes import client as k8s

from constellation.heap import HeapGuard
from watchers import metrics
from watchers.kube.client import gateway_api_available
from watchers.kube.informer import Informer, InformerConfig
from watchers.kube.listener import LoopListener
from watchers.kube.relist import Event
from watchers.kube.resources import CORE_RESOURCES, HTTPROUTES, Resource
from watchers.pipeline import Pipeline, WatcherConfig
from watchers.publish import Publisher

log = logging.getLogger("constellation.watcher")

ConfigSource = Callable[[], Awaitable[WatcherConfig]]


@dataclass(frozen=True)
class ServiceOptions:
    """Timings of the loop's periodic work."""

    settings_poll_s: float = 2.0
    """The admin promises a saved change applies within 5 s."""
    gateway_recheck_s: float = 30.0
    """Installing the Gateway API CRDs turns routes on within this long, without a restart."""
    heartbeat_s: float = 5.0
    """The snapshot's timestamp is refreshed this often when idle; /readyz checks it."""
    retry_initial_s: float = 0.5
    retry_max_s: float = 10.0
    probe_s: float = 1.0
    """While backing off, how often a cheap PING asks whether Redis is back."""
    batch_delay_s: float = 0.25
    """Longest wait of an event before the loop ingests it. Flushes wait for the debounce
    anyway (a flush drains first, and deadlines count from when each event arrived), and
    each hand-over costs a loop wake-up: at 300 events/s, one per event cost more CPU than
    parsing them."""
    informer: InformerConfig | None = None
    manage_gc: bool = True
    """Keep the cyclic garbage collector off the picture (constellation/heap.py): off while the
    first picture is built, then frozen after it and after every full collection."""
    gc_hold_max_s: float = 120.0
    """The collector is back on after this long even if the first picture is not built yet
    (the API server unreachable at start): retries' garbage must not pile up meanwhile."""


class WatcherService:
    """Runs the informers and the pipeline, and publishes until stopped."""

    def __init__(
        self,
        api_client: k8s.ApiClient,
        publisher: Publisher,
        *,
        config: WatcherConfig | None = None,
        config_source: ConfigSource | None = None,
        options: ServiceOptions | None = None,
    ) -> None:
        self.api = api_client
        self.publisher = publisher
        self.pipeline = Pipeline(config)
        self.config_source = config_source
        self.options = options or ServiceOptions()
        self.informers: dict[str, Informer] = {}
        self.ready = False
        self._needs_epoch = True
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failures = 0
        self._retry_at = 0.0
        self._collector: metrics.InformerCollector | None = None
        self._listener: LoopListener | None = None
        self._sleep_until = 0.0
        self._settled = False
        self._heap = HeapGuard()

    # -- InformerListener (called on the loop by LoopListener) ----------------------

    def on_events(self, kind: str, events: list[Event], at: float) -> None:
        assert self._wake is not None
        ingest = self.pipeline.ingest
        for event_type, obj in events:
            ingest(kind, event_type, obj, at)
        # Events only schedule flushes; wake the loop only if one falls due before it
        # would wake anyway.
        deadline = self.pipeline.next_deadline()
        if not self.ready or (deadline is not None and deadline < self._sleep_until):
            self._wake.set()

    def on_synced(self, kind: str) -> None:
        log.info("informer synced kind=%s", kind)
        assert self._wake is not None
        self._wake.set()

    # -- status ----------------------------------------------------------------------

    def informers_settled(self) -> bool:
        """Every informer has listed once, or is refused access (its kind stays empty)."""
        if not self._settled:
            self._settled = bool(self.informers) and all(
                h.synced or h.auth_failed for h in (i.health() for i in self.informers.values())
            )
        return self._settled

    def cluster_status(self) -> dict[str, Any]:
        healths = {kind: asdict(i.health()) for kind, i in sorted(self.informers.items())}
        return {
            "synced": self.informers_settled(),
            "ready": self.ready,
            "heartbeat": time.time(),
            "resources": healths,
            "objects": self.pipeline.state.counts(),
            "skipped_objects": self.pipeline.state.skipped,
            "publishing": not self._needs_epoch,
        }

    # -- lifecycle -------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Watch and publish until `stop` is set; never returns early on an outage."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        if self.options.manage_gc:
            self._heap.hold()
        listener = self._listener = LoopListener(self._loop, self, self._batch_delay())
        self._collector = metrics.register_informers(
            lambda: [i.health() for i in list(self.informers.values())]
        )
        for resource in CORE_RESOURCES:
            self._start_informer(resource, listener)
        background = [
            asyncio.create_task(
                self._every(
                    self.options.gateway_recheck_s, stop, lambda: self._check_gateway(listener)
                ),
                name="gateway-recheck",
            ),
            asyncio.create_task(
                self._every(self.options.settings_poll_s, stop, self._poll_settings),
                name="settings-poll",
            ),
            asyncio.create_task(
                self._every(self.options.probe_s, stop, self._probe_store),
                name="store-probe",
            ),
            asyncio.create_task(self._wake_on(stop), name="stop-wakes-the-loop"),
        ]
        try:
            await self._check_gateway(listener)
            await self._main_loop(stop)
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await asyncio.gather(*(asyncio.to_thread(i.stop) for i in self.informers.values()))
            metrics.unregister(self._collector)
            metrics.READY.set(0)
            self._heap.close()
            log.info("watcher stopped")

    def _start_informer(self, resource: Resource, listener: LoopListener) -> None:
        informer = Informer(self.api, resource, listener, config=self.options.informer)
        self.informers[resource.kind] = informer
        informer.start()
        log.info("watching resource=%s path=%s", resource.plural, resource.path)

    async def _every(
        self, period: float, stop: asyncio.Event, step: Callable[[], Awaitable[None]]
    ) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=period)
                return
            except TimeoutError:
                pass
            try:
                await step()
            except Exception:  # noqa: BLE001 - periodic work must never end the loop
                log.exception(
                    "periodic step failed step=%s; it runs again in %.0f s",
                    getattr(step, "__name__", step),
                    period,
                )

    async def _check_gateway(self, listener: LoopListener) -> None:
        try:
            available = await asyncio.to_thread(gateway_api_available, self.api)
        except Exception as exc:  # noqa: BLE001 - discovery failing is not routes disappearing
            log.warning("gateway API discovery failed error=%r; keeping routes as they are", exc)
            return
        informer = self.informers.get(HTTPROUTES.kind)
        if available and informer is None:
            log.info("gateway API is served; watching HTTPRoutes")
            self._start_informer(HTTPROUTES, listener)
        elif not available and informer is not None:
            log.info("gateway API is no longer served; HTTPRoutes leave the picture")
            del self.informers[HTTPROUTES.kind]
            await asyncio.to_thread(informer.withdraw)

    async def _probe_store(self) -> None:
        """While backing off after a failed publish, retry as soon as Redis answers again: the
        backoff (up to retry_max_s plus jitter) would otherwise keep the picture unpublished
        for up to 15 s after Redis is back (issue 15 B)."""
        assert self._loop is not None and self._wake is not None
        if self._retry_at <= self._loop.time() or not self._failures:
            return
        if await self.publisher.snapshots.reachable():
            log.info("snapshot store answers again; republishing now instead of in %.1f s",
                     self._retry_at - self._loop.time())
            self._retry_at = self._loop.time()
            self._wake.set()

    async def _poll_settings(self) -> None:
        if self.config_source is None:
            return
        config = await self.config_source()
        if config != self.pipeline.config:
            log.info("applying new watcher settings %s", config)
            self.pipeline.set_config(config)
            if self._listener is not None:
                self._listener.delay_s = self._batch_delay()
            assert self._wake is not None
            self._wake.set()

    def _batch_delay(self) -> float:
        return min(self.options.batch_delay_s, self.pipeline.config.churn.debounce_ms / 2000)

    async def _main_loop(self, stop: asyncio.Event) -> None:
        assert self._loop is not None and self._wake is not None
        last_heartbeat = 0.0
        hold_until = self._loop.time() + self.options.gc_hold_max_s
        while not stop.is_set():
            now = self._loop.time()
            if now >= hold_until:
                self._heap.settle()
            if self.informers_settled() and now >= self._retry_at:
                await self._publish_due(now)
                heartbeat_due = now - last_heartbeat >= self.options.heartbeat_s
                if heartbeat_due and not self._needs_epoch:
                    await self._attempt(self.publisher.heartbeat(self.cluster_status()))
                    last_heartbeat = now
                    self._update_gauges()
            self._heap.tick(now)
            delay = self._next_wake(now, last_heartbeat)
            self._sleep_until = now + delay
            await self._sleep(delay)

    def _update_gauges(self) -> None:
        for kind, count in self.pipeline.state.counts().items():
            metrics.OBJECTS.labels(kind).set(count)
        metrics.SKIPPED.set(self.pipeline.state.skipped)

    def _next_wake(self, now: float, last_heartbeat: float) -> float:
        # Only work the loop can do now may bring the wake-up forward: before every informer
        # listed, before the first epoch or while backing off, a flush or heartbeat already
        # due would otherwise wake it at once, again and again (it spun through the whole
        # initial list, taking the GIL from the informer threads parsing it).
        candidates = [now + 1.0]
        if self._retry_at > now:
            candidates.append(self._retry_at)
        elif self.informers_settled():
            if not self._needs_epoch:
                candidates.append(last_heartbeat + self.options.heartbeat_s)
            deadline = self.pipeline.next_deadline()
            if deadline is not None:
                candidates.append(deadline)
        return max(0.0, min(candidates) - now)

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        assert self._wake is not None
        self._wake.set()

    async def _sleep(self, delay: float) -> None:
        # One future and one timer a turn: waiting on `stop` and the wake-up together made
        # two tasks and asyncio.wait's machinery on every turn, most of the loop's idle cost.
        assert self._wake is not None and self._loop is not None
        wake = self._wake
        wake.clear()
        timer = self._loop.call_later(delay, wake.set)
        try:
            await wake.wait()
        finally:
            timer.cancel()

    async def _publish_due(self, now: float) -> None:
        assert self._listener is not None
        self._listener.drain()
        if self._needs_epoch:
            trees = self.pipeline.full_render(now)
            if await self._attempt(self.publisher.start_epoch(trees, self.cluster_status())):
                self._needs_epoch = False
                self.ready = True
                metrics.READY.set(1)
            self._heap.settle()  # the first picture is built, published or not
            return
        flushes = self.pipeline.flush(now)
        if flushes and not await self._attempt(self.publisher.publish(flushes)):
            self._needs_epoch = True

    async def _attempt(self, publishing: Awaitable[Any]) -> bool:
        """Run one publish step; on failure log, back off, and plan a full republish."""
        assert self._loop is not None
        try:
            await publishing
        except Exception as exc:  # noqa: BLE001 - an outage of Redis must not stop watching
            self._failures += 1
            self._needs_epoch = True
            delay = min(
                self.options.retry_max_s, self.options.retry_initial_s * 2 ** (self._failures - 1)
            )
            delay *= 1 + random.random() * 0.5
            self._retry_at = self._loop.time() + delay
            metrics.PUBLISH_FAILURES.inc()
            log.warning(
                "publish failed attempt=%d error=%r; still watching, retrying in "
                "%.1f s and then republishing the full snapshot under a new epoch",
                self._failures,
                exc,
                delay,
            )
            return False
        if self._failures:
            log.info("publishing recovered after %d failed attempts", self._failures)
        self._failures = 0
        return True
