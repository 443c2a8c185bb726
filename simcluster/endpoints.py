"""The Endpoints and EndpointSlice controllers: which pod addresses each Service routes to.

A topology view draws Service → Pod edges from these objects, and clients that
follow readiness read them, so they are kept in step with pod IPs, readiness and
termination, written only when their content changes, and shaped like the real
controllers' output (skip-mirror label on Endpoints, managed-by and service-name
labels and an owner reference on the slice).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from simcluster.kubelet import TERMINAL_PHASES, is_ready
from simcluster.store import Obj
from simcluster.workload import (
    ENDPOINT_SLICES,
    ENDPOINTS,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    PODS,
    SERVICE_NAME_LABEL,
    SERVICES,
    Key,
    WorkloadCore,
)

# Set by the real endpoints controller on the Endpoints it manages.
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"

PortSet = tuple[tuple[str, int, str], ...]  # (name, resolved target port, protocol)


def resolve_ports(service: Obj, pod: Obj) -> PortSet:
    """The service's ports as this pod serves them; named target ports it lacks are skipped."""
    container_ports = {
        (p.get("name"), p.get("protocol", "TCP")): p.get("containerPort")
        for c in (pod.get("spec") or {}).get("containers") or ()
        for p in c.get("ports") or ()
        if p.get("name")
    }
    resolved = []
    for port in (service.get("spec") or {}).get("ports") or ():
        protocol = port.get("protocol", "TCP")
        target = port.get("targetPort", port.get("port"))
        if isinstance(target, str) and not target.isdigit():
            target = container_ports.get((target, protocol))
            if target is None:
                continue
        resolved.append((port.get("name") or "", int(target), protocol))
    return tuple(resolved)


def _port_list(ports: PortSet) -> list[dict[str, Any]]:
    return [
        {**({"name": name} if name else {}), "port": number, "protocol": protocol}
        for name, number, protocol in ports
    ]


def _target_ref(pod: Obj) -> dict[str, str]:
    meta = pod["metadata"]
    return {"kind": "Pod", "namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"]}


def _address(pod: Obj) -> dict[str, Any]:
    address: dict[str, Any] = {"ip": pod["status"]["podIP"], "targetRef": _target_ref(pod)}
    if pod["spec"].get("nodeName"):
        address["nodeName"] = pod["spec"]["nodeName"]
    return address


class EndpointsController:
    """One Endpoints object and one EndpointSlice per Service with a selector."""

    name = "endpoints"

    def __init__(self, engine: WorkloadCore) -> None:
        self.engine = engine
        self.store = engine.store
        # True while this controller writes, so the engine does not requeue the
        # service for events it caused itself (writes happen under the store lock).
        self.writing = False

    def reconcile(self, key: Key, now: float) -> bool:
        self.writing = True
        try:
            return self._reconcile(key)
        finally:
            self.writing = False

    def _reconcile(self, key: Key) -> bool:
        namespace, name = key
        service = self.store.find(SERVICES, namespace, name)
        spec = (service or {}).get("spec") or {}
        if service is None or not spec.get("selector") or spec.get("type") == "ExternalName":
            return self._clear(namespace, name, service is None)
        groups: dict[PortSet, list[Obj]] = defaultdict(list)
        for pod_name in sorted(self.engine.index.pods_selected(namespace, spec["selector"])):
            pod = self.store.find(PODS, namespace, pod_name)
            if pod is None or not (pod.get("status") or {}).get("podIP"):
                continue
            if pod["status"].get("phase") in TERMINAL_PHASES:
                continue
            groups[resolve_ports(service, pod)].append(pod)
        wrote = self._sync_endpoints(service, groups)
        return self._sync_slice(service, groups) or wrote

    def _serving(self, service: Obj, pod: Obj) -> bool:
        return bool(service["spec"].get("publishNotReadyAddresses")) or is_ready(pod)

    # -- Endpoints -----------------------------------------------------------------------

    def _sync_endpoints(self, service: Obj, groups: dict[PortSet, list[Obj]]) -> bool:
        subsets = []
        for ports in sorted(groups):
            live = [pod for pod in groups[ports] if not pod["metadata"].get("deletionTimestamp")]
            ready = [_address(p) for p in live if self._serving(service, p)]
            not_ready = [_address(p) for p in live if not self._serving(service, p)]
            subset: dict[str, Any] = {}
            if ready:
                subset["addresses"] = sorted(ready, key=lambda a: a["ip"])
            if not_ready:
                subset["notReadyAddresses"] = sorted(not_ready, key=lambda a: a["ip"])
            if not subset:
                continue
            if ports:
                subset["ports"] = _port_list(ports)
            subsets.append(subset)
        meta = service["metadata"]
        labels = {**(meta.get("labels") or {}), SKIP_MIRROR_LABEL: "true"}
        existing = self.store.find(ENDPOINTS, meta["namespace"], meta["name"])
        wanted: dict[str, Any] = {
            "metadata": {"name": meta["name"], "namespace": meta["namespace"], "labels": labels}
        }
        if subsets:
            wanted["subsets"] = subsets
        if existing is None:
            self.store.create(ENDPOINTS, meta["namespace"], wanted)
            return True
        if existing.get("subsets") == wanted.get("subsets") and (
            existing["metadata"].get("labels") == labels
        ):
            return False
        updated = {k: v for k, v in existing.items() if k != "subsets"}
        updated["metadata"] = {**existing["metadata"], "labels": labels}
        if subsets:
            updated["subsets"] = subsets
        self.store.update(ENDPOINTS, meta["namespace"], meta["name"], updated)
        return True

    # -- EndpointSlice ---------------------------------------------------------------------

    def _sync_slice(self, service: Obj, groups: dict[PortSet, list[Obj]]) -> bool:
        meta = service["metadata"]
        namespace = meta["namespace"]
        # One slice per service: the port set most pods serve (normally the only one).
        ports = max(sorted(groups), key=lambda p: len(groups[p]), default=())
        endpoints = []
        for pod in sorted(groups.get(ports, ()), key=lambda p: p["metadata"]["name"]):
            terminating = bool(pod["metadata"].get("deletionTimestamp"))
            serving = self._serving(service, pod)
            endpoints.append(
                {
                    "addresses": [pod["status"]["podIP"]],
                    "conditions": {
                        "ready": serving and not terminating,
                        "serving": serving,
                        "terminating": terminating,
                    },
                    "targetRef": _target_ref(pod),
                    **(
                        {"nodeName": pod["spec"]["nodeName"]} if pod["spec"].get("nodeName") else {}
                    ),
                }
            )
        labels = {
            **(meta.get("labels") or {}),
            SERVICE_NAME_LABEL: meta["name"],
            MANAGED_BY_LABEL: MANAGED_BY,
        }
        body: dict[str, Any] = {"addressType": "IPv4", "endpoints": endpoints}
        if endpoints and ports:
            body["ports"] = _port_list(ports)
        names = sorted(self.engine.index.slices_by_service.get((namespace, meta["name"]), ()))
        wrote = False
        for extra in names[1:]:
            self.store.delete(ENDPOINT_SLICES, namespace, extra)
            wrote = True
        existing = self.store.find(ENDPOINT_SLICES, namespace, names[0]) if names else None
        if existing is None:
            self.store.create(
                ENDPOINT_SLICES,
                namespace,
                {
                    "metadata": {
                        "name": f"{meta['name']}-{self.engine.random_suffix()}",
                        "generateName": f"{meta['name']}-",
                        "namespace": namespace,
                        "labels": labels,
                        "ownerReferences": [self.engine.controller_ref(service)],
                    },
                    **body,
                },
            )
            return True
        current = {k: existing[k] for k in ("addressType", "endpoints", "ports") if k in existing}
        if current == body and existing["metadata"].get("labels") == labels:
            return wrote
        updated = {k: v for k, v in existing.items() if k not in ("endpoints", "ports")}
        updated["metadata"] = {**existing["metadata"], "labels": labels}
        self.store.update(
            ENDPOINT_SLICES, namespace, existing["metadata"]["name"], {**updated, **body}
        )
        return True

    def _clear(self, namespace: str, name: str, service_gone: bool) -> bool:
        """Remove what this controller made for a service that is gone or lost its selector."""
        wrote = False
        endpoints = self.store.find(ENDPOINTS, namespace, name)
        # Endpoints of a selector-less service are the user's; only a deleted service takes them.
        if endpoints is not None and (
            service_gone
            or ((endpoints["metadata"].get("labels") or {}).get(SKIP_MIRROR_LABEL) == "true")
        ):
            self.store.delete(ENDPOINTS, namespace, name)
            wrote = True
        for slice_name in sorted(self.engine.index.slices_by_service.get((namespace, name), ())):
            if self.store.find(ENDPOINT_SLICES, namespace, slice_name) is not None:
                self.store.delete(ENDPOINT_SLICES, namespace, slice_name)
                wrote = True
        return wrote
