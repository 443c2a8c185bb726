"""Per-kind validation and defaulting, like the apiserver's registry strategies.

Clients are tested against what a real server does with their bodies: a bad
object is refused with 422 and every cause at once, and a good one comes back
with the defaults kubectl and the Python client expect to read (cluster IPs,
pull policies, a Pending pod status). Messages follow apimachinery's wording so
an error printed by kubectl looks like one from a real cluster.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from simcluster import errors, selectors
from simcluster.resources import ResourceType

Cause = dict[str, str]
Obj = dict[str, Any]

DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + r"(\." + DNS1123_LABEL_FMT + ")*"
DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE_FMT = f"({QUALIFIED_NAME_FMT})?"

SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")

SERVICE_NETWORK = ipaddress.IPv4Network("10.96.0.0/12")
# Since Kubernetes 1.24 dynamic allocation starts above the static band (the
# first 256 addresses of a /12), so hand-picked IPs like 10.96.0.10 stay free.
DYNAMIC_IP_OFFSET = 256
NODE_PORTS = range(30000, 32768)


# -- causes ------------------------------------------------------------------------


def required(field: str, detail: str = "") -> Cause:
    """A `FieldValueRequired` cause; `detail` is appended as apimachinery does."""
    message = f"Required value: {detail}" if detail else "Required value"
    return {"reason": "FieldValueRequired", "message": message, "field": field}


def invalid_value(field: str, value: Any, detail: str) -> Cause:
    return {
        "reason": "FieldValueInvalid",
        "message": f"Invalid value: {go_value(value)}: {detail}",
        "field": field,
    }


def not_supported(field: str, value: Any, supported: tuple[str, ...]) -> Cause:
    choices = ", ".join(f'"{s}"' for s in supported)
    return {
        "reason": "FieldValueNotSupported",
        "message": f"Unsupported value: {go_value(value)}: supported values: {choices}",
        "field": field,
    }


def duplicate(field: str, value: Any) -> Cause:
    return {
        "reason": "FieldValueDuplicate",
        "message": f"Duplicate value: {go_value(value)}",
        "field": field,
    }


def go_value(value: Any) -> str:
    """A value as Go's `%#v` prints it in field errors (strings quoted, maps typed)."""
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        pairs = ", ".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in sorted(value.items()))
        return f"map[string]string{{{pairs}}}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return json.dumps(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


# -- name and label rules (k8s.io/apimachinery/pkg/util/validation) ---------------


def _regex_error(message: str, fmt: str, *examples: str) -> str:
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{fmt}')"


# Every write checks every label and name again, and they repeat across objects.
@functools.lru_cache(maxsize=16384)
def _check(value: str, fmt: str, max_len: int, message: str, *examples: str) -> tuple[str, ...]:
    problems = []
    if len(value) > max_len:
        problems.append(f"must be no more than {max_len} characters")
    if not re.fullmatch(fmt, value):
        problems.append(_regex_error(message, fmt, *examples))
    return tuple(problems)


def dns1123_subdomain(value: str) -> Sequence[str]:
    return _check(
        value,
        DNS1123_SUBDOMAIN_FMT,
        253,
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
        "characters, '-' or '.', and must start and end with an alphanumeric character",
        "example.com",
    )


def dns1123_label(value: str) -> Sequence[str]:
    return _check(
        value,
        DNS1123_LABEL_FMT,
        63,
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
        "or '-', and must start and end with an alphanumeric character",
        "my-name",
        "123-abc",
    )


def dns1035_label(value: str) -> Sequence[str]:
    return _check(
        value,
        DNS1035_LABEL_FMT,
        63,
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
        "start with an alphabetic character, and end with an alphanumeric character",
        "my-name",
        "abc-123",
    )


@functools.lru_cache(maxsize=16384)
def qualified_name(value: str) -> tuple[str, ...]:
    """Problems with a label key such as `app.kubernetes.io/name`."""
    parts = value.split("/")
    name = parts[-1]
    problems: list[str] = []
    if len(parts) > 2:
        return (
            "a qualified name "
            + _regex_error(
                "must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                "with an alphanumeric character",
                QUALIFIED_NAME_FMT,
                "MyName",
                "my.name",
                "123-abc",
            )
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
        )
    if len(parts) == 2:
        if not parts[0]:
            problems.append("prefix part must be non-empty")
        else:
            problems.extend("prefix part " + p for p in dns1123_subdomain(parts[0]))
    if not name:
        return (*problems, "name part must be non-empty")
    problems.extend(
        "name part " + p
        for p in _check(
            name,
            QUALIFIED_NAME_FMT,
            63,
            "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
            "an alphanumeric character",
            "MyName",
            "my.name",
            "123-abc",
        )
    )
    return tuple(problems)


def label_value(value: str) -> Sequence[str]:
    return _check(
        value,
        LABEL_VALUE_FMT,
        63,
        "a valid label must be an empty string or consist of alphanumeric characters, "
        "'-', '_' or '.', and must start and end with an alphanumeric character",
        "MyValue",
        "my_value",
        "12345",
    )


def _labels(labels: Any, path: str) -> list[Cause]:
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return [invalid_value(path, labels, "must be a map of string to string")]
    causes = []
    for key, value in labels.items():
        causes.extend(invalid_value(path, key, p) for p in qualified_name(str(key)))
        if not isinstance(value, str):
            causes.append(invalid_value(f"{path}[{key}]", value, "must be a string"))
        else:
            causes.extend(invalid_value(path, value, p) for p in label_value(value))
    return causes


# -- validation ---------------------------------------------------------------------


def _map(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _name_rule(kind: str) -> Callable[[str], Sequence[str]]:
    if kind == "Namespace":
        return dns1123_label
    if kind == "Service":
        # The real server checks Service names as DNS-1035 labels: they become DNS names.
        return dns1035_label
    return dns1123_subdomain


def _metadata(rtype: ResourceType, obj: Obj) -> list[Cause]:
    causes = []
    for key, wanted in (("kind", rtype.kind), ("apiVersion", rtype.api_version)):
        given = obj.get(key)
        if given not in (None, "", wanted):
            causes.append(invalid_value(key, given, f"must be {wanted}"))
    meta = _map(obj.get("metadata"))
    name = meta.get("name")
    if not name:
        causes.append(required("metadata.name", "name or generateName is required"))
    else:
        causes.extend(
            invalid_value("metadata.name", name, p) for p in _name_rule(rtype.kind)(str(name))
        )
    causes.extend(_labels(meta.get("labels"), "metadata.labels"))
    return causes


def _pod_spec(spec: Any, path: str) -> list[Cause]:
    containers = _list(_map(spec).get("containers"))
    if not containers:
        return [required(f"{path}.containers")]
    causes = []
    seen: set[str] = set()
    for i, container in enumerate(containers):
        here = f"{path}.containers[{i}]"
        container = _map(container)
        name = container.get("name")
        if not name:
            causes.append(required(f"{here}.name"))
        elif name in seen:
            causes.append(duplicate(f"{here}.name", name))
        else:
            seen.add(name)
            causes.extend(invalid_value(f"{here}.name", name, p) for p in dns1123_label(str(name)))
        if not container.get("image"):
            causes.append(required(f"{here}.image"))
    return causes


def _replicas(spec: dict) -> list[Cause]:
    replicas = spec.get("replicas")
    if replicas is None:
        return []
    if not isinstance(replicas, int) or isinstance(replicas, bool):
        return [invalid_value("spec.replicas", replicas, "must be an integer")]
    if replicas < 0:
        return [invalid_value("spec.replicas", replicas, "must be greater than or equal to 0")]
    return []


def _workload(rtype: ResourceType, obj: Obj) -> list[Cause]:
    """Deployments and ReplicaSets: a selector that selects their own template."""
    spec = _map(obj.get("spec"))
    causes = _replicas(spec)
    selector = spec.get("selector")
    template = _map(spec.get("template"))
    template_labels = _map(_map(template.get("metadata")).get("labels"))
    if not isinstance(selector, dict):
        causes.append(required("spec.selector"))
    elif not selector.get("matchLabels") and not selector.get("matchExpressions"):
        causes.append(
            invalid_value(
                "spec.selector", selector, f"empty selector is invalid for {rtype.singular_name}"
            )
        )
    else:
        try:
            parsed = selectors.selector_from_object(selector)
        except selectors.SelectorError as exc:
            causes.append(invalid_value("spec.selector", selector, str(exc)))
        else:
            if not parsed.matches(template_labels):
                causes.append(
                    invalid_value(
                        "spec.template.metadata.labels",
                        template_labels,
                        "`selector` does not match template `labels`",
                    )
                )
    causes.extend(
        _labels(_map(template.get("metadata")).get("labels"), "spec.template.metadata.labels")
    )
    causes.extend(_pod_spec(template.get("spec"), "spec.template.spec"))
    return causes


def _port_number(value: Any, path: str) -> list[Cause]:
    if value is None or value == 0:
        return [required(path)]
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        return [invalid_value(path, value, "must be between 1 and 65535, inclusive")]
    return []


def _service(rtype: ResourceType, obj: Obj) -> list[Cause]:
    spec = _map(obj.get("spec"))
    causes = []
    kind = spec.get("type", "ClusterIP")
    if kind not in SERVICE_TYPES:
        causes.append(not_supported("spec.type", kind, SERVICE_TYPES))
    if kind == "ExternalName" and not spec.get("externalName"):
        causes.append(required("spec.externalName"))
    cluster_ip = spec.get("clusterIP")
    if cluster_ip not in (None, "", "None"):
        try:
            ipaddress.ip_address(str(cluster_ip))
        except ValueError:
            causes.append(
                invalid_value(
                    "spec.clusterIP",
                    cluster_ip,
                    "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                )
            )
    ports = _list(spec.get("ports"))
    for i, port in enumerate(ports):
        port = _map(port)
        causes.extend(_port_number(port.get("port"), f"spec.ports[{i}].port"))
        if len(ports) > 1 and not port.get("name"):
            causes.append(required(f"spec.ports[{i}].name"))
    return causes


def _pod(rtype: ResourceType, obj: Obj) -> list[Cause]:
    return _pod_spec(obj.get("spec"), "spec")


def _endpoint_slice(rtype: ResourceType, obj: Obj) -> list[Cause]:
    address_type = obj.get("addressType")
    if not address_type:
        return [required("addressType")]
    if address_type not in ADDRESS_TYPES:
        return [not_supported("addressType", address_type, ADDRESS_TYPES)]
    return []


def _ingress_backend(backend: dict, path: str) -> list[Cause]:
    service, resource = backend.get("service"), backend.get("resource")
    if service and resource:
        return [invalid_value(path, "", "cannot set both service and resource backends")]
    if resource:
        return [] if _map(resource).get("name") else [required(f"{path}.resource.name")]
    if not service:
        return [required(path, "one of `backend.service` or `backend.resource` must be specified")]
    service = _map(service)
    causes = [] if service.get("name") else [required(f"{path}.service.name")]
    port = _map(service.get("port"))
    if not port.get("name") and not port.get("number"):
        causes.append(required(f"{path}.service.port", "port name or number is required"))
    return causes


def _ingress(rtype: ResourceType, obj: Obj) -> list[Cause]:
    spec = _map(obj.get("spec"))
    causes = []
    if spec.get("defaultBackend") is not None:
        causes.extend(_ingress_backend(_map(spec["defaultBackend"]), "spec.defaultBackend"))
    for i, rule in enumerate(_list(spec.get("rules"))):
        paths = _list(_map(_map(rule).get("http")).get("paths"))
        for j, path in enumerate(paths):
            causes.extend(
                _ingress_backend(
                    _map(_map(path).get("backend")), f"spec.rules[{i}].http.paths[{j}].backend"
                )
            )
    return causes


_KIND_RULES: dict[str, Callable[[ResourceType, Obj], list[Cause]]] = {
    "Pod": _pod,
    "Deployment": _workload,
    "ReplicaSet": _workload,
    "Service": _service,
    "EndpointSlice": _endpoint_slice,
    "Ingress": _ingress,
}


def causes_for(rtype: ResourceType, obj: Obj) -> list[Cause]:
    """Every validation problem with `obj` as an object of `rtype` (empty when valid)."""
    causes = _metadata(rtype, obj)
    rule = _KIND_RULES.get(rtype.kind)
    if rule is not None:
        causes.extend(rule(rtype, obj))
    return causes


def _raise_if_invalid(rtype: ResourceType, obj: Obj) -> None:
    causes = causes_for(rtype, obj)
    if causes:
        name = str(_map(obj.get("metadata")).get("name") or "")
        raise errors.invalid(rtype.kind, name, causes, rtype.group)


def validate_create(rtype: ResourceType, obj: Obj) -> None:
    """Raise 422 Invalid listing every problem with a new object."""
    _raise_if_invalid(rtype, obj)


def validate_update(rtype: ResourceType, obj: Obj) -> None:
    """Raise 422 Invalid listing every problem with a replacement object."""
    _raise_if_invalid(rtype, obj)


# -- defaulting ---------------------------------------------------------------------


def image_pull_policy(image: str) -> str:
    """`Always` for `:latest` or untagged images, else `IfNotPresent`, as SetDefaults_Container."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _default_ports(ports: Any, service: bool) -> None:
    for port in _list(ports):
        if not isinstance(port, dict):
            continue
        port.setdefault("protocol", "TCP")
        if service and "port" in port:
            port.setdefault("targetPort", port["port"])


def default_pod_spec(spec: dict) -> None:
    """SetDefaults_PodSpec and SetDefaults_Container, for pods and pod templates."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    spec.setdefault("enableServiceLinks", True)
    for key in ("initContainers", "containers"):
        for container in _list(spec.get(key)):
            if not isinstance(container, dict):
                continue
            image = str(container.get("image", ""))
            container.setdefault("imagePullPolicy", image_pull_policy(image))
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("terminationMessagePolicy", "File")
            container.setdefault("resources", {})
            _default_ports(container.get("ports"), service=False)


def _spec(obj: Obj) -> dict:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    return spec


def _default_template(spec: dict) -> None:
    template = spec.get("template")
    if isinstance(template, dict):
        pod_spec = template.get("spec")
        if isinstance(pod_spec, dict):
            default_pod_spec(pod_spec)


@dataclass
class ServiceAllocations:
    """Cluster IPs and node ports handed out by one store.

    Nothing is released on delete: the ranges are far larger than a simulated
    cluster needs, and never reusing an address keeps every answer unique.
    """

    ips: set[str] = field(default_factory=set)
    ports: set[int] = field(default_factory=set)
    next_ip: int = DYNAMIC_IP_OFFSET
    next_port: int = NODE_PORTS.start

    def cluster_ip(self) -> str:
        for _ in range(SERVICE_NETWORK.num_addresses):
            offset = self.next_ip
            self.next_ip = offset + 1 if offset + 2 < SERVICE_NETWORK.num_addresses else 1
            candidate = str(SERVICE_NETWORK.network_address + offset)
            if candidate not in self.ips:
                self.ips.add(candidate)
                return candidate
        raise errors.ApiError(
            500,
            "InternalError",
            "Internal error occurred: failed to allocate a serviceIP: range is full",
        )

    def node_port(self) -> int:
        for _ in NODE_PORTS:
            port = self.next_port
            self.next_port = port + 1 if port + 1 < NODE_PORTS.stop else NODE_PORTS.start
            if port not in self.ports:
                self.ports.add(port)
                return port
        raise errors.ApiError(
            500,
            "InternalError",
            "Internal error occurred: failed to allocate a nodePort: range is full",
        )


def allocations(store: Any) -> ServiceAllocations:
    """The store's allocation state, created on first use (the store knows nothing of it)."""
    state = getattr(store, "_service_allocations", None)
    if state is None:
        state = ServiceAllocations()
        store._service_allocations = state
    return state


def _default_service(rtype: ResourceType, obj: Obj, store: Any) -> None:
    spec = _spec(obj)
    meta = _map(obj.get("metadata"))
    kind = spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    _default_ports(spec.get("ports"), service=True)
    # An update that omits allocated values keeps them, as the real REST storage does.
    name = meta.get("name")
    existing = store.find(rtype, meta.get("namespace", ""), name) if name else None
    old_spec = _map((existing or {}).get("spec"))
    if kind == "ExternalName":
        return
    state = allocations(store)
    spec.setdefault("internalTrafficPolicy", "Cluster")
    if not spec.get("clusterIP"):
        spec["clusterIP"] = old_spec.get("clusterIP") or state.cluster_ip()
    elif spec["clusterIP"] != "None":
        state.ips.add(spec["clusterIP"])
    spec.setdefault("clusterIPs", [spec["clusterIP"]])
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    if kind not in ("NodePort", "LoadBalancer"):
        return
    spec.setdefault("externalTrafficPolicy", "Cluster")
    if kind == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    old_ports = {
        (p.get("port"), p.get("protocol")): p.get("nodePort")
        for p in _list(old_spec.get("ports"))
        if isinstance(p, dict)
    }
    ports = [p for p in _list(spec.get("ports")) if isinstance(p, dict)]
    # Ports the client chose are reserved first, so allocation cannot hand them out again.
    state.ports.update(p["nodePort"] for p in ports if p.get("nodePort"))
    for port in ports:
        if not port.get("nodePort"):
            port["nodePort"] = old_ports.get((port.get("port"), port.get("protocol"))) or (
                state.node_port()
            )


def _default_deployment(rtype: ResourceType, obj: Obj, store: Any) -> None:
    spec = _spec(obj)
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxSurge", "25%")
        rolling.setdefault("maxUnavailable", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _default_template(spec)


def _default_replica_set(rtype: ResourceType, obj: Obj, store: Any) -> None:
    spec = _spec(obj)
    spec.setdefault("replicas", 1)
    _default_template(spec)


def _default_pod(rtype: ResourceType, obj: Obj, store: Any) -> None:
    default_pod_spec(_spec(obj))


def _default_namespace(rtype: ResourceType, obj: Obj, store: Any) -> None:
    _spec(obj).setdefault("finalizers", ["kubernetes"])
    meta = obj["metadata"]
    # A new dict: on a status write the labels may still be the stored object's.
    meta["labels"] = {**_map(meta.get("labels")), "kubernetes.io/metadata.name": meta["name"]}


_DEFAULTERS: dict[str, Callable[[ResourceType, Obj, Any], None]] = {
    "Pod": _default_pod,
    "Service": _default_service,
    "Deployment": _default_deployment,
    "ReplicaSet": _default_replica_set,
    "Namespace": _default_namespace,
}


def apply_defaults(rtype: ResourceType, obj: Obj, store: Any) -> None:
    """Fill in the spec and metadata defaults the apiserver sets on create and update.

    `store` must offer `find(rtype, namespace, name)`; it also carries the
    service IP and node port allocations, so each store hands out unique ones.
    """
    defaulter = _DEFAULTERS.get(rtype.kind)
    if defaulter is not None:
        defaulter(rtype, obj, store)


def qos_class(spec: Any) -> str:
    """The pod's QoS class from its containers' requests and limits (GetPodQOS)."""
    containers = [
        _map(c) for key in ("initContainers", "containers") for c in _list(_map(spec).get(key))
    ]
    resources = [_map(c.get("resources")) for c in containers]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    for res in resources:
        limits, requests = _map(res.get("limits")), _map(res.get("requests"))
        for name in ("cpu", "memory"):
            # Requests default to limits, so only a missing or different limit breaks it.
            if name not in limits or requests.get(name, limits[name]) != limits[name]:
                return "Burstable"
    return "Guaranteed"


_INITIAL_STATUS: dict[str, Callable[[Obj], dict]] = {
    "Pod": lambda obj: {"phase": "Pending", "qosClass": qos_class(obj.get("spec"))},
    "Deployment": lambda obj: {},
    "ReplicaSet": lambda obj: {},
    "Service": lambda obj: {"loadBalancer": {}},
    "Ingress": lambda obj: {"loadBalancer": {}},
    "Namespace": lambda obj: {"phase": "Active"},
}


def reset_status_on_create(rtype: ResourceType, obj: Obj) -> None:
    """Replace a new object's status with the server's initial one.

    Only types with a status subresource: there the status a client sends on
    create is ignored. Custom resources lose it entirely, as CRDs do.
    """
    if not rtype.has_status:
        return
    initial = _INITIAL_STATUS.get(rtype.kind)
    if initial is None:
        obj.pop("status", None)
    else:
        obj["status"] = initial(obj)
