"""Connecting to the API server: credentials, raw GET requests, and Gateway API discovery.

The watcher works with no configuration (DESIGN intro): an explicit kubeconfig, `KUBECONFIG`,
`~/.kube/config`, or the pod's service account, in that order. Requests go through the official
client's `ApiClient` for authentication, TLS and token refresh, but return the raw urllib3 response:
the informer parses the bytes itself (DESIGN §3).
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.incluster_config import SERVICE_HOST_ENV_NAME

from watchers.kube.resources import HTTPROUTES

Params = list[tuple[str, str]]
Timeout = tuple[float, float]  # (connect, read) seconds; read is the inactivity limit

# One long-lived watch per resource plus discovery and relists share the pool; the client's
# default (5 × CPUs) can be smaller than that on a 1-CPU pod, which churns connections.
MIN_POOL_SIZE = 16
DISCOVERY_TIMEOUT: Timeout = (5.0, 10.0)


class DiscoveryError(Exception):
    """The API server could not say whether a group is served (unreachable, 5xx, garbage)."""


def load_api_client(kubeconfig: str | None = None, context: str | None = None) -> k8s.ApiClient:
    """An ApiClient from `kubeconfig`, $KUBECONFIG, ~/.kube/config or the in-cluster account."""
    configuration = k8s.Configuration()
    path = kubeconfig or os.environ.get("KUBECONFIG") or _default_kubeconfig()
    if path:
        k8s_config.load_kube_config(
            config_file=path, context=context, client_configuration=configuration,
            persist_config=False,
        )
    elif os.environ.get(SERVICE_HOST_ENV_NAME):
        if context:
            raise ConfigException(f"context {context!r} given, but no kubeconfig was found")
        k8s_config.load_incluster_config(client_configuration=configuration)
    else:
        raise ConfigException(
            "no kubeconfig (--kubeconfig, KUBECONFIG, ~/.kube/config) and not running in a pod"
        )
    configuration.connection_pool_maxsize = max(
        configuration.connection_pool_maxsize or 0, MIN_POOL_SIZE
    )
    return k8s.ApiClient(configuration)


def _default_kubeconfig() -> str | None:
    path = Path("~/.kube/config").expanduser()
    return str(path) if path.is_file() else None


def get(
    api_client: k8s.ApiClient, path: str, params: Params, timeout: Timeout
) -> urllib3.BaseHTTPResponse:
    """Send an authenticated GET; the unread response, whatever its status.

    Raises urllib3/OS errors when the server cannot be reached. The caller reads (or streams) the
    body and must `release_conn()` or `close()` the response.
    """
    method, url, headers, _, _ = api_client.param_serialize(
        "GET", path, query_params=params, header_params={"Accept": "application/json"},
        auth_settings=["BearerToken"],
    )
    rest = api_client.call_api(method, url, header_params=headers, _request_timeout=timeout)
    return rest.response


def gateway_api_available(api_client: k8s.ApiClient) -> bool:
    """Whether the cluster serves HTTPRoutes (gateway.networking.k8s.io/v1) right now.

    Raises DiscoveryError when the answer is unknown, so a caller keeps what it believed before
    instead of tearing down route informers over a blip.
    """
    path = f"/apis/{HTTPROUTES.api_version}"
    try:
        response = get(api_client, path, [], DISCOVERY_TIMEOUT)
        try:
            body = response.read()
        finally:
            response.release_conn()
    except (urllib3.exceptions.HTTPError, OSError, ApiException) as exc:
        raise DiscoveryError(f"GET {path} failed: {exc}") from exc
    if response.status == 404:
        return False
    if response.status != 200:
        raise DiscoveryError(f"GET {path} answered {response.status}")
    try:
        resources = orjson.loads(body).get("resources") or []
        return any(r.get("name") == HTTPROUTES.plural for r in resources)
    except (orjson.JSONDecodeError, AttributeError, TypeError) as exc:
        raise DiscoveryError(f"GET {path} returned no APIResourceList") from exc
