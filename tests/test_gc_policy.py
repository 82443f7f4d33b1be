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


@pytest.mark.parametrize(
    ("growth", "interval_s", "frozen_before", "freed", "next_growth", "next_interval_s"),
    [
        (0.25, 600, 1_000_000, 20_000, 0.5, 1200),  # chargers connected: growth was live
        (0.5, 1200, 1_000_000, 20_000, 1.0, 2400),
        (1.0, 2400, 1_000_000, 20_000, 1.0, 3600),  # capped
        (1.0, 3600, 1_000_000, 49_999, 1.0, 3600),
        (1.0, 3600, 1_000_000, 50_000, 0.25, 600),  # a worthwhile share of garbage: base again
        (0.25, 600, 1_000_000, 300_000, 0.25, 600),
        (0.25, 600, 0, 0, 0.25, 600),  # the first reclaim, at start
    ],
)
def test_reclaims_that_free_little_back_off(growth, interval_s, frozen_before, freed, next_growth, next_interval_s):
    policy = GcPolicy(reclaim_growth=0.25, reclaim_interval_s=600)
    policy.reclaim_growth, policy.reclaim_interval_s = growth, interval_s
    policy.adapt(frozen_before=frozen_before, freed=freed)
    assert (policy.reclaim_growth, policy.reclaim_interval_s) == (next_growth, next_interval_s)


def test_a_reclaim_that_frees_a_worthwhile_share_of_the_frozen_set_keeps_the_base_trigger(policy):
    policy.reclaim_growth, policy.reclaim_interval_s = 1.0, 3600
    gc.collect()
    garbage = [Node() for _ in range(gc.get_freeze_count())]  # as many cycles as frozen objects
    gc.collect()  # frozen, alive
    del garbage
    policy.reclaim()
    assert (policy.reclaim_growth, policy.reclaim_interval_s) == (0.25, 600)
