"""Map a Kubernetes API path to (resource type, namespace, name, subresource).

Kept apart from the HTTP server so the path rules (K8S_API.md §1: route on
segment count; `/api/v1/namespaces/X` is a namespace, `/api/v1/namespaces/X/pods`
a list) are tested without a socket.
"""

from __future__ import annotations

from dataclasses import dataclass

from simcluster import errors
from simcluster.resources import Registry, ResourceType

NAMESPACE_SUBRESOURCES = ("status", "finalize")


@dataclass(frozen=True)
class Target:
    """What a resource request addresses."""

    rtype: ResourceType
    namespace: str | None  # None: all namespaces (or a cluster-scoped type)
    name: str | None  # None: the collection
    subresource: str | None = None


def split_group_version(segments: list[str]) -> tuple[str, str, list[str]] | None:
    """(group, version, rest) for `/api/v1/...` and `/apis/G/V/...`, else None."""
    if len(segments) >= 2 and segments[0] == "api":
        return "", segments[1], segments[2:]
    if len(segments) >= 3 and segments[0] == "apis":
        return segments[1], segments[2], segments[3:]
    return None


def resolve(registry: Registry, path: str) -> Target:
    """The target of a resource path; 404 `NotFound` for anything not served."""
    segments = [s for s in path.split("/") if s]
    split = split_group_version(segments)
    if split is None or not split[2]:
        raise errors.path_not_found(path)
    group, version, rest = split
    namespace: str | None = None
    is_namespace_object = (
        not group
        and rest[0] == "namespaces"
        and (len(rest) <= 2 or (len(rest) == 3 and rest[2] in NAMESPACE_SUBRESOURCES))
    )
    if rest[0] == "namespaces" and len(rest) >= 3 and not is_namespace_object:
        namespace, rest = rest[1], rest[2:]
    if len(rest) > 3:
        raise errors.path_not_found(path)
    rtype = registry.lookup(group, version, rest[0])
    if rtype is None or (namespace is not None and not rtype.namespaced):
        raise errors.path_not_found(path)
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    if (
        subresource is not None
        and not (subresource == "status" and rtype.has_status)
        and not (subresource == "scale" and rtype.scalable)
        and not (rtype.kind == "Namespace" and subresource == "finalize")
    ):
        raise errors.path_not_found(path)
    return Target(rtype, namespace, name, subresource)
