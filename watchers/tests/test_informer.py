import logging
import random
import threading
from collections.abc import Iterator

import pytest

from simcluster.cluster import SimCluster
from simcluster.testing import FAST_ENGINE, wait_for
from watchers.kube.client import gateway_api_available, load_api_client
from watchers.kube.informer import Informer, InformerConfig
from watchers.kube.policy import BackoffConfig
from watchers.kube.resources import HTTPROUTES, NAMESPACES, PODS, SERVICES
from watchers.prune import prune

GATEWAY = "gateway.networking.k8s.io"
# Real backoff starts at 0.8 s; tests keep its shape at a tenth of the scale.
FAST = InformerConfig(idle_timeout_s=5.0, backoff=BackoffConfig(initial_s=0.05, cap_s=0.4))


class Mirror:
    """A listener that applies events to a dict, as the store does."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.objects: dict[tuple[str, str], dict] = {}
        self.events: list[tuple[str, str]] = []
        self.syncs = 0

    def on_events(self, kind: str, events: list[tuple[str, dict]], at: float) -> None:
        with self.lock:
            for event_type, obj in events:
                meta = obj["metadata"]
                key = (meta.get("namespace", ""), meta["name"])
                self.events.append((event_type, meta["name"]))
                if event_type == "DELETED":
                    self.objects.pop(key, None)
                else:
                    self.objects[key] = obj

    def on_synced(self, kind: str) -> None:
        with self.lock:
            self.syncs += 1

    def names(self) -> list[str]:
        with self.lock:
            return sorted(name for _, name in self.objects)

    def by_name(self) -> dict[str, dict]:
        with self.lock:
            return {key[1]: obj for key, obj in self.objects.items()}

    def seen(self, event_type: str, name: str) -> bool:
        with self.lock:
            return (event_type, name) in self.events


@pytest.fixture
def sim() -> Iterator[SimCluster]:
    cluster = SimCluster("empty", engine_config=FAST_ENGINE, bookmark_interval_s=0.2).start()
    cluster.create("namespaces", {"metadata": {"name": "shop"}})
    yield cluster
    cluster.stop()


@pytest.fixture
def api(sim, tmp_path):
    client = load_api_client(str(sim.write_kubeconfig(tmp_path / "kubeconfig")))
    yield client
    client.close()


@pytest.fixture
def start(api):
    informers: list[Informer] = []

    def start(resource, config=FAST) -> tuple[Informer, Mirror]:
        mirror = Mirror()
        informer = Informer(api, resource, mirror, config=config, rng=random.Random(5))
        informer.start()
        informers.append(informer)
        return informer, mirror

    yield start
    for informer in informers:
        informer.stop()


def watching(sim: SimCluster, mirror: Mirror) -> None:
    """Wait until the watch has delivered an event, so closing it is not an "instant close"."""
    sim.create("services", service("early"), "shop")
    wait_for(lambda: mirror.seen("ADDED", "early"), message="an event on the watch")


def service(name: str) -> dict:
    spec = {"selector": {"app": name}, "ports": [{"port": 80}]}
    return {"metadata": {"name": name}, "spec": spec}


def route(name: str) -> dict:
    return {
        "apiVersion": f"{GATEWAY}/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name},
        "spec": {"rules": [{"backendRefs": [{"name": "web", "port": 80}]}]},
    }


def test_list_then_watch_sees_creates_updates_and_deletes(sim, start):
    sim.create("services", service("web"), "shop")
    informer, mirror = start(SERVICES)
    assert informer.wait_synced(5)
    assert mirror.names() == ["web"]
    sim.create("services", service("api"), "shop")
    sim.patch("services", "shop", "web", {"metadata": {"labels": {"tier": "front"}}})
    sim.delete("services", "shop", "api")
    wait_for(lambda: mirror.seen("DELETED", "api"), message="api deleted")
    assert mirror.names() == ["web"]
    assert mirror.objects[("shop", "web")]["metadata"]["labels"] == {"tier": "front"}
    health = informer.health()
    assert health.synced and health.connected and not health.auth_failed
    assert health.relists == 0
    assert health.last_event_at is not None


def test_pod_lifecycles_end_with_the_informer_matching_the_cluster(sim, start):
    informer, mirror = start(PODS)
    assert informer.wait_synced(5)
    for name in ("a", "b", "c"):
        spec = {"containers": [{"name": "app", "image": "nginx"}]}
        sim.create("pods", {"metadata": {"name": name}, "spec": spec}, "shop")
    sim.delete("pods", "shop", "b", grace_period=0)

    def matches() -> bool:
        pods = sim.list("pods", "shop")
        return mirror.by_name() == {pod["metadata"]["name"]: prune("Pod", pod) for pod in pods}

    wait_for(matches, message="the informer's pods to match simcluster's")
    with mirror.lock:
        assert all("managedFields" not in obj["metadata"] for obj in mirror.objects.values())


def test_closed_watches_resume_without_a_relist(sim, start):
    informer, mirror = start(SERVICES)
    assert informer.wait_synced(5)
    watching(sim, mirror)
    sim.faults.close_watches()
    wait_for(lambda: informer.health().watch_restarts >= 1, message="a re-watch")
    sim.create("services", service("late"), "shop")
    wait_for(lambda: mirror.seen("ADDED", "late"), message="the service created after the close")
    assert informer.health().relists == 0
    assert mirror.syncs == 1


def test_an_object_deleted_while_history_expired_gets_a_synthetic_delete(sim, start):
    sim.create("services", service("keep"), "shop")
    sim.create("services", service("gone"), "shop")
    informer, mirror = start(SERVICES)
    assert informer.wait_synced(5)
    watching(sim, mirror)
    sim.faults.stall_watches()
    sim.delete("services", "shop", "gone")
    sim.compact()
    sim.faults.close_watches()
    wait_for(lambda: informer.health().relists == 1, message="a relist after 410")
    assert mirror.names() == ["early", "keep"]
    assert mirror.seen("DELETED", "gone")
    sim.faults.resume_watches()
    sim.create("services", service("after"), "shop")
    wait_for(lambda: mirror.seen("ADDED", "after"), message="events after the relist")


def test_a_forbidden_resource_is_reported_while_the_others_keep_working(sim, start, caplog):
    caplog.set_level(logging.INFO, logger="watchers.informer")
    sim.faults.deny("services")
    services, _ = start(SERVICES)
    namespaces, mirror = start(NAMESPACES)
    assert namespaces.wait_synced(5)
    sim.create("namespaces", {"metadata": {"name": "blog"}})
    wait_for(lambda: mirror.seen("ADDED", "blog"), message="namespaces to keep flowing")
    wait_for(lambda: services.health().auth_failed, message="services to report 403")
    assert not services.health().synced
    assert "403" in services.health().last_error
    denied = [r for r in caplog.records if r.levelno == logging.ERROR and "services" in r.message]
    assert denied
    assert "list and watch on services" in denied[0].message
    sim.faults.allow("services")
    assert services.wait_synced(5)
    assert not services.health().auth_failed


def test_server_errors_back_off_then_recover(sim, start, caplog):
    caplog.set_level(logging.WARNING, logger="watchers.informer")
    sim.create("services", service("web"), "shop")
    sim.faults.fail_next(3, code=500)
    informer, mirror = start(SERVICES)
    assert informer.wait_synced(5)
    assert mirror.names() == ["web"]
    assert "500" in informer.health().last_error
    attempts = [r.message for r in caplog.records if "server error" in r.message]
    assert len(attempts) == 3
    assert "attempt 3" in attempts[-1]


def test_throttled_watches_resume_without_a_relist(sim, start):
    # urllib3 honours the 429's Retry-After itself; either way no list is repeated.
    informer, mirror = start(SERVICES)
    assert informer.wait_synced(5)
    watching(sim, mirror)
    sim.faults.fail_next(1, code=429)
    sim.faults.close_watches()
    wait_for(lambda: sim.faults.describe()["fail_remaining"] == 0, message="the 429 served")
    sim.create("services", service("later"), "shop")
    wait_for(lambda: mirror.seen("ADDED", "later"), message="the watch to resume")
    assert informer.health().relists == 0


def test_routes_follow_the_gateway_api_being_removed_and_installed(sim, api, start):
    assert gateway_api_available(api)
    sim.create("httproutes", route("shop-route"), "shop", group=GATEWAY)
    informer, mirror = start(HTTPROUTES)
    assert informer.wait_synced(5)
    assert mirror.names() == ["shop-route"]
    sim.remove_gateway_api()
    assert not gateway_api_available(api)
    informer.withdraw()
    assert mirror.names() == []
    sim.install_gateway_api()
    assert gateway_api_available(api)


def test_stop_returns_promptly_from_a_blocked_watch(start):
    informer, _ = start(SERVICES)
    assert informer.wait_synced(5)
    wait_for(lambda: informer.health().connected, message="an open watch")
    informer.stop(timeout=2)
    assert not any(t.name == "informer-services" for t in threading.enumerate())
    assert not informer.health().connected

