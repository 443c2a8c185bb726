"""The resources the watcher follows (DESIGN §3), and where each one lives in the API.

One `Resource` per informer. Secrets are deliberately absent: the dashboard never needs them and a
read-only service account should not be granted them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Resource:
    """One watched collection: the kind the topology sees and the cluster-wide list path."""

    kind: str  # "Pod": what listeners are told and what synthetic objects carry
    plural: str  # "pods": URL segment, RBAC resource name, log label
    group: str  # "" for the core API
    version: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        """`apiVersion` as objects spell it: "v1" or "group/version"."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def path(self) -> str:
        """The cluster-wide collection path, e.g. /apis/networking.k8s.io/v1/ingresses."""
        prefix = f"/apis/{self.group}" if self.group else "/api"
        return f"{prefix}/{self.version}/{self.plural}"


NAMESPACES = Resource("Namespace", "namespaces", "", "v1", namespaced=False)
PODS = Resource("Pod", "pods", "", "v1")
SERVICES = Resource("Service", "services", "", "v1")
ENDPOINTSLICES = Resource("EndpointSlice", "endpointslices", "discovery.k8s.io", "v1")
INGRESSES = Resource("Ingress", "ingresses", "networking.k8s.io", "v1")
HTTPROUTES = Resource("HTTPRoute", "httproutes", "gateway.networking.k8s.io", "v1")

# Always watched. HTTPRoutes are watched only while the Gateway API is installed (client.py).
CORE_RESOURCES = (NAMESPACES, PODS, SERVICES, ENDPOINTSLICES, INGRESSES)
