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
    label_selector: str = ""  # server-side filter on LIST and WATCH ("" : everything)

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
# The topology reads EndpointSlices only for services without a selector (DESIGN §4), and the
# EndpointSlice controller writes slices only for services with one. Leaving its slices out on
# the server spares the watcher an event for nearly every pod readiness change (about one per
# two pod events under churn) and the API server the traffic; slices mirrored from hand-made
# Endpoints or written by other controllers still arrive.
ENDPOINTSLICE_CONTROLLER = "endpointslice-controller.k8s.io"
ENDPOINTSLICES = Resource(
    "EndpointSlice",
    "endpointslices",
    "discovery.k8s.io",
    "v1",
    label_selector=f"endpointslice.kubernetes.io/managed-by!={ENDPOINTSLICE_CONTROLLER}",
)
INGRESSES = Resource("Ingress", "ingresses", "networking.k8s.io", "v1")
HTTPROUTES = Resource("HTTPRoute", "httproutes", "gateway.networking.k8s.io", "v1")

# Always watched. HTTPRoutes are watched only while the Gateway API is installed (client.py).
CORE_RESOURCES = (NAMESPACES, PODS, SERVICES, ENDPOINTSLICES, INGRESSES)
