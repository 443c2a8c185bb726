"""deploy/kubernetes/: least-privilege RBAC, hardened pods, and manifests that apply.

The manifests are read as YAML and checked against what the code needs: the ClusterRole grants
exactly the list/watch access the watcher's informers use (watchers.kube.resources) and the
Role exactly its Lease; every pod passes Pod Security "restricted" with probes and resources.
Each object is validated against the Kubernetes OpenAPI schema (kubernetes-validate, strict, so
a misspelt field fails), and, where kubectl is on PATH, kustomize renders the directory and
kubectl applies it to simcluster twice (the second time must change nothing).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from simcluster.cluster import SimCluster
from simcluster.resources import BUILTIN_TYPES, GATEWAY_TYPES
from tests.test_compose import check_command, option
from tests.tools import require_kubectl
from watchers.kube.resources import CORE_RESOURCES, HTTPROUTES
from watchers.leader import DEFAULT_LEASE_NAME

DEPLOY = Path(__file__).resolve().parent.parent / "deploy" / "kubernetes"
KUSTOMIZATION = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
GITIGNORE = (DEPLOY.parent.parent / ".gitignore").read_text().splitlines()
READ_VERBS = ["get", "list", "watch"]
NAMESPACE = "constellation"
# Not a real key: just enough for kustomize to build the Secret in tests.
TEST_SECRETS = "DJANGO_SECRET_KEY=test-only\nDATABASE_URL=postgres://test@db/test\n"


def load(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


BASE = [doc for name in KUSTOMIZATION["resources"] for doc in load(DEPLOY / name)]
OPTIONAL = [doc for path in sorted((DEPLOY / "optional").glob("*.yaml")) for doc in load(path)]


def objects(kind: str, documents: list[dict[str, Any]] = BASE) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in documents if doc["kind"] == kind}


DEPLOYMENTS = objects("Deployment")
WORKLOADS = {**DEPLOYMENTS, **objects("Job")}
CONFIG = objects("ConfigMap")["constellation-config"]["data"]
CLUSTER_ROLE = objects("ClusterRole")["constellation-watcher"]
LEASE_ROLE = objects("Role")["constellation-watcher-lease"]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def containers() -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(workload name, pod spec, container) for every container of every workload."""
    for name, workload in WORKLOADS.items():
        spec = pod_spec(workload)
        for container in spec.get("initContainers", []) + spec["containers"]:
            yield name, spec, container


def rbac_rules(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        rule for doc in documents if doc["kind"] in ("ClusterRole", "Role") for rule in doc["rules"]
    ]


def test_every_manifest_file_is_part_of_the_kustomization() -> None:
    listed = set(KUSTOMIZATION["resources"])
    present = {path.name for path in DEPLOY.glob("*.yaml")} - {"kustomization.yaml"}

    assert listed == present


def test_every_object_is_valid_against_the_kubernetes_schema() -> None:
    version = kubernetes_validate.latest_version()
    custom = {(rtype.api_version, rtype.kind) for rtype in GATEWAY_TYPES}
    for doc in BASE + OPTIONAL:
        if (doc["apiVersion"], doc["kind"]) not in custom:
            kubernetes_validate.validate(doc, version, strict=True)


def test_namespaced_objects_live_in_the_constellation_namespace() -> None:
    namespaced = {(rtype.api_version, rtype.kind): rtype.namespaced for rtype in BUILTIN_TYPES}
    namespaced[("policy/v1", "PodDisruptionBudget")] = True
    namespaced[("networking.k8s.io/v1", "NetworkPolicy")] = True
    namespaced[(HTTPROUTES.api_version, HTTPROUTES.kind)] = True
    for doc in BASE + OPTIONAL:
        expected = NAMESPACE if namespaced[(doc["apiVersion"], doc["kind"])] else None
        assert doc["metadata"].get("namespace") == expected, doc["metadata"]
    assert KUSTOMIZATION["namespace"] == NAMESPACE


def test_the_namespace_enforces_the_restricted_pod_security_standard() -> None:
    labels = objects("Namespace")[NAMESPACE]["metadata"]["labels"]

    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_cluster_role_grants_exactly_what_the_watcher_lists_and_watches() -> None:
    granted = {
        (group, resource)
        for rule in CLUSTER_ROLE["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    watched = {(resource.group, resource.plural) for resource in (*CORE_RESOURCES, HTTPROUTES)}

    assert granted == watched
    assert [rule["verbs"] for rule in CLUSTER_ROLE["rules"]] == [READ_VERBS] * len(
        CLUSTER_ROLE["rules"]
    )
    assert all(set(rule) == {"apiGroups", "resources", "verbs"} for rule in CLUSTER_ROLE["rules"])


def test_no_rule_mentions_secrets_or_uses_a_wildcard() -> None:
    for rule in rbac_rules(BASE + OPTIONAL):
        names = rule.get("apiGroups", []) + rule.get("resources", []) + rule["verbs"]
        assert "secrets" not in rule.get("resources", [])
        assert "*" not in names
        assert "nonResourceURLs" not in rule


def test_the_watcher_may_only_create_leases_and_read_and_renew_its_own() -> None:
    args = watcher_args()
    lease_name = option(args, "--lease-name") if "--lease-name" in args else DEFAULT_LEASE_NAME

    assert LEASE_ROLE["metadata"]["namespace"] == DEPLOYMENTS["constellation-watcher"][
        "metadata"
    ]["namespace"]
    assert LEASE_ROLE["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": [lease_name],
            "verbs": ["get", "update"],
        },
    ]


def test_the_roles_are_bound_to_the_watchers_service_account_only() -> None:
    account = pod_spec(DEPLOYMENTS["constellation-watcher"])["serviceAccountName"]
    bindings = {**objects("ClusterRoleBinding"), **objects("RoleBinding")}

    assert {
        (binding["roleRef"]["kind"], binding["roleRef"]["name"]) for binding in bindings.values()
    } == {("ClusterRole", "constellation-watcher"), ("Role", "constellation-watcher-lease")}
    for binding in bindings.values():
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}
        ]


def mounts_api_token(spec: dict[str, Any]) -> bool:
    """Whether pods get a token: their own setting, else their ServiceAccount's, else yes."""
    account = objects("ServiceAccount").get(spec.get("serviceAccountName", "default"), {})
    default = account.get("automountServiceAccountToken", True)
    return spec.get("automountServiceAccountToken", default)


def test_only_the_watcher_gets_a_kubernetes_api_token() -> None:
    with_token = {name for name, load in WORKLOADS.items() if mounts_api_token(pod_spec(load))}

    assert with_token == {"constellation-watcher"}


def watcher_args() -> list[str]:
    (container,) = pod_spec(DEPLOYMENTS["constellation-watcher"])["containers"]
    return container["args"]


def test_web_and_watcher_run_two_replicas_and_the_watcher_elects_a_leader() -> None:
    assert DEPLOYMENTS["constellation-web"]["spec"]["replicas"] == 2
    assert DEPLOYMENTS["constellation-watcher"]["spec"]["replicas"] == 2
    assert "--leader-elect" in watcher_args()


def test_every_container_runs_a_real_command_with_options_it_accepts() -> None:
    for _, _, container in containers():
        if container["image"] == "constellation":
            check_command(container.get("command", []) + container["args"])


def test_database_migrations_run_as_a_job() -> None:
    (container,) = pod_spec(objects("Job")["constellation-migrate"])["containers"]

    assert container["args"][:3] == ["python", "manage.py", "migrate"]


def test_every_container_is_hardened() -> None:
    for name, spec, container in containers():
        pod, own = spec.get("securityContext", {}), container.get("securityContext", {})
        effective = {**pod, **own}
        assert effective.get("runAsNonRoot") is True, name
        assert effective.get("runAsUser", 0) != 0, name
        assert effective.get("seccompProfile") == {"type": "RuntimeDefault"}, name
        assert own.get("readOnlyRootFilesystem") is True, name
        assert own.get("allowPrivilegeEscalation") is False, name
        assert own.get("capabilities") == {"drop": ["ALL"]}, name
        assert not spec.get("hostNetwork") and not spec.get("hostPID"), name


def test_every_container_has_a_writable_tmp_and_requests_and_limits() -> None:
    for name, spec, container in containers():
        empty_dirs = {volume["name"] for volume in spec["volumes"] if "emptyDir" in volume}
        tmp = [mount for mount in container["volumeMounts"] if mount["mountPath"] == "/tmp"]
        assert tmp and tmp[0]["name"] in empty_dirs, name
        for bound in ("requests", "limits"):
            assert set(container["resources"][bound]) == {"cpu", "memory"}, (name, bound)


def test_every_long_running_container_has_liveness_and_readiness_probes() -> None:
    for name, deployment in DEPLOYMENTS.items():
        for container in pod_spec(deployment)["containers"]:
            assert "livenessProbe" in container and "readinessProbe" in container, name


def test_the_web_is_live_on_healthz_and_ready_on_readyz_on_the_port_daphne_serves() -> None:
    (container,) = pod_spec(DEPLOYMENTS["constellation-web"])["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    allowed_hosts = CONFIG["DJANGO_ALLOWED_HOSTS"].split(",")

    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        http = container[probe]["httpGet"]
        assert http["path"] == path
        assert ports[http["port"]] == int(option(container["args"], "-p"))
        # Django answers 400 to a Host outside ALLOWED_HOSTS, and kubelet sends the pod IP.
        assert {"name": "Host", "value": "localhost"} in http["httpHeaders"]
    assert "localhost" in allowed_hosts


def test_the_watcher_probes_its_metrics_port() -> None:
    (container,) = pod_spec(DEPLOYMENTS["constellation-watcher"])["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}

    for probe in ("livenessProbe", "readinessProbe"):
        port = container[probe]["httpGet"]["port"]
        assert ports[port] == int(CONFIG["CONSTELLATION_WATCHER_METRICS_PORT"])


def test_services_select_their_pods_and_target_named_ports() -> None:
    for name, service in objects("Service").items():
        pods = pod_spec(DEPLOYMENTS[name])
        template_labels = DEPLOYMENTS[name]["spec"]["template"]["metadata"]["labels"]
        port_names = {port["name"] for c in pods["containers"] for port in c["ports"]}
        assert service["spec"]["selector"].items() <= template_labels.items(), name
        assert {port["targetPort"] for port in service["spec"]["ports"]} <= port_names, name


def test_redis_url_names_the_redis_service() -> None:
    assert CONFIG["REDIS_URL"] == "redis://constellation-redis:6379/0"
    assert "constellation-redis" in objects("Service")


def test_configuration_comes_from_the_config_map_and_the_generated_secret() -> None:
    (generator,) = KUSTOMIZATION["secretGenerator"]
    for name, _, container in containers():
        if container["image"] == "constellation":
            assert container["envFrom"] == [
                {"configMapRef": {"name": "constellation-config"}},
                {"secretRef": {"name": generator["name"]}},
            ], name


def test_no_secret_values_are_shipped() -> None:
    example = (DEPLOY / "secrets.env.example").read_text().splitlines()
    values = dict(line.split("=", 1) for line in example if line and not line.startswith("#"))

    assert objects("Secret", BASE + OPTIONAL) == {}
    assert KUSTOMIZATION["secretGenerator"][0]["envs"] == ["secrets.env"]
    assert "deploy/kubernetes/secrets.env" in GITIGNORE
    assert set(values) == {"DJANGO_SECRET_KEY", "DATABASE_URL"}
    assert values["DJANGO_SECRET_KEY"] == ""


def test_the_optional_routes_send_traffic_to_the_web_service() -> None:
    service = objects("Service")["constellation-web"]
    (port,) = service["spec"]["ports"]
    ingress = objects("Ingress", OPTIONAL)["constellation-web"]
    route = objects("HTTPRoute", OPTIONAL)["constellation-web"]
    (rule,) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    (route_rule,) = route["spec"]["rules"]

    assert path["backend"]["service"] == {"name": "constellation-web", "port": {"name": "http"}}
    assert port["name"] == "http"
    assert route_rule["backendRefs"] == [{"name": "constellation-web", "port": port["port"]}]
    assert rule["host"] in CONFIG["DJANGO_ALLOWED_HOSTS"].split(",")
    assert route["spec"]["hostnames"] == [rule["host"]]


@pytest.fixture
def kubectl(tmp_path: Path) -> Iterator[tuple[list[str], Path]]:
    """(kubectl argv prefix bound to a fresh simcluster, a copy of deploy/kubernetes/)."""
    manifests = tmp_path / "kubernetes"
    shutil.copytree(DEPLOY, manifests)
    (manifests / "secrets.env").write_text(TEST_SECRETS)
    with SimCluster("empty") as sim:
        kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
        cache = f"--cache-dir={tmp_path / 'cache'}"
        prefix = [require_kubectl(), f"--kubeconfig={kubeconfig}", cache]
        yield prefix, manifests


def run(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{' '.join(argv[:1] + argv[3:])} failed:\n{done.stderr}"
    return done.stdout


def test_simcluster_serves_every_kind_the_manifests_use() -> None:
    served = {(rtype.api_version, rtype.kind) for rtype in BUILTIN_TYPES + GATEWAY_TYPES}
    used = {(doc["apiVersion"], doc["kind"]) for doc in BASE + OPTIONAL}

    assert used - served == set()


def test_the_manifests_apply_to_simcluster_and_reapplying_changes_nothing(
    kubectl: tuple[list[str], Path],
) -> None:
    prefix, manifests = kubectl
    rendered = list(yaml.safe_load_all(run([*prefix, "kustomize", str(manifests)])))
    (secret,) = [doc for doc in rendered if doc["kind"] == "Secret"]

    first = run([*prefix, "apply", "-k", str(manifests)])
    run([*prefix, "apply", "-f", str(manifests / "optional")])
    second = run([*prefix, "apply", "-k", str(manifests)])

    assert len(first.splitlines()) == len(rendered)
    assert all(line.endswith(" created") for line in first.splitlines()), first
    # kubectl always patches a PodDisruptionBudget's selector (its patch strategy is "replace"),
    # so it reports "configured" for them on real clusters too.
    changed = [
        line
        for line in second.splitlines()
        if not line.endswith(" unchanged") and not line.startswith("poddisruptionbudget.")
    ]
    assert changed == []
    assert secret["metadata"]["name"].startswith("constellation-secrets-")
    secret_refs = {
        source["secretRef"]["name"]
        for doc in rendered
        if doc["kind"] in ("Deployment", "Job")
        for container in pod_spec(doc)["containers"]
        for source in container.get("envFrom", [])
        if "secretRef" in source
    }
    assert secret_refs == {secret["metadata"]["name"]}
