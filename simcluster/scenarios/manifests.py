"""Builders for the manifests scenarios seed, and the one function that applies them.

Scenarios describe a cluster as a list of (type, object) pairs, the shape a user
would `kubectl apply`; these builders keep those lists short and uniform (the
`app.kubernetes.io/name` label ties a Deployment's pods to its Service) so a
scenario reads as data rather than as nested dicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from simcluster.resources import ResourceType, type_named
from simcluster.store import Obj, Store
from simcluster.workload import (
    DEPLOYMENTS,
    ENDPOINT_SLICES,
    MANAGED_BY_LABEL,
    NAMESPACES,
    PODS,
    SERVICE_NAME_LABEL,
    SERVICES,
)

Manifest = tuple[ResourceType, Obj]

INGRESSES = type_named("ingresses", "networking.k8s.io")
HTTP_ROUTES = type_named("httproutes", "gateway.networking.k8s.io")
GATEWAYS = type_named("gateways", "gateway.networking.k8s.io")

APP_LABEL = "app.kubernetes.io/name"

Labels = Mapping[str, str] | None


def metadata(
    name: str, namespace: str | None = None, labels: Labels = None, annotations: Labels = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def template_metadata(labels: Labels, annotations: Labels = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"labels": dict(labels or {})}
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def namespace(name: str, labels: Labels = None, annotations: Labels = None) -> Manifest:
    return NAMESPACES, {"metadata": metadata(name, labels=labels, annotations=annotations)}


def container(name: str, image: str, port: int | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": name, "image": image}
    if port is not None:
        spec["ports"] = [{"name": "http", "containerPort": port}]
    return spec


def deployment(
    ns: str,
    name: str,
    image: str,
    replicas: int,
    port: int | None = None,
    *,
    app: str | None = None,
    labels: Labels = None,
    pod_annotations: Labels = None,
    annotations: Labels = None,
) -> Manifest:
    """A one-container Deployment whose pods carry `app.kubernetes.io/name: <app or name>`."""
    selector = {APP_LABEL: app or name}
    if app:
        # Several deployments behind one service (a canary) still need disjoint selectors.
        selector["app.kubernetes.io/instance"] = name
    pod_labels = {**(labels or {}), **selector}
    return DEPLOYMENTS, {
        "metadata": metadata(name, ns, {**(labels or {}), **selector}, annotations),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": template_metadata(pod_labels, pod_annotations),
                "spec": {"containers": [container(name, image, port)]},
            },
        },
    }


def pod(
    ns: str,
    name: str,
    image: str,
    *,
    labels: Labels = None,
    annotations: Labels = None,
    port: int | None = None,
    restart_policy: str = "Always",
    container_name: str = "main",
    status: dict[str, Any] | None = None,
    node: str | None = None,
) -> Manifest:
    """A bare pod; `status` (with `node`) seeds one that finished before the cluster started."""
    obj: dict[str, Any] = {
        "metadata": metadata(name, ns, labels, annotations),
        "spec": {
            "restartPolicy": restart_policy,
            "containers": [container(container_name, image, port)],
        },
    }
    if node:
        obj["spec"]["nodeName"] = node
    if status is not None:
        obj["status"] = status
    return PODS, obj


def service_port(
    name: str, port: int, target: int | str | None = None, protocol: str = "TCP"
) -> dict[str, Any]:
    return {
        "name": name,
        "port": port,
        "targetPort": port if target is None else target,
        "protocol": protocol,
    }


def service(
    ns: str,
    name: str,
    ports: Iterable[dict[str, Any]],
    *,
    selector: Mapping[str, str] | None = None,
    cluster_ip: str | None = None,
    service_type: str = "ClusterIP",
    labels: Labels = None,
    annotations: Labels = None,
    status: dict[str, Any] | None = None,
) -> Manifest:
    """A Service; `selector=None` makes a selector-less one (endpoints managed by hand)."""
    spec: dict[str, Any] = {"type": service_type, "ports": list(ports)}
    if selector:
        spec["selector"] = dict(selector)
    if cluster_ip:
        spec["clusterIP"] = cluster_ip
    obj: dict[str, Any] = {"metadata": metadata(name, ns, labels, annotations), "spec": spec}
    if status is not None:
        obj["status"] = status
    return SERVICES, obj


def endpoint_slice(
    ns: str,
    name: str,
    service_name: str,
    addresses: Iterable[str],
    ports: Iterable[dict[str, Any]],
    managed_by: str,
) -> Manifest:
    """A hand-made EndpointSlice for a selector-less service (not the controller's to manage)."""
    return ENDPOINT_SLICES, {
        "metadata": metadata(
            name, ns, {SERVICE_NAME_LABEL: service_name, MANAGED_BY_LABEL: managed_by}
        ),
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": [address], "conditions": {"ready": True}} for address in addresses
        ],
        "ports": list(ports),
    }


def ingress_backend(service_name: str, port: int) -> dict[str, Any]:
    return {"service": {"name": service_name, "port": {"number": port}}}


def ingress(
    ns: str,
    name: str,
    host: str,
    paths: Iterable[tuple[str, str, int]],
    *,
    ingress_class: str = "nginx",
    tls_secret: str | None = None,
    load_balancer_ip: str | None = None,
    annotations: Labels = None,
) -> Manifest:
    """An Ingress with one host; `paths` are (path prefix, service name, service port)."""
    spec: dict[str, Any] = {
        "ingressClassName": ingress_class,
        "rules": [
            {
                "host": host,
                "http": {
                    "paths": [
                        {"path": path, "pathType": "Prefix", "backend": ingress_backend(svc, port)}
                        for path, svc, port in paths
                    ]
                },
            }
        ],
    }
    if tls_secret:
        spec["tls"] = [{"hosts": [host], "secretName": tls_secret}]
    obj: dict[str, Any] = {"metadata": metadata(name, ns, annotations=annotations), "spec": spec}
    if load_balancer_ip:
        obj["status"] = {"loadBalancer": {"ingress": [{"ip": load_balancer_ip}]}}
    return INGRESSES, obj


def backend_ref(name: str, port: int, namespace: str | None = None) -> dict[str, Any]:
    ref: dict[str, Any] = {"kind": "Service", "name": name, "port": port}
    if namespace:
        ref["namespace"] = namespace
    return ref


def http_route(
    ns: str,
    name: str,
    hostnames: Iterable[str],
    gateway: tuple[str, str],
    rules: Iterable[tuple[str, list[dict[str, Any]]]],
    *,
    labels: Labels = None,
    annotations: Labels = None,
) -> Manifest:
    """An HTTPRoute attached to `gateway` (namespace, name); `rules` are (path, backendRefs)."""
    gateway_ns, gateway_name = gateway
    return HTTP_ROUTES, {
        "metadata": metadata(name, ns, labels, annotations),
        "spec": {
            "parentRefs": [{"name": gateway_name, "namespace": gateway_ns}],
            "hostnames": list(hostnames),
            "rules": [
                {"matches": [{"path": {"type": "PathPrefix", "value": path}}], "backendRefs": refs}
                for path, refs in rules
            ],
        },
    }


def gateway(ns: str, name: str, gateway_class: str, address: str) -> Manifest:
    return GATEWAYS, {
        "metadata": metadata(name, ns),
        "spec": {
            "gatewayClassName": gateway_class,
            "listeners": [
                {
                    "name": "http",
                    "protocol": "HTTP",
                    "port": 80,
                    "allowedRoutes": {"namespaces": {"from": "All"}},
                },
            ],
        },
        "status": {"addresses": [{"type": "IPAddress", "value": address}]},
    }


def apply(store: Store, manifests: Iterable[Manifest]) -> None:
    """Create each object through the Store API, in order.

    A manifest that carries a status has it written through the status
    subresource afterwards, as the controller owning it would have (an ingress
    controller's load-balancer IP, a job pod that completed before we started).
    Types the store does not serve now (the Gateway API when it is not
    installed) are skipped, so a scenario works on either kind of cluster.
    """
    registry = store.registry
    for rtype, obj in manifests:
        if registry.lookup(rtype.group, rtype.version, rtype.plural) is None:
            continue
        with store.lock:
            created = store.create(rtype, None, obj)
            if "status" in obj and rtype.has_status:
                meta = created["metadata"]
                store.update(
                    rtype,
                    meta.get("namespace"),
                    meta["name"],
                    {"metadata": {"name": meta["name"]}, "status": obj["status"]},
                    subresource="status",
                )
