"""The API resources simcluster serves, and how each appears in discovery.

One table drives routing, discovery documents, error messages and the
generated object fields, so a resource is added in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True, eq=False)
class ResourceType:
    """One served resource (a group/version/plural triple).

    Every stored object is keyed by its type and every store event compares
    types, so equality and hashing go by the triple alone, with the hash worked
    out once (the generated ones hash and compare all ten fields each time).
    """

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    has_status: bool = False
    # CRD-backed types answer strategic-merge patches with 415, like the real server.
    custom: bool = False
    # Field selectors the real server accepts for this type beyond metadata.name/namespace.
    extra_fields: tuple[str, ...] = ()
    singular: str = field(default="")
    # Serves the `scale` subresource (an autoscaling/v1 Scale of spec.replicas).
    scalable: bool = False
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.group, self.version, self.plural)))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, ResourceType):
            return NotImplemented
        return (self.group, self.version, self.plural) == (
            other.group,
            other.version,
            other.plural,
        )

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()

    @property
    def qualified(self) -> str:
        """`pods` or `deployments.apps`: how error messages name the type."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def discovery_entries(self) -> list[dict]:
        entry = {
            "name": self.plural,
            "singularName": self.singular_name,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(ALL_VERBS),
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        entries = [entry]
        if self.has_status:
            entries.append(
                {
                    "name": f"{self.plural}/status",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "kind": self.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
        if self.scalable:
            entries.append(
                {
                    "name": f"{self.plural}/scale",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "group": "autoscaling",
                    "version": "v1",
                    "kind": "Scale",
                    "verbs": ["get", "patch", "update"],
                }
            )
        return entries


BUILTIN_TYPES: tuple[ResourceType, ...] = (
    ResourceType(
        "",
        "v1",
        "namespaces",
        "Namespace",
        False,
        ("ns",),
        has_status=True,
        extra_fields=("status.phase",),
    ),
    ResourceType(
        "",
        "v1",
        "pods",
        "Pod",
        True,
        ("po",),
        has_status=True,
        extra_fields=("status.phase", "spec.nodeName"),
    ),
    ResourceType("", "v1", "services", "Service", True, ("svc",), has_status=True),
    ResourceType("", "v1", "endpoints", "Endpoints", True, ("ep",), singular="endpoints"),
    ResourceType("", "v1", "events", "Event", True, ("ev",)),
    ResourceType(
        "apps", "v1", "deployments", "Deployment", True, ("deploy",), has_status=True, scalable=True
    ),
    ResourceType(
        "apps", "v1", "replicasets", "ReplicaSet", True, ("rs",), has_status=True, scalable=True
    ),
    ResourceType("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
    ResourceType(
        "networking.k8s.io", "v1", "ingresses", "Ingress", True, ("ing",), has_status=True
    ),
    ResourceType("coordination.k8s.io", "v1", "leases", "Lease", True),
    # Served without controllers, so install manifests (deploy/) apply as they would.
    ResourceType("", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",)),
    ResourceType("", "v1", "configmaps", "ConfigMap", True, ("cm",)),
    ResourceType("", "v1", "secrets", "Secret", True),
    ResourceType("batch", "v1", "jobs", "Job", True, has_status=True),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    ResourceType(
        "rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False
    ),
    ResourceType("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    ResourceType(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        True,
        ("pdb",),
        has_status=True,
    ),
    ResourceType("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, ("netpol",)),
)

GATEWAY_TYPES: tuple[ResourceType, ...] = (
    ResourceType(
        "gateway.networking.k8s.io",
        "v1",
        "httproutes",
        "HTTPRoute",
        True,
        has_status=True,
        custom=True,
    ),
    ResourceType(
        "gateway.networking.k8s.io",
        "v1",
        "gateways",
        "Gateway",
        True,
        ("gtw",),
        has_status=True,
        custom=True,
    ),
)

GATEWAY_GROUP = "gateway.networking.k8s.io"


class Registry:
    """The resource types currently served; gateway types come and go like a CRD."""

    def __init__(self, gateway_api: bool = True) -> None:
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        for rtype in BUILTIN_TYPES:
            self._add(rtype)
        if gateway_api:
            self.install_gateway_api()

    def _add(self, rtype: ResourceType) -> None:
        self._types[(rtype.group, rtype.version, rtype.plural)] = rtype

    def install_gateway_api(self) -> None:
        for rtype in GATEWAY_TYPES:
            self._add(rtype)

    def remove_gateway_api(self) -> None:
        for rtype in GATEWAY_TYPES:
            self._types.pop((rtype.group, rtype.version, rtype.plural), None)

    @property
    def gateway_api_installed(self) -> bool:
        return ("gateway.networking.k8s.io", "v1", "httproutes") in self._types

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        for rtype in self._types.values():
            if rtype.api_version == api_version and rtype.kind == kind:
                return rtype
        return None

    def types(self) -> list[ResourceType]:
        return list(self._types.values())

    def group_versions(self) -> dict[str, list[str]]:
        """Non-core groups and their versions, in a stable order."""
        groups: dict[str, list[str]] = {}
        for rtype in self._types.values():
            if rtype.group and rtype.version not in groups.setdefault(rtype.group, []):
                groups[rtype.group].append(rtype.version)
        return dict(sorted(groups.items()))

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [t for t in self._types.values() if t.group == group and t.version == version]


def type_named(plural: str, group: str = "") -> ResourceType:
    """A built-in or gateway type by plural and group, for the Python API."""
    for rtype in BUILTIN_TYPES + GATEWAY_TYPES:
        if rtype.plural == plural and rtype.group == group:
            return rtype
    raise KeyError(f"{plural}.{group}" if group else plural)
