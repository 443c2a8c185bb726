from collections.abc import Iterator

import pytest

from simcluster.cluster import SimCluster
from simcluster.testing import FAST_ENGINE


@pytest.fixture
def demo_sim() -> Iterator[SimCluster]:
    cluster = SimCluster("demo", engine_config=FAST_ENGINE, drive=False).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def empty_sim() -> Iterator[SimCluster]:
    cluster = SimCluster("empty", engine_config=FAST_ENGINE, bookmark_interval_s=0.2).start()
    cluster.create("namespaces", {"metadata": {"name": "shop"}})
    yield cluster
    cluster.stop()
