import pytest

from simcluster import errors
from simcluster.resources import Registry
from simcluster.routing import resolve

REGISTRY = Registry()


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/api/v1/namespaces", ("namespaces", None, None, None)),
        ("/api/v1/namespaces/shop", ("namespaces", None, "shop", None)),
        ("/api/v1/namespaces/shop/status", ("namespaces", None, "shop", "status")),
        ("/api/v1/namespaces/shop/pods", ("pods", "shop", None, None)),
        ("/api/v1/namespaces/shop/pods/web-1", ("pods", "shop", "web-1", None)),
        ("/api/v1/namespaces/shop/pods/web-1/status", ("pods", "shop", "web-1", "status")),
        ("/api/v1/pods", ("pods", None, None, None)),
        ("/apis/apps/v1/namespaces/shop/deployments/web", ("deployments", "shop", "web", None)),
        ("/apis/gateway.networking.k8s.io/v1/httproutes", ("httproutes", None, None, None)),
    ],
)
def test_paths_route_on_segment_count(path, expected):
    target = resolve(REGISTRY, path)
    assert (target.rtype.plural, target.namespace, target.name, target.subresource) == expected


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/widgets",
        "/api/v2/pods",
        "/apis/apps/v1/namespaces/shop/namespaces",
        "/api/v1/namespaces/shop/endpoints/x/status",
        "/api/v1/namespaces/shop/pods/a/b/c",
        "/apis/unknown.example.com/v1/things",
    ],
)
def test_unserved_paths_are_404(path):
    with pytest.raises(errors.ApiError) as caught:
        resolve(REGISTRY, path)
    assert caught.value.code == 404


def test_gateway_routes_disappear_with_the_crd():
    registry = Registry()
    registry.remove_gateway_api()
    with pytest.raises(errors.ApiError):
        resolve(registry, "/apis/gateway.networking.k8s.io/v1/httproutes")
    registry.install_gateway_api()
    assert (
        resolve(registry, "/apis/gateway.networking.k8s.io/v1/httproutes").rtype.kind == "HTTPRoute"
    )
