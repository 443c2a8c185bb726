"""Tolerant readers for raw Kubernetes objects, and the check that names an unusable one.

The watcher reads JSON straight off the wire (DESIGN §3) from real clusters, simcluster and
whatever admission webhooks let through. A `labels: null`, a list where a map belongs or a number
where a string belongs must never crash the process, so the topology reads every field through
these helpers, which treat a missing or ill-typed part as empty. `object_problem` says why an
object is not worth showing at all, so the store can skip it with one warning line.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# The API server's own limits: an object past them cannot exist in a real cluster, so one that
# arrives anyway (a broken stand-in, a hand-made test object) is skipped rather than rendered.
MAX_LABEL_KEY = 317  # 253-character DNS prefix + "/" + 63-character name
MAX_LABEL_VALUE = 63

NAMESPACE_KIND = "Namespace"


def as_dict(value: Any) -> dict:
    """`value` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list:
    """`value` if it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def as_str(value: Any, default: str = "") -> str:
    """`value` if it is a string, else `default`."""
    return value if isinstance(value, str) else default


def as_int(value: Any) -> int:
    """`value` if it is an integer (booleans are not), else 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def string_map(value: Any) -> dict[str, str]:
    """The string→string pairs of a map, sorted by key so equal maps serialise alike."""
    pairs = [(k, v) for k, v in as_dict(value).items() if isinstance(k, str) and isinstance(v, str)]
    return dict(sorted(pairs))


def metadata(obj: Any) -> dict:
    """The object's `metadata`, or an empty map."""
    return as_dict(as_dict(obj).get("metadata"))


def labels_of(obj: Any) -> dict[str, str]:
    """The object's labels that are strings, sorted by key."""
    return string_map(metadata(obj).get("labels"))


def annotation(obj: Any, key: str) -> str | None:
    """One annotation value, or None when absent or not a string."""
    value = as_dict(metadata(obj).get("annotations")).get(key)
    return value if isinstance(value, str) else None


def spec(obj: Any) -> dict:
    """The object's `spec`, or an empty map."""
    return as_dict(as_dict(obj).get("spec"))


def status(obj: Any) -> dict:
    """The object's `status`, or an empty map."""
    return as_dict(as_dict(obj).get("status"))


def service_selector(service: Any) -> dict[str, str]:
    """The service's selector; empty when absent or when any pair is not string→string.

    A partly valid selector is dropped whole: claiming by its valid pairs alone would select
    more pods than the service does.
    """
    raw = spec(service).get("selector")
    pairs = string_map(raw)
    return pairs if isinstance(raw, dict) and len(pairs) == len(raw) else {}


def _string_map_problem(field: str, value: Any, limits: tuple[int, int] | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        return f"{field} is not a map"
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            return f"{field} has a non-string entry {str(key)[:60]!r}"
        if limits and (len(key) > limits[0] or len(item) > limits[1]):
            return f"{field} entry {key[:60]!r} is longer than the API allows"
    return None


def object_problem(kind: str, obj: Any) -> str | None:
    """Why `obj` cannot be shown (reason text), or None when it is usable."""
    if not isinstance(obj, dict):
        return f"{kind} is not a JSON object"
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return f"{kind} has no metadata"
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        return f"{kind} has no metadata.name"
    where = f"{kind} {name[:100]!r}"
    if kind != NAMESPACE_KIND and not (
        isinstance(meta.get("namespace"), str) and meta["namespace"]
    ):
        return f"{where} has no metadata.namespace"
    checks = (
        _string_map_problem(
            "metadata.labels", meta.get("labels"), (MAX_LABEL_KEY, MAX_LABEL_VALUE)
        ),
        _string_map_problem("metadata.annotations", meta.get("annotations"), None),
    )
    for problem in checks:
        if problem:
            return f"{where}: {problem}"
    for field in ("spec", "status"):
        if obj.get(field) is not None and not isinstance(obj[field], dict):
            return f"{where}: {field} is not an object"
    if meta.get("ownerReferences") is not None and not isinstance(meta["ownerReferences"], list):
        return f"{where}: metadata.ownerReferences is not a list"
    if kind == "Service":
        problem = _string_map_problem("spec.selector", spec(obj).get("selector"), None)
        if problem:
            return f"{where}: {problem}"
    return None


def unique(values: Iterable[str]) -> list[str]:
    """The non-empty strings of `values`, first occurrence kept, in order."""
    return list(dict.fromkeys(v for v in values if v))


def _port_text(number: int | str, protocol: Any) -> str:
    protocol = as_str(protocol, "TCP")
    return f"{number}" if protocol == "TCP" else f"{number}/{protocol}"


def service_ports(service: Any) -> list[str]:
    """Port mappings as "80→8080", "443→https", "53→53/UDP"; the target defaults to the port."""
    shown = []
    for port in map(as_dict, as_list(spec(service).get("ports"))):
        number = as_int(port.get("port")) or as_str(port.get("port"))
        target = as_int(port.get("targetPort")) or as_str(port.get("targetPort")) or number
        if number:
            shown.append(f"{number}→{_port_text(target, port.get('protocol'))}")
    return shown


def container_ports(pod: Any) -> list[str]:
    """Declared container ports as "http:8080" or "53/UDP", in spec order."""
    shown = []
    for container in map(as_dict, as_list(spec(pod).get("containers"))):
        for port in map(as_dict, as_list(container.get("ports"))):
            number = as_int(port.get("containerPort"))
            name = as_str(port.get("name"))
            if number:
                shown.append(
                    (f"{name}:" if name else "") + _port_text(number, port.get("protocol"))
                )
    return shown
