"""simcluster through kubectl: what an operator would type against a real cluster."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from simcluster.cluster import SimCluster
from simcluster.testing import wait_for
from tests.tools import require_kubectl

KUBECTL = require_kubectl()

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web
  namespace: default
spec:
  hostnames: [shop.example.com]
  rules:
  - backendRefs:
    - name: web
      port: 80
"""


class Kubectl:
    def __init__(self, sim: SimCluster, tmp: Path) -> None:
        self.kubeconfig = sim.write_kubeconfig(tmp / "kubeconfig")
        self.cache = tmp / "kube-cache"

    def argv(self, *args: str) -> list[str]:
        return [KUBECTL, f"--kubeconfig={self.kubeconfig}", f"--cache-dir={self.cache}", *args]

    def __call__(self, *args: str, stdin: str | None = None, timeout: float = 60) -> str:
        done = subprocess.run(
            self.argv(*args), input=stdin, capture_output=True, text=True, timeout=timeout
        )
        assert done.returncode == 0, f"kubectl {' '.join(args)} failed: {done.stderr}"
        return done.stdout


@pytest.fixture
def kubectl(sim: SimCluster, tmp_path: Path) -> Iterator[Kubectl]:
    yield Kubectl(sim, tmp_path)


def test_get_all_namespaces_shows_real_pod_columns(sim, kubectl):
    sim.create("namespaces", {"metadata": {"name": "shop"}})
    sim.create(
        "pods",
        {"metadata": {"name": "api-1"}, "spec": {"containers": [{"name": "a", "image": "nginx"}]}},
        "shop",
    )
    wait_for(lambda: "Running" in kubectl("get", "pods", "-A"), message="pod running in kubectl")
    output = kubectl("get", "pods", "-A")
    header = output.splitlines()[0].split()
    assert header == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert "api-1" in output
    assert "shop" in kubectl("get", "ns")


def test_get_watch_receives_events(sim, kubectl):
    process = subprocess.Popen(
        kubectl.argv("get", "pods", "-A", "-w", "--no-headers"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True
    )
    reader.start()
    try:
        wait_for(lambda: sim.server.watches, timeout=30, message="kubectl watching")
        sim.create(
            "pods",
            {
                "metadata": {"name": "watched"},
                "spec": {"containers": [{"name": "a", "image": "nginx"}]},
            },
            "default",
        )
        wait_for(
            lambda: any("watched" in line and "Running" in line for line in lines),
            timeout=30,
            message="kubectl -w shows the pod running",
        )
    finally:
        process.terminate()
        process.wait(10)


def test_apply_deployment_service_and_route_then_rollout_and_delete(sim, kubectl, tmp_path):
    manifest = tmp_path / "app.yaml"
    manifest.write_text(MANIFEST)
    applied = kubectl("apply", "-f", str(manifest))
    assert "deployment.apps/web created" in applied
    assert "httproute.gateway.networking.k8s.io/web created" in applied
    rollout = kubectl("rollout", "status", "deployment/web", "--timeout=60s")
    assert "successfully rolled out" in rollout
    pods = kubectl("get", "pods", "-l", "app=web", "--no-headers").splitlines()
    assert len(pods) == 2 and all("1/1" in line and "Running" in line for line in pods)
    endpoints = sim.list("endpoints", "default")
    assert len(endpoints[0]["subsets"][0]["addresses"]) == 2
    again = kubectl("apply", "-f", str(manifest))
    assert "deployment.apps/web unchanged" in again
    kubectl("delete", "-f", str(manifest), "--timeout=60s")
    wait_for(lambda: not sim.list("pods", "default"), timeout=30, message="pods collected")
    assert not sim.list("deployments", "default", group="apps")


def test_scale_patches_the_scale_subresource_and_the_pods_follow(sim, kubectl, tmp_path):
    manifest = tmp_path / "app.yaml"
    manifest.write_text(MANIFEST)
    kubectl("apply", "-f", str(manifest))
    kubectl("rollout", "status", "deployment/web", "--timeout=60s")
    assert "deployment.apps/web scaled" in kubectl("scale", "deployment/web", "--replicas=5")
    assert sim.get("deployments", "default", "web", group="apps")["spec"]["replicas"] == 5
    wait_for(
        lambda: kubectl("get", "pods", "-l", "app=web", "--no-headers").count("Running") == 5,
        timeout=30,
        message="5 running pods in kubectl",
    )
    kubectl("rollout", "status", "deployment/web", "--timeout=60s")
    # With a precondition kubectl reads the Scale, checks it, then PUTs it back.
    scaled = kubectl("scale", "deployment/web", "--current-replicas=5", "--replicas=3")
    assert "deployment.apps/web scaled" in scaled
    wait_for(
        lambda: kubectl("get", "pods", "-l", "app=web", "--no-headers").count("Running") == 3,
        timeout=30,
        message="3 running pods in kubectl",
    )
