"""The scheduler and kubelets of three fake nodes: how a pod gets from created to Ready.

Watchers and dashboards judge a cluster by its pods' phases, conditions, IPs and
restart counts, so every pod (made by a controller or created directly) is bound
to a node and walked through Pending → Running → Ready on jittered delays, with
container statuses complete enough for the strict official Python client.
Behaviour knobs are pod annotations, inherited from a Deployment's pod template.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from typing import Any

from simcluster.store import Obj, parse_rfc3339, rfc3339
from simcluster.workload import PODS, Key, WorkloadCore

NODES: dict[str, str] = {
    "sim-node-1": "172.18.0.2",
    "sim-node-2": "172.18.0.3",
    "sim-node-3": "172.18.0.4",
}
# A /14 rather than a cluster's usual /16: the `large` scenario runs 100,000 pods.
POD_NETWORK = ipaddress.IPv4Network("10.244.0.0/14")

CRASH_LOOP = "simcluster.io/crash-loop"
FAIL = "simcluster.io/fail"
NEVER_READY = "simcluster.io/never-ready"
START_DELAY_MS = "simcluster.io/start-delay-ms"
READY_DELAY_MS = "simcluster.io/ready-delay-ms"

TERMINAL_PHASES = ("Failed", "Succeeded")


@dataclass
class _Plan:
    """When the kubelet next moves one pod (engine memory, never stored)."""

    uid: str
    start_at: float
    ready_at: float | None = None
    crash_at: float | None = None
    stop_at: float | None = None
    ip: str | None = None


def is_ready(pod: Obj) -> bool:
    """Whether the pod's Ready condition is True."""
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or ()
    )


def image_id(image: str) -> str:
    """A plausible, stable `imageID` (repository digest) for an image reference."""
    name = image.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name[: name.rfind(":")]
    if "/" not in name:
        name = f"library/{name}"
    first = name.split("/", 1)[0]
    if "." not in first and ":" not in first and first != "localhost":
        name = f"docker.io/{name}"
    return f"{name}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def _flag(pod: Obj, annotation: str) -> bool:
    return ((pod["metadata"].get("annotations") or {}).get(annotation) or "").lower() == "true"


class Kubelet:
    """Binds pods to nodes and moves each through its lifecycle."""

    name = "kubelet"

    def __init__(self, engine: WorkloadCore) -> None:
        self.engine = engine
        self.store = engine.store
        self.config = engine.config
        self._plans: dict[Key, _Plan] = {}
        self._ips_in_use: set[str] = set()
        self._next_ip = 0

    def reconcile(self, key: Key, now: float) -> bool:
        pod = self.store.find(PODS, *key)
        if pod is None:
            self._forget(key)
            return False
        plan = self._plans.get(key)
        if plan is None or plan.uid != pod["metadata"]["uid"]:
            self._forget(key)
            plan = self._plans[key] = self._new_plan(pod, now)
        if pod["metadata"].get("deletionTimestamp"):
            return self._terminate(key, pod, plan, now)
        wrote = False
        if not (pod.get("spec") or {}).get("nodeName"):
            pod, wrote = self._bind(pod), True
        while (moved := self._advance(pod, plan, now)) is not None:
            pod, wrote = moved, True
        due = self._next_due(pod, plan)
        if due is not None:
            self.engine.schedule(self.name, key, due[0], background=due[1])
        return wrote

    # -- plans -----------------------------------------------------------------------

    def _new_plan(self, pod: Obj, now: float) -> _Plan:
        plan = _Plan(
            pod["metadata"]["uid"],
            now + self._delay(pod, START_DELAY_MS, self.config.start_delay_s),
        )
        ip = (pod.get("status") or {}).get("podIP")
        if ip:
            self._ips_in_use.add(ip)
            plan.ip = ip
        return plan

    def _forget(self, key: Key) -> None:
        plan = self._plans.pop(key, None)
        if plan is not None and plan.ip:
            self._ips_in_use.discard(plan.ip)

    def _delay(self, pod: Obj, annotation: str, default_s: float) -> float:
        """An annotation's exact delay in milliseconds, else the configured one, jittered."""
        raw = (pod["metadata"].get("annotations") or {}).get(annotation)
        try:
            return max(0.0, float(raw) / 1000.0)
        except (TypeError, ValueError):
            return self.engine.jitter(default_s)

    def _allocate_ip(self) -> str:
        size = POD_NETWORK.num_addresses
        for _ in range(size):
            self._next_ip = self._next_ip % (size - 2) + 1
            if self._next_ip % 256 in (0, 255):
                continue
            ip = str(POD_NETWORK.network_address + self._next_ip)
            if ip not in self._ips_in_use:
                self._ips_in_use.add(ip)
                return ip
        raise RuntimeError(f"pod network {POD_NETWORK} is full")

    def _next_due(self, pod: Obj, plan: _Plan) -> tuple[float, bool] | None:
        phase = (pod.get("status") or {}).get("phase")
        if phase == "Pending":
            return plan.start_at, False
        if phase != "Running":
            return None
        if _flag(pod, CRASH_LOOP) and plan.crash_at is not None:
            return plan.crash_at, True
        if not _flag(pod, NEVER_READY) and not is_ready(pod) and plan.ready_at is not None:
            return plan.ready_at, False
        return None

    # -- transitions -------------------------------------------------------------------

    def _write_status(self, pod: Obj, status: dict[str, Any]) -> Obj:
        meta = pod["metadata"]
        return self.store.update(
            PODS,
            meta["namespace"],
            meta["name"],
            {"metadata": {"name": meta["name"]}, "status": status},
            subresource="status",
        )

    def _bind(self, pod: Obj) -> Obj:
        """The scheduler's part: pick a node (binding, then the PodScheduled condition)."""
        meta = pod["metadata"]
        node = self.engine.rng.choice(sorted(NODES))
        bound = {**pod, "spec": {**pod["spec"], "nodeName": node}}
        return self.store.update(PODS, meta["namespace"], meta["name"], bound)

    def _advance(self, pod: Obj, plan: _Plan, now: float) -> Obj | None:
        """Make the one transition due now, if any; the written pod, or None."""
        status = pod.get("status") or {}
        phase = status.get("phase", "Pending")
        if phase in TERMINAL_PHASES:
            return None
        if phase == "Pending":
            if not status.get("containerStatuses"):
                return self._write_status(pod, self._accepted_status(pod, now))
            if now < plan.start_at:
                return None
            if _flag(pod, FAIL):
                return self._write_status(pod, self._failed_status(pod, now))
            plan.ip = plan.ip or self._allocate_ip()
            plan.ready_at = now + self._delay(pod, READY_DELAY_MS, self.config.ready_delay_s)
            plan.crash_at = now + self.config.crash_interval_s
            return self._write_status(pod, self._running_status(pod, plan.ip, now))
        if _flag(pod, CRASH_LOOP):
            if plan.crash_at is None:
                plan.crash_at = now + self.config.crash_interval_s
            if now < plan.crash_at:
                return None
            plan.crash_at = max(plan.crash_at + self.config.crash_interval_s, now)
            return self._write_status(pod, self._crashed_status(pod, now))
        if _flag(pod, NEVER_READY) or is_ready(pod):
            return None
        if plan.ready_at is None:
            plan.ready_at = now + self._delay(pod, READY_DELAY_MS, self.config.ready_delay_s)
        if now < plan.ready_at:
            return None
        return self._write_status(pod, self._ready_status(pod, now))

    def _terminate(self, key: Key, pod: Obj, plan: _Plan, now: float) -> bool:
        """Graceful deletion: unready at once, containers stopped a little later, then gone."""
        wrote = False
        if is_ready(pod) or any(c.get("ready") for c in _container_statuses(pod)):
            pod, wrote = self._write_status(pod, self._unready_status(pod, now)), True
        if plan.stop_at is None:
            remaining = parse_rfc3339(pod["metadata"]["deletionTimestamp"]) - now
            plan.stop_at = now + min(
                self.engine.jitter(self.config.stop_delay_s), max(0.0, remaining)
            )
        if now < plan.stop_at:
            self.engine.schedule(self.name, key, plan.stop_at)
            return wrote
        self.store.delete(PODS, key[0], key[1], grace_period=0)
        self._forget(key)
        return True

    # -- statuses ------------------------------------------------------------------------

    def _accepted_status(self, pod: Obj, now: float) -> dict[str, Any]:
        host_ip = NODES.get(pod["spec"].get("nodeName"), next(iter(NODES.values())))
        waiting = {"waiting": {"reason": "ContainerCreating"}}
        return {
            **(pod.get("status") or {}),
            "phase": "Pending",
            "conditions": _conditions(pod, now, False, "ContainersNotReady"),
            "hostIP": host_ip,
            "hostIPs": [{"ip": host_ip}],
            "startTime": rfc3339(now),
            "containerStatuses": [
                _container(pod, c, waiting, ready=False, started=False)
                for c in pod["spec"]["containers"]
            ],
        }

    def _running_status(self, pod: Obj, ip: str, now: float) -> dict[str, Any]:
        running = {"running": {"startedAt": rfc3339(now)}}
        return {
            **pod["status"],
            "phase": "Running",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "containerStatuses": [
                _container(pod, c, running, ready=False, started=True)
                for c in pod["spec"]["containers"]
            ],
        }

    def _ready_status(self, pod: Obj, now: float) -> dict[str, Any]:
        return {
            **pod["status"],
            "conditions": _conditions(pod, now, True),
            "containerStatuses": [{**c, "ready": True} for c in _container_statuses(pod)],
        }

    def _unready_status(self, pod: Obj, now: float) -> dict[str, Any]:
        return {
            **pod["status"],
            "conditions": _conditions(pod, now, False, "ContainersNotReady"),
            "containerStatuses": [{**c, "ready": False} for c in _container_statuses(pod)],
        }

    def _crashed_status(self, pod: Obj, now: float) -> dict[str, Any]:
        meta = pod["metadata"]
        statuses = []
        for previous in _container_statuses(pod):
            state = previous.get("state") or {}
            started = (state.get("running") or {}).get("startedAt") or rfc3339(now)
            restarts = int(previous.get("restartCount") or 0) + 1
            statuses.append(
                {
                    **previous,
                    "ready": False,
                    "started": False,
                    "restartCount": restarts,
                    "state": {
                        "waiting": {
                            "reason": "CrashLoopBackOff",
                            "message": f"back-off {min(10 * 2 ** (restarts - 1), 300)}s "
                            "restarting failed "
                            f"container={previous['name']} pod={meta['name']}_"
                            f"{meta['namespace']}({meta['uid']})",
                        }
                    },
                    "lastState": {
                        "terminated": {
                            "exitCode": 1,
                            "reason": "Error",
                            "startedAt": started,
                            "finishedAt": rfc3339(now),
                            "containerID": _container_id(pod, previous["name"], restarts - 1),
                        }
                    },
                }
            )
        return {
            **pod["status"],
            "conditions": _conditions(pod, now, False, "ContainersNotReady"),
            "containerStatuses": statuses,
        }

    def _failed_status(self, pod: Obj, now: float) -> dict[str, Any]:
        stamp = rfc3339(now)
        terminated = {
            "terminated": {
                "exitCode": 1,
                "reason": "Error",
                "startedAt": stamp,
                "finishedAt": stamp,
            }
        }
        return {
            **pod["status"],
            "phase": "Failed",
            "conditions": _conditions(pod, now, False, "PodFailed"),
            "containerStatuses": [
                _container(pod, c, terminated, ready=False, started=False)
                for c in pod["spec"]["containers"]
            ],
        }


def _container_statuses(pod: Obj) -> list[dict[str, Any]]:
    return list((pod.get("status") or {}).get("containerStatuses") or ())


def _container_id(pod: Obj, name: str, restarts: int) -> str:
    seed = f"{pod['metadata']['uid']}/{name}/{restarts}".encode()
    return f"containerd://{hashlib.sha256(seed).hexdigest()}"


def _container(
    pod: Obj, container: dict[str, Any], state: dict[str, Any], *, ready: bool, started: bool
) -> dict[str, Any]:
    created = "waiting" not in state
    status: dict[str, Any] = {
        "name": container["name"],
        "image": container["image"],
        "imageID": image_id(container["image"]) if created else "",
        "ready": ready,
        "restartCount": 0,
        "started": started,
        "state": state,
        "lastState": {},
    }
    if created:
        status["containerID"] = _container_id(pod, container["name"], 0)
    return status


def _conditions(
    pod: Obj, now: float, ready: bool, reason: str | None = None
) -> list[dict[str, Any]]:
    """The kubelet's four pod conditions, keeping transition times that did not change."""
    previous = {c.get("type"): c for c in (pod.get("status") or {}).get("conditions") or ()}
    unready = [c["name"] for c in pod["spec"]["containers"]]
    conditions = []
    for kind, ok in (
        ("Initialized", True),
        ("Ready", ready),
        ("ContainersReady", ready),
        ("PodScheduled", True),
    ):
        value = "True" if ok else "False"
        old = previous.get(kind)
        condition: dict[str, Any] = {
            "type": kind,
            "status": value,
            "lastProbeTime": None,
            "lastTransitionTime": old["lastTransitionTime"]
            if old and old.get("status") == value and old.get("lastTransitionTime")
            else rfc3339(now),
        }
        if not ok:
            condition["reason"] = reason
            condition["message"] = f"containers with unready status: [{' '.join(unready)}]"
        conditions.append(condition)
    return conditions
