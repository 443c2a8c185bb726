from collections.abc import Iterator

import pytest
from kubernetes import client as k8s

from simcluster.cluster import SimCluster
from simcluster.testing import FAST_ENGINE, api_client_for


@pytest.fixture
def sim() -> Iterator[SimCluster]:
    cluster = SimCluster("empty", engine_config=FAST_ENGINE, bookmark_interval_s=0.2)
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def api(sim: SimCluster) -> Iterator[k8s.ApiClient]:
    with api_client_for(sim) as client:
        yield client


@pytest.fixture
def core(api: k8s.ApiClient) -> k8s.CoreV1Api:
    return k8s.CoreV1Api(api)
