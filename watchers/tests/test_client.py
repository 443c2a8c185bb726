import pytest
import yaml
from kubernetes.config.config_exception import ConfigException

from watchers.kube.client import MIN_POOL_SIZE, load_api_client


def kubeconfig(tmp_path, name="config", server="http://127.0.0.1:6443"):
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "one", "cluster": {"server": server}},
            {"name": "two", "cluster": {"server": "http://127.0.0.2:7443"}},
        ],
        "users": [{"name": "me", "user": {"token": "sekrit"}}],
        "contexts": [
            {"name": "one", "context": {"cluster": "one", "user": "me"}},
            {"name": "two", "context": {"cluster": "two", "user": "me"}},
        ],
        "current-context": "one",
    }
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config))
    return str(path)


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def test_an_explicit_kubeconfig_uses_its_current_context(clean_env, tmp_path):
    client = load_api_client(kubeconfig(tmp_path))
    assert client.configuration.host == "http://127.0.0.1:6443"
    assert client.configuration.auth_settings()["BearerToken"]["value"] == "Bearer sekrit"


def test_a_context_picks_another_cluster(clean_env, tmp_path):
    client = load_api_client(kubeconfig(tmp_path), context="two")
    assert client.configuration.host == "http://127.0.0.2:7443"


def test_the_kubeconfig_environment_variable_is_used_when_no_path_is_given(
    clean_env, tmp_path, monkeypatch
):
    monkeypatch.setenv("KUBECONFIG", kubeconfig(tmp_path, server="http://127.0.0.9:1"))
    assert load_api_client().configuration.host == "http://127.0.0.9:1"


def test_the_home_kubeconfig_is_the_fallback(clean_env, tmp_path):
    (tmp_path / "home" / ".kube").mkdir(parents=True)
    kubeconfig(tmp_path / "home" / ".kube", server="http://127.0.0.8:1")
    assert load_api_client().configuration.host == "http://127.0.0.8:1"


def test_the_pool_holds_every_informer_connection(clean_env, tmp_path):
    client = load_api_client(kubeconfig(tmp_path))
    assert client.configuration.connection_pool_maxsize >= MIN_POOL_SIZE


def test_no_kubeconfig_outside_a_pod_is_a_clear_error(clean_env):
    with pytest.raises(ConfigException, match="no kubeconfig"):
        load_api_client()


def test_a_missing_kubeconfig_file_is_an_error(clean_env, tmp_path):
    with pytest.raises(ConfigException):
        load_api_client(str(tmp_path / "nope"))
