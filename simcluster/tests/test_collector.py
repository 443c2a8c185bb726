"""simcluster keeps the cyclic collector off its store (constellation/heap.py).

Before, every object churn added stayed where full collections walk it: at 2,000 pod events/s
on 100,000 pods a full collection came every few seconds and stalled the API for up to 0.9 s
(PATCH answers p99 1.1 s). Frozen objects are the ones `gc.get_objects()` no longer lists.
"""

from __future__ import annotations

import gc
import time

from simcluster.cluster import SimCluster
from simcluster.testing import FAST_ENGINE
from simcluster.workload import PODS

DEADLINE_S = 15.0


def walked(obj: object) -> bool:
    """Whether a full collection would walk `obj` (it is tracked and not frozen)."""
    assert gc.is_tracked(obj)
    return any(candidate is obj for candidate in gc.get_objects())


def test_the_seeded_store_is_frozen_and_what_churn_adds_is_frozen_soon_after() -> None:
    gc.unfreeze()
    scenario = {"namespaces": 1, "services": 2, "pods": 4}
    with SimCluster("large", scenario, engine_config=FAST_ENGINE, drive=False) as sim:
        seeded = sim.store.list(PODS)[1][0]
        assert not walked(seeded)

        container = {"name": "c", "image": "nginx"}
        pod = {"metadata": {"name": "late"}, "spec": {"containers": [container]}}
        sim.create("pods", pod, namespace="team-01")
        added = sim.store.find(PODS, "team-01", "late")
        assert added is not None
        deadline = time.monotonic() + DEADLINE_S
        while walked(added):
            assert time.monotonic() < deadline, "a pod added after seeding was never frozen"
            time.sleep(0.2)
