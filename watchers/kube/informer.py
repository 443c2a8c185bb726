"""One resource's LIST+WATCH loop, in a daemon thread, feeding a listener with raw JSON events.

The official client is synchronous, so each informer owns a thread and blocks on its socket; the
rest of the watcher lives on one asyncio loop and receives batches through `LoopListener`. The
loops nest like kopf's `watching.py`: forever (obey the failure policy, back off) → one cycle
(LIST if needed, then WATCH from the list's resourceVersion) → one HTTP stream, read a block at a
time by `chunked.read_paced` and parsed by `WatchDriver` (no `Watch.stream`, no model objects:
DESIGN §3).

Events reach an `InformerListener` (listener.py) from the informer's thread.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import urllib3
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from watchers.kube.chunked import ChunkError, read_paced
from watchers.kube.client import Timeout, get
from watchers.kube.driver import StreamError, WatchDriver, parse_status, status_error
from watchers.kube.hearing import Hearing
from watchers.kube.listener import InformerListener
from watchers.kube.policy import (
    AUTH_BACKOFF,
    BACKOFF,
    BackoffConfig,
    Failure,
    FailureCounter,
    ListMode,
    Phase,
    Rng,
    classify_end,
    decide,
    next_list_mode,
)
from watchers.kube.relist import Event, MalformedList, PagedList
from watchers.kube.resources import Resource

log = logging.getLogger("watchers.informer")

_NETWORK_ERRORS = (urllib3.exceptions.HTTPError, OSError, ApiException)
_ERROR_BODY_LIMIT = 64 * 1024
_ROUTINE = (Failure.EXPIRED, Failure.LIST_EXPIRED, Failure.CONTINUE_EXPIRED, Failure.RV_TOO_LARGE)


@dataclass(frozen=True, slots=True)
class InformerConfig:
    """Timeouts and sizes of one informer; the defaults follow client-go."""

    page_size: int = 500
    """LIST page size, client-go's pager default: bounds the apiserver's memory per request."""
    connect_timeout_s: float = 10.0
    list_timeout_s: float = 60.0
    """Longest silence while reading a LIST page before giving up on the connection."""
    idle_timeout_s: float = 90.0
    """Longest silence on a watch before re-watching: catches half-open connections. Real
    servers send a bookmark about every minute; without them a quiet resource simply re-watches
    (cheap, no relist)."""
    watch_timeout_s: tuple[int, int] = (300, 600)
    """Server-side watch lifetime, random in this range so informers do not reconnect together."""
    read_interval_s: float = 0.25
    """After a read that drained the socket, the next waits until this long after it began, so
    events arriving one by one are read a batch at a time (chunked.py): a wake-up per event
    costs more than parsing it. Far below the debounce, so nothing shows later for it."""
    backoff: BackoffConfig = BACKOFF
    auth_backoff: BackoffConfig = AUTH_BACKOFF
    """Retries after 401/403: on their own, faster schedule (policy.AUTH_BACKOFF)."""


@dataclass(frozen=True, slots=True)
class InformerHealth:
    """A snapshot of one informer's state for /readyz and /metrics."""

    kind: str
    synced: bool  # a complete list has been delivered at least once
    connected: bool  # a watch stream is open right now
    last_event_at: float | None  # wall-clock time of the last delivered batch
    events: int  # events delivered, relist diffs included
    relists: int  # complete lists after the first
    watch_restarts: int  # watches resumed without a list in between
    last_error: str | None
    auth_failed: bool  # the last answer was 401/403 and nothing has succeeded since
    last_heard_at: float | None = None  # wall-clock time the API server last sent anything
    silence_limit_s: float | None = None  # longer without a word is a stall


class _Failed(Exception):
    def __init__(self, error: StreamError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass
class _Counters:
    synced: bool = False
    connected: bool = False
    last_event_at: float | None = None
    events: int = 0
    relists: int = 0
    watch_restarts: int = 0
    last_error: str | None = None
    auth_failed: bool = False
    lists: int = 0  # complete lists, the first one included
    last_heard_at: float | None = None
    silence_limit_s: float | None = None


class Informer:
    """LIST+WATCH of one resource in a daemon thread, surviving every failure in K8S_API §6."""

    def __init__(
        self,
        api_client: k8s.ApiClient,
        resource: Resource,
        listener: InformerListener,
        *,
        config: InformerConfig | None = None,
        rng: Rng | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.resource = resource
        self.config = config or InformerConfig()
        self._api = api_client
        self._listener = listener
        self._rng = rng or random.Random()
        self._clock = clock
        self._wall_clock = wall_clock
        self._driver = WatchDriver(
            resource,
            self._rng,
            page_size=self.config.page_size,
            watch_timeout_s=self.config.watch_timeout_s,
        )
        self._failures = FailureCounter(clock, self.config.backoff)
        # Unknown pace: a healthy quiet stream re-watches after the idle timeout, so a silence
        # half as long again is a stall.
        self._hearing = Hearing(fallback_s=1.5 * self.config.idle_timeout_s)
        self._state = _Counters()
        self._lock = threading.Lock()
        self._response: urllib3.BaseHTTPResponse | None = None
        self._stopping = threading.Event()
        self._synced = threading.Event()
        self._thread: threading.Thread | None = None
        self._name = resource.plural

    # -- control -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start listing and watching in a daemon thread."""
        name = f"informer-{self._name}"
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread: wakes a backoff wait and closes a blocked read."""
        self._stopping.set()
        with self._lock:
            response = self._response
        if response is not None:
            _abort(response)
        if self._thread is not None:
            self._thread.join(timeout)

    def withdraw(self, timeout: float = 5.0) -> None:
        """Stop, then report everything cached as DELETED: the resource is no longer served."""
        self.stop(timeout)
        events = self._driver.forget()
        if events:
            self._deliver(events, self._clock())

    def wait_synced(self, timeout: float | None = None) -> bool:
        """Block until the first complete list has been delivered; False on timeout."""
        return self._synced.wait(timeout)

    def health(self) -> InformerHealth:
        """The current health snapshot."""
        with self._lock:
            s = self._state
            return InformerHealth(
                kind=self.resource.kind,
                synced=s.synced,
                connected=s.connected,
                last_event_at=s.last_event_at,
                events=s.events,
                relists=s.relists,
                watch_restarts=s.watch_restarts,
                last_error=s.last_error,
                auth_failed=s.auth_failed,
                last_heard_at=s.last_heard_at,
                silence_limit_s=s.silence_limit_s,
            )

    # -- the forever loop --------------------------------------------------------------------

    def _run(self) -> None:
        log.info("informer %s: starting (list+watch %s)", self._name, self.resource.path)
        pending: ListMode | None = ListMode.CONSISTENT
        while not self._stopping.is_set():
            error, pending = self._cycle(pending)
            if self._stopping.is_set():
                break
            attempt = self._failures.current()
            decision = decide(
                error.failure, attempt, self._rng, self.config.backoff, self.config.auth_backoff
            )
            if decision.delay:
                self._failures.record()
            self._note_failure(error)
            pending = next_list_mode(decision.action, pending, self._driver.resumable)
            self._log_decision(error, decision.delay, attempt, pending)
            if decision.delay and self._stopping.wait(decision.delay):
                break
        log.info("informer %s: stopped", self._name)

    def _cycle(self, pending: ListMode | None) -> tuple[StreamError, ListMode | None]:
        """LIST when `pending`, then WATCH: how it ended, and the list still owed if it failed."""
        fresh = pending is not None
        try:
            if pending is not None:
                self._list(pending)
                pending = None
            return self._watch(fresh), None
        except _Failed as failed:
            return failed.error, pending

    # -- LIST --------------------------------------------------------------------------------

    def _list(self, mode: ListMode) -> None:
        listing = PagedList()
        token = None
        started = self._clock()
        while True:
            params = self._driver.list_params(mode, token)
            body = self._get_page(params, Phase.CONTINUE if token else Phase.LIST)
            try:
                token = listing.add(body)
            except MalformedList as exc:
                raise _Failed(StreamError(Failure.MALFORMED, str(exc))) from exc
            if token is None:
                break
        events = self._driver.apply_list(listing)
        with self._lock:
            self._state.last_heard_at = self._wall_clock()
            self._state.silence_limit_s = self._hearing.limit()
            relist = self._state.lists > 0
            self._state.lists += 1
            if relist:
                self._state.relists += 1
            self._state.synced = True
        if events:
            self._deliver(events, self._clock())
        self._notify_synced()
        self._synced.set()
        log.info(
            "informer %s: %s %d objects (%s, %d page(s), %.2f s) at rv %s; %d event(s)",
            self._name,
            "relisted" if relist else "listed",
            len(listing.items),
            mode.value,
            listing.pages,
            self._clock() - started,
            listing.resource_version or '""',
            len(events),
        )

    def _get_page(self, params: list[tuple[str, str]], phase: Phase) -> object:
        timeout = (self.config.connect_timeout_s, self.config.list_timeout_s)
        response = self._open(params, phase, timeout)
        try:
            body = response.read()
        except _NETWORK_ERRORS as exc:
            raise _Failed(StreamError(Failure.DISCONNECTED, f"list read failed: {exc!r}")) from exc
        finally:
            self._close(response)
        try:
            return self._driver.parse_page(body)
        except ValueError as exc:
            raise _Failed(StreamError(Failure.MALFORMED, f"list body is not JSON: {exc}")) from exc

    # -- WATCH -------------------------------------------------------------------------------

    def _watch(self, fresh: bool) -> StreamError:
        driver = self._driver
        params = driver.watch_params()
        if not fresh:
            with self._lock:
                self._state.watch_restarts += 1
        started = self._clock()
        timeout = (self.config.connect_timeout_s, self.config.idle_timeout_s)
        response = self._open(params, Phase.WATCH, timeout)
        self._hearing.new_stream()
        with self._lock:
            self._state.connected = True
            self._state.last_heard_at = self._wall_clock()
        error = None
        ending = "server closed the stream"
        try:
            for chunk, arrived_at in self._body(response):
                events, error = driver.feed(chunk)
                self._heard(arrived_at, driver.bookmarks_fed)
                if events:
                    self._deliver(events, arrived_at)
                if error is not None:
                    break
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
            ending = f"no data for {self.config.idle_timeout_s:.0f} s"
        except (*_NETWORK_ERRORS, ChunkError) as exc:
            ending = f"stream broke: {exc!r}"
        finally:
            with self._lock:
                self._state.connected = False
            self._close(response)
            dropped = driver.end_watch()
        duration = self._clock() - started
        if error is not None:
            if error.failure is Failure.EXPIRED and fresh and driver.watch_events == 0:
                # The version the server just listed at is already too old: relisting at once
                # would loop as fast as the server answers, so treat it as a server fault.
                return StreamError(Failure.SERVER_ERROR, f"{error.message} (right after a list)")
            return error
        detail = f"{ending} after {duration:.1f} s and {driver.watch_events} event(s)"
        if dropped:
            detail += f"; dropped {dropped} bytes of an incomplete event"
        return StreamError(classify_end(duration, driver.watch_events, self.config.backoff), detail)

    # -- HTTP --------------------------------------------------------------------------------

    def _body(self, response: urllib3.BaseHTTPResponse) -> Iterator[tuple[bytes, float]]:
        """The watch body as (bytes, arrival time): paced block reads of the raw chunked stream,
        or urllib3's own reading when the body is not plain chunked HTTP/1.1 (compressed, or
        another transport)."""
        fp = getattr(getattr(response, "_fp", None), "fp", None)
        plain = response.chunked and not response.headers.get("content-encoding")
        if plain and hasattr(fp, "read1"):
            return read_paced(fp, self.config.read_interval_s, self._stopping.wait, self._clock)
        return ((chunk, self._clock()) for chunk in response.stream(None))

    def _open(
        self, params: list[tuple[str, str]], phase: Phase, timeout: Timeout
    ) -> urllib3.BaseHTTPResponse:
        """A 200 response to a GET with `params`; anything else raises _Failed."""
        try:
            response = get(self._api, self.resource.path, params, timeout)
        except _NETWORK_ERRORS as exc:
            message = f"{phase.value} request failed: {exc!r}"
            raise _Failed(StreamError(Failure.DISCONNECTED, message)) from exc
        with self._lock:
            self._response = response
            stopping = self._stopping.is_set()
        if stopping:
            self._close(response)
            raise _Failed(StreamError(Failure.WATCH_ENDED, "stopping"))
        if response.status != 200:
            try:
                body = response.read(_ERROR_BODY_LIMIT)
            except _NETWORK_ERRORS:
                body = b""
            finally:
                self._close(response)
            raise _Failed(status_error(response.status, parse_status(body), phase))
        with self._lock:
            self._state.auth_failed = False
        return response

    def _close(self, response: urllib3.BaseHTTPResponse) -> None:
        with self._lock:
            if self._response is response:
                self._response = None
        response.close()
        response.release_conn()

    # -- reporting ---------------------------------------------------------------------------

    def _heard(self, at: float, bookmarks: int) -> None:
        # Hearing belongs to this thread; health() reads only what is copied under the lock.
        self._hearing.heard(at, bookmarks)
        with self._lock:
            self._state.last_heard_at = self._wall_clock()
            if bookmarks:
                self._state.silence_limit_s = self._hearing.limit()

    def _deliver(self, events: list[Event], at: float) -> None:
        with self._lock:
            self._state.events += len(events)
            self._state.last_event_at = self._wall_clock()
        try:
            self._listener.on_events(self.resource.kind, events, at)
        except Exception:
            # A listener bug must not end the watch: the informer's state stays right either way.
            log.exception("informer %s: listener failed on %d event(s)", self._name, len(events))

    def _notify_synced(self) -> None:
        try:
            self._listener.on_synced(self.resource.kind)
        except Exception:
            log.exception("informer %s: listener failed on sync", self._name)

    def _note_failure(self, error: StreamError) -> None:
        if error.failure is Failure.WATCH_ENDED:
            return
        with self._lock:
            self._state.last_error = f"{error.failure.value}: {error.message}"
            if error.failure is Failure.UNAUTHORIZED:
                self._state.auth_failed = True

    def _log_decision(
        self, error: StreamError, delay: float, attempt: int, pending: ListMode | None
    ) -> None:
        """One line: what failed, why, and what happens next (the action, told as its effect)."""
        if pending is None:
            next_step = f"re-watching from rv {self._driver.last_rv}"
        else:
            next_step = f"listing ({pending.value})"
        if delay:
            next_step = f"{next_step} in {delay:.1f} s (attempt {attempt + 1})"
        if error.failure is Failure.UNAUTHORIZED:
            level = logging.ERROR
            next_step += (
                f"; the credentials need list and watch on {self._name}"
                f"{'.' + self.resource.group if self.resource.group else ''}"
            )
        elif error.failure is Failure.WATCH_ENDED:
            level = logging.DEBUG  # every 5-10 minutes per resource: routine, not news
        elif error.failure in _ROUTINE:
            level = logging.INFO
        else:
            level = logging.WARNING
        log.log(level, "informer %s: %s (%s); %s", self._name, error.failure.value, error.message,
                next_step)


def _abort(response: urllib3.BaseHTTPResponse) -> None:
    """Make a read blocked on `response` in another thread return now."""
    # Already released or closed: then nothing is blocked on it.
    with contextlib.suppress(ValueError, RuntimeError, OSError, AttributeError):
        response.shutdown()
