"""Reading HTTPRoutes and Ingresses: which Services they send traffic to, for which hosts.

The two route kinds name their backends differently (DESIGN §4); this module turns both into
one `Backend` list so the topology treats them alike. Only core-group Service references count:
a Gateway API backendRef to another kind (ServiceImport, a custom backend) has no pods to show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from watchers.kobjects import annotation, as_dict, as_int, as_list, as_str, spec, unique


@dataclass(frozen=True)
class Backend:
    """One Service a route points at; host and path only for Ingress rules."""

    namespace: str
    name: str
    port: int | str | None
    host: str | None = None
    path: str | None = None


def httproute_backends(namespace: str, route: dict) -> list[Backend]:
    """Every `rules[].backendRefs[]` to a core Service; namespace defaults to the route's."""
    backends = []
    for rule in as_list(spec(route).get("rules")):
        for ref in map(as_dict, as_list(as_dict(rule).get("backendRefs"))):
            group, kind = as_str(ref.get("group")), as_str(ref.get("kind"), "Service")
            name = as_str(ref.get("name"))
            if group == "" and kind == "Service" and name:
                target_namespace = as_str(ref.get("namespace")) or namespace
                backends.append(Backend(target_namespace, name, as_int(ref.get("port")) or None))
    return backends


def _ingress_backend(namespace: str, backend: Any, host: str | None, path: str | None) -> list:
    service = as_dict(as_dict(backend).get("service"))
    name = as_str(service.get("name"))
    if not name:
        return []
    port = as_dict(service.get("port"))
    shown = as_int(port.get("number")) or as_str(port.get("name")) or None
    return [Backend(namespace, name, shown, host, path)]


def ingress_backends(namespace: str, ingress: dict) -> list[Backend]:
    """`defaultBackend`, then every `rules[].http.paths[].backend.service`, in spec order."""
    ingress_spec = spec(ingress)
    backends = _ingress_backend(namespace, ingress_spec.get("defaultBackend"), None, None)
    for rule in map(as_dict, as_list(ingress_spec.get("rules"))):
        host = as_str(rule.get("host")) or None
        for path in map(as_dict, as_list(as_dict(rule.get("http")).get("paths"))):
            path_text = as_str(path.get("path")) or None
            backends += _ingress_backend(namespace, path.get("backend"), host, path_text)
    return backends


def route_fields(kind: str, route: dict) -> dict:
    """The kind-specific fields of a route node: hostnames, and the class for an Ingress."""
    route_spec = spec(route)
    if kind == "HTTPRoute":
        return {"hostnames": sorted(unique(map(as_str, as_list(route_spec.get("hostnames")))))}
    hosts = (as_str(as_dict(rule).get("host")) for rule in as_list(route_spec.get("rules")))
    ingress_class = as_str(route_spec.get("ingressClassName")) or annotation(
        route, "kubernetes.io/ingress.class"
    )
    return {"hostnames": sorted(unique(hosts)), "ingress_class": ingress_class}
