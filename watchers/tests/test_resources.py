from watchers.kube.resources import CORE_RESOURCES, HTTPROUTES, INGRESSES, NAMESPACES, PODS


def test_core_resources_live_under_api_v1():
    assert PODS.path == "/api/v1/pods"
    assert PODS.api_version == "v1"


def test_grouped_resources_live_under_apis():
    assert INGRESSES.path == "/apis/networking.k8s.io/v1/ingresses"
    assert HTTPROUTES.api_version == "gateway.networking.k8s.io/v1"


def test_namespaces_are_cluster_scoped_and_routes_are_optional():
    assert not NAMESPACES.namespaced
    assert HTTPROUTES not in CORE_RESOURCES
    assert all(resource.plural != "secrets" for resource in CORE_RESOURCES)
