"""The server's garbage-collection policy (graylogic/gc_policy.py), in this process's collector."""

import gc
import weakref

import pytest

from graylogic.gc_policy import GcPolicy


class Node:
    def __init__(self):
        self.peer = self


def _in_collected_generations(obj) -> bool:
    return any(o is obj for o in gc.get_objects())


@pytest.fixture
def policy():
    policy = GcPolicy(reclaim_growth=0.25, reclaim_interval_s=600)
    policy.install()
    yield policy
    policy.uninstall()


def test_a_full_collection_freezes_its_survivors(policy):
    survivor = Node()
    assert _in_collected_generations(survivor)
    gc.collect()
    assert not _in_collected_generations(survivor)
    assert gc.get_freeze_count() > 0


def test_a_cycle_that_dies_frozen_is_freed_by_the_next_reclaim(policy):
    node = Node()
    gc.collect()  # frozen now
    dead = weakref.ref(node)
    del node
    gc.collect()
    assert dead() is not None, "a frozen cycle is out of reach of ordinary collections"
    policy.reclaim()
    assert dead() is None


@pytest.mark.parametrize(
    ("frozen_after_reclaim", "frozen_now", "seconds_since_reclaim", "due"),
    [
        (1_000_000, 1_000_000, 10, False),
        (1_000_000, 1_249_999, 599, False),
        (1_000_000, 1_250_001, 10, True),  # grew by more than a quarter
        (1_000_000, 900_000, 600, True),  # the interval bounds how long garbage stays frozen
        (0, 1, 0, True),
    ],
)
def test_reclaim_is_due_on_growth_or_interval(frozen_after_reclaim, frozen_now, seconds_since_reclaim, due):
    policy = GcPolicy(reclaim_growth=0.25, reclaim_interval_s=600)
    policy.frozen_after_reclaim, policy.reclaimed_at = frozen_after_reclaim, 1000.0
    assert policy.reclaim_due(frozen_now=frozen_now, now=1000.0 + seconds_since_reclaim) is due
