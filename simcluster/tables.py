"""`meta.k8s.io/v1` Table responses, so `kubectl get` prints the columns it would on a real cluster.

kubectl asks for Tables and shows only NAME and AGE when given plain JSON.
The cell logic follows kubernetes' pkg/printers/internalversion/printers.go
(and the Gateway API CRDs' printer columns); the server always sends every
column, and kubectl hides priority-1 columns unless run with `-o wide`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from simcluster.resources import ResourceType

Obj = dict[str, Any]
Cells = list[Any]

NAME_DOC = (
    "Name must be unique within a namespace. Is required when creating resources, although "
    "some resources may allow a client to request the generation of an appropriate name "
    "automatically. Name is primarily intended for creation idempotence and configuration "
    "definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
AGE_DOC = (
    "CreationTimestamp is a timestamp representing the server time when this object was "
    "created. It is not guaranteed to be set in happens-before order across separate "
    "operations. Clients may not set this value. It is represented in RFC3339 form and is in "
    "UTC."
)


@dataclass(frozen=True)
class Column:
    name: str
    description: str = ""
    type: str = "string"
    priority: int = 0
    format: str = ""

    def definition(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


NAME = Column("Name", NAME_DOC, format="name")
AGE = Column("Age", AGE_DOC)


@dataclass(frozen=True)
class Printer:
    """One kind's columns and the function that fills a row's cells, given the time now."""

    columns: tuple[Column, ...]
    cells: Callable[[Obj, float], Cells]


# -- formatting ----------------------------------------------------------------------


def human_duration(seconds: float) -> str:
    """A duration as kubectl prints ages (apimachinery's duration.HumanDuration)."""
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        return f"{minutes}m{whole % 60}s" if whole % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    if hours < 24 * 365 * 8:
        return f"{days // 365}y{days % 365}d" if days % 365 else f"{days // 365}y"
    return f"{days // 365}y"


def parse_time(value: Any) -> float | None:
    """Seconds since the epoch from an RFC 3339 time (with or without microseconds)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def since(value: Any, now: float) -> str:
    """`translateTimestampSince`: the age of a timestamp, `<unknown>` when unset."""
    ts = parse_time(value)
    return "<unknown>" if ts is None else human_duration(now - ts)


def age(obj: Obj, now: float) -> str:
    return since(_map(obj.get("metadata")).get("creationTimestamp"), now)


def _map(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _name(obj: Obj) -> str:
    return str(_map(obj.get("metadata")).get("name", ""))


def _some(values: list[str], limit: int = 3, total: int | None = None, empty: str = "") -> str:
    """The first `limit` values, then ` + N more...`, as kubectl shortens long lists."""
    total = len(values) if total is None else total
    shown = ",".join(values[:limit])
    if total > limit:
        return f"{shown} + {total - limit} more..."
    return shown or empty


def format_labels(labels: Any) -> str:
    """`labels.FormatLabels`: `a=1,b=2` sorted by key, `<none>` when empty."""
    pairs = sorted(_map(labels).items())
    return ",".join(f"{k}={v}" for k, v in pairs) or "<none>"


def format_selector(selector: Any) -> str:
    """A LabelSelector as `metav1.LabelSelectorAsSelector(...).String()` prints it."""
    selector = _map(selector)
    terms = [(k, f"{k}={v}") for k, v in _map(selector.get("matchLabels")).items()]
    for expr in _list(selector.get("matchExpressions")):
        key, op = expr.get("key", ""), expr.get("operator")
        values = ",".join(sorted(expr.get("values") or []))
        rendered = {
            "In": f"{key} in ({values})",
            "NotIn": f"{key} notin ({values})",
            "Exists": key,
            "DoesNotExist": f"!{key}",
        }.get(op, key)
        terms.append((key, rendered))
    return ",".join(text for _, text in sorted(terms))


def _containers_and_images(pod_spec: Any) -> list[str]:
    containers = [_map(c) for c in _list(_map(pod_spec).get("containers"))]
    return [
        ",".join(str(c.get("name", "")) for c in containers),
        ",".join(str(c.get("image", "")) for c in containers),
    ]


def _load_balancer(status: Any) -> str:
    ingress = _list(_map(_map(status).get("loadBalancer")).get("ingress"))
    return ",".join(
        str(i.get("ip") or i.get("hostname") or "")
        for i in map(_map, ingress)
        if i.get("ip") or i.get("hostname")
    )


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


# -- Pod -----------------------------------------------------------------------------


def _condition_true(status: dict, kind: str) -> bool:
    return any(
        c.get("type") == kind and c.get("status") == "True"
        for c in map(_map, _list(status.get("conditions")))
    )


def _terminated_reason(terminated: dict, prefix: str = "") -> str:
    if terminated.get("reason"):
        return prefix + str(terminated["reason"])
    if terminated.get("signal"):
        return f"{prefix}Signal:{terminated['signal']}"
    return f"{prefix}ExitCode:{_int(terminated.get('exitCode'))}"


class _PodSummary:
    """printPod's walk over a pod's container statuses: its Ready, Status and Restarts cells."""

    def __init__(self, pod: Obj) -> None:
        spec, status = _map(pod.get("spec")), _map(pod.get("status"))
        self.total = len(_list(spec.get("containers")))
        self.ready = 0
        self.restarts = 0
        self.last_restart: str | None = None
        self.reason = str(status.get("reason") or status.get("phase") or "")
        if any(
            c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated"
            for c in map(_map, _list(status.get("conditions")))
        ):
            self.reason = "SchedulingGated"
        initializing = self._init_containers(spec, status)
        if not initializing or _condition_true(status, "Initialized"):
            self.restarts = 0
            self.last_restart = None
            self._containers(status)
        phase = status.get("phase")
        if _map(pod.get("metadata")).get("deletionTimestamp"):
            if status.get("reason") == "NodeLost":
                self.reason = "Unknown"
            elif phase not in ("Succeeded", "Failed"):
                self.reason = "Terminating"

    def _count_restarts(self, container: dict) -> None:
        self.restarts += _int(container.get("restartCount"))
        finished = _map(_map(container.get("lastState")).get("terminated")).get("finishedAt")
        if finished and (
            self.last_restart is None
            or (parse_time(finished) or 0) > (parse_time(self.last_restart) or 0)
        ):
            self.last_restart = finished

    def _init_containers(self, spec: dict, status: dict) -> bool:
        statuses = [_map(s) for s in _list(status.get("initContainerStatuses"))]
        total = len(_list(spec.get("initContainers")))
        for i, container in enumerate(statuses):
            self._count_restarts(container)
            state = _map(container.get("state"))
            terminated, waiting = state.get("terminated"), _map(state.get("waiting"))
            if isinstance(terminated, dict) and _int(terminated.get("exitCode")) == 0:
                continue
            if isinstance(terminated, dict):
                self.reason = _terminated_reason(terminated, "Init:")
            elif waiting.get("reason") and waiting["reason"] != "PodInitializing":
                self.reason = f"Init:{waiting['reason']}"
            else:
                self.reason = f"Init:{i}/{total}"
            return True
        return False

    def _containers(self, status: dict) -> None:
        has_running = False
        for container in reversed([_map(s) for s in _list(status.get("containerStatuses"))]):
            self._count_restarts(container)
            state = _map(container.get("state"))
            waiting, terminated = _map(state.get("waiting")), state.get("terminated")
            if waiting.get("reason"):
                self.reason = str(waiting["reason"])
            elif isinstance(terminated, dict):
                self.reason = _terminated_reason(terminated)
            elif container.get("ready") and isinstance(state.get("running"), dict):
                has_running = True
                self.ready += 1
        if self.reason == "Completed" and has_running:
            self.reason = "Running" if _condition_true(status, "Ready") else "NotReady"

    def restarts_cell(self, now: float) -> str:
        if self.restarts and self.last_restart:
            return f"{self.restarts} ({since(self.last_restart, now)} ago)"
        return str(self.restarts)


def _readiness_gates(spec: dict, status: dict) -> str:
    gates = [_map(g).get("conditionType") for g in _list(spec.get("readinessGates"))]
    if not gates:
        return "<none>"
    true = sum(1 for gate in gates if _condition_true(status, str(gate)))
    return f"{true}/{len(gates)}"


def _pod_cells(pod: Obj, now: float) -> Cells:
    spec, status = _map(pod.get("spec")), _map(pod.get("status"))
    summary = _PodSummary(pod)
    pod_ips = _list(status.get("podIPs"))
    ip = (_map(pod_ips[0]).get("ip") if pod_ips else None) or status.get("podIP")
    return [
        _name(pod),
        f"{summary.ready}/{summary.total}",
        summary.reason,
        summary.restarts_cell(now),
        age(pod, now),
        ip or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        _readiness_gates(spec, status),
    ]


POD = Printer(
    (
        NAME,
        Column("Ready", "The aggregate readiness state of this pod for accepting traffic."),
        Column("Status", "The aggregate status of the containers in this pod."),
        Column(
            "Restarts",
            "The number of times the containers in this pod have been restarted "
            "and when the last container in this pod has restarted.",
        ),
        AGE,
        Column(
            "IP",
            "IP address allocated to the pod. Routable at least within the cluster.",
            priority=1,
        ),
        Column("Node", "NodeName indicates in which node this pod is scheduled.", priority=1),
        Column(
            "Nominated Node",
            "nominatedNodeName is set when this pod preempts other pods on the node.",
            priority=1,
        ),
        Column(
            "Readiness Gates",
            "If specified, all readiness gates will be evaluated for pod readiness.",
            priority=1,
        ),
    ),
    _pod_cells,
)


# -- workloads -----------------------------------------------------------------------

TEMPLATE_COLUMNS = (
    Column("Containers", "Names of each container in the template.", priority=1),
    Column("Images", "Images referenced by each container in the template.", priority=1),
    Column("Selector", "Label selector for pods.", priority=1),
)


def _template_cells(spec: dict) -> Cells:
    pod_spec = _map(spec.get("template")).get("spec")
    return [*_containers_and_images(pod_spec), format_selector(spec.get("selector"))]


def _deployment_cells(obj: Obj, now: float) -> Cells:
    spec, status = _map(obj.get("spec")), _map(obj.get("status"))
    ready = f"{_int(status.get('readyReplicas'))}/{_int(spec.get('replicas'))}"
    return [
        _name(obj),
        ready,
        _int(status.get("updatedReplicas")),
        _int(status.get("availableReplicas")),
        age(obj, now),
        *_template_cells(spec),
    ]


DEPLOYMENT = Printer(
    (
        NAME,
        Column("Ready", "Number of the pod with ready state"),
        Column(
            "Up-to-date",
            "Total number of non-terminated pods targeted by this deployment that "
            "have the desired template spec.",
            type="integer",
        ),
        Column(
            "Available",
            "Total number of available pods (ready for at least minReadySeconds) "
            "targeted by this deployment.",
            type="integer",
        ),
        AGE,
        *TEMPLATE_COLUMNS,
    ),
    _deployment_cells,
)


def _replica_set_cells(obj: Obj, now: float) -> Cells:
    spec, status = _map(obj.get("spec")), _map(obj.get("status"))
    return [
        _name(obj),
        _int(spec.get("replicas")),
        _int(status.get("replicas")),
        _int(status.get("readyReplicas")),
        age(obj, now),
        *_template_cells(spec),
    ]


REPLICA_SET = Printer(
    (
        NAME,
        Column("Desired", "Replicas is the number of desired replicas.", type="integer"),
        Column(
            "Current", "Replicas is the most recently observed number of replicas.", type="integer"
        ),
        Column("Ready", "The number of ready replicas for this replica set.", type="integer"),
        AGE,
        *TEMPLATE_COLUMNS,
    ),
    _replica_set_cells,
)


# -- networking ----------------------------------------------------------------------


def _service_external_ip(spec: dict, status: dict) -> str:
    kind = spec.get("type", "ClusterIP")
    external = [str(ip) for ip in _list(spec.get("externalIPs"))]
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if kind == "LoadBalancer":
        balancer = _load_balancer(status)
        return ",".join([*([balancer] if balancer else []), *external]) or "<pending>"
    if kind == "ExternalName":
        return str(spec.get("externalName", ""))
    return "<unknown>"


def _service_ports(spec: dict) -> str:
    pieces = []
    for port in map(_map, _list(spec.get("ports"))):
        node = f":{port['nodePort']}" if _int(port.get("nodePort")) > 0 else ""
        pieces.append(f"{port.get('port')}{node}/{port.get('protocol', 'TCP')}")
    return ",".join(pieces) or "<none>"


def _service_cells(obj: Obj, now: float) -> Cells:
    spec, status = _map(obj.get("spec")), _map(obj.get("status"))
    cluster_ips = _list(spec.get("clusterIPs"))
    cluster_ip = cluster_ips[0] if cluster_ips else spec.get("clusterIP")
    return [
        _name(obj),
        spec.get("type", "ClusterIP"),
        cluster_ip or "<none>",
        _service_external_ip(spec, status),
        _service_ports(spec),
        age(obj, now),
        format_labels(spec.get("selector")),
    ]


SERVICE = Printer(
    (
        NAME,
        Column("Type", "type determines how the Service is exposed."),
        Column(
            "Cluster-IP",
            "clusterIP is the IP address of the service and is usually assigned randomly.",
        ),
        Column(
            "External-IP",
            "externalIPs is a list of IP addresses for which nodes in the cluster "
            "will also accept traffic for this service.",
        ),
        Column("Port(s)", "The list of ports that are exposed by this service."),
        AGE,
        Column(
            "Selector",
            "Route service traffic to pods with label keys and values matching this selector.",
            priority=1,
        ),
    ),
    _service_cells,
)


def _endpoints_cell(obj: Obj) -> str:
    subsets = [_map(s) for s in _list(obj.get("subsets"))]
    if not subsets:
        return "<none>"
    found: list[str] = []
    for subset in subsets:
        ips = [str(_map(a).get("ip", "")) for a in _list(subset.get("addresses"))]
        ports = [_map(p).get("port") for p in _list(subset.get("ports"))]
        if not ports:
            found.extend(ips)
            continue
        for port in ports:
            found.extend(f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}" for ip in ips)
    return _some(found)


ENDPOINTS = Printer(
    (
        NAME,
        Column("Endpoints", "Endpoints of the service"),
        AGE,
    ),
    lambda obj, now: [_name(obj), _endpoints_cell(obj), age(obj, now)],
)


def _slice_cells(obj: Obj, now: float) -> Cells:
    ports = [
        str(p["port"]) if p.get("port") is not None else str(p.get("name") or "*")
        for p in map(_map, _list(obj.get("ports")))
    ]
    addresses = [
        str(a) for e in map(_map, _list(obj.get("endpoints"))) for a in _list(e.get("addresses"))
    ]
    return [
        _name(obj),
        obj.get("addressType", ""),
        _some(ports, empty="<unset>"),
        _some(addresses, empty="<unset>"),
        age(obj, now),
    ]


ENDPOINT_SLICE = Printer(
    (
        NAME,
        Column(
            "AddressType",
            "addressType specifies the type of address carried by this EndpointSlice.",
        ),
        Column(
            "Ports",
            "ports specifies the list of network ports exposed by each endpoint in this slice.",
        ),
        Column("Endpoints", "endpoints is a list of unique endpoints in this slice."),
        AGE,
    ),
    _slice_cells,
)


def _ingress_cells(obj: Obj, now: float) -> Cells:
    spec = _map(obj.get("spec"))
    rules = [_map(r) for r in _list(spec.get("rules"))]
    hosts: list[str] = []
    more = False
    for rule in rules:
        more = more or len(hosts) == 3
        if not more and rule.get("host"):
            hosts.append(str(rule["host"]))
    hosts_cell = ",".join(hosts) or "*"
    if more:
        hosts_cell = f"{hosts_cell} + {len(rules) - 3} more..."
    ports = "80, 443" if _list(spec.get("tls")) else "80"
    return [
        _name(obj),
        spec.get("ingressClassName") or "<none>",
        hosts_cell,
        _load_balancer(obj.get("status")),
        ports,
        age(obj, now),
    ]


INGRESS = Printer(
    (
        NAME,
        Column("Class", "ingressClassName is the name of an IngressClass cluster resource."),
        Column("Hosts", "Hosts that incoming requests are matched against."),
        Column("Address", "Address is a list containing ingress points for the load-balancer"),
        Column("Ports", "Ports of TLS configurations that open"),
        AGE,
    ),
    _ingress_cells,
)


# -- cluster bookkeeping -------------------------------------------------------------

NAMESPACE = Printer(
    (
        NAME,
        Column("Status", "The status of the namespace"),
        AGE,
    ),
    lambda obj, now: [_name(obj), _map(obj.get("status")).get("phase", ""), age(obj, now)],
)

LEASE = Printer(
    (
        NAME,
        Column("Holder", "holderIdentity contains the identity of the holder of a current lease."),
        AGE,
    ),
    lambda obj, now: [_name(obj), _map(obj.get("spec")).get("holderIdentity") or "", age(obj, now)],
)


def _event_cells(obj: Obj, now: float) -> Cells:
    first = since(obj.get("firstTimestamp") or obj.get("eventTime"), now)
    last = since(obj.get("lastTimestamp"), now) if obj.get("lastTimestamp") else first
    count = _int(obj.get("count")) or 1
    series = obj.get("series")
    if isinstance(series, dict):
        last = since(series.get("lastObservedTime"), now)
        count = _int(series.get("count"))
    involved = _map(obj.get("involvedObject"))
    kind = str(involved.get("kind", "")).lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = _map(obj.get("source"))
    component = source.get("component") or obj.get("reportingController") or ""
    instance = source.get("host") or obj.get("reportingInstance") or ""
    return [
        last,
        obj.get("type", ""),
        obj.get("reason", ""),
        target,
        involved.get("fieldPath", ""),
        f"{component}, {instance}" if instance else component,
        str(obj.get("message", "")).strip(),
        first,
        count,
        _name(obj),
    ]


EVENT = Printer(
    (
        Column(
            "Last Seen", "The time at which the most recent occurrence of this event was recorded."
        ),
        Column(
            "Type", "Type of this event (Normal, Warning), new types could be added in the future"
        ),
        Column(
            "Reason",
            "This should be a short, machine understandable string that gives the "
            "reason for the transition into the object's current status.",
        ),
        Column("Object", "The object that this event is about."),
        Column("Subobject", "The field of the object this event is about.", priority=1),
        Column("Source", "The component reporting this event.", priority=1),
        Column("Message", "A human-readable description of the status of this operation."),
        Column("First Seen", "The time at which the event was first recorded.", priority=1),
        Column("Count", "The number of times this event has occurred.", priority=1),
        Column("Name", NAME_DOC, priority=1, format="name"),
    ),
    _event_cells,
)


# -- Gateway API (CRD printer columns) -------------------------------------------------


def _crd_string(value: Any) -> str | None:
    """A JSONPath result as the CRD table convertor prints it: lists and maps as JSON."""
    if value is None:
        return None
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


CRD_AGE = Column(
    "Age",
    "Custom resource definition column (in JSONPath format): .metadata.creationTimestamp",
    type="date",
)

HTTP_ROUTE = Printer(
    (
        NAME,
        Column(
            "Hostnames", "Custom resource definition column (in JSONPath format): .spec.hostnames"
        ),
        CRD_AGE,
    ),
    lambda obj, now: [
        _name(obj),
        _crd_string(_map(obj.get("spec")).get("hostnames")),
        age(obj, now),
    ],
)


def _gateway_cells(obj: Obj, now: float) -> Cells:
    status = _map(obj.get("status"))
    addresses = _list(status.get("addresses"))
    programmed = next(
        (
            c.get("status")
            for c in map(_map, _list(status.get("conditions")))
            if c.get("type") == "Programmed"
        ),
        None,
    )
    return [
        _name(obj),
        _crd_string(_map(obj.get("spec")).get("gatewayClassName")),
        _crd_string(_map(addresses[0]).get("value")) if addresses else None,
        _crd_string(programmed),
        age(obj, now),
    ]


GATEWAY = Printer(
    (
        NAME,
        Column(
            "Class",
            "Custom resource definition column (in JSONPath format): .spec.gatewayClassName",
        ),
        Column(
            "Address",
            "Custom resource definition column (in JSONPath format): .status.addresses[*].value",
        ),
        Column(
            "Programmed",
            "Custom resource definition column (in JSONPath format): "
            '.status.conditions[?(@.type=="Programmed")].status',
        ),
        CRD_AGE,
    ),
    _gateway_cells,
)

DEFAULT = Printer((NAME, AGE), lambda obj, now: [_name(obj), age(obj, now)])

PRINTERS: dict[str, Printer] = {
    "Pod": POD,
    "Deployment": DEPLOYMENT,
    "ReplicaSet": REPLICA_SET,
    "Service": SERVICE,
    "Endpoints": ENDPOINTS,
    "EndpointSlice": ENDPOINT_SLICE,
    "Ingress": INGRESS,
    "Namespace": NAMESPACE,
    "Lease": LEASE,
    "Event": EVENT,
    "HTTPRoute": HTTP_ROUTE,
    "Gateway": GATEWAY,
}


def printer_for(rtype: ResourceType) -> Printer:
    return PRINTERS.get(rtype.kind, DEFAULT)


# -- the Table -----------------------------------------------------------------------


def wants_table(accept_header: str) -> bool:
    """Whether an Accept header asks for a `meta.k8s.io/v1` Table (kubectl's does)."""
    for media_range in accept_header.split(","):
        params = {}
        for part in media_range.split(";")[1:]:
            key, _, value = part.partition("=")
            params[key.strip().lower()] = value.strip()
        if (
            params.get("as") == "Table"
            and params.get("g") == "meta.k8s.io"
            and params.get("v") == "v1"
        ):
            return True
    return False


def table_row(
    rtype: ResourceType, obj: Obj, now: float, include_object: str = "PartialObjectMetadata"
) -> dict[str, Any]:
    """One row; `include_object` is the request's `includeObject` (None, Object or metadata)."""
    row: dict[str, Any] = {"cells": printer_for(rtype).cells(obj, now)}
    if include_object == "Object":
        row["object"] = obj
    elif include_object != "None":
        row["object"] = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata", {}),
        }
    return row


def table(
    rtype: ResourceType,
    objects: list[Obj],
    resource_version: str,
    now: float,
    continue_token: str | None = None,
    include_object: str = "PartialObjectMetadata",
) -> dict[str, Any]:
    """A Table of `objects`, as a LIST (or GET) with kubectl's Accept header returns."""
    metadata: dict[str, Any] = {"resourceVersion": str(resource_version)}
    if continue_token:
        metadata["continue"] = continue_token
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": [c.definition() for c in printer_for(rtype).columns],
        "rows": [table_row(rtype, obj, now, include_object) for obj in objects],
    }


def watch_table(
    rtype: ResourceType, obj: Obj, now: float, include_object: str = "PartialObjectMetadata"
) -> dict[str, Any]:
    """The one-row Table a watch event carries as its `object`."""
    rv = _map(obj.get("metadata")).get("resourceVersion", "")
    return table(rtype, [obj], rv, now, None, include_object)
