"""The scale subresource of Deployments and ReplicaSets, through the official client."""

from __future__ import annotations

import orjson
import pytest
from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

from simcluster.testing import wait_for
from simcluster.tests.test_api_client import raw

SCALE_PATH = "/apis/apps/v1/namespaces/default/deployments/web/scale"


def deployment(replicas: int = 2) -> dict:
    labels = {"app": "web", "tier": "front"}
    return {
        "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "selector": {
                "matchLabels": labels,
                "matchExpressions": [{"key": "track", "operator": "NotIn", "values": ["canary"]}],
            },
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    }


@pytest.fixture
def apps(api: k8s.ApiClient) -> k8s.AppsV1Api:
    return k8s.AppsV1Api(api)


@pytest.fixture
def web(sim, apps) -> dict:
    """A Deployment `web` in default, rolled out with 2 Ready pods."""
    sim.create("deployments", deployment(), "default", group="apps")
    wait_for(lambda: ready_replicas(apps) == 2, message="web rolled out")
    return sim.get("deployments", "default", "web", group="apps")


def ready_replicas(apps: k8s.AppsV1Api) -> int:
    return apps.read_namespaced_deployment("web", "default").status.ready_replicas or 0


def running_pods(sim) -> int:
    return sum(
        1
        for pod in sim.list("pods", "default")
        if pod.get("status", {}).get("phase") == "Running"
        and not pod["metadata"].get("deletionTimestamp")
    )


def test_discovery_lists_scale_subresources_as_autoscaling_v1_scale(apps):
    resources = {r.name: r for r in apps.get_api_resources().resources}
    for name in ("deployments/scale", "replicasets/scale"):
        entry = resources[name]
        assert (entry.group, entry.version, entry.kind) == ("autoscaling", "v1", "Scale")
        assert entry.verbs == ["get", "patch", "update"]
    assert "pods/scale" not in {
        r.name for r in k8s.CoreV1Api(apps.api_client).get_api_resources().resources
    }


def test_read_shows_replicas_and_the_selector_as_a_string(apps, web):
    scale = apps.read_namespaced_deployment_scale("web", "default")
    assert scale.kind == "Scale" and scale.api_version == "autoscaling/v1"
    assert scale.metadata.uid == web["metadata"]["uid"]
    assert scale.metadata.resource_version == web["metadata"]["resourceVersion"]
    assert scale.spec.replicas == 2
    assert scale.status.replicas == 2
    assert scale.status.selector == "app=web,tier=front,track notin (canary)"


def test_replace_scales_the_deployment_and_its_pods_follow(sim, apps, web):
    scale = apps.read_namespaced_deployment_scale("web", "default")
    scale.spec.replicas = 4
    answered = apps.replace_namespaced_deployment_scale("web", "default", scale)
    assert answered.spec.replicas == 4
    assert sim.get("deployments", "default", "web", group="apps")["spec"]["replicas"] == 4
    wait_for(lambda: running_pods(sim) == 4, message="4 running pods")
    wait_for(lambda: ready_replicas(apps) == 4, message="4 ready replicas")


def test_replace_with_a_stale_resource_version_is_a_conflict(sim, apps, web):
    scale = apps.read_namespaced_deployment_scale("web", "default")
    sim.patch("deployments", "default", "web", {"metadata": {"labels": {"moved": "on"}}}, "apps")
    scale.spec.replicas = 5
    with pytest.raises(ApiException) as raised:
        apps.replace_namespaced_deployment_scale("web", "default", scale)
    assert raised.value.status == 409
    assert orjson.loads(raised.value.body)["reason"] == "Conflict"
    assert sim.get("deployments", "default", "web", group="apps")["spec"]["replicas"] == 2


def test_every_patch_flavour_sets_replicas(sim, apps, web):
    # The client sends a dict as a strategic merge patch, a list as a JSON patch.
    assert (
        apps.patch_namespaced_deployment_scale(
            "web", "default", {"spec": {"replicas": 3}}
        ).spec.replicas
        == 3
    )
    ops = [{"op": "replace", "path": "/spec/replicas", "value": 1}]
    assert apps.patch_namespaced_deployment_scale("web", "default", ops).spec.replicas == 1
    merged = raw(
        sim,
        "PATCH",
        SCALE_PATH,
        orjson.dumps({"spec": {"replicas": 0}}),
        {"Content-Type": "application/merge-patch+json"},
    )
    assert merged.status == 200, merged.data
    assert orjson.loads(merged.data)["spec"]["replicas"] == 0
    wait_for(lambda: not sim.list("pods", "default"), message="scaled to zero")


def test_patch_with_a_stale_resource_version_is_a_conflict(sim, apps, web):
    stale = {"metadata": {"resourceVersion": "1"}, "spec": {"replicas": 3}}
    with pytest.raises(ApiException) as raised:
        apps.patch_namespaced_deployment_scale("web", "default", stale)
    assert raised.value.status == 409


def test_replica_sets_scale_too(sim, apps):
    # A ReplicaSet of its own: one a Deployment owns is scaled back by its Deployment.
    sim.create("replicasets", {**deployment(), "metadata": {"name": "solo"}}, "default", "apps")
    scale = apps.read_namespaced_replica_set_scale("solo", "default")
    assert scale.spec.replicas == 2
    assert scale.status.selector == "app=web,tier=front,track notin (canary)"
    patched = apps.patch_namespaced_replica_set_scale("solo", "default", {"spec": {"replicas": 3}})
    assert patched.spec.replicas == 3
    assert sim.get("replicasets", "default", "solo", group="apps")["spec"]["replicas"] == 3
    wait_for(lambda: running_pods(sim) == 3, message="3 running pods")


def test_a_missing_object_is_404(apps, web):
    for call in (
        lambda: apps.read_namespaced_deployment_scale("nope", "default"),
        lambda: apps.patch_namespaced_deployment_scale(
            "nope", "default", {"spec": {"replicas": 1}}
        ),
    ):
        with pytest.raises(ApiException) as raised:
            call()
        assert raised.value.status == 404
        assert orjson.loads(raised.value.body)["message"] == 'deployments.apps "nope" not found'


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"spec": {"replicas": "three"}}', 400),
        (b'{"metadata": {"name": "other"}, "spec": {"replicas": 1}}', 400),
        (b"{not json", 400),
    ],
)
def test_a_bad_body_is_refused_and_changes_nothing(sim, web, body, status):
    response = raw(sim, "PUT", SCALE_PATH, body)
    assert response.status == status, response.data
    assert orjson.loads(response.data)["kind"] == "Status"
    assert sim.get("deployments", "default", "web", group="apps")["spec"]["replicas"] == 2


def test_a_scale_patch_must_be_a_patch_type_scale_accepts(sim, web):
    response = raw(
        sim, "PATCH", SCALE_PATH, b"spec: {replicas: 1}", {"Content-Type": "application/yaml"}
    )
    assert response.status == 415


def test_negative_replicas_are_an_invalid_scale(sim, web):
    response = raw(sim, "PUT", SCALE_PATH, b'{"spec": {"replicas": -1}}')
    assert response.status == 422
    details = orjson.loads(response.data)["details"]
    assert (details["kind"], details["group"]) == ("Scale", "autoscaling")
    assert details["causes"][0]["field"] == "spec.replicas"
