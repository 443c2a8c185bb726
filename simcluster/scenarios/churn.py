"""The churn driver: rollouts and scale changes steered to a rate of pod events per second.

The generated scenarios (`large`, `churn`, `wide-namespace`) all carry one; its
target `rate` is a scenario parameter and can be changed while the cluster runs
(`SimCluster.set_churn_rate`, `POST /_simcluster/churn {"rate": N}`), so a
benchmark lets a big cluster settle, lets its clients sync, and only then starts
a burst; rate 0 holds still.

It is a small feedback loop:
- a store listener stamps every pod event; the observed rate is the count over
  the last second;
- each tick earns `gain × rate × dt` events of credit, and the driver spends it on
  actions (a rollout restart or a scale change of an idle deployment), each
  priced by the pod events it should cause (EVENTS_PER_REPLACED_POD per pod a
  rollout replaces, fewer for a scale step);
- the prices are estimates, so `gain` is corrected by integral feedback: it
  grows while the observed rate is below the target and shrinks while above,
  clamped to [MIN_GAIN, MAX_GAIN] and frozen for WARMUP_S after a start or a
  new rate (events lag the actions that cause them by a pod start-up).
When too few deployments are idle to meet the rate, the cluster is too small for
it; the driver then does what it can rather than pile rollouts on one deployment.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable
from typing import Any

from simcluster.scenarios import actions
from simcluster.scenarios.manifests import DEPLOYMENTS, PODS
from simcluster.store import Store, WatchEvent

# Pod events per pod a rollout replaces: the new pod's ADDED, bind, accepted,
# Running and Ready writes; the old pod's deletion, unready write and DELETED.
EVENTS_PER_REPLACED_POD = 8
EVENTS_PER_ADDED_POD = 5
EVENTS_PER_REMOVED_POD = 3
WINDOW_S = 1.0
"""The observed rate counts pod events over this sliding window."""
WARMUP_S = 3.0
"""No gain correction before this: the first actions' events have not arrived yet."""
GAIN_RATE = 0.5
"""Integral gain per second at a 100% rate error: corrects within seconds, without ringing."""
MIN_GAIN, MAX_GAIN = 0.25, 4.0
MAX_CREDIT_S = 1.0
"""Unspent credit is capped at this many seconds of target rate (no bursts after a stall)."""
PICK_ATTEMPTS = 8
"""Random deployments tried per action before deciding none is idle."""


class ChurnDriver:
    """Steers rollouts and scale changes toward `rate` pod events per second."""

    def __init__(
        self,
        store: Store,
        clock: Callable[[], float],
        base_replicas: dict[tuple[str, str], int],
        rate: float,
        rng: random.Random,
        scale_share: float = 0.3,
    ) -> None:
        self.store = store
        self.clock = clock
        self.base = base_replicas
        self.keys = sorted(base_replicas)
        self.rate = rate
        self.rng = rng
        self.scale_share = scale_share
        """Fraction of actions that are scale changes rather than rollouts."""
        self.gain = 1.0
        self.credit = 0.0
        self.started: float | None = None
        self.last: float | None = None
        self.events: deque[float] = deque()
        store.add_listener(self._on_event)

    def _on_event(self, event: WatchEvent) -> None:
        # Runs under the store lock on every write: only stamp pod events, and drop stamps
        # out of the window here, so they do not pile up while nobody asks for the rate.
        if event.rtype == PODS:
            now = self.clock()
            self.events.append(now)
            while self.events[0] <= now - WINDOW_S:
                self.events.popleft()

    def observed_rate(self, now: float) -> float:
        """Pod events per second over the last WINDOW_S."""
        with self.store.lock:
            while self.events and self.events[0] <= now - WINDOW_S:
                self.events.popleft()
            return len(self.events) / WINDOW_S

    def set_rate(self, rate: float) -> None:
        """A new target from the next tick on; 0 stops starting actions (running ones finish)."""
        if rate < 0:
            raise ValueError("rate must not be negative")
        self.rate = rate
        self.started = self.last = None  # warm up again before correcting the gain
        self.credit = 0.0

    def describe(self, now: float) -> dict[str, Any]:
        """The target and observed rates, for `GET /_simcluster/state`."""
        return {"rate": self.rate, "observedRate": self.observed_rate(now), "gain": self.gain}

    def tick(self, now: float) -> None:
        if self.rate <= 0:
            return
        if self.started is None or self.last is None:
            self.started = self.last = now
            return
        dt = min(max(now - self.last, 0.0), MAX_CREDIT_S)
        self.last = now
        if now - self.started >= WARMUP_S:
            error = (self.rate - self.observed_rate(now)) / self.rate
            self.gain = min(MAX_GAIN, max(MIN_GAIN, self.gain * math.exp(GAIN_RATE * dt * error)))
        self.credit = min(self.credit + self.gain * self.rate * dt, self.rate * MAX_CREDIT_S)
        while self.credit > 0:
            cost = self._act(now)
            if cost is None:
                break
            self.credit -= cost

    def _act(self, now: float) -> int | None:
        """Start one action on an idle deployment; the pod events it should cause, or None."""
        key = self._idle_deployment()
        if key is None:
            return None
        ns, name = key
        replicas = int(self.store.get(DEPLOYMENTS, ns, name)["spec"].get("replicas", 1))
        base = self.base[key]
        if replicas and self.rng.random() >= self.scale_share:
            actions.rollout_restart(self.store, ns, name, now)
            return replicas * EVENTS_PER_REPLACED_POD
        target = base if replicas != base else base + max(1, base // 2)
        actions.scale(self.store, ns, name, target)
        if target > replicas:
            return (target - replicas) * EVENTS_PER_ADDED_POD
        return (replicas - target) * EVENTS_PER_REMOVED_POD

    def _idle_deployment(self) -> tuple[str, str] | None:
        for _ in range(min(PICK_ATTEMPTS, len(self.keys))):
            key = self.rng.choice(self.keys)
            found = self.store.find(DEPLOYMENTS, *key)
            if found is None:
                # Deleted by a client: stop choosing it.
                self.keys.remove(key)
                if not self.keys:
                    return None
                continue
            if actions.rollout_complete(found):
                return key
        return None

    def close(self) -> None:
        self.store.remove_listener(self._on_event)
