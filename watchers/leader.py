"""Lease leader election for the watcher: only the leader watches and publishes.

Two watcher replicas run for availability (DESIGN §9). Each campaigns for one Lease
(`watchers.lease` decides what to write); the winner runs the watcher until it stops renewing,
the others stand by and look at the lease every retry period. A standby takes over once the
lease expires and, because every term runs a fresh watcher, republishes the full snapshot under a
new epoch, which makes every connected client resync.

Safety rests on timing, as in client-go: a leader that has not renewed within the renew deadline
stops publishing, and the renew deadline is shorter than the lease duration a standby waits. The
official client is synchronous, so requests run in a thread and each is bounded by a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import urllib3
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from watchers.lease import (
    Action,
    LeaseConfig,
    Observation,
    decide,
    format_micro_time,
    observe,
    released,
)

log = logging.getLogger("constellation.watcher.leader")

SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
DEFAULT_LEASE_NAME = "constellation-watcher"
# Standbys spread their looks a little so replicas started together do not collide every round.
CANDIDATE_JITTER = 0.2


def default_identity() -> str:
    """hostname-pid: the pod name in a cluster, unique per process on one machine."""
    return f"{socket.gethostname()}-{os.getpid()}"


def default_namespace(path: Path = SERVICE_ACCOUNT_NAMESPACE) -> str:
    """The pod's own namespace (its service account says), else "default"."""
    with contextlib.suppress(OSError):
        namespace = path.read_text().strip()
        if namespace:
            return namespace
    return "default"


class LeaseError(Exception):
    """The API server answered a lease request with something other than success or 409."""


class LeaseClient:
    """GET/POST/PUT of one Lease as raw JSON through the official client (blocking)."""

    def __init__(self, api_client: k8s.ApiClient, name: str, namespace: str) -> None:
        self.api = api_client
        self.name = name
        self.namespace = namespace
        self.collection = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
        self.path = f"{self.collection}/{name}"

    def read(self, timeout: float) -> dict[str, Any] | None:
        """The Lease, or None when it does not exist."""
        status, body = self._send("GET", self.path, None, timeout)
        if status == 404:
            return None
        if status != 200:
            raise LeaseError(f"GET {self.path} answered {status}: {_message(body)}")
        return body

    def create(self, lease: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        """The created Lease, or None when another candidate created it first (409)."""
        return self._write("POST", self.collection, lease, timeout)

    def replace(self, lease: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        """The updated Lease, or None when it changed since it was read (409)."""
        return self._write("PUT", self.path, lease, timeout)

    def _write(
        self, method: str, path: str, lease: dict[str, Any], timeout: float
    ) -> dict[str, Any] | None:
        status, body = self._send(method, path, lease, timeout)
        if status == 409:
            return None
        if status not in (200, 201):
            raise LeaseError(f"{method} {path} answered {status}: {_message(body)}")
        return body

    def _send(
        self, method: str, path: str, body: dict[str, Any] | None, timeout: float
    ) -> tuple[int, Any]:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        method, url, headers, body, _ = self.api.param_serialize(
            method, path, header_params=headers, body=body, auth_settings=["BearerToken"]
        )
        response = self.api.call_api(
            method, url, header_params=headers, body=body, _request_timeout=(timeout, timeout)
        ).response
        try:
            raw = response.read()
        finally:
            response.release_conn()
        try:
            return response.status, orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError as exc:
            raise LeaseError(f"{method} {path} answered {response.status} with no JSON") from exc


def _message(body: Any) -> str:
    return body.get("message", "") if isinstance(body, dict) else repr(body)


@dataclass(frozen=True)
class Attempt:
    """One round of read-then-write."""

    leading: bool
    holder: str
    """Who holds the lease after this round ("" unknown or nobody)."""
    retry_at: float | None = None
    """Wall-clock time the current holder's claim runs out, when someone else holds it."""
    error: str = ""


class LeaderElector:
    """Campaigns for, renews and releases one Lease; `run_with_leadership` drives it."""

    def __init__(
        self,
        api_client: k8s.ApiClient,
        *,
        name: str = DEFAULT_LEASE_NAME,
        namespace: str = "default",
        identity: str | None = None,
        config: LeaseConfig | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.leases = LeaseClient(api_client, name, namespace)
        self.identity = identity or default_identity()
        self.config = config or LeaseConfig()
        self.clock = clock
        self.is_leader = False
        self._observation: Observation | None = None
        self._renewed_at = 0.0  # monotonic, taken before the read that led to the last write
        self.holder: str | None = None  # who held the lease at the last look

    @property
    def lease_ref(self) -> str:
        return f"{self.leases.namespace}/{self.leases.name}"

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Campaign until this process leads (True) or `stop` is set (False)."""
        log.info("campaigning for lease=%s identity=%s", self.lease_ref, self.identity)
        while not stop.is_set():
            attempt = await self._attempt(self.config.renew_deadline_s)
            if attempt.leading:
                return True
            self._note_holder(attempt)
            delay = self.config.retry_period_s * (1 + random.random() * CANDIDATE_JITTER)
            if attempt.retry_at is not None:
                # Look again right when the holder's claim runs out, not up to a period later.
                delay = min(delay, max(0.0, attempt.retry_at - self.clock()) + 0.01)
            if await _wait(stop, delay):
                return False
        return False

    async def keep(self, stop: asyncio.Event) -> str | None:
        """Renew every retry period while leading; why leadership was lost, or None on `stop`."""
        error = ""
        while True:
            deadline = self._renewed_at + self.config.renew_deadline_s
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.is_leader = False
                detail = f" (last error: {error})" if error else ""
                return f"could not renew within {self.config.renew_deadline_s:g} s{detail}"
            if await _wait(stop, min(self.config.retry_period_s, remaining)):
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                continue
            attempt = await self._attempt(remaining)
            if attempt.leading:
                error = ""
                continue
            if attempt.holder and attempt.holder != self.identity:
                self.is_leader = False
                return f"lease is now held by {attempt.holder}"
            error = attempt.error or "lease changed while renewing (409 Conflict)"
            log.warning(
                "lease renewal failed lease=%s error=%s; retrying until the renew deadline in "
                "%.1f s",
                self.lease_ref,
                error,
                deadline - time.monotonic(),
            )

    async def release(self) -> None:
        """Hand the lease back so a standby takes over at once (clean shutdown only)."""
        if not self.is_leader:
            return
        self.is_leader = False
        timeout = self.config.retry_period_s
        try:
            lease = await asyncio.wait_for(asyncio.to_thread(self.leases.read, timeout), timeout)
            body = released(lease, self.identity, self.clock()) if lease else None
            if body is not None:
                await asyncio.wait_for(
                    asyncio.to_thread(self.leases.replace, body, timeout), timeout
                )
                log.info("released lease=%s identity=%s", self.lease_ref, self.identity)
        except (TimeoutError, *_REQUEST_ERRORS) as exc:
            log.warning(
                "could not release lease=%s error=%r; a standby takes over when it expires",
                self.lease_ref,
                exc,
            )

    async def _attempt(self, timeout: float) -> Attempt:
        started = time.monotonic()
        try:
            attempt = await asyncio.wait_for(
                asyncio.to_thread(self._try_acquire_or_renew, timeout), timeout
            )
        except TimeoutError:
            return Attempt(False, "", error=f"no answer within {timeout:.1f} s")
        except _REQUEST_ERRORS as exc:
            return Attempt(False, "", error=repr(exc))
        if attempt.leading:
            self._renewed_at = started
            if not self.is_leader:
                log.info("became leader lease=%s identity=%s", self.lease_ref, self.identity)
            self.is_leader = True
        return attempt

    def _try_acquire_or_renew(self, timeout: float) -> Attempt:
        lease = self.leases.read(timeout)
        now = self.clock()
        self._observation = observe(self._observation, lease, now)
        decision = decide(
            lease,
            name=self.leases.name,
            namespace=self.leases.namespace,
            identity=self.identity,
            now=now,
            config=self.config,
            observation=self._observation,
        )
        if decision.action is Action.WAIT:
            return Attempt(False, decision.holder, decision.expires_at)
        assert decision.body is not None
        if decision.action is Action.CREATE:
            written = self.leases.create(decision.body, timeout)
        else:
            written = self.leases.replace(decision.body, timeout)
        if written is None:
            return Attempt(False, "", error=f"{decision.action.value} lost a race (409 Conflict)")
        if decision.action is Action.ACQUIRE:
            log.info(
                "took over lease=%s from=%s transitions=%s",
                self.lease_ref,
                decision.holder or "(released)",
                written.get("spec", {}).get("leaseTransitions"),
            )
        return Attempt(True, self.identity)

    def _note_holder(self, attempt: Attempt) -> None:
        if attempt.error:
            log.warning(
                "lease campaign round failed lease=%s error=%s; retrying in %.1f s",
                self.lease_ref,
                attempt.error,
                self.config.retry_period_s,
            )
        elif attempt.holder != self.holder:
            until = format_micro_time(attempt.retry_at) if attempt.retry_at else "?"
            log.info(
                "standing by lease=%s leader=%s lease_valid_until=%s",
                self.lease_ref,
                attempt.holder,
                until,
            )
        self.holder = attempt.holder


_REQUEST_ERRORS = (LeaseError, ApiException, urllib3.exceptions.HTTPError, OSError)


async def _wait(stop: asyncio.Event, delay: float) -> bool:
    """Sleep `delay` seconds unless `stop` is set first; whether it was."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=delay)
    return stop.is_set()


async def run_with_leadership(
    elector: LeaderElector,
    run_leader: Callable[[asyncio.Event], Awaitable[None]],
    stop: asyncio.Event,
) -> None:
    """Run `run_leader(leader_stop)` only while leading, until `stop` is set.

    `leader_stop` is set when leadership is lost (before the lease can expire) or when `stop` is
    set; after a loss this campaigns again. `run_leader` should build a fresh watcher on each
    call, so every term publishes under a new epoch. On a clean stop, or when `run_leader` ends
    or fails by itself, the lease is released so a standby takes over at once; cancelling this
    coroutine behaves like a crash: the watcher is cancelled and the lease is left to expire.
    """
    try:
        while not stop.is_set() and await elector.acquire(stop):
            reason = await _lead(elector, run_leader, stop)
            if reason is None:
                break
    except Exception:
        await elector.release()
        raise
    await elector.release()
    log.info("leader election stopped identity=%s", elector.identity)


async def _lead(
    elector: LeaderElector,
    run_leader: Callable[[asyncio.Event], Awaitable[None]],
    stop: asyncio.Event,
) -> str | None:
    """One term: the watcher runs while the lease is renewed; why it ended, None when stopping."""
    leader_stop = asyncio.Event()
    leading = asyncio.create_task(run_leader(leader_stop), name="leader-term")
    keeping = asyncio.create_task(elector.keep(stop), name="lease-renewal")
    reason = None
    try:
        await asyncio.wait({leading, keeping}, return_when=asyncio.FIRST_COMPLETED)
        if keeping.done():
            reason = keeping.result()
            if reason is not None:
                log.warning("lost leadership: %s; stopping publishing", reason)
        elif not stop.is_set():
            log.warning("watcher ended while leading; releasing the lease")
        leader_stop.set()
        # The lease outlives the renew deadline by this much at least: the watcher must be
        # quiet well before a standby may start.
        grace = (elector.config.lease_duration_s - elector.config.renew_deadline_s) / 2
        if not stop.is_set():
            await asyncio.wait({leading}, timeout=grace)
        else:
            await asyncio.wait({leading})
        if not leading.done():
            log.warning("watcher still running %.1f s after losing the lease; cancelling it", grace)
    finally:
        leader_stop.set()
        leading.cancel()
        keeping.cancel()
        await asyncio.gather(leading, keeping, return_exceptions=True)
    if not leading.cancelled() and leading.exception() is not None:
        raise leading.exception()  # type: ignore[misc]
    return reason
